"""`IndexedStore`: a `MemoryStore` made of a `RecordCatalog` (the truth) and a `VectorIndex`.

Writes are checked first, then go to the vector index, then to the catalog in one transaction, and a
record that moved to another vector group loses its old vector only after that commit. A crash at any
point therefore leaves at worst vectors that no committed record owns in that group (dense hits are
resolved through the catalog with the group's kinds, so they are never returned), or, for a record whose
text was being replaced, the new text's vector beside the old text until the write is replayed;
replaying the same input writes the vectors again and commits the records, as the turn ledger does for
the whole pipeline. A vector index killed in the middle of writing its files can also lose vectors it
held before (Chroma's index files); so a write first notes in the catalog which (user, group) it is about
to change, the catalog transaction that ends it clears the note, and a store that opens with notes left
checks those groups (`check`) and writes their lost vectors again from the catalog's copies. Deletion
runs the other way round: the vectors first, then the catalog, whose records are what makes a user
known, so that an interrupted `delete_user` is finished by a second one.

Vectors live in two groups per user, raw turns and extracted memories, so that a search for memories
never wades through the (far more numerous) turns. In a group where few records pass a search's filter,
a dense search ranks exactly those, from the copy of their vectors the catalog keeps; elsewhere it asks
the vector index for a few more approximate neighbours than it needs, checks their records against the
filter in the catalog, and widens the request until enough pass. Only the results are decoded.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from memagent.errors import ConfigError, StoreError
from memagent.interfaces import LexicalHits, MemoryStore, RecordCatalog, VectorIndex
from memagent.types import MemoryKind, MemoryRecord, RecordFilter, RecordOrder

from ._vectors import unit_rows

__all__ = [
    "EXACT_RANKING_LIMIT",
    "FEW_PASSING",
    "GROUPS",
    "IndexHealth",
    "IndexedStore",
    "group_of",
    "oversample",
]

logger = logging.getLogger(__name__)

TURNS = "turns"
MEMORIES = "memories"
GROUPS = (TURNS, MEMORIES)
"""The vector groups of every user."""
FEW_PASSING = 512
"""A group where at most this many records pass the filter ranks exactly those, without asking for
approximate neighbours first."""
EXACT_RANKING_LIMIT = 2048
"""When approximate neighbours fall short, filters passed by at most this many records rank exactly those."""
_PROBE = 4
"""Neighbours asked for when checking that a record's own vector finds it (plus one for each other record
with the very same vector: repeated texts tie)."""


@dataclass
class IndexHealth:
    """What `IndexedStore.check` found for one user: the records with a stored vector it probed, those a
    search for their own vector did not return, and how many of those it wrote again and found."""

    user_id: str
    checked: int = 0
    unreachable: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def healthy(self) -> bool:
        """Every record checked is reachable now."""
        return len(self.unreachable) == self.repaired


def oversample(k: int) -> int:
    """How many candidates to fetch for ``k`` results when a few may fail the filter."""
    return k + max(8, k // 4)


def group_of(kind: MemoryKind) -> str:
    """The vector group of a record kind."""
    return TURNS if kind is MemoryKind.TURN else MEMORIES


def _best(hits: list[tuple[MemoryRecord, float]], k: int) -> list[tuple[MemoryRecord, float]]:
    """The ``k`` best hits: highest similarity first, ties by id."""
    return sorted(hits, key=lambda pair: (-pair[1], pair[0].id))[:k]


def _best_ids(hits: list[tuple[str, float]], k: int) -> list[tuple[str, float]]:
    """The ``k`` best (id, similarity) pairs: highest similarity first, ties by id."""
    return sorted(hits, key=lambda pair: (-pair[1], pair[0]))[:k]


def _group_filter(flt: RecordFilter, group: str) -> RecordFilter:
    """``flt`` narrowed to the kinds held by ``group``."""
    kinds = tuple(k for k in (flt.kinds or tuple(MemoryKind)) if group_of(k) == group)
    return flt.model_copy(update={"kinds": kinds})


class IndexedStore(MemoryStore):
    """A store built from a catalog (records, lookups, BM25) and a vector index (nearest neighbours).

    Args:
        catalog: Where records and their lookup and lexical indexes live.
        vectors: Where their embeddings live.
    """

    def __init__(self, catalog: RecordCatalog, vectors: VectorIndex) -> None:
        self.catalog = catalog
        self.vectors = vectors
        self._writing = threading.RLock()  # one write at a time in this process: vectors and records agree

    # --------------------------------------------------------------------------------------- write
    def put(
        self,
        records: Sequence[MemoryRecord],
        embeddings: Sequence[Sequence[float]],
        *,
        updated: Sequence[MemoryRecord] = (),
    ) -> None:
        """Insert or replace ``records`` (by user and id), each with its embedding, and replace the
        ``updated`` ones (their vectors stay), in one catalog transaction.

        A record id repeated within one call keeps its last occurrence.

        Raises:
            ConfigError: ``records`` and ``embeddings`` differ in length.
            StoreError: An embedding is malformed or of the wrong dimension, an updated record is not
                stored or changed its content or kind, or a backend failed.
        """
        if len(records) != len(embeddings):
            raise ConfigError(f"put got {len(records)} records but {len(embeddings)} embeddings")
        if not records:
            with self._writing:
                self.catalog.put([], updated=updated)
            return
        matrix = unit_rows(embeddings, "embeddings given to put")
        latest: dict[tuple[str, str], int] = {}
        for index, record in enumerate(records):
            latest.pop((record.user_id, record.id), None)
            latest[(record.user_id, record.id)] = index
        by_user: dict[str, list[int]] = defaultdict(list)
        for (user_id, _), index in latest.items():
            by_user[user_id].append(index)
        with self._writing:
            self._check_updates(updated)
            changing = sorted({(records[i].user_id, group_of(records[i].kind)) for i in latest.values()})
            self.catalog.mark_pending(changing)
            moved: list[tuple[str, str, str]] = []  # (user, old group, id): dropped after the commit
            for user_id, indices in by_user.items():
                before = self.catalog.kinds(user_id, [records[i].id for i in indices])
                by_group: dict[str, list[int]] = defaultdict(list)
                for i in indices:
                    record = records[i]
                    group = group_of(record.kind)
                    by_group[group].append(i)
                    old = before.get(record.id)
                    if old is not None and group_of(old) != group:
                        moved.append((user_id, group_of(old), record.id))
                for group, members in by_group.items():
                    self.vectors.upsert(user_id, group, [records[i].id for i in members], matrix[members])
            kept = list(latest.values())
            self.catalog.put([records[i] for i in kept], matrix[kept], updated=updated, settled=changing)
            for user_id, group, record_id in moved:
                self.vectors.delete(user_id, group, [record_id])

    def _check_updates(self, updated: Sequence[MemoryRecord]) -> None:
        """Refuse updates of records that are not stored or changed text or kind, before any write."""
        by_user: dict[str, list[MemoryRecord]] = defaultdict(list)
        for record in updated:
            by_user[record.user_id].append(record)
        for user_id, batch in by_user.items():
            stored = {r.id: r for r in self.catalog.get(user_id, [r.id for r in batch])}
            for record in batch:
                old = stored.get(record.id)
                if old is None:
                    raise StoreError(
                        f"cannot update record {record.id!r} of user {user_id!r}: it is not stored"
                    )
                if old.content != record.content or old.kind is not record.kind:
                    raise StoreError(
                        f"cannot update record {record.id!r}: its content or kind changed (put it)"
                    )

    def delete(self, user_id: str, ids: Sequence[str]) -> int:
        """Remove these records and their vectors (vectors first, as in `delete_user`)."""
        with self._writing:
            by_group: dict[str, list[str]] = defaultdict(list)
            for record_id, kind in self.catalog.kinds(user_id, ids).items():
                by_group[group_of(kind)].append(record_id)
            for group, members in by_group.items():
                self.vectors.delete(user_id, group, members)
            return self.catalog.delete(user_id, [i for members in by_group.values() for i in members])

    # ---------------------------------------------------------------------------------------- health
    def check(self, user_id: str, *, repair: bool = False) -> IndexHealth:
        """Probe the vector index with each of the user's stored vectors: a record that the search for its
        own vector does not return is unreachable by dense search. With ``repair``, write those vectors
        again (delete, then insert, from the catalog's copies) and probe them once more."""
        if repair:  # no write may change a vector between the probe and its repair
            with self._writing:
                return self._check(user_id, repair=True)
        return self._check(user_id, repair=False)

    def _check(self, user_id: str, *, repair: bool) -> IndexHealth:
        health = IndexHealth(user_id)
        copies: Counter[tuple[str, int]] = Counter()  # records sharing one vector (repeated texts)
        for _, kinds, matrix in self.catalog.stored_vectors(user_id):
            copies.update(
                (group_of(kind), hash(row.tobytes())) for kind, row in zip(kinds, matrix, strict=True)
            )
        lost: dict[str, tuple[str, np.ndarray]] = {}
        for ids, kinds, matrix in self.catalog.stored_vectors(user_id):
            health.checked += len(ids)
            by_group: dict[str, list[int]] = defaultdict(list)
            for row, kind in enumerate(kinds):
                by_group[group_of(kind)].append(row)
            for group, rows in by_group.items():
                depth = _PROBE - 1 + max(copies[(group, hash(matrix[row].tobytes()))] for row in rows)
                found = self.vectors.query_many(user_id, group, matrix[rows], depth)
                for row, hits in zip(rows, found, strict=True):
                    if ids[row] not in {hit for hit, _ in hits}:
                        lost[ids[row]] = (group, matrix[row])
        health.unreachable = sorted(lost)
        if repair and lost:
            for group in GROUPS:
                ids = [i for i, (g, _) in lost.items() if g == group]
                if ids:
                    again = np.stack([lost[i][1] for i in ids])
                    self.vectors.delete(user_id, group, ids)
                    self.vectors.upsert(user_id, group, ids, again)
                    depth = _PROBE - 1 + max(copies[(group, hash(row.tobytes()))] for row in again)
                    found = self.vectors.query_many(user_id, group, again, depth)
                    health.repaired += sum(
                        i in {hit for hit, _ in hits} for i, hits in zip(ids, found, strict=True)
                    )
        return health

    def finish_interrupted_writes(self) -> None:
        """Check and repair the groups of writes a dead process left unfinished (`mark_pending`). A store
        on files runs it when it opens, unless another store of this process already has them open
        (whose writes in progress are not a dead process's)."""
        pending = self.catalog.pending()
        for user_id in sorted({user for user, _ in pending}):
            health = self.check(user_id, repair=True)
            if health.unreachable:
                logger.warning(
                    "an interrupted write had left %d of %d records of user %r unreachable by search; "
                    "%d written again",
                    len(health.unreachable),
                    health.checked,
                    user_id,
                    health.repaired,
                )
        if pending:
            self.catalog.put([], settled=pending)

    def delete_user(self, user_id: str) -> int:
        """Remove every record and vector of ``user_id``; returns the number of records removed.

        Vectors go first: the catalog's records are what makes a user known, so a delete interrupted
        between the two leaves a user that a second one still finds and finishes with.
        """
        with self._writing:
            self.vectors.drop_user(user_id)
            return self.catalog.delete_user(user_id)

    # ---------------------------------------------------------------------------------------- read
    def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """The records of ``user_id`` with these ids, in the order given; unknown ids are left out."""
        return self.catalog.get(user_id, ids)

    def find(
        self,
        user_id: str,
        filter: RecordFilter | None = None,
        *,
        limit: int,
        order: RecordOrder = RecordOrder.OLDEST,
        after: MemoryRecord | None = None,
    ) -> list[MemoryRecord]:
        """At most ``limit`` records of ``user_id`` passing ``filter``, in ``order`` (an indexed lookup)."""
        return self.catalog.find(user_id, filter or RecordFilter(), limit=limit, order=order, after=after)

    def count(self, user_id: str, filter: RecordFilter | None = None) -> int:
        """How many records of ``user_id`` pass ``filter``."""
        return self.catalog.count(user_id, filter)

    def users(self) -> list[str]:
        """Ids of every user with at least one record, sorted."""
        return self.catalog.users()

    def similarity(self, user_id: str, embedding: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        """Cosines from the catalog's copy of the vectors (records without one are left out)."""
        if not ids:
            return {}
        return self.catalog.similarity(user_id, ids, unit_rows([embedding], "query embedding")[0])

    def adjacent(
        self, user_id: str, ids: Sequence[str], filter: RecordFilter | None = None
    ) -> dict[str, list[str]]:
        """The turns just before and after each turn among ``ids`` in its session, from the catalog."""
        return self.catalog.adjacent(user_id, ids, filter or RecordFilter())

    def lexical_search(
        self,
        user_id: str,
        query: str,
        k: int,
        filter: RecordFilter | None = None,
        *,
        score_ids: Sequence[str] = (),
    ) -> LexicalHits:
        """BM25 top ``k`` (scores divided by the full-match score), from the catalog's inverted index."""
        return self.catalog.lexical(user_id, query, k, filter or RecordFilter(), score_ids)

    def search(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` records of ``user_id`` passing ``filter`` nearest to ``embedding``, best first.

        In a group where at most `FEW_PASSING` records (or ``2 * k``) pass the filter, exactly those are
        ranked, from the catalog's copy of their vectors. The other groups are asked for ``n`` approximate
        neighbours; the best ``n`` of them are resolved through the catalog in one lookup. When fewer
        than ``k`` pass, the records passing the filter are ranked exactly if there are at most
        `EXACT_RANKING_LIMIT` of them, and otherwise ``n`` grows until ``k`` pass or the groups run out.
        """
        flt = filter or RecordFilter()
        if k <= 0 or flt.is_empty:
            return []
        query = unit_rows([embedding], "query embedding")[0]
        hits: list[tuple[MemoryRecord, float]] = []
        approximate: list[str] = []
        few = max(FEW_PASSING, 2 * k)  # beyond: neighbours would have to reach most of them
        for group in GROUPS:
            narrowed = _group_filter(flt, group)
            if narrowed.kinds:
                exact = self._exactly(user_id, query, k, narrowed, limit=few)
                if exact is None:
                    approximate.append(group)
                else:
                    hits += exact
        if approximate:
            hits += self._search_approximate(user_id, query, k, flt, approximate)
        return _best(hits, k)

    def _search_approximate(
        self, user_id: str, query: np.ndarray, k: int, flt: RecordFilter, groups: list[str]
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` nearest records passing ``flt`` among the groups' approximate neighbours."""
        n = oversample(k)
        checked_selectivity = False
        narrowed = {group: _group_filter(flt, group) for group in groups}
        while True:
            nearest: list[tuple[str, float, str]] = []
            exhausted = True
            for group in groups:
                found = self.vectors.query(user_id, group, query, n)
                exhausted = exhausted and len(found) < n
                nearest += [(rid, score, group) for rid, score in found]
            nearest.sort(key=lambda hit: (-hit[1], hit[0]))
            passing = self._passing(user_id, nearest[:n], narrowed)
            if exhausted:  # every neighbour is known: check the rest too
                passing += self._passing(user_id, nearest[n:], narrowed)
            if len(passing) >= k or exhausted:
                return self._resolve(user_id, _best_ids(passing, k), flt)
            if not checked_selectivity:
                checked_selectivity = True
                exact = self._rank_exactly(user_id, query, k, flt, groups)
                if exact is not None:
                    return exact
            n *= 4

    def _passing(
        self, user_id: str, hits: list[tuple[str, float, str]], narrowed: dict[str, RecordFilter]
    ) -> list[tuple[str, float]]:
        """The (id, similarity) of ``hits`` (id, similarity, group) whose records pass their group's
        filter (checked in the catalog; nothing is decoded)."""
        out: list[tuple[str, float]] = []
        for group, flt in narrowed.items():
            of_group = [(rid, score) for rid, score, g in hits if g == group]
            passing = self.catalog.passing(user_id, [rid for rid, _ in of_group], flt)
            out += [(rid, score) for rid, score in of_group if rid in passing]
        return out

    def _rank_exactly(
        self, user_id: str, query: np.ndarray, k: int, flt: RecordFilter, groups: list[str]
    ) -> list[tuple[MemoryRecord, float]] | None:
        """The ``k`` nearest records passing ``flt``, ranked exactly, or None when more than
        `EXACT_RANKING_LIMIT` of them pass in a group."""
        hits: list[tuple[MemoryRecord, float]] = []
        for group in groups:
            exact = self._exactly(user_id, query, k, _group_filter(flt, group), limit=EXACT_RANKING_LIMIT)
            if exact is None:
                return None
            hits += exact
        return _best(hits, k)

    def _exactly(
        self, user_id: str, query: np.ndarray, k: int, flt: RecordFilter, *, limit: int
    ) -> list[tuple[MemoryRecord, float]] | None:
        """The ``k`` nearest records passing ``flt`` by exact ranking of every one of them (from the
        catalog's copy of their vectors), or None when more than ``limit`` pass."""
        hits = self.catalog.nearest(user_id, flt, query, k, limit=limit)
        return None if hits is None else self._resolve(user_id, hits, flt)

    def _resolve(
        self, user_id: str, hits: list[tuple[str, float]], flt: RecordFilter
    ) -> list[tuple[MemoryRecord, float]]:
        """Records of ``hits`` that exist and pass ``flt``, with their similarity, in ``hits`` order."""
        similarity = dict(hits)
        return [(r, similarity[r.id]) for r in self.catalog.get(user_id, [i for i, _ in hits], flt)]

    def close(self) -> None:
        """Close the vector index and the catalog."""
        try:
            self.vectors.close()
        finally:
            self.catalog.close()
