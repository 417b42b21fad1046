"""Memory systems under evaluation: memagent and the baselines it must beat, behind one Protocol.

Every system is measured by the same runner, at the same token budgets, with the same embedder (one
`CachedEmbedder` instance) and the same `TokenCounter`. Baselines render raw turns exactly as memagent's
profile renders them (`memagent.profile.render_record`, same quote length and provenance tag), so lines
cost the same tokens whichever system places them.

Stores: memagent runs on an `InProcessStore` by default. The store only holds records; ranking,
consolidation and profile compilation are the same code for every backend, and the in-process store's
search is exact cosine, so it does not change the metrics (an approximate index such as Chroma's HNSW
can only reorder near-ties). Pass a store URL to measure a real backend's cost. The baselines keep their
own exact in-process index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np

from memagent.config import MemoryConfig
from memagent.interfaces import Embedder, TokenCounter
from memagent.lexical import bm25_scores
from memagent.memory import Memory, turn_record
from memagent.profile import pack_to_budget, render_record
from memagent.types import RecordFilter, Role, Turn

__all__ = [
    "BASELINES",
    "BM25Raw",
    "Context",
    "ContextLine",
    "MemagentSystem",
    "MemoryItem",
    "MemorySystem",
    "NaiveRAG",
    "NoMemory",
    "RecentHistory",
    "ReplayClock",
    "build_systems",
]

MAX_CANDIDATES = 200
"""Ranked raw-turn lines offered to the packer by NaiveRAG and BM25Raw (at least 13 tokens each, so
no more than ~80 ever fit 1,024 tokens; the cap only saves counting time)."""


@dataclass(frozen=True)
class ContextLine:
    """One line given to the responding model, with the turns it came from."""

    text: str
    turn_ids: tuple[str, ...]
    tokens: int


@dataclass(frozen=True)
class Context:
    """What a system gives the responding model for one query under one budget."""

    text: str
    lines: tuple[ContextLine, ...]
    tokens: int
    """Tokens of ``text`` by the shared counter."""


@dataclass(frozen=True)
class MemoryItem:
    """One stored memory, for extraction metrics."""

    text: str
    session_id: str | None
    turn_ids: tuple[str, ...]


@runtime_checkable
class MemorySystem(Protocol):
    """A memory under evaluation."""

    name: str
    llm_calls: int
    """LLM calls made so far (ingest and context)."""

    def ingest(self, turns: Sequence[Turn]) -> None:
        """Take new turns (of one or several users, in replay order)."""
        ...

    def context(self, user_id: str, query: str, budget: int) -> Context:
        """The context for ``query`` within ``budget`` tokens."""
        ...

    def rank(self, user_id: str, query: str, k: int) -> list[tuple[str, ...]]:
        """Provenance (turn ids) of the ``k`` best items for ``query``, best first."""
        ...

    def stored(self, user_id: str) -> int:
        """Records held for the user."""
        ...

    def memories(self, user_id: str) -> list[MemoryItem] | None:
        """The memories it extracted (None: the system extracts nothing to compare)."""
        ...


class ReplayClock:
    """Record time for replays: the latest event time seen so far (deterministic, never the wall clock)."""

    def __init__(self, start: datetime):
        self.now = start

    def advance(self, turns: Sequence[Turn]) -> None:
        """Move to the latest event time among ``turns`` (never backwards)."""
        for turn in turns:
            if turn.event_time > self.now:
                self.now = turn.event_time

    def __call__(self) -> datetime:
        return self.now


def _context(lines: Sequence[tuple[str, tuple[str, ...]]], counter: TokenCounter) -> Context:
    text = "\n".join(line for line, _ in lines)
    return Context(
        text=text,
        lines=tuple(ContextLine(text=t, turn_ids=ids, tokens=counter.count(t)) for t, ids in lines),
        tokens=counter.count(text) if text else 0,
    )


class MemagentSystem:
    """memagent itself: context = ``memory.profile(user, query, budget=...)``.

    Args:
        memory: The memory under test (its clock should be a `ReplayClock` for deterministic runs).
        name: Label in reports (ablations get their own).
        clock: The `ReplayClock` the memory reads, advanced on every ingest.
    """

    def __init__(self, memory: Memory, *, name: str = "memagent", clock: ReplayClock | None = None):
        self.memory = memory
        self.name = name
        self.clock = clock
        self.llm_calls = 0

    def ingest(self, turns: Sequence[Turn]) -> None:
        """Remember ``turns`` (extraction, consolidation, raw-turn ledger)."""
        if self.clock is not None:
            self.clock.advance(turns)
        report = self.memory.remember(turns)
        self.llm_calls += report.extraction.llm_calls

    def context(self, user_id: str, query: str, budget: int) -> Context:
        """The compiled profile."""
        profile = self.memory.profile(user_id, query, budget=budget)
        lines = tuple(
            ContextLine(text=p.text, turn_ids=tuple(p.turn_ids), tokens=p.tokens) for p in profile.lines
        )
        return Context(text=profile.text, lines=lines, tokens=profile.tokens)

    def rank(self, user_id: str, query: str, k: int) -> list[tuple[str, ...]]:
        """Provenance of ``memory.recall`` (hybrid retrieval over memories and raw turns)."""
        return [tuple(s.record.source_turn_ids) for s in self.memory.recall(user_id, query, k=k)]

    def stored(self, user_id: str) -> int:
        """Current records: extracted memories plus raw turns."""
        return self.memory.store.count(user_id, RecordFilter())

    def memories(self, user_id: str) -> list[MemoryItem]:
        """Every memory extracted so far (preferences, facts, events), superseded ones included:
        extraction is scored on what the extractor found, consolidation on currency."""
        return [
            MemoryItem(text=r.content, session_id=r.session_id, turn_ids=tuple(r.source_turn_ids))
            for r in self.memory.memories(user_id, include_history=True)
        ]


class NoMemory:
    """No memory at all: an empty context (the floor)."""

    name = "no-memory"

    def __init__(self) -> None:
        self.llm_calls = 0

    def ingest(self, turns: Sequence[Turn]) -> None:
        """Forget everything."""

    def context(self, user_id: str, query: str, budget: int) -> Context:
        """Always empty."""
        return Context(text="", lines=(), tokens=0)

    def rank(self, user_id: str, query: str, k: int) -> list[tuple[str, ...]]:
        """Nothing."""
        return []

    def stored(self, user_id: str) -> int:
        """Nothing."""
        return 0

    def memories(self, user_id: str) -> list[MemoryItem] | None:
        """Nothing to compare."""
        return None


@dataclass
class _Shelf:
    turns: list[Turn] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    lines: list[str] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    matrix: np.ndarray | None = None


class _RawTurns:
    """Shared base of the raw-turn baselines: every turn kept, rendered as memagent renders turns."""

    name = "raw"
    _embeds = False

    def __init__(self, embedder: Embedder, counter: TokenCounter):
        self.embedder = embedder
        self.counter = counter
        self.llm_calls = 0
        self._shelves: dict[str, _Shelf] = {}
        self._memo: tuple[str, str, int, list[int]] | None = None

    def ingest(self, turns: Sequence[Turn]) -> None:
        """Store every turn (idempotent by turn id)."""
        fresh: dict[str, list[Turn]] = {}
        for turn in turns:
            shelf = self._shelves.setdefault(turn.user_id, _Shelf())
            if turn.turn_id not in shelf.ids:
                shelf.ids.add(turn.turn_id)
                fresh.setdefault(turn.user_id, []).append(turn)
        for user_id, new in fresh.items():
            shelf = self._shelves[user_id]
            records = [turn_record(t, now=t.event_time) for t in new]
            shelf.turns.extend(new)
            shelf.lines.extend(render_record(r, self.counter) for r in records)
            if self._embeds:
                shelf.vectors.extend(self.embedder.embed([r.content for r in records]))
                shelf.matrix = None

    def _shelf(self, user_id: str) -> _Shelf:
        return self._shelves.get(user_id, _Shelf())

    def _order(self, user_id: str, query: str) -> list[int]:
        raise NotImplementedError

    def _ranked(self, user_id: str, query: str) -> list[int]:
        """`_order`, memoised for the last (user, query, history length): one ranking serves every budget."""
        size = len(self._shelf(user_id).turns)
        if self._memo is None or self._memo[:3] != (user_id, query, size):
            self._memo = (user_id, query, size, self._order(user_id, query))
        return self._memo[3]

    def context(self, user_id: str, query: str, budget: int) -> Context:
        """The best-ranked turn lines that fit ``budget`` (`pack_to_budget`), in rank order."""
        shelf = self._shelf(user_id)
        order = self._ranked(user_id, query)[:MAX_CANDIDATES]
        keep = pack_to_budget([shelf.lines[i] for i in order], budget, self.counter)
        picked = [order[i] for i in keep]
        return _context([(shelf.lines[i], (shelf.turns[i].turn_id,)) for i in picked], self.counter)

    def rank(self, user_id: str, query: str, k: int) -> list[tuple[str, ...]]:
        """The ``k`` best turns."""
        shelf = self._shelf(user_id)
        return [(shelf.turns[i].turn_id,) for i in self._ranked(user_id, query)[:k]]

    def stored(self, user_id: str) -> int:
        """Every turn is stored."""
        return len(self._shelf(user_id).turns)

    def memories(self, user_id: str) -> list[MemoryItem] | None:
        """Every user utterance ("store every utterance", the extraction baseline)."""
        return [
            MemoryItem(text=t.text, session_id=t.session_id, turn_ids=(t.turn_id,))
            for t in self._shelf(user_id).turns
            if t.role is Role.USER
        ]


class NaiveRAG(_RawTurns):
    """Every raw turn embedded; dense cosine ranking; top lines packed to the budget."""

    name = "naive-rag"
    _embeds = True

    def _order(self, user_id: str, query: str) -> list[int]:
        shelf = self._shelf(user_id)
        if not shelf.turns or not query.strip():
            return list(range(len(shelf.turns) - 1, -1, -1))
        if shelf.matrix is None:
            shelf.matrix = np.asarray(shelf.vectors, dtype=np.float64)
        scores = shelf.matrix @ np.asarray(self.embedder.embed([query])[0], dtype=np.float64)
        # best first; ties: the newer turn first (a stable sort over reversed indices)
        newest_first = np.arange(len(scores) - 1, -1, -1)
        return [int(i) for i in newest_first[np.argsort(-scores[newest_first], kind="stable")]]


class BM25Raw(_RawTurns):
    """BM25 (k1 1.5, b 0.75) over every raw turn; turns sharing no term with the query are not ranked."""

    name = "bm25-raw"

    def _order(self, user_id: str, query: str) -> list[int]:
        shelf = self._shelf(user_id)
        docs = [(str(i), f"{t.speaker_label}: {t.text}") for i, t in enumerate(shelf.turns)]
        scores = bm25_scores(query, docs)
        ranked = sorted(
            (i for i in range(len(docs)) if scores[str(i)] > 0), key=lambda i: (-scores[str(i)], -i)
        )
        return ranked

    def memories(self, user_id: str) -> list[MemoryItem] | None:
        """Same store as NaiveRAG: not repeated in extraction tables."""
        return None


class RecentHistory(_RawTurns):
    """The most recent turns, as many as fit the budget (a contiguous suffix, shown in order)."""

    name = "recent"

    def _order(self, user_id: str, query: str) -> list[int]:
        return list(range(len(self._shelf(user_id).turns) - 1, -1, -1))

    def context(self, user_id: str, query: str, budget: int) -> Context:
        """The longest suffix of the history whose rendering fits ``budget``."""
        shelf = self._shelf(user_id)
        start = len(shelf.turns)
        while start > 0 and self.counter.count("\n".join(shelf.lines[start - 1 :])) <= budget:
            start -= 1
        picked = range(start, len(shelf.turns))
        return _context([(shelf.lines[i], (shelf.turns[i].turn_id,)) for i in picked], self.counter)

    def memories(self, user_id: str) -> list[MemoryItem] | None:
        """Same store as NaiveRAG: not repeated in extraction tables."""
        return None


BASELINES: tuple[str, ...] = ("no-memory", "naive-rag", "bm25-raw", "recent")
"""Names of the baselines `build_systems` knows."""


def build_systems(
    embedder: Embedder,
    counter: TokenCounter,
    *,
    names: Sequence[str] = ("memagent", *BASELINES),
    store_url: str | None = None,
    config: MemoryConfig | None = None,
    start: datetime | None = None,
) -> list[MemorySystem]:
    """memagent and the baselines over one embedder and one counter.

    Args:
        embedder: Shared by every system (wrap it in `CachedEmbedder` so each text is embedded once).
        counter: Shared token counter.
        names: Which systems, in report order.
        store_url: memagent's store (`memagent.stores.open_store`); None: a fresh `InProcessStore`.
            A persistent store must be empty: turns already stored are skipped as replays.
        config: memagent's configuration (ablations).
        start: Initial record time of the replay clock (default 2000-01-01 UTC).
    """
    from datetime import UTC

    from memagent.stores import InProcessStore, open_store

    systems: list[MemorySystem] = []
    for name in names:
        if name == "memagent":
            clock = ReplayClock(start or datetime(2000, 1, 1, tzinfo=UTC))
            store = open_store(store_url) if store_url else InProcessStore()
            memory = Memory(store, embedder, counter=counter, config=config, clock=clock)
            systems.append(MemagentSystem(memory, clock=clock))
        elif name == "no-memory":
            systems.append(NoMemory())
        elif name == "naive-rag":
            systems.append(NaiveRAG(embedder, counter))
        elif name == "bm25-raw":
            systems.append(BM25Raw(embedder, counter))
        elif name == "recent":
            systems.append(RecentHistory(embedder, counter))
        else:
            raise ValueError(f"unknown system {name!r}: use memagent or one of {', '.join(BASELINES)}")
    return systems
