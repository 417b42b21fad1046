"""Fact, habit and life-event rule families of the rule extractor (private).

Each family takes a normalised clause and the anchor time and returns `Finding`s (empty: no match).
"""

from __future__ import annotations

import re
from datetime import datetime

from memagent.extraction import _patterns as P
from memagent.extraction import _text as T
from memagent.extraction._text import Finding
from memagent.timeparse import find_times, tense_of
from memagent.types import MemoryKind, Polarity

__all__ = ["activity", "event", "fact", "habit"]

_PREF, _EVENT, _FACT = MemoryKind.PREFERENCE, MemoryKind.EVENT, MemoryKind.FACT
_POS, _NEG, _NEU = Polarity.POSITIVE, Polarity.NEGATIVE, Polarity.NEUTRAL


_NOT_JOBS = frozenset(
    "optimist pessimist perfectionist realist idealist minimalist feminist activist tourist "
    "specialist extremist purist".split()
)


def _is_job(word: str) -> bool:
    word = word.lower()
    if word in P.JOB_WORDS:
        return True
    return word.endswith(("ist", "ician", "ologist", "grapher", "ographer")) and word not in _NOT_JOBS


def fact(c: str, a: datetime) -> list[Finding]:
    if m := P.NAME.search(c):
        name = " ".join(w[:1].upper() + w[1:] for w in m.group("v").split())
        return [Finding(_FACT, f"User's name is {name}", "name", name, None, 0.9)]
    if m := P.AGE.search(c):
        age = m.group("v") or m.group("v2")
        if age and 3 <= int(age) <= 110:
            return [Finding(_FACT, f"User is {age} years old", "age", age, None, 0.85)]
        if m.group("decade"):
            return [
                Finding(_FACT, f"User is in their {m.group('decade')}", "age", m.group("decade"), None, 0.7)
            ]
    if m := P.RELATIONSHIP.search(c):
        return [
            Finding(_FACT, f"User is {m.group('v').lower()}", "relationship", m.group("v").lower(), None, 0.8)
        ]
    if m := P.PARENT.search(c):
        of = f" of {m.group('n')}" if m.group("n") else ""
        return [
            Finding(
                _FACT,
                f"User is a {m.group('rel').lower()}{of}",
                "family:parent",
                m.group("rel").lower() + of,
                None,
                0.8,
            )
        ]
    if m := P.FAMILY_COUNT.search(c):
        phrase = T.clean(re.sub(r"^I\s+have\s+(?:got\s+)?", "", c[m.start() :], flags=re.I), a, 6) or m.group(
            "rel"
        )
        count = (m.group("n") or "some").lower()
        return [
            Finding(
                _FACT,
                f"User has {T.pronouns(phrase)}",
                f"family:{T.stem(m.group('rel').lower())}",
                count,
                None,
                0.8,
            )
        ]
    if m := P.PARTNER.search(c):
        return [
            Finding(
                _FACT, f"User has a {m.group('rel').lower()}", "partner", m.group("rel").lower(), None, 0.75
            )
        ]
    if m := P.PET.search(c):
        pet = T.stem(m.group("pet").lower())
        text = re.sub(r"^I\s+(?:have|own|have\s+got)\s+", "", m.group(0), flags=re.IGNORECASE)
        return [Finding(_FACT, f"User has {text}", f"pet:{pet}", m.group("n").lower(), None, 0.8)]
    if m := P.JOB_AS.search(c):
        job = T.clean(m.group("v"), a, 6)
        if job:
            article = (
                ""
                if re.match(r"(?:a|an|the|my)\b", job, re.I)
                else "an "
                if job[0].lower() in "aeiou"
                else "a "
            )
            return [Finding(_FACT, f"User works as {article}{job}", "job", job, None, 0.85)]
    if m := P.JOB_AT.search(c):
        org = T.clean(m.group("v"), a, 6)
        if org:
            prep = "in" if m.group("prep").lower() == "in" else "at"
            slot = "workplace" if prep == "in" else "employer"
            return [Finding(_FACT, f"User works {prep} {T.pronouns(org)}", slot, org, None, 0.8)]
    if (m := P.JOB_IS.search(c)) and _is_job(m.group("v")):
        phrase = T.clean(c[m.start() + 5 :], a, 6) or m.group("v")
        return [Finding(_FACT, f"User is {phrase}", "job", phrase, None, 0.75)]
    if re.search(
        r"\bI\s+(?:am|have\s+been)\s+(?:now\s+)?(?:retired|unemployed|between\s+jobs|self[- ]employed)\b",
        c,
        re.I,
    ):
        status = re.search(r"retired|unemployed|between\s+jobs|self[- ]employed", c, re.I).group(0).lower()  # type: ignore[union-attr]
        return [Finding(_FACT, f"User is {status}", "job", status, None, 0.8)]
    for pattern, slot, template in (
        (P.HOME, "home", "User lives in {}"),
        (P.ORIGIN, "origin", "User is from {}"),
    ):
        if m := pattern.search(c):
            place = T.clean(re.split(r"\s+(?:with|for|since|and)\s+", m.group("v"))[0], a, 6)
            if place:
                return [Finding(_FACT, template.format(T.pronouns(place)), slot, place, None, 0.8)]
    if m := P.EDU_DEGREE.search(c):
        field = T.clean(m.group("v"), a, 6)
        if field:
            deg = m.group("deg").lower()
            return [
                Finding(
                    _FACT, f"User has a {deg} in {field}", "education:degree", f"{deg} in {field}", None, 0.8
                )
            ]
    if m := P.EDU_SCHOOL.search(c):
        school = T.clean(m.group("v") or m.group("v2"), a, 8)
        if school:
            return [
                Finding(
                    _FACT, f"User studies at {T.pronouns(school)}", "education:school", school, None, 0.75
                )
            ]
    if m := P.EDU_STUDY.search(c):
        field = T.clean(m.group("v"), a, 6)
        if field and not re.match(r"(?:for|hard|a\s+lot|late|at\s+night|with)\b", field, re.I):
            return [Finding(_FACT, f"User studies {T.pronouns(field)}", "education:field", field, None, 0.75)]
    if m := P.LANGUAGES.search(c):
        langs = m.group("v").strip()
        return [Finding(_FACT, f"User speaks {langs}", "languages", langs, None, 0.75)]
    if m := P.RELATIVE_IS.match(c):
        rest = T.clean(m.group("rest"), a, 10)
        if rest:
            return [
                Finding(_FACT, f"User's {m.group('rel').lower()} {T.pronouns(rest)}", None, None, None, 0.6)
            ]
    if (m := P.IDENTITY.match(c)) and tense_of(c) is None:
        who = T.clean(m.group("v"), a, 6)
        if who:
            return [Finding(_FACT, f"User is {m.group(0).split(' ', 2)[2]}", None, None, None, 0.5)]
    return []


def habit(c: str, a: datetime) -> list[Finding]:
    m = P.HABIT_FREQ.search(c) or P.HABIT_TAIL.search(c)
    if not m:
        return []
    rest = T.clean(m.group("rest"), a, 12)
    if not rest or re.match(
        r"(?:am|was|have\s+been|will|would|do\s+not|can|get\s+asked|feel|think|wonder)\b", rest
    ):
        return []
    freq = re.sub(r"\s+", " ", m.group("freq")).lower()
    negative = freq in ("never", "rarely", "seldom")
    if m.re is P.HABIT_TAIL:
        content = f"User {T.third(rest)} {freq}"
    elif freq == "tend to":
        content = f"User tends to {T.pronouns(rest)}"
    else:
        content = f"User {freq} {T.third(rest)}"
    return [Finding(_PREF, content, f"habit:{T.activity_key(rest)}", freq, _NEG if negative else _POS, 0.6)]


def activity(c: str, a: datetime) -> list[Finding]:
    m = P.HABIT_ACTIVITY.search(c)
    if (
        not m
        or m.start() > 0
        and not re.match(r"^(?:and|so|also|well|oh|yes|yeah|but)?\W*$", c[: m.start()], re.I)
    ):
        return []
    obj = T.clean(m.group("obj"), a, 6)
    if not obj or tense_of(c) == "future":
        return []
    phrase = f"{m.group('verb')} {obj}"
    return [Finding(_PREF, f"User {T.third(phrase)}", f"habit:{T.activity_key(phrase)}", "does", _POS, 0.5)]


def event(c: str, a: datetime) -> list[Finding]:
    if P.EVENT_SKIP.search(c):
        return []
    m = P.SUBJECT.match(c)
    if not m:
        return []
    subject, rest = m.group("subj"), m.group("rest")
    body = P.LEAD.sub("", rest)
    verb_hit = P.EVENT_PAST.match(body) or P.EVENT_FUTURE.match(rest)
    times = find_times(c, a)
    if not verb_hit and not (times and P.PAST_START.match(rest)):
        return []
    when = times[0].when if times else None
    text = P.OBJECT_STOP.split(rest, maxsplit=1)[0]
    for t in sorted(find_times(rest, a), key=lambda t: -t.start):
        text = text[: t.start] + text[t.end :]
    text = re.sub(r"\s+", " ", text).strip(" ,.;!-")
    text = re.sub(r"\s+(?:and|but|so|because|which|that)$", "", text, flags=re.IGNORECASE)
    if not text:
        return []
    who = T.subject_third(subject)
    if who == "User":
        first, _, tail = text.partition(" ")
        text = (T.IRREGULAR.get(first.lower(), first) if first.lower() in ("am", "have") else first) + (
            " " + tail if tail else ""
        )
    content = f"{who} {T.pronouns(text)}"[:220]
    found = [Finding(_EVENT, content, None, None, None, 0.75 if verb_hit else 0.6, when)]
    if subject.lower() in ("i", "we"):
        found += _event_facts(body, a, when)
    return found


def _event_facts(body: str, a: datetime, when: datetime | None) -> list[Finding]:
    found: list[Finding] = []
    if (m := P.MOVED_TO.search(body)) and tense_of(body) != "future":
        place = T.clean(re.split(r"\s+(?:with|for|since|and|because)\s+", m.group("v"))[0], a, 6)
        if place:
            found.append(
                Finding(_FACT, f"User lives in {T.pronouns(place)}", "home", place, None, 0.75, when)
            )
    if m := P.NEW_JOB.search(body):
        job, org = T.clean(m.group("job"), a, 5), T.clean(m.group("org"), a, 6)
        if job:
            found.append(Finding(_FACT, f"User works as {job}", "job", job, None, 0.75, when))
        if org:
            found.append(
                Finding(_FACT, f"User works at {T.pronouns(org)}", "employer", org, None, 0.75, when)
            )
    if P.JOB_END.search(body):
        found.append(
            Finding(_FACT, "User no longer has their job", "job", None, _NEU, 0.7, when, ends_slot=True)
        )
    if re.match(r"retired\b", body, re.IGNORECASE):
        found.append(Finding(_FACT, "User is retired", "job", "retired", None, 0.8, when))
    return found
