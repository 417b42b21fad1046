"""The seams of memagent, in one place: `Embedder`, `TokenCounter`, `Extractor`, `MemoryStore`, and the
two parts a store is built from, `RecordCatalog` and `VectorIndex`.

Narrow seams are Protocols (a plain function can be an embedder or a token counter); the store is an ABC
because it carries shared logic. Implementations live beside their kind: `memagent.embeddings`,
`memagent.tokens`, `memagent.extraction`, `memagent.stores`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from memagent.types import Candidate, MemoryKind, MemoryRecord, RecordFilter, RecordOrder, Turn

__all__ = [
    "EmbedFunc",
    "Embedder",
    "ExtractionResult",
    "Extractor",
    "LexicalHits",
    "MemoryStore",
    "RecordCatalog",
    "TokenCounter",
    "VectorIndex",
]

EmbedFunc = Callable[[Sequence[str]], list[list[float]]]
"""A plain function that embeds a batch of texts."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` in one batch; returns one L2-normalised vector per text."""
        ...


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the responding model will."""

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        ...


@dataclass
class ExtractionResult:
    """What an extractor returns for a batch of turns."""

    candidates: list[Candidate] = field(default_factory=list)
    """Proposed memories, each with provenance."""
    turns_seen: int = 0
    """Turns handed to the extractor."""
    turns_skipped: int = 0
    """Turns that carried nothing personal and cost nothing."""
    llm_calls: int = 0
    """Calls made to a language model (0 for the offline extractor)."""
    failures: int = 0
    """LLM outputs that failed validation (each one repaired or replaced, never dropped)."""
    repairs: int = 0
    """Failed outputs fixed by the one repair attempt."""
    fallbacks: int = 0
    """Batches handed to the fallback extractor after the repair also failed."""
    errors: list[str] = field(default_factory=list)
    """Short descriptions of each failure, for reports."""

    def merge(self, other: ExtractionResult) -> None:
        """Add ``other``'s candidates and counts to this result."""
        self.candidates.extend(other.candidates)
        self.turns_seen += other.turns_seen
        self.turns_skipped += other.turns_skipped
        self.llm_calls += other.llm_calls
        self.failures += other.failures
        self.repairs += other.repairs
        self.fallbacks += other.fallbacks
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class LexicalHits:
    """What a lexical search returns."""

    hits: list[tuple[MemoryRecord, float]]
    """The best records, best first, with their normalised BM25."""
    scores: dict[str, float]
    """Normalised BM25 of each id asked for in ``score_ids`` (0.0 when it shares no term or is unknown)."""


@runtime_checkable
class Extractor(Protocol):
    """Finds preferences, events and facts about the user in conversation turns."""

    name: str

    def extract(self, turns: Sequence[Turn]) -> ExtractionResult:
        """Extract candidates from ``turns`` (usually one session, in order)."""
        ...


class MemoryStore(ABC):
    """Where memory records live. Every call is scoped to one user; nothing crosses users.

    Every read is answered from an index the store keeps current on write: records by id (`get`),
    bounded lookups by kind, slot, provenance and time (`find`, `count`), nearest vectors (`search`) and
    BM25 (`lexical_search`). Only `scan`, which pages, walks a user's whole history (export, history
    views, admin commands).

    Implementations: `memagent.stores.InProcessStore`, `memagent.stores.ChromaStore`, both built on
    `memagent.stores.IndexedStore` (a `RecordCatalog` and a `VectorIndex`). Any new backend proves
    itself with `memagent.testing.conformance`.
    """

    @abstractmethod
    def put(
        self,
        records: Sequence[MemoryRecord],
        embeddings: Sequence[Sequence[float]],
        *,
        updated: Sequence[MemoryRecord] = (),
    ) -> None:
        """Insert or replace ``records`` (by user and id), each with its embedding, and replace the
        ``updated`` records (validity, links, provenance or confidence changed; content and kind not),
        which keep their vectors. The records of one call become visible together, and a call that
        fails leaves every stored record readable as it was.

        Raises:
            StoreError: An updated record is not stored, or its content or kind differs.
        """

    @abstractmethod
    def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """The records of ``user_id`` with these ids, in the order given; unknown ids are left out."""

    @abstractmethod
    def find(
        self,
        user_id: str,
        filter: RecordFilter | None = None,
        *,
        limit: int,
        order: RecordOrder = RecordOrder.OLDEST,
        after: MemoryRecord | None = None,
    ) -> list[MemoryRecord]:
        """At most ``limit`` records of ``user_id`` passing ``filter``, in ``order``.

        ``after`` (with the OLDEST order) continues a listing after that record: the next page.
        """

    @abstractmethod
    def count(self, user_id: str, filter: RecordFilter | None = None) -> int:
        """How many records of ``user_id`` pass ``filter`` (every record when None)."""

    @abstractmethod
    def search(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` records of ``user_id`` passing ``filter`` most similar to ``embedding`` (cosine,
        best first). The filter holds before the cut: filtered-out records never take a place."""

    @abstractmethod
    def lexical_search(
        self,
        user_id: str,
        query: str,
        k: int,
        filter: RecordFilter | None = None,
        *,
        score_ids: Sequence[str] = (),
    ) -> LexicalHits:
        """The ``k`` records of ``user_id`` passing ``filter`` with the best BM25 for ``query``, best first,
        and the score of each record in ``score_ids`` (the candidates of another signal).

        Scores are BM25 divided by `memagent.lexical.full_match_score` (1.0: an average-length record
        holding every query term once). Records sharing no term with the query are not returned.
        """

    @abstractmethod
    def similarity(self, user_id: str, embedding: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        """Cosine similarity of ``embedding`` to each of ``ids`` (records of ``user_id``), as `search`
        would score them: the dense signal of candidates another signal nominated. Unknown ids are left
        out."""

    @abstractmethod
    def adjacent(
        self, user_id: str, ids: Sequence[str], filter: RecordFilter | None = None
    ) -> dict[str, list[str]]:
        """For each raw turn among ``ids``, the ids of the turns just before and after it in its session
        that pass ``filter`` (at most one each way, in the order they were said): the conversation
        around a retrieved turn. A neighbour is looked for among the few turns of the session nearest
        in time, so a filter that rejects all of them leaves the turn without one on that side. Ids
        that are not turns are left out."""

    @abstractmethod
    def delete(self, user_id: str, ids: Sequence[str]) -> int:
        """Remove these records of ``user_id`` (and their vectors and index entries, on disk too where the
        store keeps files); returns how many were stored. Unknown ids are ignored; records that name a
        removed one (``supersedes``, ``superseded_by``) are the caller's to update."""

    @abstractmethod
    def delete_user(self, user_id: str) -> int:
        """Remove everything stored for ``user_id``, on disk too where the store keeps files (no copy
        left in logs or free pages); returns the number of records removed. Idempotent: a second call
        finishes what an interrupted one began."""

    @abstractmethod
    def users(self) -> list[str]:
        """Ids of every user with at least one record, sorted."""

    def scan(
        self, user_id: str, filter: RecordFilter | None = None, *, page_size: int = 500
    ) -> Iterator[MemoryRecord]:
        """Every record of ``user_id`` passing ``filter``, oldest event first, fetched a page at a time."""
        after: MemoryRecord | None = None
        while True:
            page = self.find(user_id, filter, limit=page_size, after=after)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""

    async def aput(
        self,
        records: Sequence[MemoryRecord],
        embeddings: Sequence[Sequence[float]],
        *,
        updated: Sequence[MemoryRecord] = (),
    ) -> None:
        """Async `put` (runs the sync call in a worker thread)."""
        await asyncio.to_thread(self.put, records, embeddings, updated=updated)

    async def asearch(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """Async `search` (runs the sync call in a worker thread)."""
        return await asyncio.to_thread(self.search, user_id, embedding, k, filter)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordCatalog(Protocol):
    """The source of truth for records and their lookup and BM25 indexes (one transaction per write).

    `memagent.stores.SqliteCatalog` implements it; a server database (PostgreSQL full-text search) can
    replace it for deployments shared by several processes.
    """

    def put(
        self,
        records: Sequence[MemoryRecord],
        vectors: np.ndarray | None = None,
        *,
        updated: Sequence[MemoryRecord] = (),
        settled: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Insert or replace ``records``, each with its vector (a row of ``vectors``), and replace
        ``updated`` ones (same content and kind), atomically; clears the ``settled`` pending pairs."""
        ...

    def mark_pending(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Note the (user, vector group) pairs a write is about to change (settled by its `put`)."""
        ...

    def pending(self) -> list[tuple[str, str]]:
        """The pairs of writes begun and never finished (a process died between the two)."""
        ...

    def stored_vectors(
        self, user_id: str, *, page: int = 512
    ) -> Iterator[tuple[list[str], list[MemoryKind], np.ndarray]]:
        """Pages of (ids, kinds, unit rows): every record of the user with a stored vector."""
        ...

    def nearest(
        self, user_id: str, flt: RecordFilter, vector: np.ndarray, k: int, *, limit: int
    ) -> list[tuple[str, float]] | None:
        """The ``k`` records passing ``flt`` nearest to ``vector``, ranked exactly from their stored
        vectors (id, cosine), or None when more than ``limit`` pass or one of them has no stored vector
        (the store then asks its vector index)."""
        ...

    def get(self, user_id: str, ids: Sequence[str], flt: RecordFilter | None = None) -> list[MemoryRecord]:
        """Records by id (passing ``flt``), in the order given."""
        ...

    def passing(self, user_id: str, ids: Sequence[str], flt: RecordFilter) -> set[str]:
        """Which of these ids are records passing ``flt`` (without decoding them)."""
        ...

    def kinds(self, user_id: str, ids: Sequence[str]) -> dict[str, MemoryKind]:
        """The stored kind of each known id."""
        ...

    def similarity(self, user_id: str, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        """Cosine of ``vector`` (unit length) to each known id's stored vector."""
        ...

    def adjacent(self, user_id: str, ids: Sequence[str], flt: RecordFilter) -> dict[str, list[str]]:
        """For each raw turn among ``ids``, the ids of the turns just before and after it in its session
        (passing ``flt``)."""
        ...

    def find(
        self,
        user_id: str,
        flt: RecordFilter,
        *,
        limit: int,
        order: RecordOrder = RecordOrder.OLDEST,
        after: MemoryRecord | None = None,
    ) -> list[MemoryRecord]:
        """A bounded lookup, in ``order``."""
        ...

    def count(self, user_id: str, flt: RecordFilter | None = None, *, at_most: int | None = None) -> int:
        """Records passing ``flt``, counted no further than ``at_most``."""
        ...

    def lexical(
        self, user_id: str, query: str, k: int, flt: RecordFilter, score_ids: Sequence[str] = ()
    ) -> LexicalHits:
        """BM25 top ``k`` among records passing ``flt`` (and the scores of ``score_ids``), divided by the
        full-match score."""
        ...

    def delete(self, user_id: str, ids: Sequence[str]) -> int:
        """Remove these records and their index entries, leaving no copy in the file; returns how many
        there were."""
        ...

    def delete_user(self, user_id: str) -> int:
        """Remove the user's records and index entries, leaving no copy in the file; returns how many
        records there were."""
        ...

    def users(self) -> list[str]:
        """Users with records, sorted."""
        ...

    def close(self) -> None:
        """Release the database."""
        ...


class VectorIndex(Protocol):
    """Vectors of each user's records in named groups (no metadata: the catalog holds the records).

    `memagent.stores.NumpyVectors` (exact, in process) and `memagent.stores.ChromaVectors` (a Chroma
    collection per user and group) implement it.
    """

    def upsert(self, user_id: str, group: str, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of ``ids`` (unit length, one row each)."""
        ...

    def delete(self, user_id: str, group: str, ids: Sequence[str]) -> None:
        """Remove the vectors of ``ids`` (unknown ids are ignored)."""
        ...

    def query(self, user_id: str, group: str, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` nearest ids with their cosine similarity, best first (approximate where the index
        is)."""
        ...

    def query_many(
        self, user_id: str, group: str, vectors: np.ndarray, n: int
    ) -> list[list[tuple[str, float]]]:
        """`query` for each row of ``vectors``, in one call where the index allows it."""
        ...

    def drop_user(self, user_id: str) -> None:
        """Remove every vector of the user, leaving no copy in the index's files (idempotent)."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...
