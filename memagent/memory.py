"""`Memory`: the library without the graph — `remember`, `recall`, `profile`, `memories`, `forget`.

The pipeline for new turns: skip turns already stored (idempotent by turn id) -> extract per session ->
consolidate (supersede, don't delete) -> write the memories and the raw turns in one store write (the
turns are the replay ledger: a crash before it lands is repaired by running the same input again).

Every step works from the store's indexes: the turns already stored are looked up by id, consolidation
reads the current values of the candidates' slots (a slot's history only for a value older than the
current one), and reads ask for top-N lookups bounded by the budget and the candidate pool, so the
records a call reads do not grow with a user's history (`memagent.testing.conformance` counts them).
"""

from __future__ import annotations

import threading
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from memagent._turns import embedding_texts, link_previous_turns, turn_content, turn_record, turn_record_id
from memagent.config import MemoryConfig
from memagent.consolidation import (
    ConsolidationStats,
    WorkingSet,
    consolidate,
    record_from_candidate,
    same_value,
)
from memagent.errors import ConfigError, InputError
from memagent.extraction.rules import forget_request
from memagent.interfaces import Embedder, ExtractionResult, Extractor, MemoryStore, TokenCounter
from memagent.limits import check_record, check_text, check_turn
from memagent.profile import CONSTRAINT_SLOTS, ProfileSources, is_constraint, section_depth, user_profile
from memagent.retrieval import retrieve
from memagent.types import (
    Candidate,
    MemoryKind,
    MemoryRecord,
    Profile,
    RecordFilter,
    RecordOrder,
    Role,
    ScoredRecord,
    Turn,
    as_utc,
    encodable,
    stable_id,
)

__all__ = ["IngestReport", "Memory", "turn_record", "turn_record_id"]

_PROFILE_KINDS = (MemoryKind.PREFERENCE, MemoryKind.FACT)
_USER_LOCKS = 64  # writers of different users rarely share one; a user's writers always do
_EXTRACTED_KINDS = (MemoryKind.PREFERENCE, MemoryKind.FACT, MemoryKind.EVENT)


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
    turns_conflicting: list[str] = field(default_factory=list)
    """Ids of turns given again with another text (or speaker) than the turn stored, or given first,
    under that id: counted among the known turns, and the first text kept."""
    forgotten: int = 0
    """Memories deleted because a turn asked for them to be forgotten ("please forget that I ...")."""

    def merge(self, other: IngestReport) -> None:
        """Add ``other``'s counts."""
        self.turns_new += other.turns_new
        self.turns_known += other.turns_known
        self.turns_conflicting += other.turns_conflicting
        self.forgotten += other.forgotten
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
        self._user_locks = [threading.RLock() for _ in range(_USER_LOCKS)]

    def writing(self, user_id: str) -> threading.RLock:
        """The lock that serialises the writes of ``user_id`` in this `Memory` (re-entrant): consolidation
        reads a slot's current value before it writes the next one, so two writers of one user must not
        interleave. `commit`, `import_records` and `forget` take it (extraction runs outside it)."""
        return self._user_locks[_stripe(user_id)]

    @classmethod
    def open(
        cls,
        location: str | Path = ".memagent",
        *,
        embedder: Embedder | None = None,
        catalog: str | Path | None = None,
        **kwargs: Any,
    ) -> Memory:
        """Open a memory at a directory (persistent Chroma) or a store URL (`memagent.stores.open_store`;
        ``catalog`` is the records file of a Chroma server store)."""
        from memagent.embeddings import SentenceTransformerEmbedder
        from memagent.stores import open_store

        return cls(
            open_store(str(location), catalog=catalog), embedder or SentenceTransformerEmbedder(), **kwargs
        )

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    # ----------------------------------------------------------------------------------------------- write
    def remember(self, turns: Iterable[Turn]) -> IngestReport:
        """Store ``turns`` and the memories extracted from them. Turns already stored are skipped."""
        report = IngestReport()
        by_user: dict[str, list[Turn]] = defaultdict(list)
        for turn in turns:
            self._check(turn)
            by_user[turn.user_id].append(turn)
        for user_id, user_turns in by_user.items():
            report.merge(self._remember_user(user_id, user_turns))
        return report

    def _check(self, item: Turn | MemoryRecord) -> None:
        """Refuse input over the configured limits (`memagent.limits`), before anything is stored."""
        try:
            if isinstance(item, Turn):
                check_turn(item, self.config.limits)
            else:
                check_record(item, self.config.limits)
        except InputError as exc:
            what = f"turn {item.turn_id!r}" if isinstance(item, Turn) else f"record {item.id!r}"
            raise InputError(f"{what} of user {item.user_id!r}: {exc.reason}", field=exc.field) from None

    def _remember_user(self, user_id: str, turns: list[Turn]) -> IngestReport:
        fresh, conflicting = self._sort_turns(user_id, turns)
        report = self.commit(user_id, fresh, self.extract(fresh))
        report.turns_known = len(turns) - len(fresh)
        report.turns_conflicting = conflicting
        return report

    def new_turns(self, user_id: str, turns: Sequence[Turn]) -> list[Turn]:
        """The turns of ``user_id`` not stored yet (first occurrence of each turn id, in order)."""
        return self._sort_turns(user_id, turns)[0]

    def _sort_turns(self, user_id: str, turns: Sequence[Turn]) -> tuple[list[Turn], list[str]]:
        """`new_turns`, and the ids of turns that repeat a stored or earlier turn id with other content."""
        first: dict[str, Turn] = {}
        conflicting: list[str] = []
        for turn in turns:
            kept = first.setdefault(turn.turn_id, turn)
            if turn_content(kept) != turn_content(turn):
                conflicting.append(turn.turn_id)
        ids = [turn_record_id(user_id, turn_id) for turn_id in first]
        stored = {r.id: r.content for r in self.store.get(user_id, ids)}
        fresh: list[Turn] = []
        for record_id, turn in zip(ids, first.values(), strict=True):
            if record_id not in stored:
                fresh.append(turn)
            elif stored[record_id] != turn_content(turn):
                conflicting.append(turn.turn_id)
        return fresh, list(dict.fromkeys(conflicting))

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
        """Consolidate ``extraction`` and record ``turns`` (the ledger), in one store write."""
        with self.writing(user_id):
            return self._commit(user_id, turns, extraction)

    def _commit(self, user_id: str, turns: Sequence[Turn], extraction: ExtractionResult) -> IngestReport:
        ids = {turn_record_id(user_id, t.turn_id): t.turn_id for t in turns}
        done = {ids[r.id] for r in self.store.get(user_id, list(ids))}
        if done:  # another writer stored some of these turns since they were found new: those are done
            turns = [t for t in turns if t.turn_id not in done]
            extraction = replace(
                extraction,
                candidates=[
                    c
                    for c in extraction.candidates
                    if not (c.source_turn_ids and set(c.source_turn_ids) <= done)
                ],
            )
        report = IngestReport(extraction=extraction)
        now = self._clock()
        ledger = [turn_record(t, now=now) for t in turns]
        if self.config.turn_context:
            ledger = link_previous_turns(self.store, user_id, ledger)
        candidates = sorted(extraction.candidates, key=lambda c: c.event_time)
        texts = [c.content for c in candidates] + embedding_texts(self.store, user_id, ledger)
        vectors = self.embedder.embed(texts)
        fresh: list[MemoryRecord] = []
        fresh_vectors: list[Sequence[float]] = []
        changed: list[MemoryRecord] = []
        if candidates:
            working = self._consolidate(user_id, candidates, vectors[: len(candidates)], report, now=now)
            for record_id in sorted(working.dirty):
                record = working.records[record_id]
                if record_id in working.vectors:  # new in this batch
                    fresh.append(record)
                    fresh_vectors.append(working.vectors[record_id].tolist())
                else:  # stored before: validity or provenance changed, its vector stays
                    changed.append(record)
        self.store.put([*fresh, *ledger], [*fresh_vectors, *vectors[len(candidates) :]], updated=changed)
        report.turns_new = len(turns)
        for turn in turns:  # "please forget that I ...": the memories it names go
            what = forget_request(turn.text) if turn.role is Role.USER else None
            if what is not None:
                report.forgotten += len(self.forget_matching(user_id, what))
        return report

    def _consolidate(
        self,
        user_id: str,
        candidates: Sequence[Candidate],
        vectors: Sequence[Sequence[float]],
        report: IngestReport,
        *,
        now: datetime,
    ) -> WorkingSet:
        """Fold ``candidates`` into the stored history of their slots; returns what must be written."""
        working = WorkingSet()
        slots = tuple(sorted({c.slot for c in candidates if c.slot}))
        if slots:  # the slots' current values: what a new value supersedes
            for record in self.store.scan(user_id, RecordFilter(kinds=_PROFILE_KINDS, slots=slots)):
                working.add(record)
        late = tuple(sorted({c.slot for c in candidates if c.slot and _arrives_late(c, working)}))
        if late:  # a value older than the current one is fitted into its slot's history
            for record in self.store.scan(
                user_id, RecordFilter(kinds=_PROFILE_KINDS, current_only=False, slots=late)
            ):
                working.add(record)
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
        report.added += stats.added
        report.superseded += stats.superseded
        report.merged += stats.merged
        return working

    def import_records(self, records: Sequence[MemoryRecord]) -> int:
        """Store exported records as they are (ids, validity and provenance kept), each embedded as it was
        when first stored (a raw turn after the turn it names, `memagent._turns`); returns the count.

        Give them oldest first, as `export` writes them: a turn whose earlier turn is neither stored nor
        in the same call is embedded alone.
        """
        if not records:
            return 0
        for record in records:
            self._check(record)
        texts: dict[tuple[str, str], str] = {}
        by_user: dict[str, list[MemoryRecord]] = defaultdict(list)
        for record in records:
            by_user[record.user_id].append(record)
        with ExitStack() as held:
            for stripe in sorted({_stripe(user_id) for user_id in by_user}):  # one order: no deadlock
                held.enter_context(self._user_locks[stripe])
            for user_id, own in by_user.items():
                keys = ((user_id, r.id) for r in own)
                texts.update(zip(keys, embedding_texts(self.store, user_id, own), strict=True))
            self.store.put(records, self.embedder.embed([texts[(r.user_id, r.id)] for r in records]))
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
        query_embedding: Sequence[float] | None = None,
        candidates: Sequence[ScoredRecord] | None = None,
    ) -> list[ScoredRecord]:
        """The memories of ``user_id`` most relevant to ``query``, best first.

        Only current records unless ``include_history``; ``as_of`` gives the view at that event time.
        Raw turns in ``exclude_turn_ids`` (the message being answered) are left out. Recency is measured
        from ``now`` (default: ``as_of``, else the clock); a replayed conversation passes its own time.
        ``query_embedding`` saves embedding ``query`` again when the caller already has it, and
        ``candidates`` (from `candidates`, same query and filter) the retrieval itself.
        """
        flt = RecordFilter(
            kinds=tuple(kinds) if kinds else None,
            current_only=not include_history,
            as_of=as_utc(as_of) if as_of else None,
        )
        found = candidates
        if found is None:
            found = self.candidates(
                user_id,
                query,
                query_embedding=query_embedding,
                filter=flt,
                now=now,
                exclude_turn_ids=exclude_turn_ids,
            )
        excluded = set(exclude_turn_ids)
        return [h for h in found if not _names_turn(h.record, excluded)][: k or self.config.top_k]

    def _embed_query(self, query: str) -> list[float]:
        """The embedding of ``query``.

        Raises:
            InputError: ``query`` holds a lone surrogate (an undecodable byte of a command line).
        """
        try:
            encodable(query)
        except ValueError as exc:
            raise InputError(f"the query {exc}", field="query") from None
        return self.embedder.embed([query])[0]

    def candidates(
        self,
        user_id: str,
        query: str,
        *,
        query_embedding: Sequence[float] | None = None,
        filter: RecordFilter | None = None,
        now: datetime | None = None,
        exclude_turn_ids: Sequence[str] = (),
    ) -> list[ScoredRecord]:
        """Every candidate the retrieval signals nominate for ``query``, fused and ranked (uncut).

        `recall` and `profile` cut and filter this list; the agent computes it once per turn and hands
        it to both. Raw turns in ``exclude_turn_ids`` (the message being answered) take no part: they
        would match the query best and lend that to the turns around them.
        """
        flt = filter or RecordFilter()
        vector = query_embedding
        if vector is None and query.strip():
            vector = self._embed_query(query)
        pool = 2 * self.config.retrieval.candidate_pool + self.config.top_k
        return retrieve(
            self.store,
            user_id,
            query,
            vector,
            config=self.config.retrieval,
            top_k=pool,
            filter=flt,
            now=as_utc(now or flt.as_of or self._clock()),
            exclude_turn_ids=exclude_turn_ids,
        )

    def memories(
        self,
        user_id: str,
        *,
        as_of: datetime | None = None,
        kinds: Sequence[MemoryKind] | None = _EXTRACTED_KINDS,
        include_history: bool = False,
    ) -> list[MemoryRecord]:
        """Listing of stored memories: current ones, all history, or the view at event time ``as_of``.

        This walks the user's whole history (a page at a time): it is a view for people, not a hot path.
        """
        flt = RecordFilter(
            kinds=tuple(kinds) if kinds else None,
            current_only=not include_history,
            as_of=as_utc(as_of) if as_of else None,
        )
        return list(self.store.scan(user_id, flt))

    def history(self, user_id: str, slot: str) -> list[MemoryRecord]:
        """Every value a slot has held, oldest first, linked by ``supersedes``/``superseded_by``."""
        flt = RecordFilter(kinds=_PROFILE_KINDS, current_only=False, slots=(slot,))
        return sorted(self.store.scan(user_id, flt), key=lambda r: (r.valid_from, r.id))

    def profile(
        self,
        user_id: str,
        query: str | None = None,
        *,
        budget: int | None = None,
        as_of: datetime | None = None,
        exclude_turn_ids: Sequence[str] = (),
        now: datetime | None = None,
        query_embedding: Sequence[float] | None = None,
        candidates: Sequence[ScoredRecord] | None = None,
    ) -> Profile:
        """Compile the user's profile for ``query`` under a hard token ``budget``.

        This fetches what `memagent.profile.user_profile` lays out (constraints; the memories retrieved
        for the query, raw turns included except turns whose every extracted memory was superseded;
        preferences and facts ranked by similarity to the query; recent events). Every line names the
        records it came from.

        Each section is a bounded index lookup: no section can place more than `section_depth` lines, so
        no more are fetched. ``query_embedding`` and ``candidates`` (from `candidates`, same query and
        ``as_of``) save computing them again.
        """
        budget = self.config.budget if budget is None else budget
        when = as_utc(as_of) if as_of else None
        has_query = bool(query and query.strip())
        vector = query_embedding
        if vector is None and has_query and candidates is None:
            vector = self._embed_query(query or "")
        depth = section_depth(budget, self.config.top_k)
        stable = RecordFilter(kinds=_PROFILE_KINDS, as_of=when)
        pinned = stable.model_copy(update={"slot_prefixes": CONSTRAINT_SLOTS})

        def ranked(flt: RecordFilter, limit: int) -> list[MemoryRecord]:
            if vector is not None:
                return [r for r, _ in self.store.search(user_id, vector, limit, flt)]
            return self.store.find(user_id, flt, limit=limit, order=RecordOrder.MOST_CONFIDENT)

        everything: list[MemoryRecord] | None = None
        if vector is not None and self.store.count(user_id, stable) <= len(_PROFILE_KINDS) * depth:
            # Few enough to rank them all at once (bounded by the budget); every section cuts that ranking.
            everything = [
                r for r, _ in self.store.search(user_id, vector, len(_PROFILE_KINDS) * depth, stable)
            ]
        if everything is not None:
            constraints = [r for r in everything if is_constraint(r)][:depth]
        else:
            constraints = ranked(pinned, depth)
        of_kind: dict[MemoryKind, list[MemoryRecord]] = {}
        for kind in _PROFILE_KINDS:  # as many more as there are constraints, which the layout leaves out
            if everything is not None:
                of_kind[kind] = [r for r in everything if r.kind is kind][: depth + len(constraints)]
            else:
                of_kind[kind] = ranked(stable.model_copy(update={"kinds": (kind,)}), depth + len(constraints))
        events = self.store.find(
            user_id,
            RecordFilter(kinds=(MemoryKind.EVENT,), as_of=when),
            limit=self.config.recent_events,
            order=RecordOrder.NEWEST,
        )
        relevant: list[MemoryRecord] = []
        if has_query:
            found = candidates
            if found is None:
                found = self.candidates(
                    user_id,
                    query or "",
                    query_embedding=vector,
                    filter=RecordFilter(as_of=when),
                    now=now,
                    exclude_turn_ids=exclude_turn_ids,
                )
            excluded = set(exclude_turn_ids) | self._stale_turns(user_id, found, when)
            relevant = [h.record for h in found if not _names_turn(h.record, excluded)][:depth]
        sources = ProfileSources(
            constraints=constraints,
            relevant=relevant,
            preferences=of_kind[MemoryKind.PREFERENCE],
            facts=of_kind[MemoryKind.FACT],
            events=events,
        )
        return user_profile(user_id, query, sources, budget, self.counter)

    def _stale_turns(self, user_id: str, hits: Sequence[ScoredRecord], when: datetime | None) -> set[str]:
        """Turns among ``hits`` whose every extracted preference or fact was superseded (by ``when``)."""
        turn_ids = tuple(
            sorted({t for h in hits if h.record.kind is MemoryKind.TURN for t in h.record.source_turn_ids})
        )
        if not turn_ids:
            return set()
        linked = list(
            self.store.scan(
                user_id, RecordFilter(kinds=_PROFILE_KINDS, current_only=False, turn_ids=turn_ids)
            )
        )
        stable = RecordFilter(kinds=_PROFILE_KINDS, as_of=when)
        return _stale_turn_ids(linked, [r for r in linked if stable.matches(r)], when)

    def users(self) -> list[str]:
        """Every user with something stored."""
        return self.store.users()

    def export(self, user_id: str | None = None) -> Iterator[MemoryRecord]:
        """Every record (history and raw turns included) of one user, or of all users, a page at a time."""
        for user in [user_id] if user_id is not None else self.store.users():
            yield from self.store.scan(user, RecordFilter(current_only=False))

    # ------------------------------------------------------------------------------------ one memory
    def get(self, user_id: str, memory_id: str) -> MemoryRecord | None:
        """One record of ``user_id`` by id (None when there is none)."""
        found = self.store.get(user_id, [memory_id])
        return found[0] if found else None

    def correct(
        self, user_id: str, memory_id: str, content: str, *, at: datetime | None = None
    ) -> MemoryRecord:
        """Replace a current memory's content: the correction supersedes it from ``at`` (now by default),
        keeping it in the slot's history, as a new value said by the user would. Returns the correction.

        Raises:
            InputError: There is no such memory, it is a raw turn, it no longer holds, or ``content``
                is empty or over the limits.
        """
        text = content.strip()
        if not text:
            raise InputError("a correction needs some content", field="content")
        check_text(text, "content", self.config.limits)
        with self.writing(user_id):
            old = self._current_memory(user_id, memory_id)
            when = as_utc(at) if at is not None else self._clock()
            if when <= old.valid_from:
                raise InputError(f"a correction must come after {old.valid_from.isoformat()}", field="at")
            new = old.model_copy(
                update={
                    "id": stable_id(user_id, "correction", old.id, text),
                    "content": text,
                    "value": None,
                    "event_time": when,
                    "record_time": self._clock(),
                    "valid_from": when,
                    "valid_until": None,
                    "supersedes": old.id,
                    "superseded_by": None,
                    "extractor": "correction",
                }
            )
            ended = old.model_copy(update={"valid_until": when, "superseded_by": new.id})
            self.store.put([new], self.embedder.embed([text]), updated=[ended])
        return new

    def delete(self, user_id: str, memory_id: str) -> bool:
        """Delete one record of ``user_id`` (its vector and index entries too); the records it linked in
        its slot's history are linked to each other. Returns False when there was no such record."""
        with self.writing(user_id):
            record = self.get(user_id, memory_id)
            if record is None:
                return False
            before = self.get(user_id, record.supersedes) if record.supersedes else None
            after = self.get(user_id, record.superseded_by) if record.superseded_by else None
            relinked = []
            if before is not None:
                relinked.append(before.model_copy(update={"superseded_by": after.id if after else None}))
            if after is not None:
                relinked.append(after.model_copy(update={"supersedes": before.id if before else None}))
            if relinked:
                self.store.put([], [], updated=relinked)
            return self.store.delete(user_id, [memory_id]) > 0

    def forget_matching(self, user_id: str, statement: str) -> list[MemoryRecord]:
        """Delete the user's current memories that ``statement`` states, in the user's words ("I hate
        mushrooms" finds "User hates mushrooms"); returns them. The statement is read by the extractor, as
        a turn would be; a memory of the same slot matches when it holds the same value, any other when
        it is a near duplicate (cosine >= ``config.dedupe_threshold``) of the same kind. The raw turns that
        said nothing else remembered go too."""
        probe = Turn(
            user_id=user_id, session_id="forget", turn_id="forget", text=statement, event_time=self._clock()
        )
        candidates = self.extractor.extract([probe]).candidates
        if not candidates:
            return []
        vectors = self.embedder.embed([c.content for c in candidates])
        doomed: dict[str, MemoryRecord] = {}
        with self.writing(user_id):
            for candidate, vector in zip(candidates, vectors, strict=True):
                stated = record_from_candidate(user_id, candidate, now=self._clock())
                if candidate.slot:
                    held = self.store.scan(
                        user_id, RecordFilter(kinds=(candidate.kind,), slots=(candidate.slot,))
                    )
                    doomed.update((r.id, r) for r in held if same_value(r, stated))
                else:
                    near = self.store.search(user_id, vector, 3, RecordFilter(kinds=(candidate.kind,)))
                    doomed.update((r.id, r) for r, s in near if s >= self.config.dedupe_threshold)
            for record_id in doomed:
                self.delete(user_id, record_id)
            self._delete_spent_turns(user_id, doomed.values())
        return list(doomed.values())

    def _delete_spent_turns(self, user_id: str, deleted: Iterable[MemoryRecord]) -> None:
        """Delete the raw turns that said ``deleted`` memories and nothing else remembered, so that recall
        does not bring back in the user's words what they asked to forget (a replay of the same history
        stores them again)."""
        said = sorted({t for record in deleted for t in record.source_turn_ids})
        for turn_id in said:
            others = RecordFilter(kinds=_EXTRACTED_KINDS, current_only=False, turn_ids=(turn_id,))
            if not self.store.find(user_id, others, limit=1):
                self.delete(user_id, turn_record_id(user_id, turn_id))

    def _current_memory(self, user_id: str, memory_id: str) -> MemoryRecord:
        record = self.get(user_id, memory_id)
        if record is None:
            raise InputError(f"user {user_id!r} has no memory {memory_id!r}", field="memory_id")
        if record.kind is MemoryKind.TURN:
            raise InputError(
                f"{memory_id!r} is a raw turn: what was said is not corrected", field="memory_id"
            )
        if record.valid_until is not None:
            raise InputError(
                f"memory {memory_id!r} no longer holds: correct the current one", field="memory_id"
            )
        return record

    # ---------------------------------------------------------------------------------------------- delete
    def forget(self, user_id: str) -> int:
        """Delete everything stored for ``user_id``; returns the number of records removed."""
        with self.writing(user_id):
            return self.store.delete_user(user_id)


def _stripe(user_id: str) -> int:
    """Which of the `_USER_LOCKS` locks serialises the writes of ``user_id``."""
    return zlib.crc32(user_id.encode("utf-8", "surrogatepass")) % _USER_LOCKS


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


def _arrives_late(candidate: Candidate, working: WorkingSet) -> bool:
    """Whether ``candidate`` is older than the current value of its slot (it then needs the history)."""
    current = working.current_in_slot(candidate.slot or "")
    return bool(current) and as_utc(candidate.event_time) < current[-1].valid_from


def _names_turn(record: MemoryRecord, turn_ids: set[str]) -> bool:
    """True for a raw turn whose provenance is one of ``turn_ids``."""
    return record.kind is MemoryKind.TURN and not turn_ids.isdisjoint(record.source_turn_ids)


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
