"""Supersede, don't delete: turn extracted `Candidate`s into `MemoryRecord`s against what is stored.

Pure functions over a `WorkingSet` (the user's current records, held in memory for one batch):

* a candidate with the same slot and the same value as a current record merges into it (provenance kept);
* a candidate with the same slot and a different value closes the current record's validity at the
  candidate's event time and links both (``superseded_by`` / ``supersedes``); a candidate older than the
  current value (an out-of-order replay) is stored as history that the current value supersedes;
* a slot-less candidate that nearly duplicates a current record of its kind (cosine >= threshold; events
  also need the same day) merges into it;
* anything else is added.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from memagent.types import Candidate, MemoryKind, MemoryRecord, stable_id

__all__ = [
    "ConsolidationStats",
    "WorkingSet",
    "consolidate",
    "normalize_text",
    "record_from_candidate",
    "same_value",
]

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalize_text(text: str) -> str:
    """Lower-case, strip punctuation and collapse whitespace (for exact-duplicate checks)."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def record_from_candidate(user_id: str, candidate: Candidate, *, now: datetime) -> MemoryRecord:
    """A new current record for ``candidate``; its id is deterministic in user, content and source turns."""
    record_id = stable_id(
        user_id,
        candidate.kind.value,
        candidate.slot or "",
        normalize_text(candidate.content),
        ",".join(candidate.source_turn_ids),
    )
    return MemoryRecord(
        id=record_id,
        user_id=user_id,
        kind=candidate.kind,
        content=candidate.content,
        slot=candidate.slot,
        value=candidate.value,
        polarity=candidate.polarity,
        confidence=candidate.confidence,
        source_turn_ids=list(candidate.source_turn_ids),
        session_id=candidate.session_id,
        event_time=candidate.event_time,
        record_time=now,
        valid_from=candidate.event_time,
        extractor=candidate.extractor,
    )


@dataclass
class ConsolidationStats:
    """What a batch of consolidation did."""

    added: int = 0
    superseded: int = 0
    merged: int = 0

    def merge(self, other: ConsolidationStats) -> None:
        """Add ``other``'s counts."""
        self.added += other.added
        self.superseded += other.superseded
        self.merged += other.merged


@dataclass
class WorkingSet:
    """A user's records touched in one batch, with their vectors; collects what must be written back."""

    records: dict[str, MemoryRecord] = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    """Ids of records that are new or changed and must be written back."""

    def add(
        self,
        record: MemoryRecord,
        vector: Sequence[float] | np.ndarray | None = None,
        *,
        dirty: bool = False,
    ) -> None:
        """Hold ``record`` (and its vector, when known); mark it for write-back when ``dirty``."""
        self.records[record.id] = record
        if vector is not None:
            self.vectors[record.id] = np.asarray(vector, dtype=np.float32)
        if dirty:
            self.dirty.add(record.id)

    def replace(self, record: MemoryRecord) -> None:
        """Swap in a changed version of a held record and mark it for write-back."""
        self.records[record.id] = record
        self.dirty.add(record.id)

    def slot_history(self, slot: str) -> list[MemoryRecord]:
        """Every held record of ``slot``, current or superseded, oldest first."""
        return sorted(
            (r for r in self.records.values() if r.slot == slot), key=lambda r: (r.valid_from, r.id)
        )

    def current_in_slot(self, slot: str) -> list[MemoryRecord]:
        """Current records holding ``slot``, oldest first."""
        found = [r for r in self.records.values() if r.slot == slot and r.is_current]
        return sorted(found, key=lambda r: (r.valid_from, r.id))

    def nearest(
        self, kind: MemoryKind, vector: np.ndarray, hits: Sequence[tuple[MemoryRecord, float]] = ()
    ) -> tuple[MemoryRecord, float] | None:
        """The current record of ``kind`` most similar to ``vector``.

        Looks at held records whose vectors are known and at ``hits`` (store search results with their
        similarity); a held version of a hit wins over the stored one.
        """
        scored = [
            (r, float(np.dot(self.vectors[rid], vector)))
            for rid, r in self.records.items()
            if rid in self.vectors
        ]
        scored += [(self.records.get(r.id, r), s) for r, s in hits]
        best: tuple[MemoryRecord, float] | None = None
        for record, similarity in scored:
            if record.kind != kind or not record.is_current:
                continue
            if best is None or similarity > best[1] or (similarity == best[1] and record.id < best[0].id):
                best = (record, similarity)
        return best


def same_value(a: MemoryRecord, b: MemoryRecord) -> bool:
    """Whether two records of one slot say the same thing (value and polarity, else the text)."""
    if a.value is not None and b.value is not None:
        return normalize_text(a.value) == normalize_text(b.value) and a.polarity == b.polarity
    return normalize_text(a.content) == normalize_text(b.content)


def _merge_into(existing: MemoryRecord, incoming: MemoryRecord) -> MemoryRecord:
    turns = list(dict.fromkeys([*existing.source_turn_ids, *incoming.source_turn_ids]))
    return existing.model_copy(
        update={
            "source_turn_ids": turns,
            "confidence": max(existing.confidence, incoming.confidence),
            "valid_from": min(existing.valid_from, incoming.valid_from),
        }
    )


def _insert_into_history(
    working: WorkingSet, incoming: MemoryRecord, stats: ConsolidationStats
) -> MemoryRecord | None:
    """Fit a value older than the slot's current one into its history, splitting the interval it falls in.

    Returns the record to add, or None when it merged into the value that already held at its time.
    """
    history = working.slot_history(incoming.slot or "")
    held = [r for r in history if r.valid_at(incoming.valid_from)]
    if held:
        previous = held[-1]
        if same_value(previous, incoming):
            working.replace(_merge_into(previous, incoming))
            stats.merged += 1
            return None
        follower = working.records.get(previous.superseded_by or "")
        incoming = incoming.model_copy(
            update={
                "valid_until": previous.valid_until,
                "superseded_by": previous.superseded_by,
                "supersedes": previous.id,
            }
        )
        working.replace(
            previous.model_copy(update={"valid_until": incoming.valid_from, "superseded_by": incoming.id})
        )
        if follower is not None:
            working.replace(follower.model_copy(update={"supersedes": incoming.id}))
        stats.superseded += 1
        return incoming
    later = [r for r in history if r.valid_from > incoming.valid_from]
    following = later[0]  # non-empty: the slot has a current value that starts after ``incoming``
    if following.supersedes is None:
        working.replace(following.model_copy(update={"supersedes": incoming.id}))
    return incoming.model_copy(update={"valid_until": following.valid_from, "superseded_by": following.id})


def consolidate(
    candidate: Candidate,
    vector: Sequence[float],
    working: WorkingSet,
    *,
    user_id: str,
    now: datetime,
    dedupe_threshold: float,
    hits: Sequence[tuple[MemoryRecord, float]] = (),
    enabled: bool = True,
) -> ConsolidationStats:
    """Fold one candidate into ``working``; returns what it did. With ``enabled=False`` it only appends.

    ``hits`` are the stored records nearest to the candidate (for near-duplicate checks).
    """
    stats = ConsolidationStats()
    incoming = record_from_candidate(user_id, candidate, now=now)
    array = np.asarray(vector, dtype=np.float32)
    if incoming.id in working.records or any(r.id == incoming.id for r, _ in hits):  # a replay
        stats.merged += 1
        return stats
    if not enabled:
        working.add(incoming, array, dirty=True)
        stats.added += 1
        return stats

    if incoming.slot:
        current = working.current_in_slot(incoming.slot)
        for existing in current:
            if same_value(existing, incoming):
                working.replace(_merge_into(existing, incoming))
                stats.merged += 1
                return stats
        if current:
            latest = current[-1]
            if incoming.valid_from >= latest.valid_from:
                for existing in current:
                    closed = existing.model_copy(
                        update={"valid_until": incoming.valid_from, "superseded_by": incoming.id}
                    )
                    working.replace(closed)
                    stats.superseded += 1
                incoming = incoming.model_copy(update={"supersedes": latest.id})
            else:  # older than what is current: a late arrival, inserted into the slot's history
                inserted = _insert_into_history(working, incoming, stats)
                if inserted is None:
                    return stats
                incoming = inserted
        working.add(incoming, array, dirty=True)
        stats.added += 1
        return stats

    nearest = working.nearest(incoming.kind, array, hits)
    if nearest is not None and nearest[1] >= dedupe_threshold:
        existing = nearest[0]
        same_day = existing.event_time.date() == incoming.event_time.date()
        if incoming.kind != MemoryKind.EVENT or same_day:
            working.replace(_merge_into(existing, incoming))
            stats.merged += 1
            return stats
    working.add(incoming, array, dirty=True)
    stats.added += 1
    return stats
