"""`StoreConformance`: the pytest suite every `MemoryStore` backend must pass.

Subclass it in a test module and override the ``store`` fixture with a fresh, empty store per test::

    from memagent.testing.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(tmp_path) as store:
                yield store

The suite pins the semantics of `RecordFilter.matches` (the reference), ordering and paging, upserts,
dense and lexical search inside filters (BM25 equal to a from-scratch `bm25s` index), reads whose cost
does not grow with a user's history (counted through `CountingStore`), consistency after a write that
crashes before it commits, and above all user isolation. A backend that is not an `IndexedStore`
overrides `failing_commits`. It needs pytest (``pip install 'memagent[dev]'``).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from memagent.config import MemoryConfig, RetrievalConfig
from memagent.errors import MemAgentError, StoreError
from memagent.interfaces import MemoryStore
from memagent.lexical import bm25_scores, bm25_upper_bound
from memagent.memory import Memory
from memagent.stores import IndexedStore, InProcessStore
from memagent.testing.counting import CountingStore
from memagent.testing.fakes import FakeEmbedder
from memagent.testing.synthetic import synthetic_history
from memagent.tokens import WordCounter
from memagent.types import MemoryKind, MemoryRecord, Polarity, RecordFilter, RecordOrder

__all__ = ["T0", "StoreConformance", "day", "make_record"]

T0 = datetime(2024, 1, 1, tzinfo=UTC)
"""Event-time origin of the suite's records."""
_US = timedelta(microseconds=1)


def day(n: float) -> datetime:
    """``n`` days after `T0`."""
    return T0 + timedelta(days=n)


def make_record(
    user_id: str,
    record_id: str,
    content: str | None = None,
    *,
    kind: MemoryKind = MemoryKind.FACT,
    event_time: datetime = T0,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    **fields: Any,
) -> MemoryRecord:
    """A record with sensible defaults (``valid_from`` defaults to ``event_time``)."""
    return MemoryRecord(
        id=record_id,
        user_id=user_id,
        kind=kind,
        content=content or f"memory {record_id} of {user_id}",
        event_time=event_time,
        record_time=event_time + timedelta(hours=1),
        valid_from=valid_from or event_time,
        valid_until=valid_until,
        **fields,
    )


def _ids(records: Sequence[MemoryRecord]) -> list[str]:
    return [r.id for r in records]


def _hit_ids(hits: Sequence[tuple[MemoryRecord, float]]) -> list[str]:
    return [r.id for r, _ in hits]


class StoreConformance:
    """Behaviour every `MemoryStore` must show. Override the ``store`` fixture; tests use ``embedder``."""

    @pytest.fixture
    def store(self) -> Iterator[MemoryStore]:
        """A fresh, empty store (override in the subclass)."""
        raise NotImplementedError("override the `store` fixture to yield a fresh, empty MemoryStore")

    @pytest.fixture
    def embedder(self) -> FakeEmbedder:
        """A deterministic, similarity-preserving embedder."""
        return FakeEmbedder(dimension=64)

    @staticmethod
    def put(store: MemoryStore, embedder: FakeEmbedder, records: Sequence[MemoryRecord]) -> None:
        """Store ``records`` with embeddings of their content."""
        store.put(records, embedder.embed([r.content for r in records]))

    @staticmethod
    def listed(store: MemoryStore, user_id: str, flt: RecordFilter | None = None) -> list[MemoryRecord]:
        """Every record of ``user_id`` passing ``flt``, oldest first (through `scan`, in small pages)."""
        return list(store.scan(user_id, flt, page_size=7))

    # -- put / get -------------------------------------------------------------------------------

    def test_roundtrip_keeps_every_field(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        plus2 = timezone(timedelta(hours=2))
        record = MemoryRecord(
            id="r-full",
            user_id="alice",
            kind=MemoryKind.PREFERENCE,
            content="User likes green tea, not coffee — «ça va»",
            slot="pref:tea",
            value="like",
            polarity=Polarity.POSITIVE,
            confidence=0.83,
            source_turn_ids=["t3", "t1", "t2"],
            session_id="s-9",
            event_time=datetime(2024, 3, 5, 14, 30, 15, 123456, tzinfo=plus2),
            record_time=datetime(2024, 3, 6, 9, 0, 0, 1),
            valid_from=datetime(2024, 3, 5, 12, 0, tzinfo=UTC),
            valid_until=datetime(2024, 6, 1, 0, 0, 0, 999999, tzinfo=UTC),
            superseded_by="r-next",
            supersedes="r-prev",
            extractor="llm",
            attributes={"role": "user", "speaker": "Alice", "empty": ""},
        )
        self.put(store, embedder, [record])
        [got] = store.get("alice", ["r-full"])
        assert got == record
        assert got.source_turn_ids == ["t3", "t1", "t2"]
        for stamp in (got.event_time, got.record_time, got.valid_from, got.valid_until):
            assert stamp is not None and stamp.tzinfo is not None
        assert got.event_time.utcoffset() == timedelta(hours=2)  # the speaker's offset is kept
        assert got.event_time == datetime(2024, 3, 5, 12, 30, 15, 123456, tzinfo=UTC)
        assert got.record_time.utcoffset() == timedelta(0)  # naive input is taken as UTC

    def test_roundtrip_keeps_unset_optionals(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        record = make_record("alice", "r-min", "User is called Alice")
        self.put(store, embedder, [record])
        [got] = store.get("alice", ["r-min"])
        assert got == record
        assert got.slot is None and got.valid_until is None and got.polarity is None
        assert got.attributes == {} and got.source_turn_ids == []

    def test_returned_records_are_copies(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(store, embedder, [make_record("alice", "r1", "User owns a cat", attributes={"a": "1"})])
        [got] = store.get("alice", ["r1"])
        got.content = "changed"
        got.attributes["a"] = "changed"
        [again] = self.listed(store, "alice")
        assert again.content == "User owns a cat" and again.attributes == {"a": "1"}

    def test_put_same_id_replaces(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(store, embedder, [make_record("alice", "r1", "User drinks green tea every morning")])
        replaced = make_record("alice", "r1", "User plays chess online", valid_until=day(5))
        self.put(store, embedder, [replaced])
        assert store.get("alice", ["r1"]) == [replaced]
        assert self.listed(store, "alice", RecordFilter(current_only=False)) == [replaced]
        assert self.listed(store, "alice") == []  # the replacement is superseded, so not current
        [(hit, score)] = store.search(
            "alice", embedder.embed(["chess online"])[0], 5, RecordFilter(current_only=False)
        )
        assert hit == replaced
        tea = store.search(
            "alice", embedder.embed(["green tea morning"])[0], 5, RecordFilter(current_only=False)
        )
        assert tea[0][1] < score  # the old embedding was replaced too

    def test_same_id_under_two_users_are_two_records(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        self.put(store, embedder, [make_record("alice", "shared", "Alice likes jazz")])
        self.put(store, embedder, [make_record("bob", "shared", "Bob likes metal")])
        assert [r.content for r in store.get("alice", ["shared"])] == ["Alice likes jazz"]
        assert [r.content for r in store.get("bob", ["shared"])] == ["Bob likes metal"]
        assert store.delete_user("alice") == 1
        assert [r.content for r in store.get("bob", ["shared"])] == ["Bob likes metal"]

    def test_put_nothing_is_a_no_op(self, store: MemoryStore) -> None:
        store.put([], [])
        assert store.users() == []

    def test_put_rejects_count_mismatch(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [make_record("alice", "r1"), make_record("alice", "r2")]
        with pytest.raises(MemAgentError):
            store.put(records, embedder.embed(["only one"]))

    def test_get_keeps_given_order_and_skips_unknown(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        self.put(store, embedder, [make_record("alice", f"r{i}", event_time=day(i)) for i in range(5)])
        assert _ids(store.get("alice", ["r3", "nope", "r0", "r4"])) == ["r3", "r0", "r4"]
        assert store.get("alice", []) == []
        assert store.get("nobody", ["r1"]) == []

    # -- list and filters ------------------------------------------------------------------------

    def test_list_oldest_event_first_ties_by_id(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [
            make_record("alice", "c", event_time=day(2)),
            make_record("alice", "b", event_time=day(1)),
            make_record("alice", "z", event_time=day(0)),
            make_record("alice", "a", event_time=day(1)),
        ]
        self.put(store, embedder, records)
        assert _ids(self.listed(store, "alice")) == ["z", "a", "b", "c"]

    def test_list_returns_every_record_of_a_large_user(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        records = [
            make_record("alice", f"r{i:04d}", event_time=T0 + timedelta(minutes=i)) for i in range(250)
        ]
        self.put(store, embedder, records[::-1])
        assert _ids(self.listed(store, "alice")) == _ids(records)

    def test_list_unknown_user_is_empty(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(store, embedder, [make_record("alice", "r1")])
        assert self.listed(store, "nobody") == []
        assert self.listed(store, "nobody", RecordFilter(current_only=False)) == []

    def test_default_filter_is_current_only(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(
            store,
            embedder,
            [make_record("alice", "old", valid_until=day(3)), make_record("alice", "new", event_time=day(3))],
        )
        assert _ids(self.listed(store, "alice")) == ["new"]
        assert _ids(self.listed(store, "alice", RecordFilter())) == ["new"]
        assert _ids(self.listed(store, "alice", RecordFilter(current_only=False))) == ["old", "new"]

    def test_filter_kinds(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        kinds = [MemoryKind.FACT, MemoryKind.EVENT, MemoryKind.PREFERENCE, MemoryKind.TURN]
        self.put(
            store,
            embedder,
            [make_record("alice", k.value, kind=k, event_time=day(i)) for i, k in enumerate(kinds)],
        )
        assert _ids(self.listed(store, "alice", RecordFilter(kinds=(MemoryKind.EVENT,)))) == ["event"]
        both = RecordFilter(kinds=(MemoryKind.PREFERENCE, MemoryKind.FACT))
        assert _ids(self.listed(store, "alice", both)) == ["fact", "preference"]
        assert self.listed(store, "alice", RecordFilter(kinds=())) == []
        assert len(self.listed(store, "alice", RecordFilter(kinds=None))) == 4

    def test_filter_as_of_history_view(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        old = make_record(
            "alice", "old", "User eats meat", valid_from=day(10), event_time=day(10), valid_until=day(20)
        )
        new = make_record("alice", "new", "User is vegetarian", event_time=day(20))
        self.put(store, embedder, [old, new])

        def at(when: datetime) -> list[str]:
            return _ids(self.listed(store, "alice", RecordFilter(as_of=when)))

        assert at(day(10) - _US) == []
        assert at(day(10)) == ["old"]  # valid_from is inclusive
        assert at(day(20) - _US) == ["old"]
        assert at(day(20)) == ["new"]  # valid_until is exclusive
        assert at(day(1000)) == ["new"]
        # as_of overrides current_only: the superseded record is returned for its period.
        assert _ids(self.listed(store, "alice", RecordFilter(as_of=day(15), current_only=True))) == ["old"]

    def test_filter_since_until(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(
            store,
            embedder,
            [make_record("alice", f"e{i}", kind=MemoryKind.EVENT, event_time=day(i)) for i in (1, 2, 3)],
        )

        def between(since: datetime | None, until: datetime | None) -> list[str]:
            return _ids(self.listed(store, "alice", RecordFilter(since=since, until=until)))

        assert between(day(2), None) == ["e2", "e3"]  # since is inclusive
        assert between(day(2) + _US, None) == ["e3"]
        assert between(None, day(2)) == ["e1"]  # until is exclusive
        assert between(None, day(2) + _US) == ["e1", "e2"]
        assert between(day(1), day(3)) == ["e1", "e2"]
        assert between(day(3), day(1)) == []

    def test_filters_combine(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [
            make_record("alice", "ev-old", kind=MemoryKind.EVENT, event_time=day(1), valid_until=day(4)),
            make_record("alice", "ev-mid", kind=MemoryKind.EVENT, event_time=day(3)),
            make_record("alice", "fact", kind=MemoryKind.FACT, event_time=day(3)),
            make_record("alice", "ev-late", kind=MemoryKind.EVENT, event_time=day(6)),
        ]
        self.put(store, embedder, records)
        flt = RecordFilter(kinds=(MemoryKind.EVENT,), as_of=day(3), since=day(0), until=day(5))
        assert _ids(self.listed(store, "alice", flt)) == ["ev-old", "ev-mid"]
        flt = RecordFilter(kinds=(MemoryKind.EVENT,), current_only=True, since=day(2))
        assert _ids(self.listed(store, "alice", flt)) == ["ev-mid", "ev-late"]

    # -- search ----------------------------------------------------------------------------------

    def test_search_ranks_by_cosine_similarity(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        texts = {
            "sushi": "User loves sushi and japanese food",
            "tennis": "User plays tennis every weekend",
            "nurse": "User works as a nurse in Boston",
            "ramen": "User enjoys japanese ramen noodles",
        }
        self.put(store, embedder, [make_record("alice", k, v) for k, v in texts.items()])
        query = embedder.embed(["sushi japanese food"])[0]
        hits = store.search("alice", query, 4)
        assert _hit_ids(hits)[:2] == ["sushi", "ramen"]
        scores = [s for _, s in hits]
        assert scores == sorted(scores, reverse=True)
        vectors = dict(zip(texts, np.asarray(embedder.embed(list(texts.values()))), strict=True))
        for record, score in hits:
            assert score == pytest.approx(float(vectors[record.id] @ np.asarray(query)), abs=1e-4)

    def test_search_filters_before_cutting_top_k(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        near = [
            make_record("alice", f"near{i}", "User loves hiking in the mountains", kind=MemoryKind.EVENT)
            for i in range(12)
        ]
        superseded = [
            make_record("alice", f"old{i}", "User loves hiking in the mountains", valid_until=day(9))
            for i in range(12)
        ]
        far = [make_record("alice", f"far{i}", f"User fact number {i} about taxes") for i in range(3)]
        self.put(store, embedder, near + superseded + far)
        query = embedder.embed(["hiking in the mountains"])[0]
        hits = store.search("alice", query, 3, RecordFilter(kinds=(MemoryKind.FACT,)))
        assert sorted(_hit_ids(hits)) == ["far0", "far1", "far2"]
        current = store.search("alice", query, 15)
        assert len(current) == 15 and not any(r.id.startswith("old") for r, _ in current)

    def test_search_applies_time_filters(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [
            make_record("alice", "meat", "User eats meat", valid_until=day(10)),
            make_record("alice", "veg", "User eats vegetables only", event_time=day(10)),
        ]
        self.put(store, embedder, records)
        query = embedder.embed(["User eats meat"])[0]
        assert _hit_ids(store.search("alice", query, 5, RecordFilter(as_of=day(5)))) == ["meat"]
        assert _hit_ids(store.search("alice", query, 5, RecordFilter(as_of=day(10)))) == ["veg"]
        window = RecordFilter(current_only=False, since=day(1), until=day(11))
        assert _hit_ids(store.search("alice", query, 5, window)) == ["veg"]

    def test_search_k_larger_than_count_and_zero(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(
            store, embedder, [make_record("alice", f"r{i}", f"note {i} about gardening") for i in range(3)]
        )
        query = embedder.embed(["gardening"])[0]
        assert sorted(_hit_ids(store.search("alice", query, 50))) == ["r0", "r1", "r2"]
        assert store.search("alice", query, 0) == []

    def test_search_empty_or_unknown_user(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        query = embedder.embed(["anything"])[0]
        assert store.search("nobody", query, 5) == []
        self.put(store, embedder, [make_record("alice", "r1", "anything at all")])
        assert store.search("nobody", query, 5) == []

    # -- users, deletion, isolation --------------------------------------------------------------

    def test_users_sorted_and_distinct(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        assert store.users() == []
        self.put(
            store,
            embedder,
            [make_record(u, f"r{i}") for i, u in enumerate(["carol", "alice", "bob", "alice"])],
        )
        assert store.users() == ["alice", "bob", "carol"]

    def test_delete_user_counts_and_removes_everything(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        records = [make_record("alice", f"r{i}", valid_until=day(1) if i % 2 else None) for i in range(7)]
        self.put(store, embedder, [*records, make_record("bob", "b1")])
        assert store.delete_user("alice") == 7
        assert self.listed(store, "alice", RecordFilter(current_only=False)) == []
        assert store.get("alice", _ids(records)) == []
        assert (
            store.search("alice", embedder.embed(["memory"])[0], 10, RecordFilter(current_only=False)) == []
        )
        assert store.delete_user("alice") == 0
        assert store.delete_user("nobody") == 0
        assert _ids(self.listed(store, "bob")) == ["b1"]
        self.put(store, embedder, [make_record("alice", "again")])
        assert _ids(self.listed(store, "alice")) == ["again"]

    def test_delete_removes_records_from_every_read(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [
            make_record("alice", "t1", "I hate mushrooms on pizza", kind=MemoryKind.TURN),
            make_record("alice", "m1", "User hates mushrooms"),
            make_record("alice", "m2", "User loves olives"),
        ]
        self.put(store, embedder, [*records, make_record("bob", "m1", "User hates mushrooms")])
        assert store.delete("alice", ["m1", "t1", "unknown"]) == 2
        assert _ids(store.get("alice", ["t1", "m1", "m2"])) == ["m2"]
        every = RecordFilter(current_only=False)
        assert _ids(self.listed(store, "alice", every)) == ["m2"]
        mushrooms = embedder.embed(["mushrooms"])[0]
        assert _ids([r for r, _ in store.search("alice", mushrooms, 5, every)]) == ["m2"]
        assert store.lexical_search("alice", "mushrooms", 5, every).hits == []
        assert store.count("alice", every) == 1
        assert store.delete("alice", ["m1"]) == 0  # idempotent
        assert _ids(store.get("bob", ["m1"])) == ["m1"]  # the same id of another user stays
        self.put(store, embedder, [make_record("alice", "m1", "User hates mushrooms")])  # can be stored again
        assert [r.id for r, _ in store.lexical_search("alice", "mushrooms", 5, every).hits] == ["m1"]

    def test_users_never_mix(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        alice = [
            make_record("alice", f"a{i}", "User is allergic to peanuts", event_time=day(i)) for i in range(4)
        ]
        bob = [make_record("bob", f"b{i}", f"Bob note {i} on cycling", event_time=day(i)) for i in range(2)]
        self.put(store, embedder, alice + bob)
        peanuts = embedder.embed(["allergic to peanuts"])[0]
        every = RecordFilter(current_only=False)
        assert store.get("bob", _ids(alice)) == []
        assert _ids(self.listed(store, "bob", every)) == ["b0", "b1"]
        assert sorted(_hit_ids(store.search("bob", peanuts, 10, every))) == ["b0", "b1"]
        assert store.users() == ["alice", "bob"]
        assert store.delete_user("bob") == 2
        assert store.users() == ["alice"]
        assert store.search("bob", peanuts, 10, every) == []
        assert _ids(self.listed(store, "alice")) == ["a0", "a1", "a2", "a3"]
        assert {r.user_id for r, _ in store.search("alice", peanuts, 10)} == {"alice"}

    # -- async and threads -----------------------------------------------------------------------

    def test_async_put_and_search(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        record = make_record("alice", "r1", "User speaks French")
        query = embedder.embed(["speaks French"])[0]

        async def scenario() -> list[tuple[MemoryRecord, float]]:
            await store.aput([record], embedder.embed([record.content]))
            return await store.asearch("alice", query, 3)

        assert _hit_ids(asyncio.run(scenario())) == ["r1"]

    def test_concurrent_puts_lose_nothing(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        errors: list[BaseException] = []

        def writer(user: str) -> None:
            try:
                for i in range(10):
                    self.put(store, embedder, [make_record(user, f"r{i}", event_time=day(i))])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(f"user{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert store.users() == ["user0", "user1", "user2", "user3"]
        assert all(len(self.listed(store, f"user{n}")) == 10 for n in range(4))

    # -- bounded lookups: find, count, slots, provenance -----------------------------------------

    def test_find_orders_limits_and_pages(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [
            make_record("alice", f"r{i}", event_time=day(i % 5), confidence=round(0.1 + 0.08 * i, 2))
            for i in range(10)
        ]
        self.put(store, embedder, records)
        reference = sorted(records, key=lambda r: (r.event_time, r.id))
        assert _ids(store.find("alice", limit=4)) == _ids(reference[:4])
        newest = sorted(records, key=lambda r: r.id)
        newest.sort(key=lambda r: r.event_time, reverse=True)
        assert _ids(store.find("alice", limit=3, order=RecordOrder.NEWEST)) == _ids(newest[:3])
        confident = sorted(records, key=lambda r: (-r.confidence, -r.event_time.timestamp(), r.id))
        assert _ids(store.find("alice", limit=2, order=RecordOrder.MOST_CONFIDENT)) == _ids(confident[:2])
        page = store.find("alice", limit=4, after=reference[3])
        assert _ids(page) == _ids(reference[4:8])
        assert store.find("alice", limit=0) == [] and store.find("nobody", limit=5) == []
        with pytest.raises(MemAgentError, match="OLDEST"):
            store.find("alice", limit=2, order=RecordOrder.NEWEST, after=reference[0])

    def test_count_follows_filters(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [make_record("alice", f"f{i}", valid_until=day(1) if i < 2 else None) for i in range(5)] + [
            make_record("alice", "t1", kind=MemoryKind.TURN),
            make_record("bob", "b1"),
        ]
        self.put(store, embedder, records)
        assert store.count("alice") == 6
        assert store.count("alice", RecordFilter()) == 4
        assert store.count("alice", RecordFilter(kinds=(MemoryKind.TURN,))) == 1
        assert store.count("alice", RecordFilter(kinds=())) == 0
        assert store.count("nobody") == 0
        store.delete_user("alice")
        assert store.count("alice") == 0 and store.count("bob") == 1

    def test_filter_slots_and_prefixes(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        slots = {"tea": "pref:tea", "nuts": "allergy:peanut", "shell": "allergy:shellfish",
                 "lookalike": "allergyish", "wild": "ab", "none": None}  # fmt: skip
        self.put(store, embedder, [make_record("alice", k, slot=v) for k, v in slots.items()])

        def passing(flt: RecordFilter) -> list[str]:
            return sorted(_ids(self.listed(store, "alice", flt)))

        assert passing(RecordFilter(slots=("pref:tea",))) == ["tea"]
        assert passing(RecordFilter(slots=("pref:tea", "ab"))) == ["tea", "wild"]
        assert passing(RecordFilter(slot_prefixes=("allergy:",))) == ["nuts", "shell"]
        assert passing(RecordFilter(slot_prefixes=("a_",))) == []  # no SQL wildcards
        assert passing(RecordFilter(slot_prefixes=("allergy", "pref:"))) == [
            "lookalike",
            "nuts",
            "shell",
            "tea",
        ]
        assert passing(RecordFilter(slots=())) == [] and passing(RecordFilter(slot_prefixes=())) == []
        assert store.count("alice", RecordFilter(slot_prefixes=("allergy:",))) == 2

    def test_filter_by_source_turns(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [
            make_record("alice", "a", source_turn_ids=["t1", "t2"]),
            make_record("alice", "b", source_turn_ids=["t2"]),
            make_record("alice", "c", source_turn_ids=["t3"]),
            make_record("bob", "d", source_turn_ids=["t1"]),
        ]
        self.put(store, embedder, records)
        assert sorted(_ids(self.listed(store, "alice", RecordFilter(turn_ids=("t2",))))) == ["a", "b"]
        assert _ids(self.listed(store, "alice", RecordFilter(turn_ids=("t1", "t9")))) == ["a"]
        self.put(store, embedder, [make_record("alice", "a", source_turn_ids=["t3"])])  # provenance replaced
        assert sorted(_ids(self.listed(store, "alice", RecordFilter(turn_ids=("t3",))))) == ["a", "c"]
        assert _ids(self.listed(store, "alice", RecordFilter(turn_ids=("t1",)))) == []

    def test_adjacent_turns_stay_in_the_session_and_pass_the_filter(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        def turn(rid: str, session: str, n: float, user: str = "alice") -> MemoryRecord:
            return make_record(user, rid, kind=MemoryKind.TURN, event_time=day(n), session_id=session)

        records = [
            turn("s1a", "s1", 1),
            turn("s1b", "s1", 2),
            turn("s2a", "s2", 3),
            turn("s2b", "s2", 4),
            turn("s3a", "s3", 4.1),  # another conversation, interleaved with s2
            turn("s2c", "s2", 5),
            make_record("alice", "fact", event_time=day(4.5), session_id="s2"),
            turn("other", "s2", 4.2, user="bob"),
        ]
        self.put(store, embedder, records)
        around = store.adjacent("alice", ["s2b", "s1b", "s2a", "fact", "missing"])
        assert {anchor: sorted(found) for anchor, found in around.items()} == {
            "s2b": ["s2a", "s2c"],  # s3's turn, the fact and bob's turn between them are not neighbours
            "s1b": ["s1a"],  # s2a follows in time but opens another session
            "s2a": ["s2b"],
        }
        assert store.adjacent("alice", ["s2b"], RecordFilter(until=day(4.5))) == {"s2b": ["s2a"]}
        busy = [turn(f"s4{i}", "s4", 6 + i / 100) for i in range(20)]  # a long session interleaved with s2
        self.put(store, embedder, [*busy, turn("s2d", "s2", 7)])
        assert sorted(store.adjacent("alice", ["s2d"])["s2d"]) == ["s2c"]
        assert store.adjacent("bob", ["s2b"]) == {}
        assert store.adjacent("nobody", ["s2b"]) == {}

    def test_adjacent_turns_said_at_the_same_instant_follow_the_order_they_were_stored(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        said = [
            make_record("alice", f"t{i}", kind=MemoryKind.TURN, event_time=day(1), session_id="s")
            for i in (3, 1, 2)
        ]
        self.put(store, embedder, said)  # stored t3, t1, t2: one instant, so that is the order they were said
        assert store.adjacent("alice", ["t1"]) == {"t1": ["t3", "t2"]}

    def test_similarity_scores_given_ids_as_search_does(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        records = [make_record("alice", f"m{i}", f"topic {i} words {i % 3}") for i in range(6)]
        self.put(store, embedder, records + [make_record("bob", "m0", "something else entirely")])
        query = embedder.embed(["topic 2 words 2"])[0]
        searched = dict((r.id, cosine) for r, cosine in store.search("alice", query, 6))
        scored = store.similarity("alice", query, ["m4", "m1", "missing"])
        assert set(scored) == {"m4", "m1"}
        for rid, cosine in scored.items():
            assert cosine == pytest.approx(searched[rid], abs=1e-5)
        assert store.similarity("alice", query, []) == {}
        assert store.similarity("nobody", query, ["m1"]) == {}

    # -- updates that keep the vector ------------------------------------------------------------

    def test_update_keeps_the_vector_and_checks_content(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        old = make_record("alice", "tea", "User drinks green tea", slot="pref:tea")
        self.put(store, embedder, [old])
        closed = old.model_copy(update={"valid_until": day(3), "superseded_by": "coffee"})
        new = make_record(
            "alice", "coffee", "User switched to black coffee", slot="pref:tea", event_time=day(3)
        )
        store.put([new], embedder.embed([new.content]), updated=[closed])
        assert store.get("alice", ["tea", "coffee"]) == [closed, new]
        every = RecordFilter(current_only=False)
        [(hit, score)] = store.search("alice", embedder.embed([old.content])[0], 1, every)
        assert hit == closed and score == pytest.approx(1.0, abs=1e-4)
        assert _hit_ids(store.lexical_search("alice", "green tea", 5, every).hits) == ["tea"]
        changed = closed.model_copy(update={"content": "User drinks oolong"})
        bad = make_record("alice", "late", "User likes figs")
        with pytest.raises(StoreError, match="content or kind"):
            store.put([bad], embedder.embed([bad.content]), updated=[changed])
        with pytest.raises(StoreError, match="not stored"):
            store.put([], [], updated=[make_record("alice", "ghost")])
        assert store.get("alice", ["late"]) == [] and store.get("alice", ["tea"]) == [closed]

    def test_changing_kind_moves_the_record(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        as_turn = make_record("alice", "r1", "User: I adore figs", kind=MemoryKind.TURN)
        self.put(store, embedder, [as_turn])
        as_fact = make_record("alice", "r1", "User adores figs", kind=MemoryKind.FACT)
        self.put(store, embedder, [as_fact])
        query = embedder.embed(["adores figs"])[0]
        assert store.search("alice", query, 5, RecordFilter(kinds=(MemoryKind.TURN,))) == []
        assert _hit_ids(store.search("alice", query, 5)) == ["r1"]
        assert store.count("alice") == 1

    # -- selective filters on a larger history ---------------------------------------------------

    def test_selective_filter_ranks_exactly_within_a_large_history(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        turns = [
            make_record("alice", f"t{i:03d}", f"User: cooking tip {i} about pasta", kind=MemoryKind.TURN,
                        event_time=T0 + timedelta(minutes=i))
            for i in range(300)
        ]  # fmt: skip
        slotted = [
            make_record(
                "alice", f"s{i}", f"User prefers {food}", slot="pref:food", kind=MemoryKind.PREFERENCE
            )
            for i, food in enumerate(["pasta with basil", "rice", "tofu stew", "pasta bake"])
        ]
        self.put(store, embedder, turns + slotted)
        query = embedder.embed(["cooking pasta"])[0]
        hits = store.search("alice", query, 3, RecordFilter(slots=("pref:food",)))
        vectors = dict(zip(_ids(slotted), embedder.embed([r.content for r in slotted]), strict=True))
        expected = sorted(vectors, key=lambda i: -float(np.dot(vectors[i], query)))[:3]
        assert _hit_ids(hits) == expected
        lexical = store.lexical_search("alice", "pasta", 10, RecordFilter(slots=("pref:food",)))
        assert sorted(_hit_ids(lexical.hits)) == ["s0", "s3"]

    # -- lexical search --------------------------------------------------------------------------

    @staticmethod
    def reference_lexical(records: Sequence[MemoryRecord], query: str) -> dict[str, float]:
        """BM25 of every record (a `bm25s` index built from scratch), divided by the full-match score."""
        docs = [(r.id, r.content) for r in records]
        bound = bm25_upper_bound(query, docs)
        return {i: (s / bound if bound else 0.0) for i, s in bm25_scores(query, docs).items()}

    @staticmethod
    def assert_ranking(
        hits: Sequence[tuple[MemoryRecord, float]], reference: dict[str, float], k: int
    ) -> None:
        """``hits`` are the top ``k`` of ``reference`` (ties may come in any order of ids)."""
        expected = sorted((s for s in reference.values() if s > 0), reverse=True)[:k]
        assert [s for _, s in hits] == pytest.approx(expected, rel=1e-6, abs=1e-9)
        for record, score in hits:
            assert reference[record.id] == pytest.approx(score, rel=1e-6, abs=1e-9)

    def test_lexical_search_matches_a_reference_bm25(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        texts = [
            "User is allergic to peanuts and tree nuts",
            "User loves peanut butter sandwiches",
            "User's daughter Mia starts school in September",
            "User drinks green tea every morning, green tea only",
            "User ran the Berlin marathon in 2019",
            "User prefers window seats on long flights",
            "User keeps two cats, Miso and Tofu",
            "User: what should I cook for Mia's birthday?",
        ]
        alice = [make_record("alice", f"a{i}", t, event_time=day(i)) for i, t in enumerate(texts)]
        bob = [make_record("bob", f"b{i}", "Bob eats peanuts and drinks tea daily") for i in range(20)]
        self.put(store, embedder, alice + bob)
        for query in ("peanuts", "green tea morning", "Mia birthday school", "Berlin marathon 2019 cats"):
            reference = self.reference_lexical(alice, query)
            found = store.lexical_search("alice", query, 3)
            self.assert_ranking(found.hits, reference, 3)
            assert {r.user_id for r, _ in found.hits} <= {"alice"}
        empty = store.lexical_search("alice", "the and of", 5)
        assert empty.hits == []
        assert store.lexical_search("alice", "zeppelin", 5).hits == []
        assert store.lexical_search("nobody", "peanuts", 5).hits == []

    def test_lexical_search_equals_the_reference_on_random_corpora(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        rng = random.Random(7)
        words = [f"w{n}" for n in range(40)]
        live: dict[str, MemoryRecord] = {}
        for round_ in range(4):
            batch = []
            for _ in range(25):
                rid = f"r{rng.randrange(60)}"  # ids repeat: replacements change the text
                text = " ".join(
                    rng.choices(words, weights=[1 / (i + 1) for i in range(40)], k=rng.randint(1, 12))
                )
                batch.append(make_record("alice", rid, text, event_time=day(round_)))
            self.put(store, embedder, batch)
            live.update((r.id, r) for r in batch)
            self.put(store, embedder, [make_record(f"other{round_}", "x", " ".join(words[:10]))])
            for _ in range(5):
                query = " ".join(rng.sample(words, rng.randint(1, 4)))
                reference = self.reference_lexical(list(live.values()), query)
                found = store.lexical_search("alice", query, 10, score_ids=sorted(live))
                self.assert_ranking(found.hits, reference, 10)
                assert found.scores == pytest.approx(reference, rel=1e-6, abs=1e-9)

    def test_lexical_search_filters_before_cutting(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        stale = [make_record("alice", f"old{i}", "User loves hiking hiking hiking", valid_until=day(2))
                 for i in range(30)]  # fmt: skip
        current = [
            make_record("alice", f"new{i}", f"User went hiking in the Alps, trip {i}") for i in range(3)
        ]
        turns = [
            make_record("alice", f"t{i}", "User: hiking boots?", kind=MemoryKind.TURN) for i in range(30)
        ]
        self.put(store, embedder, stale + current + turns)
        hits = store.lexical_search("alice", "hiking", 3, RecordFilter(kinds=(MemoryKind.FACT,))).hits
        assert sorted(_hit_ids(hits)) == ["new0", "new1", "new2"]
        every = store.lexical_search("alice", "hiking", 100, RecordFilter(current_only=False)).hits
        assert len(every) == 63

    def test_lexical_scores_of_given_ids(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        records = [make_record("alice", f"r{i}", f"User note {i} about sailing boats") for i in range(12)]
        records.append(make_record("alice", "other", "User owns a piano"))
        self.put(store, embedder, records)
        found = store.lexical_search("alice", "sailing", 2, score_ids=["r11", "other", "unknown"])
        assert len(found.hits) == 2
        assert found.scores["r11"] > 0 and found.scores["other"] == 0.0 and found.scores["unknown"] == 0.0
        assert set(found.scores) == {"r11", "other", "unknown"}
        none = store.lexical_search("alice", "sailing", 0, score_ids=["r3"])
        assert none.hits == [] and none.scores["r3"] > 0

    def test_lexical_index_follows_replacement_and_deletion(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        self.put(store, embedder, [make_record("alice", "r1", "User plays the cello"),
                                   make_record("alice", "r2", "User plays chess")])  # fmt: skip
        self.put(store, embedder, [make_record("alice", "r1", "User sings in a choir")])
        assert store.lexical_search("alice", "cello", 5).hits == []
        assert _hit_ids(store.lexical_search("alice", "choir", 5).hits) == ["r1"]
        reference = self.reference_lexical(store.get("alice", ["r1", "r2"]), "plays chess choir")
        self.assert_ranking(store.lexical_search("alice", "plays chess choir", 5).hits, reference, 5)
        store.delete_user("alice")
        assert store.lexical_search("alice", "choir", 5).hits == []
        self.put(store, embedder, [make_record("alice", "r3", "User sings opera")])
        assert _hit_ids(store.lexical_search("alice", "sings", 5).hits) == ["r3"]

    # -- reads that do not grow with the history ------------------------------------------------

    def test_reads_and_writes_do_not_grow_with_the_history(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        counting = CountingStore(store)
        config = MemoryConfig(top_k=4, budget=128, retrieval=RetrievalConfig(candidate_pool=8))
        memory = Memory(counting, embedder, counter=WordCounter(), config=config, clock=lambda: day(2000))
        history = synthetic_history(sessions=400, users=1, turns_per_session=6, seed=3)
        queries = ["what tea do I like?", "where did I travel last week?", "any allergies?"]

        def cost(turns: Sequence[Any]) -> tuple[int, int]:
            counting.reset()
            memory.remember(turns)
            written = counting.records_returned
            counting.reset()
            for query in queries:
                memory.recall("user0", query)
                memory.profile("user0", query)
            return written, counting.records_returned

        memory.remember(history[:540])
        early = cost(history[540:600])
        memory.remember(history[600:2340])
        late = cost(history[2340:2400])
        assert store.count("user0") > 2400
        assert late[0] <= 1.5 * early[0] + 20, (
            f"writes fetched {early[0]} records at 600 turns, {late[0]} at 2400"
        )
        assert late[1] <= 1.5 * early[1] + 20, (
            f"reads fetched {early[1]} records at 600 turns, {late[1]} at 2400"
        )

    # -- crash consistency ----------------------------------------------------------------------

    @contextmanager
    def failing_commits(self, store: MemoryStore) -> Iterator[None]:
        """Inside the block, every write fails at its last step (after the vectors, before the records
        commit). Backends that are not `IndexedStore`s override this."""
        if not isinstance(store, IndexedStore):
            pytest.fail(f"{type(store).__name__} is not an IndexedStore: override failing_commits")
        catalog = store.catalog
        original = catalog.put

        def crash(*args: Any, **kwargs: Any) -> None:
            raise StoreError("simulated crash before the records commit")

        catalog.put = crash  # type: ignore[method-assign]
        try:
            yield
        finally:
            catalog.put = original  # type: ignore[method-assign]

    def test_a_refused_or_crashed_kind_change_keeps_the_record_searchable(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        as_turn = make_record("alice", "r1", "User: I adore figs", kind=MemoryKind.TURN)
        self.put(store, embedder, [as_turn])
        as_fact = make_record("alice", "r1", "User adores figs", kind=MemoryKind.FACT)
        query = embedder.embed([as_turn.content])[0]
        with pytest.raises(StoreError, match="not stored"):
            store.put([as_fact], embedder.embed([as_fact.content]), updated=[make_record("alice", "ghost")])
        with self.failing_commits(store), pytest.raises(StoreError, match="simulated crash"):
            self.put(store, embedder, [as_fact])
        assert store.get("alice", ["r1"]) == [as_turn]
        [(hit, score)] = store.search("alice", query, 5)
        assert hit == as_turn and score == pytest.approx(1.0, abs=1e-4)
        self.put(store, embedder, [as_fact])  # the replay
        assert _hit_ids(store.search("alice", query, 5)) == ["r1"]
        assert store.search("alice", query, 5, RecordFilter(kinds=(MemoryKind.TURN,))) == []

    def test_a_crashed_write_is_invisible_and_replay_repairs_it(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        history = synthetic_history(sessions=30, users=1, turns_per_session=6, seed=11)
        first, second = history[:90], history[90:]

        def memory_over(target: MemoryStore) -> Memory:
            return Memory(target, embedder, counter=WordCounter(), clock=lambda: day(500))

        memory = memory_over(store)
        memory.remember(first)
        before = list(memory.export("user0"))
        with self.failing_commits(store), pytest.raises(StoreError, match="simulated crash"):
            memory.remember(second)
        assert list(memory.export("user0")) == before
        assert store.count("user0") == len(before)
        every = RecordFilter(current_only=False, kinds=None)
        known = {r.id for r in before}
        for turn in second[:5]:
            dense = store.search("user0", embedder.embed([turn.text])[0], 20, every)
            lexical = store.lexical_search("user0", turn.text, 20, every).hits
            assert {r.id for r, _ in dense + lexical} <= known
        report = memory.remember(second)
        assert report.turns_new == len(second) and report.turns_known == 0
        with InProcessStore() as reference_store:
            reference = memory_over(reference_store)
            reference.remember(first)
            reference.remember(second)
            assert list(memory.export("user0")) == list(reference.export("user0"))
            for query in ("what do I love?", "where do I work?"):
                got = [(h.record.id, round(h.score, 4)) for h in memory.recall("user0", query)]
                want = [(h.record.id, round(h.score, 4)) for h in reference.recall("user0", query)]
                assert got == want and got
