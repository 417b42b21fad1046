"""Pattern tables of the rule extractor (private): word lists and regexes compiled once.

Every pattern runs on *normalised* text (see `normalise`): contractions expanded ("I'm" -> "I am",
"don't" -> "do not") and a lower-case "i" upper-cased, so one spelling per construction suffices.
All patterns are case-insensitive and about the user in general, never about a topic or data set.
"""

# ruff: noqa: E501 - regex tables read best one alternation group per line
from __future__ import annotations

import re

__all__ = [
    "FOOD_VERB",
    "DIET_ITSELF",
    "JOB_END",
    "NEW_JOB",
    "MOVED_TO",
    "LEAD",
    "PAST_START",
    "ALLERGY",
    "ALLERGY_NOUN",
    "ANIMAL_FOODS",
    "BUDGET",
    "CANT_EAT",
    "CLAUSE_SPLIT",
    "CONDITION",
    "DIET",
    "DIET_SLOTS",
    "DISLIKE",
    "DISLIKE_TAIL",
    "EDU_DEGREE",
    "EDU_SCHOOL",
    "EDU_STUDY",
    "IDENTITY",
    "LANGUAGES",
    "RELATIVE_IS",
    "EVENT_FUTURE",
    "EVENT_PAST",
    "EVENT_SKIP",
    "FAMILY_COUNT",
    "FAVORITE",
    "FAVORITE_TAIL",
    "FIRST_PERSON",
    "HABIT_ACTIVITY",
    "HABIT_FREQ",
    "HABIT_TAIL",
    "HOME",
    "JOB_AS",
    "JOB_AT",
    "JOB_IS",
    "JOB_WORDS",
    "LIKE",
    "AGE",
    "NAME",
    "NO_LONGER",
    "NOT_ANYMORE",
    "OBJECT_STOP",
    "ONLY",
    "ORIGIN",
    "PARENT",
    "PARTNER",
    "PET",
    "PRONOUN_OBJECT",
    "QUESTION_START",
    "QUESTION_WORDS",
    "RELATIONSHIP",
    "SENTENCE_SPLIT",
    "STARTED",
    "SUBJECT",
    "SWITCHED",
    "TRAILING_FILLER",
    "USED_TO",
    "normalise",
]

_I = re.IGNORECASE


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _I)


_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p, _I), r)
    for p, r in (
        (r"[\u2018\u2019\u02bc`]", "'"),
        (r"\s+'\s*(?=(?:m|s|re|ve|ll|d|t)\b)", "'"),
        (r"\bi\s*'\s*m\b|\bim\b|\bi\s+m\b", "I am"),
        (r"\bi\s+ve\b", "I have"),
        (r"\bi\s+d(?=\s+(?:love|like|rather|be|have|say|prefer|never|not)\b)", "I would"),
        (r"\bi've\b|\bive\b", "I have"),
        (r"\bi'd\b", "I would"),
        (r"\bi'll\b", "I will"),
        (r"\bcan't\b|\bcant\b|\bcannot\b", "can not"),
        (r"\bwon't\b", "will not"),
        (r"\b(do|does|did|is|are|was|were|have|has|had|would|could|should|must)(?:n'?t|'nt)\b", r"\1 not"),
        (r"\bwe're\b", "we are"),
        (r"\bwe've\b", "we have"),
        (r"\bwe'll\b", "we will"),
        (r"\bi\b", "I"),
        (r"\bI\s+rather\b", "I would rather"),
        # negation raising: "I do not think I like X" means "I do not like X"
        (
            r"\bI\s+(?:really\s+)?do\s+not\s+(?:think|believe|feel\s+like|suppose)\s+(?:that\s+)?I\s+(?:really\s+)?"
            r"(?=(?:like|love|enjoy|care\s+for|want|need|eat|drink)\b)",
            "I do not ",
        ),
        (r"\bI\s+(?:really\s+)?do\s+not\s+(?:think|believe|suppose)\s+(?:that\s+)?I\s+am\b", "I am not"),
        (
            r"\bI\s+am\s+not\s+(?:so\s+|too\s+|really\s+)?sure\s+(?:that\s+)?I\s+(?:really\s+)?(?=(?:like|love|enjoy)\b)",
            "I do not really ",
        ),
        (
            r"\bI\s+(?:really\s+)?do\s+not\s+(?:think|believe|suppose)\s+(?:that\s+)?I\s+would\s+(?:really\s+|ever\s+)?"
            r"(?=(?:like|love|enjoy|want)\b)",
            "I would not ",
        ),
    )
)


def normalise(text: str) -> str:
    """Expand contractions and fix the case of "I" so patterns see one spelling."""
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return re.sub(r"\s+", " ", text).strip()


FIRST_PERSON = _c(r"\b(?:I|me|my|mine|myself|we|our|ours|us|I'm|im|i've|ive|i'd|i'll)\b")
"""The pre-filter: a turn without any first-person word carries nothing about the user."""

SENTENCE_SPLIT = re.compile(r"(?<=[.!?;])\s+|\s+[.!?;]+(?:\s+|$)|\n+|\s+-{1,2}\s+")
CLAUSE_SPLIT = _c(
    r"\s*,?\s+(?:but|although|though|whereas|because|since|so|and|while|plus)\s+(?=(?:I|my|we|now)\b)"
    r"|\s*,\s*(?=(?:I|my|we)\b)|\s*,\s*(?:but|although|though|whereas|because)\s+"
)
QUESTION_WORDS = (
    r"what|which|who|whom|whose|where|when|why|how|do|does|did|can|could|would|will|should|shall|"
    r"is|are|am|was|were|have|has|may|might|any|anything|if|whether"
)
"""Words that open a question (or a condition): a clause led by one states nothing about the user."""
QUESTION_START = _c(rf"^(?:{QUESTION_WORDS}|unless|in\s+case|hey|hi|hello)\b")
PRONOUN_OBJECT = _c(r"^(?:it|that|this|them|those|these|you|one|so|too|him|her|something|anything|everything|"
                    r"nothing|stuff|things?|what|which|doing\s+(?:it|that|this))$")  # fmt: skip
OBJECT_STOP = _c(
    r"\s+(?:because|since|when|whenever|while|but|if|unless|so\s+that|although|though|as\s+long\s+as|"
    r"which|who|and\s+I|and\s+my|and\s+we|whereas|except|and\s+(?:prefer|like|love|enjoy|hate|dislike|avoid|want|am|"
    r"have|would|usually|always|never)|(?:and\s+)?you|what|how|where|why|do\s+you|did\s+you|are\s+you|will\s+you|maybe|"
    r"I|my\s+\w+\s+(?:is|are|was|were|has))\b|[,;()\"!?]|:(?!\d)|\s+-\s+"
)
TRAILING_FILLER = _c(
    r"(?:\s+(?:a\s+lot|so\s+much|very\s+much|too|as\s+well|really|though|anyway|lately|these\s+days|"
    r"nowadays|now|in\s+general|the\s+most|the\s+best|best|more|most|a\s+bit|sometimes|also|overall|"
    r"either|at\s+all|anymore|any\s+more|though|honestly|personally|for\s+sure|again))+$"
)

_ADV = r"(?:(?:really|truly|absolutely|totally|just|also|still|actually|genuinely|definitely|kind\s+of|kinda|sort\s+of|" \
       r"do|personally|especially|particularly|simply|honestly|quite|rather|generally|mostly|mainly|now|very\s+much|" \
       r"strongly|deeply|intensely|completely|highly|certainly|greatly|seriously|extremely|deathly|very|so)\s+)*"  # fmt: skip
_FAN = r"(?:a\s+)?(?:big\s+|huge\s+|great\s+|massive\s+|real\s+|die[- ]hard\s+)?fan\s+of"

LIKE = _c(
    rf"\bI\s+{_ADV}(?P<verb>love|like|enjoy|adore|prefer|appreciate|dig|would\s+prefer|would\s+rather|"
    rf"am\s+(?:really\s+|very\s+|so\s+|quite\s+|totally\s+)?(?:into|fond\s+of|passionate\s+about|obsessed\s+with|"
    rf"crazy\s+about|keen\s+on|interested\s+in|{_FAN}|drawn\s+to|partial\s+to|addicted\s+to|a\s+lover\s+of)|"
    rf"have\s+a\s+(?:passion|soft\s+spot|love|thing|weakness|preference)\s+for|can\s+not\s+get\s+enough\s+of|"
    rf"gravitate\s+towards?|lean\s+towards?|tend\s+to\s+prefer)\s+(?P<obj>.+)"
)
DISLIKE = _c(
    rf"\bI\s+{_ADV}(?P<verb>(?:do|does)\s+not\s+{_ADV}(?:like|love|enjoy|eat|drink|care\s+for|want|use|watch|"
    rf"listen\s+to|play|wear|drive|smoke|do|trust|need)|never\s+(?:eat|drink|touch|watch|use|wear|smoke|buy|order)|"
    rf"would\s+not\s+{_ADV}(?:like|love|enjoy|want)|never\s+{_ADV}(?:liked|enjoyed|loved|cared\s+for)|"
    rf"hate|dislike|detest|loathe|despise|refuse\s+to|have\s+(?:no|zero|little)\s+(?:interest|patience)\s+(?:in|for)|"
    rf"(?:am\s+not|am\s+never)\s+(?:really\s+)?(?:interested\s+in|a\s+(?:big\s+|huge\s+)?fan\s+of)|"
    rf"have\s+(?:a\s+|an\s+)?(?:\w+\s+)?(?:aversion|dislike|distaste|disdain|hatred|loathing|phobia)\s+(?:to|for|of|towards?)|"
    rf"am\s+{_ADV}(?:averse|opposed|against)\s+to|am\s+{_ADV}(?:afraid|scared|terrified|wary)\s+of|(?:try\s+to\s+|always\s+|tend\s+to\s+|prefer\s+to\s+|like\s+to\s+|need\s+to\s+|have\s+to\s+|must\s+)?avoid|"
    rf"stay\s+away\s+from|steer\s+clear\s+of|can\s+not\s+stand|can\s+not\s+bear|can\s+not\s+tolerate|"
    rf"am\s+not\s+(?:really\s+|very\s+|too\s+|that\s+|much\s+of\s+)?(?:{_FAN}|into|keen\s+on|interested\s+in|"
    rf"fond\s+of|big\s+on|a\s+fan\s+of|comfortable\s+with|a\s+(?:big\s+)?\w+\s+person)|"
    rf"have\s+(?:a\s+|an\s+)?(?:strong\s+|real\s+|deep\s+)?(?:aversion|dislike|distaste)\s+(?:to|for|of|towards?)|"
    rf"am\s+(?:averse|opposed|allergic\s+to\s+the\s+idea\s+of)\s+to|would\s+rather\s+not|prefer\s+not\s+to|"
    rf"am\s+(?:tired|sick)\s+of|am\s+(?:afraid|scared|terrified)\s+of)\s+(?P<obj>.+)"
)
DISLIKE_TAIL = _c(
    r"^(?P<obj>[\w' -]{2,40}?)\s+(?:is|are)\s+(?:just\s+|really\s+|definitely\s+)?not\s+(?:really\s+|for\s+me|"
    r"my\s+(?:thing|cup\s+of\s+tea|style|jam))(?:\s+for\s+me)?"
)
FAVORITE = _c(
    r"\bmy\s+(?:all[- ]time\s+|absolute\s+|very\s+|top\s+)?(?:favorite|favourite|fave|fav)\s+(?P<cat>[\w' -]{1,30}?)\s+"
    r"(?:is|are|was|has\s+to\s+be|would\s+be|would\s+have\s+to\s+be)\s+(?P<obj>.+)"
)
FAVORITE_TAIL = _c(
    r"^(?P<obj>[\w' -]{2,40}?)\s+(?:is|are)\s+(?:definitely\s+|probably\s+)?my\s+(?:all[- ]time\s+)?"
    r"(?:favorite|favourite|fave)(?:\s+(?P<cat>[\w' -]{1,30}))?$"
)
ONLY = _c(r"\bI\s+(?:(?:also|now|generally|usually|mostly|strictly)\s+)?only\s+(?P<verb>eat|drink|use|listen\s+to|watch|wear|"
           r"buy|read|play|consume|fly|shop\s+(?:at|for)|travel|stay\s+(?:at|in)|cook|order|drive|book|choose|"
           r"trust|purchase|feed\s+my\s+\w+)\s+(?P<obj>.+)")  # fmt: skip
HABIT_FREQ = _c(
    r"\bI\s+(?P<freq>usually|always|often|normally|typically|generally|regularly|frequently|sometimes|"
    r"tend\s+to|never|rarely|seldom|mostly|occasionally|habitually|religiously|still)\s+(?P<rest>.+)"
)
HABIT_TAIL = _c(
    r"\bI\s+(?P<rest>(?!am\b|was\b|have\s+been\b|will\b|would\b)\w.+?)\s+(?P<freq>every\s+(?:single\s+)?"
    r"(?:day|morning|night|evening|week|weekend|month|year|summer|winter|\w+day)|daily|weekly|nightly|"
    r"on\s+(?:the\s+)?weekends|on\s+\w+days|each\s+(?:day|morning|evening|week)|"
    r"(?:once|twice|\w+\s+times)\s+(?:a|per)\s+(?:day|week|month|year))\b"
)
HABIT_ACTIVITY = _c(
    r"\bI\s+(?P<verb>play|drink|eat|read|watch|cook|bake|run|swim|hike|ski|surf|paint|draw|sing|dance|knit|"
    r"collect|practice|practise|meditate|listen\s+to|volunteer|ride|do|go|garden|fish|hunt|camp|sew|write|"
    r"train|lift|jog|bike|cycle|climb|skate|teach|speak|own|drive|use|grow|make|build|study|attend|"
    r"work\s+out)\s+(?P<obj>(?!that\b|about\b|somewhere\b|it\b|this\b|not\b|to\s+the\s+store\b)\w.*)"
)

USED_TO = _c(r"\bI\s+used\s+to\s+(?P<old>.+?)(?:\s*,?\s+(?:but|and|whereas)\s+|\s*,\s*)(?:now\s+|these\s+days\s+|"
             r"nowadays\s+)?(?:I\s+|now\s+I\s+)?(?P<new>.+)|\bI\s+used\s+to\s+(?P<only>.+)")  # fmt: skip
NO_LONGER = _c(
    r"\bI\s+(?:have\s+)?(?P<verb>no\s+longer|stopped|quit|gave\s+up(?:\s+on)?|given\s+up(?:\s+on)?|"
    r"cut\s+out|have\s+cut\s+out|kicked)\s+(?P<what>.+)"
)
NOT_ANYMORE = _c(r"\bI\s+(?:do\s+not|am\s+not|can\s+not)\s+(?P<what>.+?)\s+any\s*more\b")
STARTED = _c(
    r"\bI\s+(?:have\s+|just\s+|recently\s+|finally\s+)*(?P<verb>started|began|begun|took\s+up|taken\s+up|"
    r"picked\s+up|got\s+into|gotten\s+into|am\s+back\s+to|went\s+back\s+to|now|am\s+now)\s+"
    r"(?P<what>(?!a\b|an\b|the\b|my\b|our\b|to\s+(?:feel|think|notice|realize|wonder|see)\b)\w.+)"
)
SWITCHED = _c(r"\bI\s+(?:have\s+|just\s+|recently\s+)*(?:switched|changed|converted|went|transitioned)\s+from\s+"
              r"(?P<a>.+?)\s+(?:to|for)\s+(?P<b>.+)")  # fmt: skip

_DIET_WORDS = (
    r"vegetarian|vegan|pescatarian|pescetarian|keto(?:genic)?|paleo|gluten[- ]free|dairy[- ]free|halal|kosher|"
    r"lactose[- ]intolerant|plant[- ]based|low[- ]carb|flexitarian|carnivore|omnivore|whole30"
)
DIET = _c(
    r"\b(?:I\s+(?:am|have\s+been|became|become|went|turned|gone|have\s+gone|follow|eat|keep|try\s+to\s+(?:eat|be|"
    r"keep)|only\s+eat|eat\s+only|stick\s+to|am\s+on|have\s+been\s+on|went\s+on|started)|as\s+an?|my\s+diet\s+is|"
    r"I\s+am\s+(?:now\s+)?on)\s+(?:an?\s+|strictly\s+|strict\s+|fully\s+|now\s+|mostly\s+|completely\s+|"
    rf"mainly\s+|full[- ]time\s+|a\s+strict\s+|100%\s+)*(?P<diet>{_DIET_WORDS})\b"
)
DIET_SLOTS = {
    "gluten-free": "diet:gluten-free", "dairy-free": "diet:dairy-free", "halal": "diet:halal",
    "kosher": "diet:kosher", "lactose-intolerant": "condition:lactose intolerance", "low-carb": "diet",
}  # fmt: skip
ANIMAL_FOODS = frozenset(
    "meat red meat white meat fish seafood shellfish chicken poultry pork beef lamb dairy eggs egg "
    "animal products bacon turkey".split(" ")
) | {"red meat", "animal products", "white meat"}
CANT_EAT = _c(
    r"\bI\s+(?:can\s+not|am\s+not\s+able\s+to|am\s+unable\s+to|must\s+not|should\s+not|have\s+to\s+avoid|"
    r"need\s+to\s+avoid|am\s+not\s+allowed\s+to)\s+(?:eat|have|drink|consume|tolerate|digest|handle)\s+(?P<obj>.+)"
)
ALLERGY = _c(r"\bI\s+(?:am|have\s+been|was|became)\s+(?:\w+\s+)?allergic\s+to\s+(?P<obj>.+)")
ALLERGY_NOUN = _c(r"\b(?:I\s+have\s+(?:an?\s+|a\s+severe\s+|severe\s+|bad\s+)?|my\s+)(?P<obj>[\w-]+(?:\s+[\w-]+)?)\s+"
                  r"allerg(?:y|ies)\b")  # fmt: skip
CONDITION = _c(
    r"\bI\s+(?:have|suffer\s+from|was\s+diagnosed\s+with|have\s+been\s+diagnosed\s+with|live\s+with|"
    r"struggle\s+with|deal\s+with|am)\s+(?:a\s+|an\s+|chronic\s+|severe\s+|mild\s+)?(?P<cond>(?:type\s+[12]\s+)?"
    r"diabetes|diabetic|asthma|asthmatic|arthritis|celiac(?:\s+disease)?|coeliac(?:\s+disease)?|ibs|adhd|"
    r"autism|autistic|anxiety|depression|insomnia|migraines?|high\s+blood\s+pressure|hypertension|"
    r"bad\s+(?:back|knees?)|back\s+pain|knee\s+problems|heart\s+condition|epilepsy|lupus|crohn'?s(?:\s+disease)?|"
    r"eczema|acid\s+reflux|chronic\s+pain|dyslexia|disability|pregnant|colorblind|color\s+blind|"
    r"hearing\s+loss|sleep\s+apnea|gout|high\s+cholesterol)\b"
)
BUDGET = _c(
    r"\b(?:my\s+budget\s+is|my\s+budget\s+of|I\s+(?:am|will\s+be)\s+on\s+a\s+(?:tight\s+|limited\s+|strict\s+|small\s+|"
    r"shoestring\s+)?budget|I\s+(?:can\s+only|can\s+not|do\s+not\s+want\s+to)\s+(?:afford|spend)(?:\s+more\s+than)?|"
    r"I\s+(?:want|need|have)\s+to\s+(?:keep|stay)\s+(?:it\s+|costs?\s+|things\s+)?(?:under|below|within))"
    r"(?P<rest>.*)"
)

NAME = _c(r"\b(?:my\s+name\s+is|I\s+am\s+called|I\s+go\s+by|people\s+call\s+me)\s+(?P<v>[A-Za-z][\w'-]+"
          r"(?:\s+(?!and\b|but\b|from\b|I\b)[A-Z][\w'-]+)?)")  # fmt: skip
AGE = _c(
    r"\bI\s+am\s+(?:an?\s+)?(?P<v2>\d{1,3})[- ](?:years?|yrs?)[- ]old\b|"
    r"\bI\s+(?:am|just\s+turned|turned|recently\s+turned)\s+(?P<v>\d{1,3})(?:\s*(?:years?|yrs?)\s*old|\s*y/?o\b|"
    r"(?=\s*$|\s+(?:and|now|this|but|so|next|soon|with)\b))|\bI\s+am\s+in\s+my\s+(?P<decade>(?:early\s+|mid\s+|"
    r"late\s+)?(?:teens|twenties|thirties|forties|fifties|sixties|seventies|eighties|nineties|[2-9]0s))\b"
)
JOB_AS = _c(r"\bI\s+(?:currently\s+|now\s+)?(?:work|am\s+working|am\s+employed|have\s+worked)\s+as\s+(?:an?\s+)?"
            r"(?P<v>.+)")  # fmt: skip
JOB_AT = _c(r"\bI\s+(?:currently\s+|now\s+)?(?:work|am\s+working)\s+(?:full[- ]?time\s+|part[- ]?time\s+)?"
            r"(?P<prep>at|for|in)\s+(?P<v>.+)")  # fmt: skip
_JOB_LIST = (
    "nurse teacher engineer doctor physician surgeon dentist lawyer attorney accountant developer programmer "
    "designer architect chef cook baker waiter waitress bartender barista cashier mechanic electrician "
    "plumber carpenter farmer pilot driver firefighter officer cop detective soldier veteran scientist "
    "researcher professor lecturer tutor librarian writer author journalist editor photographer artist "
    "musician singer actor actress dancer student consultant manager analyst administrator secretary "
    "receptionist clerk salesman saleswoman realtor banker broker economist pharmacist therapist "
    "psychologist psychiatrist veterinarian vet paramedic midwife caregiver nanny babysitter janitor "
    "housekeeper homemaker housewife freelancer entrepreneur ceo founder executive director coach trainer "
    "athlete model stylist hairdresser barber technician mechanic welder miner fisherman rancher "
    "contractor builder translator interpreter counselor counsellor pastor priest rabbi judge paralegal "
    "marketer recruiter influencer streamer youtuber blogger comedian animator illustrator surveyor "
    "biologist chemist physicist mathematician statistician geologist teller inspector guard"
)
JOB_WORDS = frozenset(_JOB_LIST.split())
JOB_IS = _c(
    r"\bI\s+am\s+(?:now\s+|currently\s+|still\s+)?(?:an?\s+|the\s+)(?:(?:full[- ]time|part[- ]time|retired|"
    r"freelance|professional|senior|junior|head|lead|registered|high\s+school|school|stay[- ]at[- ]home|"
    r"software|data|graphic|web|civil|mechanical|electrical|construction|truck|bus|taxi|police|personal|"
    r"elementary|college|graduate|grad|medical|nursing|law|art|music|dental|real\s+estate|social|"
    r"\w+)\s+){0,2}(?P<v>\w+)\b"
)
HOME = _c(r"\bI\s+(?:currently\s+|now\s+|still\s+)?(?:live|am\s+living|reside|am\s+based|am\s+located|have\s+lived|"
          r"have\s+been\s+living)\s+(?:in|near|at|on|outside(?:\s+of)?|by)\s+(?P<v>.+)")  # fmt: skip
ORIGIN = _c(r"\bI\s+(?:am\s+(?:originally\s+)?from|grew\s+up\s+in|was\s+(?:born\s+and\s+)?raised\s+in|"
            r"come\s+from)\s+(?P<v>.+)")  # fmt: skip
FAMILY_COUNT = _c(
    r"\bI\s+have\s+(?:got\s+)?(?P<n>a|an|one|two|three|four|five|six|seven|eight|\d+|many|several|no)?\s*(?:(?:little|"
    r"older|younger|big|baby|grown|adult|beautiful|wonderful|amazing|teenage|twin|step|half|great)\s+)?(?P<rel>kids?|children|child|"
    r"sons?|daughters?|brothers?|sisters?|siblings?|grandchildren|grandkids?|grandsons?|granddaughters?|"
    r"twins|stepkids|stepsons?|stepdaughters?)\b"
)
PARTNER = _c(r"\bI\s+have\s+(?:got\s+)?(?:a|an)\s+(?:\w+\s+)?(?P<rel>wife|husband|boyfriend|girlfriend|partner|"
             r"fianc[eé]e?|spouse)\b")  # fmt: skip
RELATIONSHIP = _c(r"\bI\s+am\s+(?:now\s+|happily\s+|recently\s+|newly\s+|still\s+)?(?P<v>married|single|divorced|"
                  r"engaged|widowed|separated)\b")  # fmt: skip
PARENT = _c(
    r"\bI\s+am\s+(?:a\s+|the\s+)?(?:single\s+|proud\s+|new\s+|first[- ]time\s+|stay[- ]at[- ]home\s+|working\s+|busy\s+)*"
    r"(?P<rel>mother|mom|mum|father|dad|parent|grandmother|grandma|grandfather|grandpa|grandparent)"
    r"(?:\s+of\s+(?P<n>\w+))?\b"
)
_PETS = (r"dogs?|cats?|pupp(?:y|ies)|kittens?|kitty|birds?|parrots?|fish|goldfish|hamsters?|rabbits?|bunn(?:y|ies)|"
         r"turtles?|tortoises?|snakes?|lizards?|horses?|ponies|pony|guinea\s+pigs?|ferrets?|chickens?|geckos?|"
         r"iguanas?|rats?|mice|budgies?|cockatiels?|pigs?|goats?")  # fmt: skip
PET = _c(
    rf"\bI\s+(?:have|own|have\s+got)\s+(?P<n>a|an|one|two|three|four|five|six|\d+)\s+(?:[\w-]+\s+){{0,2}}?"
    rf"(?P<pet>{_PETS})\b(?:\s+(?:named|called)\s+(?P<name>\w+(?:\s+and\s+\w+)?))?"
)
IDENTITY = _c(r"^I\s+am\s+(?:also\s+|now\s+|still\s+)?(?:an?\s+)(?!bit\b|little\b|lot\b|(?:big\s+|huge\s+)?fan\b|"
              r"few\b|couple\b|while\b)(?P<v>[\w' -]{2,40})$")  # fmt: skip
LANGUAGES = _c(
    r"\bI\s+(?:am\s+fluent\s+in|speak)\s+(?P<v>(?:fluent\s+)?(?:[A-Za-z]+(?:,?\s+(?:and\s+)?)?){1,5})$"
)
RELATIVE_IS = _c(r"^my\s+(?P<rel>mother|mom|mum|father|dad|wife|husband|son|daughter|brother|sister|boyfriend|girlfriend|"
                 r"partner|parents|grandmother|grandfather|grandma|grandpa|best\s+friend|uncle|aunt|cousin)\s+"
                 r"(?P<rest>(?:is|are|was|works|lives|has|loves|likes|hates)\b.+)")  # fmt: skip
EDU_STUDY = _c(r"\bI\s+(?:am\s+)?(?:currently\s+)?(?:study|studying|major|majoring|am\s+a\s+student\s+of)\s+"
               r"(?:in\s+)?(?P<v>.+)")  # fmt: skip
EDU_SCHOOL = _c(r"\bI\s+(?:am\s+|currently\s+)*(?:a\s+)?(?:\w+\s+)?(?:student|freshman|sophomore|junior|senior|"
                r"undergrad|undergraduate|postgrad)\s+(?:at|in)\s+(?P<v>.+)|\bI\s+(?:go|attend)\s+(?:to\s+)?"
                r"(?P<v2>(?:\w+\s+){0,4}?(?:university|college|school|academy|institute)\b.*)")  # fmt: skip
EDU_DEGREE = _c(r"\bI\s+(?:have|hold|earned|got|am\s+(?:doing|pursuing|getting|working\s+on))\s+(?:an?\s+|my\s+)?"
                r"(?P<deg>degree|bachelor'?s|master'?s|phd|ph\.d\.?|doctorate|mba|diploma|associate'?s)"
                r"(?:\s+degree)?\s+in\s+(?P<v>.+)")  # fmt: skip

SUBJECT = _c(
    r"^(?:(?:and|so|then|well|oh|also|actually|recently|finally|anyway|yeah|yes|guess\s+what|by\s+the\s+way|"
    r"btw|fun\s+fact)[\s,]+)*(?P<subj>my\s+(?:[\w-]+\s+){0,2}?[\w-]+\s+and\s+I|[A-Z][\w-]*\s+and\s+I|I|we|"
    r"my\s+(?:[\w-]+\s+){0,2}?[\w-]+?(?:'s\s+[\w-]+)?)\s+(?P<rest>.+)"
)
EVENT_PAST = _c(
    r"\b(?:visited|moved|relocated|married|got\s+(?:married|engaged|divorced|promoted|hired|fired|laid\s+off|"
    r"accepted|sick|injured|hurt|back|home|a\s+(?:new\s+)?(?:job|promotion|raise|puppy|dog|cat|kitten|car|house|"
    r"tattoo|degree|diagnosis)|my\s+(?:first|new|driver'?s)\b|into\s+\w+|covid|the\s+flu)|was\s+(?:promoted|hired|"
    r"fired|laid\s+off|born|diagnosed|accepted|admitted|injured|hospitalized|married|engaged|released|"
    r"rejected|robbed|awarded)|were\s+(?:born|married|engaged)|adopted|passed\s+away|died|broke\s+up|split\s+up|"
    r"travell?ed|toured|went\s+(?:to|on|back|camping|hiking|skiing|fishing|shopping)|flew|drove\s+to|"
    r"took\s+(?:a|my|our)\s+(?:trip|vacation|holiday|class|course|exam|test)|started|began|bought|purchased|sold|"
    r"had\s+(?:a\s+baby|surgery|an?\s+operation|an?\s+accident|twins|a\s+son|a\s+daughter|a\s+(?:birthday|party|"
    r"wedding|interview|meeting|appointment|check-?up|fight|miscarriage|stroke|heart\s+attack))|gave\s+birth|"
    r"retired|resigned|lost|won|finished|completed|joined|signed\s+up|enrolled|booked|attended|celebrated|hosted|"
    r"met|ran\s+(?:a|my|our|the)|climbed|opened|launched|published|graduated|passed\s+(?:my|the|our)|failed|"
    r"broke\s+(?:my|his|her|their)|turned\s+\d+|renovated|proposed|welcomed|returned|arrived|landed|"
    r"came\s+back|left\s+(?:for|my|our)|volunteered|competed|performed|recovered|divorced)\b"
)
EVENT_FUTURE = _c(
    r"\b(?:will|am\s+going\s+to|are\s+going\s+to|is\s+going\s+to|plan\s+to|am\s+planning\s+to|are\s+planning\s+to|"
    r"am\s+about\s+to|is\s+about\s+to|are\s+about\s+to|am|are|is)\s+(?:\w+\s+)?(?:visit|move|marry|get\s+married|"
    r"graduate|start|travel|go|fly|buy|adopt|retire|have|attend|host|celebrate|run|begin|leave|take|"
    r"visiting|moving|getting\s+married|graduating|starting|travell?ing|going|flying|buying|adopting|"
    r"retiring|having|attending|hosting|celebrating|running|leaving|taking|coming|arriving|meeting)\b"
)
EVENT_SKIP = _c(
    r"\b(?:should|could|would|might|wish|wonder|wondering|if|whether|can\s+you|help\s+me|need\s+to|have\s+to|"
    r"trying\s+to|want\s+to|wants\s+to|considering|thinking\s+(?:about|of)|not\s+sure|recommend|suggest|"
    r"tell\s+me|remind\s+me|let\s+me)\b"
)

# --- used by the event and change rules ---
PAST_START = _c(r"^(?:(?:just|finally|recently|also|actually|officially|already|then|both)\s+)*"
                         r"(?:\w+ed|was|were|went|got|had|saw|came|made|took|met|did|ate|drank|read|ran|wrote|"
                         r"found|gave|left|heard|felt|spent|tried|won|lost|bought|sold|flew|drove|became|began|"
                         r"broke|caught|built|fell|forgot|grew|hit|kept|knew|led|paid|put|rode|sang|sat|slept|"
                         r"spoke|swam|taught|told|threw|wore|will|am\s+going\s+to)\b")  # fmt: skip
LEAD = _c(r"^(?:(?:just|finally|recently|also|actually|officially|already|then|both|have|has|had)\s+)*")  # fmt: skip
MOVED_TO = _c(r"\bmoved\s+(?:back\s+)?(?:to|into)\s+(?P<v>.+)")
NEW_JOB = _c(r"\b(?:got\s+(?:a\s+|my\s+)?(?:new\s+)?job|started\s+(?:a\s+|my\s+)?(?:new\s+)?job|"
                      r"was\s+hired|started\s+working|joined)(?:\s+as\s+(?:an?\s+)?(?P<job>.+?))?"
                      r"(?:\s+(?:at|with|for|by)\s+(?P<org>.+))?$")  # fmt: skip
JOB_END = _c(r"\b(?:quit|lost|left)\s+(?:my|our)\s+job|\bwas\s+(?:laid\s+off|fired)|\bgot\s+(?:laid\s+off"
                      r"|fired)")  # fmt: skip
DIET_ITSELF = _c(r"^(?:being\s+|be\s+|a\s+|an\s+|eating\s+|my\s+)?(?P<diet>vegetarian|vegan|pescatarian|"
                          r"pescetarian|keto|paleo|gluten[- ]free|dairy[- ]free|plant[- ]based|low[- ]carb|"
                          r"flexitarian|carnivore)(?:\s+diet)?$")  # fmt: skip
FOOD_VERB = _c(r"^(?:eat|eating|eats|have|having|drink|drinking|consume|consuming)\s+(?P<food>.+)$")  # fmt: skip
