"""Resolve relative time phrases ("yesterday", "last Friday", "3 weeks ago") against an anchor.

The anchor is always the event time of the turn the phrase was said in, never the wall clock, so a
history replayed years later resolves exactly as it did live. All functions are pure.

Results keep the anchor's timezone (a naive anchor is taken as UTC). Day-level results sit at midnight
of that day; parts of the day get a nominal hour (morning 09:00, afternoon 15:00, evening 19:00,
tonight / last night 20:00-21:00); week, month and year phrases resolve to the start of the period.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from dateutil.relativedelta import relativedelta

__all__ = ["Direction", "ResolvedTime", "find_times", "resolve_when", "tense_of"]

Direction = Literal["past", "future"]

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sept", "sep"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        )
    )
    for name in names
}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "a couple of": 2, "a couple": 2, "couple of": 2, "a few": 3, "few": 3, "several": 3,
}  # fmt: skip
_SEASONS = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_DAY_PARTS = {"morning": 9, "afternoon": 15, "evening": 19, "night": 21}

_WD = "|".join(_WEEKDAYS)
_MON = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NUM = r"\d{1,3}|" + "|".join(sorted((re.escape(k) for k in _NUMBERS), key=len, reverse=True))
_UNIT = r"(?P<unit>day|week|month|year)s?"

_FUTURE_CUES = re.compile(
    r"\b(?:will|won't|shall|going\s+to|gonna|plan(?:ning)?\s+to|about\s+to|hope\s+to|want\s+to|"
    r"'ll|upcoming|tomorrow|next|soon)\b",
    re.IGNORECASE,
)
_PAST_CUES = re.compile(
    r"\b(?:was|were|did|had|went|got|came|saw|made|took|met|left|ran|bought|flew|ago|yesterday|last|"
    r"\w{3,}ed)\b",
    re.IGNORECASE,
)
_PROGRESSIVE = re.compile(r"\b(?:am|'m|are|'re|is)\s+\w+ing\b", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedTime:
    """A time phrase found in text and the point in time it refers to."""

    when: datetime
    """Aware datetime (anchor's timezone) the phrase refers to (start of the period for ranges)."""
    phrase: str
    """The matched phrase, as written."""
    start: int
    """Offset of the phrase in the text."""
    end: int
    """Offset just past the phrase."""
    granularity: Literal["time", "day", "week", "month", "year"]
    """How precise ``when`` is."""


def tense_of(text: str) -> Direction | None:
    """Guess whether ``text`` talks about the past or the future from simple cues (None: no cue).

    Explicit future markers ("will", "going to") win over past-tense verbs; a present progressive
    ("I'm flying on Friday") counts as future when there is no past cue.
    """
    if _FUTURE_CUES.search(text):
        return "future"
    if _PAST_CUES.search(text):
        return "past"
    if _PROGRESSIVE.search(text):
        return "future"
    return None


def _midnight(value: datetime) -> datetime:
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def _num(token: str) -> int:
    token = token.lower().strip()
    return int(token) if token.isdigit() else _NUMBERS[re.sub(r"\s+", " ", token)]


def _shift(anchor: datetime, unit: str, n: int) -> datetime:
    unit = unit.lower()
    if unit == "day":
        return _midnight(anchor + timedelta(days=n))
    if unit == "week":
        return _midnight(anchor + timedelta(weeks=n))
    if unit == "month":
        return _midnight(anchor + relativedelta(months=n))
    return _midnight(anchor + relativedelta(years=n))


def _period_start(anchor: datetime, unit: str, offset: int) -> datetime:
    day = _midnight(anchor)
    if unit == "week":
        return day - timedelta(days=day.weekday()) + timedelta(weeks=offset)
    if unit == "month":
        return day.replace(day=1) + relativedelta(months=offset)
    return day.replace(month=1, day=1) + relativedelta(years=offset)


def _weekday(anchor: datetime, name: str, mode: str) -> datetime:
    """A weekday: ``last``/``past`` before the anchor, ``next``/``future`` after, ``this`` in its week."""
    target = _WEEKDAYS.index(name.lower())
    day = _midnight(anchor)
    if mode == "this":
        return day - timedelta(days=day.weekday()) + timedelta(days=target)
    if mode in ("last", "past"):
        back = (day.weekday() - target) % 7 or 7
        return day - timedelta(days=back)
    ahead = (target - day.weekday()) % 7 or 7
    return day + timedelta(days=ahead)


def _weekend(anchor: datetime, offset: int) -> datetime:
    """Saturday of a weekend: ``-1`` the last one before the anchor, ``0`` this week's, ``1`` the coming one
    (said on a weekend day, the one after)."""
    day = _midnight(anchor)
    saturday = day - timedelta(days=day.weekday()) + timedelta(days=5)
    if offset > 0:
        return saturday + timedelta(weeks=1) if day.weekday() >= 5 else saturday
    return saturday + timedelta(weeks=offset)


def _month_day(
    anchor: datetime, month: int, day: int, year: int | None, direction: Direction | None
) -> datetime:
    if year is not None:
        return _midnight(anchor).replace(year=year, month=month, day=day)
    base = _midnight(anchor)
    candidate = base.replace(month=month, day=day)
    if direction == "past" and candidate > base:
        candidate = candidate.replace(year=candidate.year - 1)
    elif direction == "future" and candidate < base:
        candidate = candidate.replace(year=candidate.year + 1)
    return candidate


def _season(anchor: datetime, name: str, offset: int) -> datetime:
    month = _SEASONS[name.lower()]
    base = _midnight(anchor).replace(day=1)
    start = base.replace(month=month)
    # the season containing the anchor starts at most 2 months before it
    current = start if 0 <= (base.year * 12 + base.month) - (start.year * 12 + month) <= 2 else None
    if offset < 0:
        if current is not None:
            return start - relativedelta(years=1)
        return start if start < base else start - relativedelta(years=1)
    if offset > 0:
        return start if start > base else start + relativedelta(years=1)
    return start


Handler = Callable[[re.Match[str], datetime, "Direction | None"], tuple[datetime, str]]


def _rule(pattern: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + pattern + r")(?![\w-])", re.IGNORECASE)


def _h_day_before(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    return _midnight(a) - timedelta(days=2), "day"


def _h_day_after(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    return _midnight(a) + timedelta(days=2), "day"


def _h_relday(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    word = m.group("rel").lower()
    part = (m.group("part") or "").lower()
    offset = {"yesterday": -1, "today": 0, "tomorrow": 1}[word]
    day = _midnight(a) + timedelta(days=offset)
    if part:
        return day.replace(hour=_DAY_PARTS[part]), "time"
    return day, "day"


def _h_last_night(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    return (_midnight(a) - timedelta(days=1)).replace(hour=21), "time"


def _h_ago(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    return _shift(a, m.group("unit"), -_num(m.group("n"))), "day"


def _h_period(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    which = m.group("which").lower()
    offset = {"last": -1, "past": -1, "previous": -1, "this": 0, "next": 1, "coming": 1}[which]
    unit = m.group("unit").lower()
    if unit == "weekend":
        if offset == 0 and d == "past" and a.weekday() < 5:
            offset = -1
        return _weekend(a, offset), "day"
    return _period_start(a, unit, offset), unit


def _h_weekday(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    which = (m.group("which") or "").lower()
    name = m.group("wd")
    if which in ("last", "past", "previous"):
        return _weekday(a, name, "last"), "day"
    if which in ("next", "coming"):
        return _weekday(a, name, "next"), "day"
    if which == "this":
        return _weekday(a, name, "this"), "day"
    return _weekday(a, name, "next" if d == "future" else "past"), "day"


def _h_iso(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    y, mo, dd = int(m.group("y")), int(m.group("mo")), int(m.group("d"))
    if m.group("hh"):
        return a.replace(year=y, month=mo, day=dd, hour=int(m.group("hh")), minute=int(m.group("mi")),
                         second=0, microsecond=0), "time"  # fmt: skip
    return _midnight(a).replace(year=y, month=mo, day=dd), "day"


def _year(m: re.Match[str]) -> int | None:
    return int(m.group("y")) if m.group("y") else None


def _h_mdy(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    return _month_day(a, _MONTHS[m.group("mon").lower()], int(m.group("d")), _year(m), d), "day"


def _h_my(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    return _midnight(a).replace(year=int(m.group("y")), month=_MONTHS[m.group("mon").lower()], day=1), "month"


def _h_year(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    return _midnight(a).replace(year=int(m.group("y")), month=1, day=1), "year"


def _h_holiday(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    which = (m.group("which") or "").lower()
    name = m.group("hol").lower()
    month, day = (12, 25) if "christmas" in name else (12, 31) if "eve" in name else (1, 1)
    direction: Direction | None = "past" if which == "last" else "future" if which == "next" else d
    return _month_day(a, month, day, None, direction), "day"


def _h_season(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    which = m.group("which").lower()
    offset = {"last": -1, "past": -1, "this": 0, "next": 1}[which]
    return _season(a, m.group("season"), offset), "month"


def _h_this_part(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    part = (m.group("part") or m.group("part2")).lower()
    hour = 20 if part == "tonight" else _DAY_PARTS[part]
    return _midnight(a).replace(hour=hour), "time"


def _h_in(m: re.Match[str], a: datetime, d: Direction | None) -> tuple[datetime, str]:
    if m.group("n") is not None:
        return _shift(a, m.group("unit"), _num(m.group("n"))), "day"
    return _shift(a, m.group("unit2"), _num(m.group("n2"))), "day"


_ORD = r"(?:st|nd|rd|th)?"
_RULES: tuple[tuple[re.Pattern[str], Handler], ...] = (
    (_rule(r"the\s+day\s+before\s+yesterday"), _h_day_before),
    (_rule(r"the\s+day\s+after\s+tomorrow"), _h_day_after),
    (_rule(r"last\s+night"), _h_last_night),
    (_rule(r"(?P<rel>yesterday|today|tomorrow)(?:\s+(?P<part>morning|afternoon|evening|night))?"), _h_relday),
    (
        _rule(r"(?:this\s+(?P<part>morning|afternoon|evening)|(?P<part2>tonight))"),
        _h_this_part,
    ),
    (_rule(rf"(?P<n>{_NUM})\s+{_UNIT}\s+(?:ago|back|before\s+now)"), _h_ago),
    (
        _rule(
            rf"(?:in|within|after)\s+(?P<n>{_NUM})\s+{_UNIT}|"
            rf"(?P<n2>{_NUM})\s+(?P<unit2>day|week|month|year)s?\s+from\s+now"
        ),
        _h_in,
    ),  # fmt: skip
    (_rule(r"(?P<which>last|past|previous|this|next|coming)\s+(?P<unit>week|month|year|weekend)"), _h_period),
    (_rule(rf"(?:(?P<which>last|past|previous|this|next|coming)\s+|on\s+)(?P<wd>{_WD})s?"), _h_weekday),
    (
        _rule(
            r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:[T\s](?P<hh>\d{1,2}):(?P<mi>\d{2})(?::\d{2})?)?"
        ),
        _h_iso,
    ),
    (_rule(rf"(?P<mon>{_MON})\.?\s+(?P<d>\d{{1,2}}){_ORD}(?:,?\s+(?P<y>\d{{4}}))?"), _h_mdy),
    (
        _rule(rf"(?:the\s+)?(?P<d>\d{{1,2}}){_ORD}\s+(?:of\s+)?(?P<mon>{_MON})\.?(?:,?\s+(?P<y>\d{{4}}))?"),
        _h_mdy,
    ),
    (_rule(rf"(?:in\s+)?(?P<mon>{_MON})\s+(?P<y>(?:19|20)\d{{2}})"), _h_my),
    (_rule(r"(?:in|since|during|back\s+in|around)\s+(?P<y>(?:19|20)\d{2})"), _h_year),
    (
        _rule(
            r"(?:(?P<which>last|next|this)\s+)?(?P<hol>christmas(?:\s+eve)?|new\s+year'?s(?:\s+eve|\s+day)?)"
        ),
        _h_holiday,
    ),
    (_rule(r"(?P<which>last|past|this|next)\s+(?P<season>spring|summer|fall|autumn|winter)"), _h_season),
)


def _aware(anchor: datetime) -> datetime:
    return anchor.replace(tzinfo=UTC) if anchor.tzinfo is None else anchor


def find_times(text: str, anchor: datetime, *, direction: Direction | None = None) -> list[ResolvedTime]:
    """Every time phrase in ``text`` resolved against ``anchor``, in text order, without overlaps.

    Args:
        text: Free text, any case.
        anchor: The event time of the turn the text was said in (naive is taken as UTC).
        direction: Tense of the text; guessed with `tense_of` when None. Decides bare weekdays
            ("on Friday") and dates without a year ("May 7"); with no cue the past is assumed for
            weekdays and the anchor's year for dates.

    Returns:
        Resolved phrases; at one position the longest match wins. Impossible dates are left out.
    """
    anchor = _aware(anchor)
    tense = direction if direction is not None else tense_of(text)
    found: list[ResolvedTime] = []
    for pattern, handler in _RULES:
        for match in pattern.finditer(text):
            try:
                when, granularity = handler(match, anchor, tense)
            except (ValueError, KeyError, OverflowError):
                continue
            span = (match.start(), match.end())
            found.append(ResolvedTime(when, match.group(0), *span, granularity))  # type: ignore[arg-type]
    found.sort(key=lambda r: (r.start, -(r.end - r.start)))
    kept: list[ResolvedTime] = []
    for item in found:
        if kept and item.start < kept[-1].end:
            continue
        kept.append(item)
    return kept


def resolve_when(text: str, anchor: datetime, *, direction: Direction | None = None) -> ResolvedTime | None:
    """The first time phrase of ``text`` resolved against ``anchor`` (see `find_times`), or None.

    Example:
        ``resolve_when("My sister visited yesterday", datetime(2023, 5, 8, 14, tzinfo=UTC)).when``
        is 2023-05-07 00:00 UTC.
    """
    times = find_times(text, anchor, direction=direction)
    return times[0] if times else None
