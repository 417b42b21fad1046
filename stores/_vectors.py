"""`NumpyVectors`: a `VectorIndex` in this process (a float32 matrix per user and group, exact cosine)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from memagent.errors import StoreError

__all__ = ["NumpyVectors", "top_n", "unit_rows"]

_INITIAL_ROWS = 16


def unit_rows(vectors: Sequence[Sequence[float]], what: str) -> np.ndarray:
    """``vectors`` as a finite float32 matrix with unit-length rows (a zero row stays zero).

    Raises:
        StoreError: The vectors are not numbers, not all of one length, empty, or not finite.
    """
    try:
        matrix = np.asarray(vectors, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what}: not a list of equal-length vectors of numbers ({exc})") from exc
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise StoreError(f"{what}: expected non-empty vectors, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise StoreError(f"{what}: contains NaN or infinite values")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0.0, norms, 1.0)).astype(np.float32)


def top_n(ids: Sequence[str], scores: np.ndarray, n: int) -> list[tuple[str, float]]:
    """The ``n`` best (id, score) pairs, best first, ties by id."""
    if n <= 0 or scores.size == 0:
        return []
    if n < scores.size:
        keep = np.argpartition(-scores, n - 1)[:n]
        cut = scores[keep].min()
        keep = np.flatnonzero(scores >= cut)  # every tie at the cut, so the id tie-break is exact
    else:
        keep = np.arange(scores.size)
    pairs = [(ids[int(i)], min(1.0, max(-1.0, float(scores[i])))) for i in keep]
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return pairs[:n]


@dataclass
class _Group:
    dimension: int
    ids: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    matrix: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.matrix = np.zeros((_INITIAL_ROWS, self.dimension), dtype=np.float32)

    def upsert(self, record_id: str, vector: np.ndarray) -> None:
        row = self.rows.get(record_id)
        if row is None:
            row = len(self.ids)
            if row == self.matrix.shape[0]:
                grown = np.zeros((2 * row, self.dimension), dtype=np.float32)
                grown[:row] = self.matrix
                self.matrix = grown
            self.rows[record_id] = row
            self.ids.append(record_id)
        self.matrix[row] = vector

    def delete(self, record_id: str) -> None:
        row = self.rows.pop(record_id, None)
        if row is None:
            return
        last = len(self.ids) - 1
        if row != last:  # move the last row into the hole
            moved = self.ids[last]
            self.ids[row] = moved
            self.rows[moved] = row
            self.matrix[row] = self.matrix[last]
        self.ids.pop()


class NumpyVectors:
    """Exact cosine search over unit vectors in memory; every group of every user shares one dimension."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._groups: dict[tuple[str, str], _Group] = {}
        self._dimension: int | None = None

    def upsert(self, user_id: str, group: str, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of ``ids``."""
        with self._lock:
            dimension = self._dimension or int(vectors.shape[1])
            if vectors.shape[1] != dimension:
                raise StoreError(
                    f"embeddings have dimension {vectors.shape[1]}, the store holds dimension {dimension}"
                )
            self._dimension = dimension
            shelf = self._groups.setdefault((user_id, group), _Group(dimension))
            for record_id, vector in zip(ids, vectors, strict=True):
                shelf.upsert(record_id, vector)

    def delete(self, user_id: str, group: str, ids: Sequence[str]) -> None:
        """Remove the vectors of ``ids``."""
        with self._lock:
            shelf = self._groups.get((user_id, group))
            if shelf is not None:
                for record_id in ids:
                    shelf.delete(record_id)

    def query(self, user_id: str, group: str, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` nearest ids, exact."""
        with self._lock:
            shelf = self._groups.get((user_id, group))
            if shelf is None or not shelf.ids or n <= 0:
                return []
            if vector.shape[0] != shelf.dimension:
                raise StoreError(
                    f"query embedding has dimension {vector.shape[0]}, "
                    f"the store holds dimension {shelf.dimension}"
                )
            names = list(shelf.ids)
            scores = shelf.matrix[: len(names)] @ vector
        return top_n(names, scores, n)

    def query_many(
        self, user_id: str, group: str, vectors: np.ndarray, n: int
    ) -> list[list[tuple[str, float]]]:
        """`query` for each row of ``vectors``."""
        return [self.query(user_id, group, vector, n) for vector in vectors]

    def drop_user(self, user_id: str) -> None:
        """Remove every vector of the user."""
        with self._lock:
            for key in [key for key in self._groups if key[0] == user_id]:
                del self._groups[key]

    def close(self) -> None:
        """Nothing to release."""
