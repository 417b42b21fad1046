"""`InProcessStore`: a `MemoryStore` in this process: an in-memory SQLite catalog and exact numpy vectors.

Nothing is persisted; use it for tests, demos, evaluation runs and small deployments. It runs the same
catalog (records, lookups, BM25 postings) as the persistent store, so rankings agree across backends;
its vector search is exact cosine.
"""

from __future__ import annotations

from memagent.stores._catalog import SqliteCatalog
from memagent.stores._indexed import IndexedStore
from memagent.stores._vectors import NumpyVectors

__all__ = ["InProcessStore"]


class InProcessStore(IndexedStore):
    """A thread-safe in-memory store with exact cosine search.

    All users share one embedding dimension, fixed by the first `put` (as with a Chroma collection).
    Records are serialised on the way in and out, so callers cannot change stored state by mutating them.
    """

    def __init__(self) -> None:
        super().__init__(SqliteCatalog(None), NumpyVectors())

    def __len__(self) -> int:
        return sum(self.count(user) for user in self.users())

    def __repr__(self) -> str:
        return f"InProcessStore(users={len(self.users())}, records={len(self)})"
