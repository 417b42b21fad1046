"""The seams of memagent, in one place: `Embedder`, `TokenCounter`, `Extractor`, `MemoryStore`.

Narrow seams are Protocols (a plain function can be an embedder or a token counter); the store is an ABC
because it carries shared logic. Implementations live beside their kind: `memagent.embeddings`,
`memagent.tokens`, `memagent.extraction`, `memagent.stores`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from memagent.types import Candidate, MemoryRecord, RecordFilter, Turn

__all__ = [
    "EmbedFunc",
    "Embedder",
    "ExtractionResult",
    "Extractor",
    "MemoryStore",
    "TokenCounter",
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


@runtime_checkable
class Extractor(Protocol):
    """Finds preferences, events and facts about the user in conversation turns."""

    name: str

    def extract(self, turns: Sequence[Turn]) -> ExtractionResult:
        """Extract candidates from ``turns`` (usually one session, in order)."""
        ...


class MemoryStore(ABC):
    """Where memory records live. Every call is scoped to one user; nothing crosses users.

    Implementations: `memagent.stores.InProcessStore`, `memagent.stores.ChromaStore`. Any new backend
    proves itself with `memagent.testing.conformance`.
    """

    @abstractmethod
    def put(self, records: Sequence[MemoryRecord], embeddings: Sequence[Sequence[float]]) -> None:
        """Insert or replace ``records`` (by id), each with its embedding."""

    @abstractmethod
    def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """The records of ``user_id`` with these ids, in the order given; unknown ids are left out."""

    @abstractmethod
    def list(self, user_id: str, filter: RecordFilter | None = None) -> list[MemoryRecord]:
        """All records of ``user_id`` passing ``filter``, oldest event time first."""

    @abstractmethod
    def search(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` records of ``user_id`` most similar to ``embedding`` (cosine similarity, best first)."""

    @abstractmethod
    def delete_user(self, user_id: str) -> int:
        """Remove everything stored for ``user_id``; returns the number of records removed."""

    @abstractmethod
    def users(self) -> list[str]:
        """Ids of every user with at least one record, sorted."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and files."""

    async def aput(self, records: Sequence[MemoryRecord], embeddings: Sequence[Sequence[float]]) -> None:
        """Async `put` (runs the sync call in a worker thread)."""
        await asyncio.to_thread(self.put, records, embeddings)

    async def asearch(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """Async `search` (runs the sync call in a worker thread)."""
        return await asyncio.to_thread(self.search, user_id, embedding, k, filter)

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
