"""Text helpers of the rule extractor (private): `Finding`, slot keys, third-person rewriting, cleaning."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from memagent.extraction import _patterns as P
from memagent.timeparse import find_times
from memagent.types import MemoryKind, Polarity

__all__ = [
    "IRREGULAR",
    "Finding",
    "activity_key",
    "clean",
    "conj",
    "first_person",
    "pronouns",
    "slot_key",
    "stem",
    "subject_third",
    "third",
]

_DETERMINERS = frozenset(
    "the a an my some any all his her their our your this that these those to of".split()
)
_KEY_STOP = re.compile(r"\s+(?:in|on|at|with|for|before|after|during|when|from|by|every|each|around|near|"
                       r"over|"
                       r"than|instead|rather|because|while|until)\b.*$", re.IGNORECASE)  # fmt: skip
_PRONOUNS = tuple(
    (re.compile(p, re.IGNORECASE), r)
    for p, r in (
        (r"\bI am\b", "they are"), (r"\bI was\b", "they were"), (r"\bI\b", "they"),
        (r"\bmyself\b", "themselves"),
        (r"\bmy\b", "their"), (r"\bme\b", "them"), (r"\bmine\b", "theirs"), (r"\bwe\b", "they"),
        (r"\bour\b", "their"), (r"\bus\b", "them"), (r"\bcan not\b", "cannot"),
    )
)  # fmt: skip
IRREGULAR = {"am": "is", "are": "is", "have": "has", "do": "does", "go": "goes", "can": "can", "will": "will",
              "would": "would", "should": "should", "could": "could", "must": "must", "may": "may",
              "might": "might",
              "was": "was", "were": "was", "used": "used", "had": "had", "did": "did"}  # fmt: skip
_PAST = frozenset(
    "got went saw made took met did ate drank read ran wrote found gave left heard felt spent tried won "
    "lost bought sold flew drove became began broke caught built fell forgot grew hit kept knew led paid "
    "put rode sang sat slept spoke swam taught told threw wore thought brought came said sent stood "
    "understood woke held let set shut cut hurt quit been gone done seen known".split()
)
_ADVERBS = frozenset(
    "never always really just also still actually generally usually often normally typically sometimes "
    "rarely seldom mostly occasionally regularly frequently now only".split()
)
_TIME_WORDS = re.compile(
    r"\s+(?:for\s+(?:years|months|ages|a\s+while|a\s+long\s+time|\w+\s+(?:years|months|weeks))|since\s+.+|"
    r"(?:a\s+)?(?:few\s+)?(?:years|months|weeks|days)\s+ago)$",
    re.IGNORECASE,
)


def stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-2]
    elif word.endswith(("sses", "ches", "shes", "xes", "zes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
        if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "lsz":
            word = word[:-1]
    if len(word) > 3 and word.endswith("e") and not word.endswith("ee"):
        word = word[:-1]
    if len(word) > 3 and word.endswith("y"):
        word = word[:-1] + "i"
    return word


def slot_key(text: str, max_words: int = 4) -> str:
    """A normalised key: lower case, no determiners, crude stems ("Spicy foods" -> "spici food")."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("'s", ""))
    kept = [stem(w) for w in words if w not in _DETERMINERS][:max_words]
    return " ".join(kept) or text.lower()[:40]


def activity_key(text: str) -> str:
    return slot_key(_KEY_STOP.sub("", text), max_words=3)


def conj(word: str) -> str:
    low = word.lower()
    if low in IRREGULAR:
        return IRREGULAR[low]
    past = low.endswith("ed") and (not low.endswith("eed") or low in ("agreed", "freed", "guaranteed"))
    if low in _PAST or past or low.endswith("s") and not low.endswith(("ss", "sh")):
        return word
    if low.endswith(("sh", "ch", "x", "z", "o", "ss")):
        return word + "es"
    if len(low) > 2 and low.endswith("y") and low[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def third(phrase: str) -> str:
    """Third-person form of the user's verb phrase ("drink with my dad" -> "drinks with their dad")."""
    words = phrase.split()
    for i, word in enumerate(words):
        if word.lower() not in _ADVERBS:
            if word.lower() == "can" and i + 1 < len(words) and words[i + 1].lower() == "not":
                words[i : i + 2] = ["cannot"]
            else:
                words[i] = conj(word)
            break
    text = " ".join(words)
    for pattern, replacement in _PRONOUNS:
        text = pattern.sub(replacement, text)
    return text


def pronouns(text: str) -> str:
    for pattern, replacement in _PRONOUNS:
        text = pattern.sub(replacement, text)
    return text


def subject_third(subject: str) -> str:
    """A first-person subject in the third person: "I" -> "User", "we" -> "User and others", "my sister
    and I" / "me and my sister" -> "User and their sister", "my dog" / "our dog" -> "User's dog"."""
    s = re.sub(r"\s+", " ", subject.strip())
    low = s.lower()
    if low == "i":
        return "User"
    if low == "we":
        return "User and others"
    if low.endswith(" and i"):
        return "User and " + pronouns(s[: -len(" and I")])
    if low.startswith("me and "):
        return "User and " + pronouns(s[len("me and ") :])
    return re.sub(r"^(?:my|our)\b", "User's", s, flags=re.IGNORECASE)


_LONG_CUT = re.compile(
    r"\s+(?:like|such\s+as|especially|including|due\s+to|as\s+(?:a|an|they|it|I|the)|that|which|who|where|"
    r"for\s+(?:my|their|its)|in\s+(?:my|their)|with\s+(?:a\s+lot|lots|too))\b.*$",
    re.IGNORECASE,
)


def clean(text: str | None, anchor: datetime, max_words: int = 10) -> str | None:
    """Cut an object at the first clause boundary or time phrase; None if empty, a pronoun, or too long.

    An object longer than ``max_words`` is first cut at a qualifier ("like ...", "due to ...", "that ...").
    """
    if not text:
        return None
    text = P.OBJECT_STOP.split(text, maxsplit=1)[0]
    times = find_times(text, anchor)
    if times:
        text = text[: times[0].start]
    text = _TIME_WORDS.sub("", text.strip())
    text = P.TRAILING_FILLER.sub("", text.strip()).strip(" .'-")
    if len(text.split()) > max_words:
        text = _LONG_CUT.sub("", text).strip()
    if not text or P.PRONOUN_OBJECT.match(text) or len(text.split()) > max_words:
        return None
    return text


@dataclass(frozen=True)
class Finding:
    """A memory found in text, before it is tied to a turn."""

    kind: MemoryKind
    content: str
    slot: str | None = None
    value: str | None = None
    polarity: Polarity | None = None
    confidence: float = 0.7
    when: datetime | None = None
    """Resolved event time; None means the turn's own time."""
    ends_slot: bool = False


_FIRST_PERSON_HEAD = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"^User and others\b", "We"), (r"^User and (?:their|the) ([\w-]+)", r"My \1 and I"),
        (r"^User and\b", "I and"), (r"^User's\b", "My"), (r"^User is\b", "I am"), (r"^User has\b", "I have"),
        (r"^User does\b", "I do"), (r"^User\b", "I"),
    )
)  # fmt: skip
_FIRST_PERSON_BODY = ((re.compile(r"\btheir\b"), "my"), (re.compile(r"\bthemselves\b"), "myself"))
_VERB_S = re.compile(
    r"^I ((?:\w+ly |never |always |often |now |only |also |just |still )*)(\w+?)(ies|es|s)\b"
)


def first_person(content: str) -> str:
    """A "User ..." memory back in the first person ("User has two dogs" -> "I have two dogs").

    For comparing memories with first-person text (a persona, the user's own words); anything not
    starting with "User" is returned unchanged.
    """
    if not content.startswith("User"):
        return content
    for pattern, replacement in _FIRST_PERSON_HEAD:
        content, n = pattern.subn(replacement, content, count=1)
        if n:
            break
    for pattern, replacement in _FIRST_PERSON_BODY:
        content = pattern.sub(replacement, content)
    m = _VERB_S.match(content)
    if m and m.group(2).lower() not in ("wa", "ha", "doe"):
        ending = m.group(3)
        base = m.group(2) + ("y" if ending == "ies" else "")
        if ending == "es" and not base.endswith(("sh", "ch", "x", "z", "o", "ss")):
            base += "e"
        content = f"I {m.group(1)}{base}{content[m.end() :]}"
    return content
