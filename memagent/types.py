"""Data model of memagent: `Turn`, `MemoryRecord`, `Candidate`, `RecordFilter`, `RecordOrder`,
`ScoredRecord`, `Profile`.

All timestamps are timezone-aware (naive input is taken as UTC; a given offset is kept, so dates
resolved from "yesterday" are the speaker's local dates). Two clocks are kept apart everywhere:
*event time* (when a turn was said, or when the event it describes happened) and *record time* (when
memagent stored it). Validity intervals (`valid_from`/`valid_until`) are in event time, so a history
replayed today still answers "what did the user prefer in March?".
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "EARLIEST",
    "LATEST",
    "Candidate",
    "CheckedTimestamp",
    "MemoryKind",
    "MemoryRecord",
    "Polarity",
    "Profile",
    "ProfileLine",
    "RecordFilter",
    "RecordOrder",
    "Role",
    "ScoredRecord",
    "Text",
    "Timestamp",
    "Turn",
    "as_aware",
    "as_utc",
    "checked_time",
    "encodable",
    "stable_id",
]


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def as_aware(value: datetime) -> datetime:
    """Return ``value`` timezone-aware: naive values are taken to be UTC, aware ones keep their offset."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def checked_time(value: datetime) -> datetime:
    """``value`` made aware (as `as_aware` does) if it lies between `EARLIEST` and `LATEST` in UTC: a day
    inside the limits of `datetime`, so that any offset and a day's arithmetic stay representable.

    Raises:
        ValueError: ``value`` lies outside that range.
    """
    aware = as_aware(value)
    try:
        inside = EARLIEST <= aware.astimezone(UTC) <= LATEST
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError(
            f"{value.isoformat()} is outside the supported range {EARLIEST.date()} to {LATEST.date()}"
        )
    return aware


def encodable(value: str) -> str:
    """``value`` if it can be written as UTF-8.

    Raises:
        ValueError: ``value`` holds a lone surrogate (a half of a UTF-16 pair, such as JSON's ``"\\ud800"``).
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"holds a lone surrogate at character {exc.start}") from None
    return value


Timestamp = Annotated[datetime, AfterValidator(as_aware)]
"""An aware datetime. Its offset is kept, so "yesterday" said at 01:00+02:00 is the local yesterday."""
CheckedTimestamp = Annotated[datetime, AfterValidator(checked_time)]
"""A `Timestamp` within `EARLIEST` and `LATEST`: what input may carry (stored records are not checked
again each time they are read)."""
Text = Annotated[str, AfterValidator(encodable)]
"""A string that can be stored and embedded: no lone surrogates."""


def stable_id(*parts: str) -> str:
    """A short deterministic id from ``parts``: the same inputs always give the same id."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:24]


class Role(StrEnum):
    """Who said a turn."""

    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class MemoryKind(StrEnum):
    """What a memory record holds."""

    PREFERENCE = "preference"
    """A like, dislike, habit or constraint (diet, allergy) of the user."""
    EVENT = "event"
    """Something that happened (or will happen) in the user's life, dated in event time."""
    FACT = "fact"
    """A stable fact about the user (name, job, home, family)."""
    TURN = "turn"
    """A raw conversation turn (episodic memory, and the replay ledger)."""


class Polarity(StrEnum):
    """Direction of a preference."""

    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"


class Turn(BaseModel):
    """One message of a conversation, as it was said."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: Text = Field(min_length=1)
    """The user whose memory this turn feeds."""
    session_id: Text = Field(min_length=1)
    """The conversation (thread) the turn belongs to."""
    turn_id: Text = Field(min_length=1)
    """Unique within the user; replaying the same turn id twice stores nothing twice."""
    role: Role = Role.USER
    """Who said it."""
    text: Text
    """What was said."""
    event_time: CheckedTimestamp
    """When it was said (not when it was stored)."""
    speaker: Text | None = None
    """Display name of the speaker, kept in the indexed text of multi-party chats."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form extra fields from the source (benchmark labels, dia ids)."""

    @property
    def speaker_label(self) -> str:
        """The name shown before the text: the speaker's name, or the role."""
        return self.speaker or self.role.value


class Candidate(BaseModel):
    """A memory proposed by an extractor, before consolidation gives it an id and validity."""

    model_config = ConfigDict(extra="forbid")

    kind: MemoryKind
    """Preference, event or fact."""
    content: str = Field(min_length=1)
    """Plain-language statement about the user ("User is vegetarian")."""
    slot: str | None = None
    """What the memory is about ("diet", "pref:sushi"); a later value for the same slot supersedes it."""
    value: str | None = None
    """The value held in the slot ("vegetarian", "like")."""
    polarity: Polarity | None = None
    """Direction of a preference."""
    confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    """How sure the extractor is."""
    event_time: Timestamp
    """When it happened or became true (resolved against the turn's own time)."""
    source_turn_ids: list[str] = Field(min_length=1)
    """The turns it came from."""
    session_id: str | None = None
    """The session of the source turns."""
    extractor: str = "rules"
    """Which extractor proposed it."""
    ends_slot: bool = False
    """True when the statement only ends a previous value ("I no longer eat meat" without a new diet)."""


class MemoryRecord(BaseModel):
    """A stored memory with provenance and its validity interval."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    kind: MemoryKind
    content: str
    slot: str | None = None
    value: str | None = None
    polarity: Polarity | None = None
    confidence: float = 0.7
    source_turn_ids: list[str] = Field(default_factory=list)
    """Provenance: the turns this memory came from."""
    session_id: str | None = None
    event_time: Timestamp
    """When it happened or was said."""
    record_time: Timestamp
    """When memagent stored it."""
    valid_from: Timestamp
    """Event time from which the memory holds."""
    valid_until: Timestamp | None = None
    """Event time at which a later memory superseded it (None while current)."""
    superseded_by: str | None = None
    """Id of the record that replaced this one."""
    supersedes: str | None = None
    """Id of the record this one replaced."""
    extractor: str = "rules"
    attributes: dict[str, str] = Field(default_factory=dict)
    """Small string attributes (role and speaker of a raw turn)."""

    @property
    def is_current(self) -> bool:
        """True while nothing has superseded the record."""
        return self.valid_until is None

    def valid_at(self, when: datetime) -> bool:
        """True when the record held at event time ``when``."""
        when = as_utc(when)
        return self.valid_from <= when and (self.valid_until is None or when < self.valid_until)


class RecordFilter(BaseModel):
    """Which records a lookup or search returns (always within one user). Every condition must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: tuple[MemoryKind, ...] | None = None
    """Only these kinds (None: all kinds)."""
    current_only: bool = True
    """Only records that nothing superseded (ignored when ``as_of`` is set)."""
    as_of: Timestamp | None = None
    """Only records valid at this event time: the history view."""
    since: Timestamp | None = None
    """Only records whose event time is at or after this."""
    until: Timestamp | None = None
    """Only records whose event time is before this."""
    slots: tuple[str, ...] | None = None
    """Only records holding one of these slots (None: any slot, or none)."""
    slot_prefixes: tuple[str, ...] | None = None
    """Only records whose slot starts with one of these prefixes ("allergy:")."""
    turn_ids: tuple[str, ...] | None = None
    """Only records whose provenance names one of these turns."""

    def matches(self, record: MemoryRecord) -> bool:
        """Whether ``record`` passes the filter (the reference semantics every store must follow)."""
        if self.kinds is not None and record.kind not in self.kinds:
            return False
        if self.as_of is not None:
            if not record.valid_at(self.as_of):
                return False
        elif self.current_only and not record.is_current:
            return False
        if self.since is not None and record.event_time < self.since:
            return False
        if self.until is not None and record.event_time >= self.until:
            return False
        if self.slots is not None and record.slot not in self.slots:
            return False
        if self.slot_prefixes is not None and not (
            record.slot is not None and record.slot.startswith(self.slot_prefixes)
        ):
            return False
        return self.turn_ids is None or not set(self.turn_ids).isdisjoint(record.source_turn_ids)

    @property
    def is_empty(self) -> bool:
        """True when no record can pass (an empty tuple of kinds, slots, prefixes or turns)."""
        return any(
            value is not None and len(value) == 0
            for value in (self.kinds, self.slots, self.slot_prefixes, self.turn_ids)
        )


class RecordOrder(StrEnum):
    """The order of a bounded lookup (`MemoryStore.find`)."""

    OLDEST = "oldest"
    """Event time ascending, then id."""
    NEWEST = "newest"
    """Event time descending, then id."""
    MOST_CONFIDENT = "most_confident"
    """Confidence descending, then event time descending, then id."""


class ScoredRecord(BaseModel):
    """A retrieved record with its fused score and the signals behind it."""

    record: MemoryRecord
    score: float
    signals: dict[str, float] = Field(default_factory=dict)


class ProfileLine(BaseModel):
    """One line of a compiled profile, with where it came from."""

    section: str
    """"preferences", "events", "facts" or "relevant"."""
    text: str
    """The rendered line, including its provenance tag."""
    record_ids: list[str]
    """Memory records behind the line."""
    turn_ids: list[str]
    """Conversation turns behind the line."""
    tokens: int
    """Tokens the line costs, counted by the profile's token counter."""


class Profile(BaseModel):
    """A compact, token-budgeted user profile compiled for a query."""

    user_id: str
    query: str | None
    budget: int
    lines: list[ProfileLine]
    tokens: int
    """Tokens of ``text``, never more than ``budget``."""
    text: str
    """What the responding model is given."""
    dropped: int = 0
    """Candidate lines that did not fit the budget."""
