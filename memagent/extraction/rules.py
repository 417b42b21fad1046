"""`RuleExtractor`: the offline extractor. Finds preferences, facts and life events with patterns, no LLM.

Each user turn is normalised, split into sentences and clauses, and every clause tries, in order:
changes ("I used to ... but now ...", "I stopped ...", "I switched from ... to ..."), constraints (diet,
allergy, medical, budget, "I can't eat ..."), dislikes (checked before likes: "I don't like" contains
"like"), likes, favourites, facts (name, age, family, pets, job, home, education), habits, life events.
The first family that matches wins, so one clause yields one reading. Contents are third person
("User is vegetarian"); ``slot`` names what a memory is about so consolidation can supersede it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime

from memagent.extraction import _patterns as P
from memagent.extraction import _text as T
from memagent.extraction._facts import activity, event, fact, habit
from memagent.extraction._fallback import is_pasted, statement
from memagent.extraction._text import Finding
from memagent.interfaces import ExtractionResult
from memagent.types import Candidate, MemoryKind, Polarity, Role, Turn

__all__ = [
    "Finding",
    "RuleExtractor",
    "carries_memories",
    "find_memories",
    "first_person",
    "forget_request",
    "is_personal",
    "slot_key",
]

slot_key = T.slot_key
first_person = T.first_person

_PREF, _EVENT, _FACT = MemoryKind.PREFERENCE, MemoryKind.EVENT, MemoryKind.FACT
_POS, _NEG, _NEU = Polarity.POSITIVE, Polarity.NEGATIVE, Polarity.NEUTRAL


def is_personal(text: str) -> bool:
    """The cheap pre-filter: True when ``text`` has a first-person word ("I", "my", "we"...)."""
    return P.FIRST_PERSON.search(text) is not None


_FORGET = re.compile(
    r"^\W*(?:(?:please|pls|kindly)\s+|(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
    r"(?:forget|don'?t\s+remember|stop\s+remembering|erase)\s+"
    r"(?:that|about(?:\s+the\s+fact\s+that)?|what\s+I\s+(?:said|told\s+you)\s+about)\s+"
    r"(?P<what>.*?\w.*?)[\s.!?]*$",
    re.IGNORECASE,
)


def forget_request(text: str) -> str | None:
    """What a message asks to be forgotten ("Please forget that I hate mushrooms" -> "I hate
    mushrooms"), or None when it asks no such thing. Only "forget that / about / what I said about ..."
    counts: "forget it, I'll go hiking" says nothing to forget."""
    m = _FORGET.match(text.strip())
    return m.group("what") if m else None


def carries_memories(turn: Turn) -> bool:
    """Whether extraction looks at ``turn`` at all: a user's turn with a first-person word that does not
    ask to forget something (what it names is not the user's new memory)."""
    return turn.role is Role.USER and is_personal(turn.text) and forget_request(turn.text) is None


# --- families of rules; each takes (clause, anchor) and returns findings (empty: try the next family) ---


def _diet_of(text: str) -> str | None:
    m = P.DIET_ITSELF.match(text.strip())
    return m.group("diet").lower().replace(" ", "-") if m else None


def _food_of(what: str) -> str | None:
    m = P.FOOD_VERB.match(what.strip())
    food = (m.group("food") if m else what).strip().lower()
    food = re.sub(r"^(?:any|all|the|some)\s+", "", food)
    return food if food in P.ANIMAL_FOODS else None


_NOT_NOW = re.compile(r"(?:not|no\s+longer|never|nothing|none)\b", re.IGNORECASE)


def _change(c: str, a: datetime) -> list[Finding]:
    m = P.USED_TO.search(c)
    if m and m.group("old"):
        old, new = T.clean(m.group("old"), a, 12), m.group("new")
        if old and _NOT_NOW.match(new):  # "I used to play tennis, but not anymore"
            return [Finding(_PREF, f"User used to {T.pronouns(old)}", f"habit:{T.activity_key(old)}",
                            "used to", _NEG, 0.5)]  # fmt: skip
        if old:
            verb, _, obj = old.partition(" ")
            new = re.sub(r"\b(?:it|them)\b", obj, new, count=1) if obj else new
            inner = _clause(new if re.match(r"(?:I|my)\b", new) else "I " + new, a)
            note = f" (used to {T.pronouns(old)})"
            if inner:
                return [f.__class__(**{**f.__dict__, "content": f.content + note}) for f in inner]
            now = T.clean(new, a, 12)
            if now:
                return [
                    Finding(
                        _PREF,
                        f"User now {T.third(now)}{note}",
                        f"habit:{T.activity_key(old)}",
                        now,
                        _NEU,
                        0.6,
                    )
                ]
    if m and m.group("only"):
        old = T.clean(m.group("only"), a, 12)
        if old:
            return [
                Finding(
                    _PREF,
                    f"User used to {T.pronouns(old)}",
                    f"habit:{T.activity_key(old)}",
                    "used to",
                    _NEG,
                    0.5,
                )
            ]
    m = P.NO_LONGER.search(c) or P.NOT_ANYMORE.search(c)
    if m:
        what = T.clean(m.group("what"), a, 8)
        if not what:
            return []
        shown = "no longer" if m.re is P.NOT_ANYMORE else re.sub(r"\s+", " ", m.group("verb")).lower()
        diet = _diet_of(what)
        if diet:
            return [Finding(_PREF, f"User is no longer {diet}", "diet", None, _NEU, 0.8, ends_slot=True)]
        food = _food_of(what)
        if food:
            return [Finding(_PREF, f"User no longer eats {food}", "diet", f"no {food}", _NEG, 0.8)]
        if re.match(r"(?:my|our)\s+job\b", what, re.IGNORECASE):
            return [Finding(_FACT, "User quit their job", "job", None, _NEU, 0.75, ends_slot=True)]
        body = T.third(what) if shown == "no longer" else T.pronouns(what)
        return [Finding(_PREF, f"User {shown} {body}", f"habit:{T.activity_key(what)}", "stopped", _NEG, 0.7)]
    m = P.SWITCHED.search(c)
    if m:
        old, new = T.clean(m.group("a"), a, 6), T.clean(m.group("b"), a, 6)
        if old and new:
            diet = _diet_of(new)
            if diet:
                return [Finding(_PREF, f"User is {diet} (switched from {old})", "diet", diet, _POS, 0.8)]
            return [
                Finding(
                    _PREF, f"User switched from {old} to {new}", f"pref:{slot_key(new)}", "like", _POS, 0.75
                ),
                Finding(
                    _PREF,
                    f"User switched away from {old} (now {new})",
                    f"pref:{slot_key(old)}",
                    "dislike",
                    _NEG,
                    0.6,
                ),
            ]
    m = P.STARTED.search(c)
    if m:
        what = T.clean(m.group("what"), a, 8)
        if not what:
            return []
        again = " again" if re.search(r"\bagain\b", m.group("what"), re.IGNORECASE) else ""
        food = _food_of(what)
        if food:
            return [
                Finding(
                    _PREF,
                    f"User eats {food}{again} (started eating {food}{again})",
                    "diet",
                    f"eats {food}",
                    _POS,
                    0.8,
                )
            ]
        diet = _diet_of(what)
        if diet:
            return [Finding(_PREF, f"User is {diet}", "diet", diet, _POS, 0.8)]
        if m.group("verb").lower() in ("now", "am now") and not again:
            return []
        return [
            Finding(
                _PREF,
                f"User started {T.pronouns(what)}{again}",
                f"habit:{T.activity_key(what)}",
                "started",
                _POS,
                0.65,
            )
        ]
    return []


def _constraint(c: str, a: datetime) -> list[Finding]:
    m = P.DIET.search(c)
    if m and not re.search(r"\bnot\b", c[: m.start("diet")][-12:], re.IGNORECASE):
        diet = m.group("diet").lower().replace(" ", "-").replace("pescetarian", "pescatarian")
        diet = "keto" if diet.startswith("keto") else diet
        slot = P.DIET_SLOTS.get(diet, "diet")
        content = "User is lactose intolerant" if diet == "lactose-intolerant" else f"User is {diet}"
        polarity = _NEU if slot.startswith("condition:") else _POS
        if slot.startswith("diet:"):
            content = f"User eats {diet}"
        return [Finding(_PREF, content, slot, diet, polarity, 0.9)]
    m = P.ALLERGY.search(c) or P.ALLERGY_NOUN.search(c)
    if m:
        obj = T.clean(m.group("obj"), a, 6)
        if obj and obj.lower() not in ("an", "a", "severe", "bad", "food", "some"):
            items = [x.strip() for x in re.split(r",\s*|\s+and\s+|\s+or\s+", obj) if x.strip()]
            return [
                Finding(_PREF, f"User is allergic to {x}", f"allergy:{slot_key(x)}", "allergic", _NEG, 0.9)
                for x in items
            ]
    m = P.CONDITION.search(c)
    if m:
        cond = m.group("cond").lower()
        verb = (
            "is"
            if cond in ("diabetic", "asthmatic", "autistic", "pregnant", "colorblind", "color blind")
            else "has"
        )
        return [Finding(_FACT, f"User {verb} {cond}", f"condition:{slot_key(cond)}", cond, _NEU, 0.85)]
    m = P.CANT_EAT.search(c)
    if m:
        obj = T.clean(m.group("obj"), a, 6)
        if obj and not re.match(
            r"(?:wait|believe|remember|find|decide|figure|stop|help|sleep|go|get|do|be)\b", obj
        ):
            said = re.search(
                r"\b(eat|have|drink|consume|tolerate|digest|handle)\b", c[m.start() :], re.IGNORECASE
            )
            shown = said.group(1).lower() if said else "have"
            return [
                Finding(
                    _PREF, f"User cannot {shown} {obj}", f"pref:{slot_key(obj)}", "cannot have", _NEG, 0.85
                )
            ]
    m = P.BUDGET.search(c)
    if m:
        rest = T.clean(m.group("rest"), a, 8) or ""
        amount = re.search(
            r"[$€£]\s?\d[\d,.]*\s*\w*|\d[\d,.]*\s*(?:dollars|euros|pounds|usd|eur|gbp|k)\b", rest, re.I
        )
        value = amount.group(0).strip() if amount else "limited"
        text = f"User's budget is {value}" if amount else "User is on a limited budget"
        return [Finding(_PREF, text, "budget", value, _NEU, 0.8)]
    return []


def _dislike(c: str, a: datetime) -> list[Finding]:
    m = P.DISLIKE.search(c)
    if m:
        obj = T.clean(m.group("obj"), a, 14)
        if obj and not re.match(
            r"(?:know|think|understand|mind|have\s+(?:a|any|time)|get\s+it)\b", obj, re.I
        ):
            verb = re.sub(r"\s+", " ", m.group("verb")).strip()
            key = re.sub(r"^(?:to|doing|having|being)\s+", "", obj, flags=re.IGNORECASE)
            if _PRONOUN_IN.search(key):
                content = f"User {T.third(verb)} {T.pronouns(obj)}"
                return [Finding(_PREF, content, None, None, _NEG, 0.5)]
            return [
                Finding(
                    _PREF,
                    f"User {T.third(verb)} {T.pronouns(obj)}",
                    f"pref:{slot_key(key)}",
                    "dislike",
                    _NEG,
                    0.8,
                )
            ]
    m = P.DISLIKE_TAIL.search(c)
    if m and not P.PRONOUN_OBJECT.match(m.group("obj")):
        obj = m.group("obj").strip()
        return [
            Finding(
                _PREF, f"User does not like {T.pronouns(obj)}", f"pref:{slot_key(obj)}", "dislike", _NEG, 0.7
            )
        ]
    return []


_PRONOUN_IN = re.compile(
    r"^(?:that|this|one|ones)\b|^(?:[\w'-]+\s+){0,2}?(?:it|them|those|these|him|her)\b", re.IGNORECASE
)
"""A pronoun as the object's head ("them", "working on them"): the slot would name nothing."""
_OVER = re.compile(r"\s+(?:over|rather\s+than|instead\s+of|more\s+than|than)\s+", re.IGNORECASE)


def _like(c: str, a: datetime) -> list[Finding]:
    if m := P.ONLY.search(c):
        obj = T.clean(m.group("obj"), a, 14)
        if obj:
            verb = re.sub(r"\s+", " ", m.group("verb"))
            return [
                Finding(
                    _PREF,
                    f"User only {T.third(verb)} {T.pronouns(obj)}",
                    f"pref:{slot_key(obj)}",
                    "only",
                    _POS,
                    0.75,
                )
            ]
    m = P.LIKE.search(c)
    if not m:
        return []
    raw = m.group("obj")
    obj = T.clean(raw, a, 12)
    if not obj or re.match(
        r"(?:it\s+when|it\s+if|that\b|to\s+(?:know|ask|think|see\s+if|hear)\b)", obj, re.I
    ):
        return []
    verb = re.sub(r"\s+", " ", m.group("verb")).lower()
    main = _OVER.split(obj, maxsplit=1)[0]
    if verb.startswith("prefer") and not main.lower().startswith("to "):
        main = re.split(r"\s+to\s+", main, maxsplit=1)[0]
    key = re.sub(r"^(?:to|doing|having|being|going)\s+", "", main, flags=re.IGNORECASE)
    value = "prefer" if "prefer" in verb or "rather" in verb else "like"
    shown = {"would prefer": "prefers", "would rather": "would rather", "dig": "likes"}.get(verb) or T.third(
        verb
    )
    if _PRONOUN_IN.search(main):  # "I love working on them": keep the clause, nothing to supersede
        return [Finding(_PREF, f"User {shown} {T.pronouns(obj)}", None, None, _POS, 0.5)]
    return [Finding(_PREF, f"User {shown} {T.pronouns(obj)}", f"pref:{slot_key(key)}", value, _POS, 0.8)]


def _favorite(c: str, a: datetime) -> list[Finding]:
    m = P.FAVORITE.search(c)
    if m:
        cat, obj = m.group("cat").strip().lower(), T.clean(m.group("obj"), a, 8)
        if obj:
            return [
                Finding(
                    _PREF, f"User's favorite {cat} is {obj}", f"favorite:{slot_key(cat)}", obj, _POS, 0.85
                )
            ]
    m = P.FAVORITE_TAIL.search(c)
    if m and not P.PRONOUN_OBJECT.match(m.group("obj").strip()):
        cat = (m.group("cat") or "thing").strip().lower()
        obj = m.group("obj").strip()
        return [
            Finding(_PREF, f"User's favorite {cat} is {obj}", f"favorite:{slot_key(cat)}", obj, _POS, 0.8)
        ]
    return []


_FAMILIES: tuple[Callable[[str, datetime], list[Finding]], ...] = (
    _change,
    _constraint,
    _dislike,
    _like,
    _favorite,
    fact,
    habit,
    event,
    activity,
)


def _clause(clause: str, anchor: datetime) -> list[Finding]:
    clause = clause.strip(" ,.;:!-")
    if len(clause) < 4 or P.QUESTION_START.match(clause) or not P.FIRST_PERSON.search(clause):
        return []
    for family in _FAMILIES:
        found = family(clause, anchor)
        if found:
            return found
    return []


_PAIR_SUBJECT = re.compile(r"\b((?i:my|our)\s+[\w-]+|[A-Z][\w-]+)\s+and\s+I\b")
_SHARED_SUBJECT = re.compile(
    r",?\s+(?:and|but)\s+(?=(?:prefer|like|love|enjoy|hate|dislike|avoid|would\s+rather|tend\s+to|usually|always|"
    r"never|am|have)\b)",
    re.IGNORECASE,
)


def _clauses(sentence: str) -> list[str]:
    if P.USED_TO.search(sentence):
        return [sentence]
    if P.SUBJECT.match(sentence) and re.match(r"(?:\w+\s+)?I\b", sentence):
        sentence = _SHARED_SUBJECT.sub(" \x00 I ", sentence)
    sentence = _PAIR_SUBJECT.sub(lambda m: m.group(1) + " \x01 I", sentence)
    parts = [p for chunk in sentence.split("\x00") for p in P.CLAUSE_SPLIT.split(chunk)]
    return [p.replace("\x01", "and") for p in parts if p and p.strip()]


_LOOSE_STOP = re.compile(r"\s+([.!?;]+)(?=\s|$)")


def find_memories(text: str, anchor: datetime) -> list[Finding]:
    """All findings in ``text`` said at ``anchor`` (pure; no pre-filter, no turn bookkeeping).

    A clause no rule reads, but that states something about the user, is kept whole by the fallback
    (`_fallback.statement`), unless the turn looks like pasted text or code.
    """
    found: list[Finding] = []
    seen: set[tuple[str | None, str]] = set()
    fallback = not is_pasted(text)
    for sentence in P.SENTENCE_SPLIT.split(_LOOSE_STOP.sub(r"\1", P.normalise(text))):
        if not sentence or not sentence.strip():
            continue
        for clause in _clauses(sentence):
            findings = _clause(clause, anchor)
            if not findings and fallback:
                findings = statement(clause)
            for finding in findings:
                key = (finding.slot, finding.content.lower())
                if key not in seen:
                    seen.add(key)
                    found.append(finding)
    return found


class RuleExtractor:
    """Offline extractor: patterns over user turns, no model. Deterministic and fast.

    Example:
        >>> result = RuleExtractor().extract(turns)
        >>> [c.content for c in result.candidates]
        ['User is vegetarian', "User's sister visited"]
    """

    name = "rules"

    def extract(self, turns: Sequence[Turn]) -> ExtractionResult:
        """Extract candidates from the user turns of ``turns``.

        Assistant and system turns, and user turns without a first-person word, are skipped and counted
        in ``turns_skipped``.
        """
        result = ExtractionResult(turns_seen=len(turns))
        for turn in turns:
            if not carries_memories(turn):
                result.turns_skipped += 1
                continue
            result.candidates.extend(self.extract_turn(turn))
        return result

    def extract_turn(self, turn: Turn) -> list[Candidate]:
        """Candidates from one turn (no pre-filter; the role is not checked)."""
        return [
            Candidate(
                kind=f.kind,
                content=f.content,
                slot=f.slot,
                value=f.value,
                polarity=f.polarity,
                confidence=f.confidence,
                event_time=f.when or turn.event_time,
                source_turn_ids=[turn.turn_id],
                session_id=turn.session_id,
                extractor=self.name,
                ends_slot=f.ends_slot,
            )
            for f in find_memories(turn.text, turn.event_time)
        ]
