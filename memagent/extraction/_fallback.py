"""The rule extractor's fallback (private): a first-person statement no rule matched, kept whole.

A clause qualifies when it is a declarative statement with the user as subject ("I ...", "my X ...",
"we ...", "my wife and I ...") that is not a question, not a request to the assistant, not pasted
text or code, not a hedge about someone else ("I bet you ...", "I think that is cool") and not
greeting filler ("I am good, thanks"), and has at least one content word. Its content is the whole
clause rewritten in the third person ("I've two older mustangs" -> "User has two older mustangs"), so
the meaning is kept; the slot is None (nothing to supersede) and the confidence low.
"""

from __future__ import annotations

import re

from memagent.extraction import _patterns as P
from memagent.extraction import _text as T
from memagent.extraction._text import Finding
from memagent.types import MemoryKind, Polarity

__all__ = ["is_pasted", "statement", "strip_tag_question"]

_I = re.IGNORECASE
_CONFIDENCE = 0.4
_MAX_WORDS = 30

_MARKERS = re.compile(
    r"^(?:(?:yes|yeah|yea|yep|yup|no|nope|nah|well|oh|ah|aw+|wow|lol|haha\w*|hehe\w*|hmm+|um+|uh+|ok|okay|"
    r"so|and|but|also|actually|honestly|really|sure|nice|cool|great|awesome|neat|right|true|exactly|"
    r"indeed|anyway|anyways|though|then|plus|besides|personally|hi|hello|hey|thanks|thank\s+you|"
    r"good|fine|omg|gosh|man|dude|sorry|ha|hah|agreed|same|interesting|fun|fair\s+enough|"
    r"by\s+the\s+way|btw|to\s+be\s+honest|tbh|in\s+fact|as\s+for\s+me|for\s+me|me\s+too|me\s+neither|"
    r"of\s+course|i\s+see|i\s+agree)\b[\s,!.:;-]*)+",
    _I,
)
_SUBJECT = re.compile(
    r"^(?P<subj>I|we|(?:my|our)\s+(?:[\w'-]+\s+){0,2}?[\w'-]+\s+and\s+I|me\s+and\s+(?:my|our)\s+[\w'-]+"
    r"(?:\s+[\w'-]+)?|[A-Z][\w-]+\s+and\s+I|(?:my|our)\s+(?:[\w'-]+\s+){0,2}?[\w'-]+?)\s+(?P<rest>\S.*)$",
    _I,
)
_MY_SUBJECT_VERB = re.compile(
    r"^(?:[\w'-]+\s+){0,3}?(?:is|are|was|were|has|have|had|does|do|did|can|will|would|works?|lives?|"
    r"loves?|likes?|hates?|gets?|makes?|keeps?|takes?|goes|went|got|made|passed|died|left|used)\b",
    _I,
)
_TAGS = (
    r"(?:(?:what|how)\s+about\s+(?:you|yours?|u)|and\s+(?:you|yours?|u)|you|(?:have|do|did|are|were|can|"
    r"would|will|is|does|do\s+not|are\s+not)\s+(?:you|u)(?:\s+\w+)?|right|is\s+not\s+it|eh|huh)"
)
_TAG_QUESTION = re.compile(rf"(?:\s*,\s*{_TAGS}\s*\?*|\s+{_TAGS}\s*\?+)\s*$", _I)
_QUESTION = re.compile(rf"\?\s*\W*$|^(?:{P.QUESTION_WORDS})\b", _I)
_COMMA_TAIL = re.compile(
    r"\s*,\s*(?:and\s+|but\s+|so\s+)?(?:it|that|this|he|she|they|there|which|who|what|lol|haha\w*)\b.*$", _I
)
_GERUND = re.compile(
    r"^(?:just\s+|currently\s+|still\s+|mostly\s+|also\s+|busy\s+)?(?!thing|nothing|something|everything|"
    r"anything|morning|evening|during|being)[a-z]{2,}ing\s+(?:to|for|at|in|on|with|my|our)\b"
    r"(?!.*\b(?:is|are|was|were|must|can|could|should|would|will|might|seems?|sounds?)\b)",
    _I,
)
_LEAD = re.compile(
    r"^(?P<lead>(?:in|on|at|as|for|during|with|every|everyday|most|some|lately|recently|nowadays|today|"
    r"now|these|back|growing|since|after|before|when|usually|often|sometimes)\b(?!\s*(?:[\w'-]+\s+){0,4}?"
    r"(?:how|what|why|where|which|who|whom|that|if|whether)\b)(?:\s+[\w'-]+){0,4}?)\s*,?\s+(?=(?:I|we)\s)",
    _I,
)
_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself|yourselves|u|ya|y'all|ur)\b", _I)
_REQUEST = re.compile(
    r"^I\s+(?:would\s+|also\s+|really\s+|just\s+|do\s+)*(?:want|need|would\s+like|"
    r"wonder|am\s+wondering|was\s+wondering|am\s+looking\s+for|am\s+searching\s+for|am\s+trying\s+to\s+"
    r"(?:find|figure|understand|write|get|make|create|decide|choose)|am\s+asking|ask|request|"
    r"have\s+(?:a|another|one\s+more|some)\s+(?:question|request|problem|issue|task|query)|"
    r"appreciate|hope\s+you|am\s+curious|am\s+not\s+sure\s+(?:how|what|which|whether|if)|"
    r"do\s+not\s+know\s+(?:how|what|which|whether|if|where|why)|can\s+not\s+(?:find|figure|decide|"
    r"remember)|got\s+(?:an?|this|the\s+following)\s+error|am\s+getting|get\s+(?:an?|this)\s+error)\b"
    r"(?!\s+to\s+(?:be|become|go|travel|visit|see|live|move|have|own|retire|learn|start|open|work|try|"
    r"get\s+married|buy)\b)",
    _I,
)
_HEDGE = re.compile(
    r"^I\s+(?:do\s+not\s+|really\s+|also\s+|just\s+|would\s+)*(?:think|bet|guess|hope|believe|imagine|"
    r"suppose|agree|mean|know|understand|see|heard|hear|noticed|notice|feel|felt|figure|figured|assume|"
    r"reckon|doubt|wish|wonder|say|said|told|promise|swear|admit|must\s+(?:say|add|admit)|have\s+to\s+say|am\s+sure|"
    r"am\s+not\s+sure|am\s+glad|am\s+sorry|am\s+happy\s+(?:to|for|that)|am\s+afraid|can\s+(?:see|imagine|"
    r"tell)|can\s+not\s+(?:imagine|believe|wait)|love\s+that|like\s+that|hate\s+that|would\s+say|"
    r"would\s+think|would\s+imagine|would\s+guess)\b(?:\s+(?:that|so|it|this|,))?\s*(?P<inner>.*)$",
    _I,
)
_FILLER_WORDS = frozenset(
    "good fine great well ok okay alright doing thanks thank sure well too also so very really just pretty "
    "bad tired busy sorry glad happy nice cool awesome right now today tonight here there ready back home "
    "going gonna guess think know agree bet hope mean see understand believe feel bit little lot much "
    "things thing stuff something anything everything nothing same way fun kidding joking lol haha "
    "hear heard yes no yeah not day morning evening night thing kind sort like likes love loves enjoy "
    "enjoys hate hates prefer want need way either neither one two three lots whole both".split()
)
_STOP = frozenset(
    "a an the and or but so of to in on at for with by from as is are was were be been being am have has "
    "had do does did not it its it's this that these those there here i me my mine myself we us our ours "
    "they them their he him his she her hers all any some can could would should will shall may might "
    "must than then too also just very really get got into about up out over off again still ever even "
    "more most much many such own one if when while because what who which where how why".split()
)
_CAMEL = re.compile(r"\b[a-z]+[A-Z]\w*|\b[A-Z]\w*[a-z][A-Z]\w*")
"""Identifiers (camelCase, PascalCase): code, not a statement about the user (case-sensitive)."""
_CODE = re.compile(
    r"\bplease\b|\w\(\w*\)|```|[{}<>=;|\\]|_{3,}|\bselect\s+one\b|\bdef\s|\bfunction\b|\breturn\b|\w\(\)", _I
)
_PASTED_TURN = re.compile(
    r"```|\n\s*\n|:\s*\n|[\"“][^\"”]{40,}[\"”]|_{3,}|\bselect\s+one\b|\w\(\w*\)|[{};]|\s=\s|\bself\.|"
    r"(?:^|[.!?]\s+|\n)(?:(?:please|ok|okay|now|so|then)[\s,]+)?(?:make|write|rewrite|re-write|translate|"
    r"summari[sz]e|correct|fix|explain|improve|paraphrase|simplify|generate|create|give|list|tell|show|"
    r"describe|complete|fill|check|edit|proofread|convert|compose|draft|suggest|recommend|act|pretend|"
    r"continue|answer|identify|extract|classify|analy[sz]e|compare|design|build|implement|craft|simulate|"
    r"provide|calculate|solve|let's|lets)\b",
    _I,
)
"""Pasted material, code, or an instruction to the assistant anywhere in the turn (a task)."""
_EVALUATIVE = re.compile(
    r"\b(?:love[sd]?|like[sd]?|enjoy(?:s|ed)?|adore[sd]?|prefer(?:s|red)?|hate[sd]?|dislike[sd]?|detest|"
    r"loathe|despise|fond\s+of|fan\s+of|into|passionate\s+about|obsessed\s+with|can\s+not\s+stand|"
    r"favou?rite|crazy\s+about|avoid(?:s|ed)?|uncomfortable)\b",
    _I,
)
_NEGATIVE = re.compile(
    r"\b(?:not|never|no\s+longer|hate[sd]?|dislike[sd]?|detest|loathe|despise|avoid\w*|uncomfortable|"
    r"can\s+not\s+stand)\b",
    _I,
)


def strip_tag_question(text: str) -> str:
    """Drop a trailing tag question ("..., how about you?", "..., have you?") from a statement."""
    return _TAG_QUESTION.sub("", text).strip()


def is_pasted(turn: str) -> bool:
    """True when a turn looks like pasted material or code: the fallback then keeps out of it."""
    turn = turn.strip().strip("\"“”'")
    return _PASTED_TURN.search(turn) is not None or turn.count("\n") >= 4


def _content_words(text: str) -> list[str]:
    words = re.findall(r"[a-z0-9][a-z0-9'-]*", text.lower())
    return [w for w in words if w not in _STOP and w not in _FILLER_WORDS]


def _rewrite(clause: str) -> tuple[str, str] | None:
    """(third-person clause, the part after the subject), or None without a first-person subject."""
    m = _SUBJECT.match(clause)
    if not m:
        return None
    subject, rest = m.group("subj"), m.group("rest")
    low = subject.lower()
    if low.startswith(("my ", "our ")) and " and " not in low:
        if not _MY_SUBJECT_VERB.match(rest):
            return None
        return f"{T.subject_third(subject)} {T.pronouns(rest)}", rest
    body = T.third(rest) if low == "i" else T.pronouns(rest)
    return f"{T.subject_third(subject)} {body}", rest


def statement(clause: str) -> list[Finding]:
    """The clause as one low-confidence fact (or preference) about the user; empty when it is not one."""
    clause = strip_tag_question(clause.strip(" \"“”'"))
    clause = _MARKERS.sub("", clause).strip(" ,.;:!-")
    clause = _COMMA_TAIL.sub("", clause)
    if _GERUND.match(clause):  # "just relaxing with my two dogs": the subject is understood
        clause = "I am " + clause
    if len(clause) < 6 or _QUESTION.search(clause) or _CODE.search(clause) or _CAMEL.search(clause):
        return []
    words = clause.split()
    if not 2 <= len(words) <= _MAX_WORDS:
        return []
    hedge = _HEDGE.match(clause)
    if hedge:
        inner = hedge.group("inner").strip()
        return statement(inner) if re.match(r"(?:I|my|we)\b", inner, _I) else []
    if _REQUEST.match(clause) or _SECOND_PERSON.search(clause):
        return []
    lead = ""
    if not _SUBJECT.match(clause) and (m := _LEAD.match(clause)) and not _SECOND_PERSON.search(m.group(0)):
        lead, clause = " " + T.pronouns(m.group("lead")), clause[m.end() :]
    rewritten = _rewrite(clause)
    if not rewritten or not _content_words(rewritten[1]):
        return []
    content = (rewritten[0] + lead).rstrip(" ,.;:!-")
    if _EVALUATIVE.search(clause):
        polarity = Polarity.NEGATIVE if _NEGATIVE.search(clause) else Polarity.POSITIVE
        return [Finding(MemoryKind.PREFERENCE, content, None, None, polarity, _CONFIDENCE)]
    return [Finding(MemoryKind.FACT, content, None, None, None, _CONFIDENCE)]
