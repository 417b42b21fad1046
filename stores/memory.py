"""`InProcessStore`: a `MemoryStore` held in this process (a dict per user, numpy vectors, exact cosine).

It is the reference backend: its filtering is `RecordFilter.matches` itself, its search is an exact
cosine scan over the user's vectors. Nothing is persisted; use it for tests, demos and small runs.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from memagent.errors import ConfigError, StoreError
from memagent.interfaces import MemoryStore
from memagent.types import MemoryRecord, RecordFilter

__all__ = ["InProcessStore"]

_INITIAL_ROWS = 16


@dataclass
class _UserShelf:
    """One user's records and their unit vectors (row ``rows[id]`` of ``matrix``)."""

    dimension: int
    records: list[MemoryRecord] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    matrix: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.matrix = np.zeros((_INITIAL_ROWS, self.dimension), dtype=np.float64)

    def upsert(self, record: MemoryRecord, vector: np.ndarray) -> None:
        """Insert ``record`` or replace the record with its id."""
        row = self.rows.get(record.id)
        if row is None:
            row = len(self.records)
            if row == self.matrix.shape[0]:
                grown = np.zeros((2 * row, self.dimension), dtype=np.float64)
                grown[:row] = self.matrix
                self.matrix = grown
            self.rows[record.id] = row
            self.records.append(record)
        else:
            self.records[row] = record
        self.matrix[row] = vector


def _unit(vector: Sequence[float], what: str) -> np.ndarray:
    """``vector`` as a finite 1-D float array scaled to unit length (a zero vector stays zero)."""
    try:
        array = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not a vector of numbers: {exc}") from exc
    if array.ndim != 1 or array.size == 0:
        raise StoreError(f"{what} must be a non-empty 1-D vector, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise StoreError(f"{what} contains NaN or infinite values")
    norm = float(np.linalg.norm(array))
    return array / norm if norm > 0.0 else array


class InProcessStore(MemoryStore):
    """A thread-safe in-memory store with exact cosine search.

    All users share one embedding dimension, fixed by the first `put` (as with a Chroma collection).
    Records are copied on the way in and out, so callers cannot change stored state by mutating them.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._users: dict[str, _UserShelf] = {}
        self._dimension: int | None = None

    @property
    def dimension(self) -> int | None:
        """The embedding dimension of the store (None before the first `put`)."""
        return self._dimension

    def put(self, records: Sequence[MemoryRecord], embeddings: Sequence[Sequence[float]]) -> None:
        """Insert or replace ``records`` (by user and id), each with its embedding.

        Raises:
            ConfigError: ``records`` and ``embeddings`` differ in length.
            StoreError: An embedding is malformed or its dimension differs from the store's.
        """
        if len(records) != len(embeddings):
            raise ConfigError(f"put got {len(records)} records but {len(embeddings)} embeddings")
        vectors = [
            _unit(e, f"embedding of record {r.id!r}") for r, e in zip(records, embeddings, strict=True)
        ]
        copies = [r.model_copy(deep=True) for r in records]
        with self._lock:
            dimension = self._dimension
            for record, vector in zip(copies, vectors, strict=True):
                if dimension is None:
                    dimension = vector.size
                if vector.size != dimension:
                    raise StoreError(
                        f"embedding of record {record.id!r} has dimension {vector.size}, "
                        f"the store holds dimension {dimension}"
                    )
            self._dimension = dimension
            for record, vector in zip(copies, vectors, strict=True):
                shelf = self._users.get(record.user_id)
                if shelf is None:
                    shelf = self._users[record.user_id] = _UserShelf(vector.size)
                shelf.upsert(record, vector)

    def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """The records of ``user_id`` with these ids, in the order given; unknown ids are left out."""
        with self._lock:
            shelf = self._users.get(user_id)
            if shelf is None:
                return []
            found = [shelf.records[shelf.rows[i]] for i in ids if i in shelf.rows]
            return [r.model_copy(deep=True) for r in found]

    def list(self, user_id: str, filter: RecordFilter | None = None) -> list[MemoryRecord]:
        """All records of ``user_id`` passing ``filter`` (default `RecordFilter()`), oldest event first."""
        flt = filter or RecordFilter()
        with self._lock:
            shelf = self._users.get(user_id)
            if shelf is None:
                return []
            chosen = [r.model_copy(deep=True) for r in shelf.records if flt.matches(r)]
        chosen.sort(key=lambda r: (r.event_time, r.id))
        return chosen

    def search(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` records of ``user_id`` passing ``filter`` most similar to ``embedding``, best first.

        The filter is applied before the top-``k`` cut, so filtered-out records never take a place.

        Raises:
            StoreError: ``embedding`` is malformed or of the wrong dimension.
        """
        if k <= 0:
            return []
        flt = filter or RecordFilter()
        query = _unit(embedding, "query embedding")
        with self._lock:
            shelf = self._users.get(user_id)
            if shelf is None:
                return []
            if query.size != shelf.dimension:
                raise StoreError(
                    f"query embedding has dimension {query.size}, the store holds dimension {shelf.dimension}"
                )
            rows = [i for i, r in enumerate(shelf.records) if flt.matches(r)]
            if not rows:
                return []
            scores = shelf.matrix[rows] @ query
            candidates = [(shelf.records[row], float(score)) for row, score in zip(rows, scores, strict=True)]
        candidates.sort(key=lambda pair: (-pair[1], pair[0].id))
        return [(r.model_copy(deep=True), _clamp(s)) for r, s in candidates[:k]]

    def delete_user(self, user_id: str) -> int:
        """Remove everything stored for ``user_id``; returns the number of records removed."""
        with self._lock:
            shelf = self._users.pop(user_id, None)
        return 0 if shelf is None else len(shelf.records)

    def users(self) -> list[str]:
        """Ids of every user with at least one record, sorted."""
        with self._lock:
            return sorted(u for u, shelf in self._users.items() if shelf.records)

    def __len__(self) -> int:
        with self._lock:
            return sum(len(shelf.records) for shelf in self._users.values())

    def __repr__(self) -> str:
        return f"InProcessStore(users={len(self._users)}, records={len(self)})"


def _clamp(similarity: float) -> float:
    """Cosine similarity clipped to [-1, 1] (rounding can step just outside)."""
    return math.copysign(min(abs(similarity), 1.0), similarity)
