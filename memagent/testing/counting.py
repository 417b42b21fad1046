"""`CountingStore`: a `MemoryStore` wrapper that counts the calls it forwards and the records they return.

Tests use it to prove that reads and writes never walk a user's history: the records a call fetches
must not grow with the number stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from memagent.interfaces import LexicalHits, MemoryStore
from memagent.types import MemoryRecord, RecordFilter, RecordOrder

__all__ = ["CountingStore"]


class CountingStore(MemoryStore):
    """Forwards every call to ``inner`` and counts it.

    Attributes:
        calls: Calls per method name (``scan`` counts once per scan, its pages count as ``find``).
        records: Records returned per method name.
    """

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.records: Counter[str] = Counter()

    def reset(self) -> None:
        """Forget the counts so far."""
        self.calls.clear()
        self.records.clear()

    @property
    def records_returned(self) -> int:
        """Records returned by every call since the last `reset`."""
        return sum(self.records.values())

    def _note(self, name: str, returned: int) -> None:
        self.calls[name] += 1
        self.records[name] += returned

    def put(
        self,
        records: Sequence[MemoryRecord],
        embeddings: Sequence[Sequence[float]],
        *,
        updated: Sequence[MemoryRecord] = (),
    ) -> None:
        """Forward `put`."""
        self._note("put", 0)
        self.inner.put(records, embeddings, updated=updated)

    def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """Forward `get`."""
        found = self.inner.get(user_id, ids)
        self._note("get", len(found))
        return found

    def find(
        self,
        user_id: str,
        filter: RecordFilter | None = None,
        *,
        limit: int,
        order: RecordOrder = RecordOrder.OLDEST,
        after: MemoryRecord | None = None,
    ) -> list[MemoryRecord]:
        """Forward `find`."""
        found = self.inner.find(user_id, filter, limit=limit, order=order, after=after)
        self._note("find", len(found))
        return found

    def similarity(self, user_id: str, embedding: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        """Forward `similarity`."""
        found = self.inner.similarity(user_id, embedding, ids)
        self._note("similarity", len(found))
        return found

    def adjacent(
        self, user_id: str, ids: Sequence[str], filter: RecordFilter | None = None
    ) -> dict[str, list[str]]:
        """Forward `adjacent`."""
        found = self.inner.adjacent(user_id, ids, filter)
        self._note("adjacent", sum(len(v) for v in found.values()))
        return found

    def scan(
        self, user_id: str, filter: RecordFilter | None = None, *, page_size: int = 500
    ) -> Iterator[MemoryRecord]:
        """`MemoryStore.scan` over the counted `find`."""
        self._note("scan", 0)
        return super().scan(user_id, filter, page_size=page_size)

    def count(self, user_id: str, filter: RecordFilter | None = None) -> int:
        """Forward `count`."""
        self._note("count", 0)
        return self.inner.count(user_id, filter)

    def search(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """Forward `search`."""
        found = self.inner.search(user_id, embedding, k, filter)
        self._note("search", len(found))
        return found

    def lexical_search(
        self,
        user_id: str,
        query: str,
        k: int,
        filter: RecordFilter | None = None,
        *,
        score_ids: Sequence[str] = (),
    ) -> LexicalHits:
        """Forward `lexical_search`."""
        found = self.inner.lexical_search(user_id, query, k, filter, score_ids=score_ids)
        self._note("lexical_search", len(found.hits))
        return found

    def delete(self, user_id: str, ids: Sequence[str]) -> int:
        """Forward `delete`."""
        self._note("delete", 0)
        return self.inner.delete(user_id, ids)

    def delete_user(self, user_id: str) -> int:
        """Forward `delete_user`."""
        self._note("delete_user", 0)
        return self.inner.delete_user(user_id)

    def users(self) -> list[str]:
        """Forward `users`."""
        self._note("users", 0)
        return self.inner.users()

    def close(self) -> None:
        """Close ``inner``."""
        self.inner.close()
