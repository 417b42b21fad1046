"""Raw-turn records (the replay ledger) and the text each one is embedded with.

A turn's own words often say little out of context ("Yes, last Saturday!", "I'll take the second
one"). So a raw turn is embedded after the turn before it in its session, the one it answers, and its
vector carries what the exchange was about (contextual chunk embedding). Only the vector changes: the
record's content, its BM25 terms and its profile line are the turn's own text. The record names that
turn in ``attributes["previous_turn"]``, so an import embeds it the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from memagent.interfaces import MemoryStore
from memagent.types import MemoryKind, MemoryRecord, RecordFilter, RecordOrder, Turn, stable_id

__all__ = ["PREVIOUS_TURN", "embedding_texts", "link_previous_turns", "turn_record", "turn_record_id"]

PREVIOUS_TURN = "previous_turn"
"""Attribute of a raw-turn record: the id of the turn it is embedded after (absent: embedded alone)."""


def turn_record_id(user_id: str, turn_id: str) -> str:
    """Id of the raw-turn record of ``turn_id`` (the replay ledger entry)."""
    return stable_id(user_id, "turn", turn_id)


def turn_content(turn: Turn) -> str:
    """The text of ``turn``'s raw-turn record: who said it, and what."""
    return f"{turn.speaker_label}: {turn.text}"


def turn_record(turn: Turn, *, now: datetime) -> MemoryRecord:
    """The raw-turn record of ``turn``: episodic memory, speaker kept in the indexed text."""
    return MemoryRecord(
        id=turn_record_id(turn.user_id, turn.turn_id),
        user_id=turn.user_id,
        kind=MemoryKind.TURN,
        content=turn_content(turn),
        source_turn_ids=[turn.turn_id],
        session_id=turn.session_id,
        event_time=turn.event_time,
        record_time=now,
        valid_from=turn.event_time,
        extractor="raw",
        attributes={"role": turn.role.value, "speaker": turn.speaker or "", "turn_id": turn.turn_id},
    )


def link_previous_turns(
    store: MemoryStore, user_id: str, ledger: Sequence[MemoryRecord]
) -> list[MemoryRecord]:
    """``ledger`` (new raw turns of ``user_id``; equal times keep their order) with each one naming the
    turn before it in its session: the one before it in ``ledger``, or for a session's first new turn
    the user's newest stored turn, if it is of the same session and said earlier. One bounded lookup
    per session. A turn said at the very instant of a turn stored by an earlier write, or said before
    turns already stored, is linked to the turn before it in time that is stored, as far as known then."""
    last_said: dict[str | None, str | None] = {}  # per session, the turn said last so far
    previous: dict[int, str | None] = {}
    for index, record in sorted(enumerate(ledger), key=lambda pair: (pair[1].event_time, pair[0])):
        if record.session_id not in last_said:
            last_said[record.session_id] = _last_stored_turn(store, user_id, record)
        previous[index] = last_said[record.session_id]
        last_said[record.session_id] = record.attributes.get("turn_id")
    return [
        record.model_copy(update={"attributes": {**record.attributes, PREVIOUS_TURN: previous[index]}})
        if previous[index]
        else record
        for index, record in enumerate(ledger)
    ]


def _last_stored_turn(store: MemoryStore, user_id: str, turn: MemoryRecord) -> str | None:
    """The turn id of the user's newest stored turn said before ``turn``, if it is of ``turn``'s session."""
    newest = RecordFilter(kinds=(MemoryKind.TURN,), until=turn.event_time)
    found = store.find(user_id, newest, limit=1, order=RecordOrder.NEWEST)
    if found and found[0].session_id == turn.session_id:
        return found[0].attributes.get("turn_id")
    return None


def embedding_texts(store: MemoryStore, user_id: str, records: Sequence[MemoryRecord]) -> list[str]:
    """What to embed for each of ``records``: a raw turn's content after that of the turn it names in
    `PREVIOUS_TURN` (looked up among ``records``, then in the store; one lookup for all), anything else
    its content."""
    named = {r.id: str(r.attributes[PREVIOUS_TURN]) for r in records if _names_previous(r)}
    contents = {
        str(r.attributes["turn_id"]): r.content
        for r in records
        if r.kind is MemoryKind.TURN and r.attributes.get("turn_id")
    }
    wanted = sorted(set(named.values()) - set(contents))
    if wanted:
        for found in store.get(user_id, [turn_record_id(user_id, turn_id) for turn_id in wanted]):
            if found.attributes.get("turn_id"):
                contents[str(found.attributes["turn_id"])] = found.content
    texts = []
    for record in records:
        before = contents.get(named[record.id]) if record.id in named else None
        texts.append(f"{before}\n{record.content}" if before else record.content)
    return texts


def _names_previous(record: MemoryRecord) -> bool:
    return record.kind is MemoryKind.TURN and bool(record.attributes.get(PREVIOUS_TURN))
