"""`Memory`: the library without the graph — `remember`, `recall`, `profile`, `memories`, `forget`.

The pipeline for new turns: skip turns already stored (idempotent by turn id) -> extract per session ->
consolidate (supersede, don't delete) -> write memories -> write the raw turns last (they are the replay
ledger, so a crash before that point is repaired by running the same input again).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from memagent.config import MemoryConfig
from memagent.consolidation import ConsolidationStats, WorkingSet, consolidate, record_from_candidate
from memagent.errors import ConfigError
from memagent.interfaces import Embedder, ExtractionResult, Extractor, MemoryStore, TokenCounter
from memagent.profile import ProfileSection, compile_profile, is_constraint
from memagent.retrieval import retrieve
from memagent.types import (
    Candidate,
    MemoryKind,
    MemoryRecord,
    Profile,
    RecordFilter,
    ScoredRecord,
    Turn,
    as_utc,
    stable_id,
)

__all__ = ["IngestReport", "Memory", "turn_record_id"]

_PROFILE_KINDS = (MemoryKind.PREFERENCE, MemoryKind.FACT)
_EXTRACTED_KINDS = (MemoryKind.PREFERENCE, MemoryKind.FACT, MemoryKind.EVENT)


def turn_record_id(user_id: str, turn_id: str) -> str:
    """Id of the raw-turn record of ``turn_id`` (the replay ledger entry)."""
    return stable_id(user_id, "turn", turn_id)


def turn_record(turn: Turn, *, now: datetime) -> MemoryRecord:
    """The raw-turn record of ``turn``: episodic memory, speaker kept in the indexed text."""
    return MemoryRecord(
        id=turn_record_id(turn.user_id, turn.turn_id),
        user_id=turn.user_id,
        kind=MemoryKind.TURN,
        content=f"{turn.speaker_label}: {turn.text}",
        source_turn_ids=[turn.turn_id],
        session_id=turn.session_id,
        event_time=turn.event_time,
        record_time=now,
        valid_from=turn.event_time,
        extractor="raw",
        attributes={"role": turn.role.value, "speaker": turn.speaker or "", "turn_id": turn.turn_id},
    )


@dataclass
class IngestReport:
    """What one `Memory.remember` call did; partial failures are counted here, never swallowed."""

    turns_new: int = 0
    """Turns stored for the first time."""
    turns_known: int = 0
    """Turns skipped because they were already stored (replays)."""
    added: int = 0
    superseded: int = 0
    merged: int = 0
    extraction: ExtractionResult = field(default_factory=ExtractionResult)
    """Extractor counts: turns skipped as non-personal, LLM calls, failures, repairs, fallbacks."""

    def merge(self, other: IngestReport) -> None:
        """Add ``other``'s counts."""
        self.turns_new += other.turns_new
        self.turns_known += other.turns_known
        self.added += other.added
        self.superseded += other.superseded
        self.merged += other.merged
        self.extraction.merge(other.extraction)


def _now() -> datetime:
    return datetime.now(UTC)


class Memory:
    """Long-term memory for many users over one store.

    Args:
        store: Where records live (`memagent.stores.ChromaStore`, `InProcessStore`, or your own).
        embedder: Turns texts into vectors (`SentenceTransformerEmbedder` by default in `Memory.open`).
        counter: Counts profile tokens (`TiktokenCounter` by default).
        extractor: Finds memories in turns; None picks one from ``config.extraction``.
        config: Every switch of the pipeline.
        chat_model: A LangChain chat model, needed only when ``config.extraction == "llm"``.
        clock: Source of record time (injectable for tests).
    """

    def __init__(
        self,
        store: MemoryStore,
        embedder: Embedder,
        *,
        counter: TokenCounter | None = None,
        extractor: Extractor | None = None,
        config: MemoryConfig | None = None,
        chat_model: Any = None,
        clock: Callable[[], datetime] = _now,
    ):
        self.store = store
        self.embedder = embedder
        self.config = config or MemoryConfig()
        if counter is None:
            from memagent.tokens import TiktokenCounter

            counter = TiktokenCounter()
        self.counter = counter
        self.extractor = extractor if extractor is not None else _default_extractor(self.config, chat_model)
        self._clock = clock

    @classmethod
    def open(
        cls,
        location: str | Path = ".memagent",
        *,
        embedder: Embedder | None = None,
        **kwargs: Any,
    ) -> Memory:
        """Open a memory at a directory (persistent Chroma) or a store URL (`memagent.stores.open_store`)."""
        from memagent.embeddings import SentenceTransformerEmbedder
        from memagent.stores import open_store

        return cls(open_store(str(location)), embedder or SentenceTransformerEmbedder(), **kwargs)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # ----------------------------------------------------------------------------------------------- write
    def remember(self, turns: Iterable[Turn]) -> IngestReport:
        """Store ``turns`` and the memories extracted from them. Turns already stored are skipped."""
        report = IngestReport()
        by_user: dict[str, list[Turn]] = defaultdict(list)
        for turn in turns:
            by_user[turn.user_id].append(turn)
        for user_id, user_turns in by_user.items():
            report.merge(self._remember_user(user_id, user_turns))
        return report

    def _remember_user(self, user_id: str, turns: list[Turn]) -> IngestReport:
        fresh = self.new_turns(user_id, turns)
        report = self.commit(user_id, fresh, self.extract(fresh))
        report.turns_known = len(turns) - len(fresh)
        return report

    def new_turns(self, user_id: str, turns: Sequence[Turn]) -> list[Turn]:
        """The turns of ``user_id`` not stored yet (first occurrence of each turn id, in order)."""
        first: dict[str, Turn] = {}
        for turn in turns:
            first.setdefault(turn.turn_id, turn)
        unique = list(first.values())
        known = {r.id for r in self.store.get(user_id, [turn_record_id(user_id, t.turn_id) for t in unique])}
        return [t for t in unique if turn_record_id(user_id, t.turn_id) not in known]

    def extract(self, turns: Sequence[Turn]) -> ExtractionResult:
        """Run the configured extractor session by session (nothing is stored)."""
        result = ExtractionResult()
        if self.config.extraction == "none":
            result.turns_seen = result.turns_skipped = len(turns)
            return result
        by_session: dict[str, list[Turn]] = defaultdict(list)
        for turn in turns:
            by_session[turn.session_id].append(turn)
        for session_turns in by_session.values():
            session_turns.sort(key=lambda t: t.event_time)
            result.merge(self.extractor.extract(session_turns))
        return result

    def commit(self, user_id: str, turns: Sequence[Turn], extraction: ExtractionResult) -> IngestReport:
        """Consolidate ``extraction`` into the store, then record ``turns`` (the ledger) last."""
        report = IngestReport(extraction=extraction)
        now = self._clock()
        ledger = [turn_record(t, now=now) for t in turns]
        candidates = sorted(extraction.candidates, key=lambda c: c.event_time)
        vectors = self.embedder.embed([c.content for c in candidates] + [r.content for r in ledger])
        if candidates:
            self._store_candidates(user_id, candidates, vectors[: len(candidates)], report, now=now)
        if ledger:
            self.store.put(ledger, vectors[len(candidates) :])
        report.turns_new = len(turns)
        return report

    def _store_candidates(
        self,
        user_id: str,
        candidates: Sequence[Candidate],
        vectors: Sequence[Sequence[float]],
        report: IngestReport,
        *,
        now: datetime,
    ) -> None:
        working = WorkingSet()
        for record in self.store.list(user_id, RecordFilter(kinds=_PROFILE_KINDS, current_only=False)):
            working.add(record)  # the slots' whole history: a late value is fitted into it
        ids = [record_from_candidate(user_id, c, now=now).id for c in candidates]
        for record in self.store.get(user_id, ids):  # already stored: a replay after a crash
            working.add(record)
        stats = ConsolidationStats()
        for candidate, vector in zip(candidates, vectors, strict=True):
            hits: list[tuple[MemoryRecord, float]] = []
            if self.config.consolidation and candidate.slot is None:
                hits = self.store.search(user_id, vector, 3, _near_duplicate_filter(candidate))
            stats.merge(
                consolidate(
                    candidate,
                    vector,
                    working,
                    user_id=user_id,
                    now=now,
                    dedupe_threshold=self.config.dedupe_threshold,
                    hits=hits,
                    enabled=self.config.consolidation,
                )
            )
        dirty = [working.records[i] for i in sorted(working.dirty)]
        missing = [r for r in dirty if r.id not in working.vectors]
        if missing:  # stored records whose validity or provenance changed: their vectors are not held
            for record, vector in zip(
                missing, self.embedder.embed([r.content for r in missing]), strict=True
            ):
                working.vectors[record.id] = np.asarray(vector, dtype=np.float32)
        self.store.put(dirty, [working.vectors[r.id].tolist() for r in dirty])
        report.added += stats.added
        report.superseded += stats.superseded
        report.merged += stats.merged

    def import_records(self, records: Sequence[MemoryRecord]) -> int:
        """Store exported records as they are (ids, validity and provenance kept); returns the count."""
        if not records:
            return 0
        self.store.put(records, self.embedder.embed([r.content for r in records]))
        return len(records)

    # ------------------------------------------------------------------------------------------------ read
    def recall(
        self,
        user_id: str,
        query: str,
        *,
        k: int | None = None,
        kinds: Sequence[MemoryKind] | None = None,
        as_of: datetime | None = None,
        include_history: bool = False,
        exclude_turn_ids: Sequence[str] = (),
        now: datetime | None = None,
    ) -> list[ScoredRecord]:
        """The memories of ``user_id`` most relevant to ``query``, best first.

        Only current records unless ``include_history``; ``as_of`` gives the view at that event time.
        Raw turns in ``exclude_turn_ids`` (the message being answered) are left out. Recency is measured
        from ``now`` (default: ``as_of``, else the clock); a replayed conversation passes its own time.
        """
        flt = RecordFilter(
            kinds=tuple(kinds) if kinds else None,
            current_only=not include_history,
            as_of=as_utc(as_of) if as_of else None,
        )
        vector = self.embedder.embed([query])[0] if query.strip() else None
        return self._recall(user_id, query, vector, flt, k or self.config.top_k, exclude_turn_ids, now, None)

    def _recall(
        self,
        user_id: str,
        query: str,
        vector: Sequence[float] | None,
        flt: RecordFilter,
        top_k: int,
        exclude_turn_ids: Sequence[str],
        now: datetime | None,
        corpus: Sequence[MemoryRecord] | None,
    ) -> list[ScoredRecord]:
        hits = retrieve(
            self.store,
            user_id,
            query,
            vector,
            config=self.config.retrieval,
            top_k=top_k + len(exclude_turn_ids),
            filter=flt,
            now=as_utc(now or flt.as_of or self._clock()),
            corpus=corpus,
        )
        excluded = set(exclude_turn_ids)
        kept = [
            h
            for h in hits
            if not (h.record.kind == MemoryKind.TURN and excluded.intersection(h.record.source_turn_ids))
        ]
        return kept[:top_k]

    def memories(
        self,
        user_id: str,
        *,
        as_of: datetime | None = None,
        kinds: Sequence[MemoryKind] | None = _EXTRACTED_KINDS,
        include_history: bool = False,
    ) -> list[MemoryRecord]:
        """Listing of stored memories: current ones, all history, or the view at event time ``as_of``."""
        flt = RecordFilter(
            kinds=tuple(kinds) if kinds else None,
            current_only=not include_history,
            as_of=as_utc(as_of) if as_of else None,
        )
        return self.store.list(user_id, flt)

    def history(self, user_id: str, slot: str) -> list[MemoryRecord]:
        """Every value a slot has held, oldest first, linked by ``supersedes``/``superseded_by``."""
        records = self.store.list(user_id, RecordFilter(kinds=_PROFILE_KINDS, current_only=False))
        return sorted((r for r in records if r.slot == slot), key=lambda r: (r.valid_from, r.id))

    def profile(
        self,
        user_id: str,
        query: str | None = None,
        *,
        budget: int | None = None,
        as_of: datetime | None = None,
        exclude_turn_ids: Sequence[str] = (),
        now: datetime | None = None,
    ) -> Profile:
        """Compile the user's profile for ``query`` under a hard token ``budget``.

        Hard constraints (diet, allergies, health) come first; then, taking turns so that none can starve
        the others, preferences and facts ranked by relevance to the query, the memories retrieved for the
        query (raw turns included, except turns whose every extracted memory was superseded), and recent
        events. A larger budget retrieves proportionally more. Every line names the records it came from.
        """
        budget = self.config.budget if budget is None else budget
        when = as_utc(as_of) if as_of else None
        has_query = bool(query and query.strip())
        flt = RecordFilter(kinds=_PROFILE_KINDS, as_of=when)
        everything = self.store.list(user_id, RecordFilter(current_only=False))  # listed once, filtered here
        stable = [r for r in everything if flt.matches(r)]
        stale_turns = _stale_turn_ids(everything, stable, when)
        vector = self.embedder.embed([query or ""])[0] if has_query else None
        if vector is not None and stable:
            ranked = [r for r, _ in self.store.search(user_id, vector, len(stable), flt)]
            seen = {r.id for r in ranked}
            ranked += [r for r in stable if r.id not in seen]
        else:
            ranked = sorted(stable, key=lambda r: (-r.confidence, -r.event_time.timestamp(), r.id))
        constraints = [r for r in ranked if is_constraint(r)]
        preferences = [r for r in ranked if r.kind == MemoryKind.PREFERENCE and not is_constraint(r)]
        facts = [r for r in ranked if r.kind == MemoryKind.FACT and not is_constraint(r)]
        event_filter = RecordFilter(kinds=(MemoryKind.EVENT,), as_of=when)
        events = [r for r in everything if event_filter.matches(r)]
        events = sorted(events, key=lambda r: (r.event_time, r.id), reverse=True)[: self.config.recent_events]
        relevant: list[MemoryRecord] = []
        if has_query:
            k = max(self.config.top_k, self.config.top_k * budget // self.config.budget)
            hits = self._recall(
                user_id,
                query or "",
                vector,
                RecordFilter(as_of=when),
                k,
                [*exclude_turn_ids, *stale_turns],
                now,
                everything,
            )
            relevant = [h.record for h in hits]
        sections = [
            ProfileSection(name="constraints", records=constraints, pinned=True),
            ProfileSection(name="preferences", records=preferences),
            ProfileSection(name="relevant", title="Relevant memories", records=relevant),
            ProfileSection(name="facts", title="About the user", records=facts),
            ProfileSection(name="events", title="Recent events", records=events),
        ]
        return compile_profile(user_id, query, sections, budget, self.counter, interleave=True)

    def users(self) -> list[str]:
        """Every user with something stored."""
        return self.store.users()

    def export(self, user_id: str | None = None) -> Iterator[MemoryRecord]:
        """Every record (history and raw turns included) of one user, or of all users."""
        for user in [user_id] if user_id else self.store.users():
            yield from self.store.list(user, RecordFilter(current_only=False))

    # ---------------------------------------------------------------------------------------------- delete
    def forget(self, user_id: str) -> int:
        """Delete everything stored for ``user_id``; returns the number of records removed."""
        return self.store.delete_user(user_id)


def _stale_turn_ids(
    records: Sequence[MemoryRecord], current: Sequence[MemoryRecord], when: datetime | None
) -> set[str]:
    """Turns whose every extracted preference or fact was superseded (by ``when``): stale text."""
    superseded = {
        turn
        for record in records
        if record.kind in _PROFILE_KINDS
        and record.valid_until is not None
        and (when is None or record.valid_until <= when)
        for turn in record.source_turn_ids
    }
    return superseded - {turn for record in current for turn in record.source_turn_ids}


def _near_duplicate_filter(candidate: Candidate) -> RecordFilter:
    """Where a near duplicate of ``candidate`` can be: same kind, and for events the same day."""
    if candidate.kind != MemoryKind.EVENT:
        return RecordFilter(kinds=(candidate.kind,))
    day = candidate.event_time.replace(hour=0, minute=0, second=0, microsecond=0)
    return RecordFilter(kinds=(MemoryKind.EVENT,), since=day, until=day + timedelta(days=1))


def _default_extractor(config: MemoryConfig, chat_model: Any) -> Extractor:
    from memagent.extraction import RuleExtractor

    if config.extraction == "llm":
        if chat_model is None:
            raise ConfigError(
                "extraction='llm' needs a chat model: pass chat_model=init_chat_model('provider:model')"
            )
        from memagent.extraction import LLMExtractor

        return LLMExtractor(chat_model, batch_turns=config.llm_batch_turns)
    return RuleExtractor()
