"""`StoreConformance`: the pytest suite every `MemoryStore` backend must pass.

Subclass it in a test module and override the ``store`` fixture with a fresh, empty store per test::

    from memagent.testing.conformance import StoreConformance

    class TestMyStore(StoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(tmp_path) as store:
                yield store

The suite pins the semantics of `RecordFilter.matches` (the reference), ordering, upserts, search inside
filters, and above all user isolation. It needs pytest (``pip install 'memagent[dev]'``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from memagent.errors import MemAgentError
from memagent.interfaces import MemoryStore
from memagent.testing.fakes import FakeEmbedder
from memagent.types import MemoryKind, MemoryRecord, Polarity, RecordFilter

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
        [again] = store.list("alice")
        assert again.content == "User owns a cat" and again.attributes == {"a": "1"}

    def test_put_same_id_replaces(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(store, embedder, [make_record("alice", "r1", "User drinks green tea every morning")])
        replaced = make_record("alice", "r1", "User plays chess online", valid_until=day(5))
        self.put(store, embedder, [replaced])
        assert store.get("alice", ["r1"]) == [replaced]
        assert store.list("alice", RecordFilter(current_only=False)) == [replaced]
        assert store.list("alice") == []  # the replacement is superseded, so not current
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
        assert _ids(store.list("alice")) == ["z", "a", "b", "c"]

    def test_list_returns_every_record_of_a_large_user(
        self, store: MemoryStore, embedder: FakeEmbedder
    ) -> None:
        records = [
            make_record("alice", f"r{i:04d}", event_time=T0 + timedelta(minutes=i)) for i in range(250)
        ]
        self.put(store, embedder, records[::-1])
        assert _ids(store.list("alice")) == _ids(records)

    def test_list_unknown_user_is_empty(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(store, embedder, [make_record("alice", "r1")])
        assert store.list("nobody") == []
        assert store.list("nobody", RecordFilter(current_only=False)) == []

    def test_default_filter_is_current_only(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(
            store,
            embedder,
            [make_record("alice", "old", valid_until=day(3)), make_record("alice", "new", event_time=day(3))],
        )
        assert _ids(store.list("alice")) == ["new"]
        assert _ids(store.list("alice", RecordFilter())) == ["new"]
        assert _ids(store.list("alice", RecordFilter(current_only=False))) == ["old", "new"]

    def test_filter_kinds(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        kinds = [MemoryKind.FACT, MemoryKind.EVENT, MemoryKind.PREFERENCE, MemoryKind.TURN]
        self.put(
            store,
            embedder,
            [make_record("alice", k.value, kind=k, event_time=day(i)) for i, k in enumerate(kinds)],
        )
        assert _ids(store.list("alice", RecordFilter(kinds=(MemoryKind.EVENT,)))) == ["event"]
        both = RecordFilter(kinds=(MemoryKind.PREFERENCE, MemoryKind.FACT))
        assert _ids(store.list("alice", both)) == ["fact", "preference"]
        assert store.list("alice", RecordFilter(kinds=())) == []
        assert len(store.list("alice", RecordFilter(kinds=None))) == 4

    def test_filter_as_of_history_view(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        old = make_record(
            "alice", "old", "User eats meat", valid_from=day(10), event_time=day(10), valid_until=day(20)
        )
        new = make_record("alice", "new", "User is vegetarian", event_time=day(20))
        self.put(store, embedder, [old, new])

        def at(when: datetime) -> list[str]:
            return _ids(store.list("alice", RecordFilter(as_of=when)))

        assert at(day(10) - _US) == []
        assert at(day(10)) == ["old"]  # valid_from is inclusive
        assert at(day(20) - _US) == ["old"]
        assert at(day(20)) == ["new"]  # valid_until is exclusive
        assert at(day(1000)) == ["new"]
        # as_of overrides current_only: the superseded record is returned for its period.
        assert _ids(store.list("alice", RecordFilter(as_of=day(15), current_only=True))) == ["old"]

    def test_filter_since_until(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        self.put(
            store,
            embedder,
            [make_record("alice", f"e{i}", kind=MemoryKind.EVENT, event_time=day(i)) for i in (1, 2, 3)],
        )

        def between(since: datetime | None, until: datetime | None) -> list[str]:
            return _ids(store.list("alice", RecordFilter(since=since, until=until)))

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
        assert _ids(store.list("alice", flt)) == ["ev-old", "ev-mid"]
        flt = RecordFilter(kinds=(MemoryKind.EVENT,), current_only=True, since=day(2))
        assert _ids(store.list("alice", flt)) == ["ev-mid", "ev-late"]

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
        assert store.list("alice", RecordFilter(current_only=False)) == []
        assert store.get("alice", _ids(records)) == []
        assert (
            store.search("alice", embedder.embed(["memory"])[0], 10, RecordFilter(current_only=False)) == []
        )
        assert store.delete_user("alice") == 0
        assert store.delete_user("nobody") == 0
        assert _ids(store.list("bob")) == ["b1"]
        self.put(store, embedder, [make_record("alice", "again")])
        assert _ids(store.list("alice")) == ["again"]

    def test_users_never_mix(self, store: MemoryStore, embedder: FakeEmbedder) -> None:
        alice = [
            make_record("alice", f"a{i}", "User is allergic to peanuts", event_time=day(i)) for i in range(4)
        ]
        bob = [make_record("bob", f"b{i}", f"Bob note {i} on cycling", event_time=day(i)) for i in range(2)]
        self.put(store, embedder, alice + bob)
        peanuts = embedder.embed(["allergic to peanuts"])[0]
        every = RecordFilter(current_only=False)
        assert store.get("bob", _ids(alice)) == []
        assert _ids(store.list("bob", every)) == ["b0", "b1"]
        assert sorted(_hit_ids(store.search("bob", peanuts, 10, every))) == ["b0", "b1"]
        assert store.users() == ["alice", "bob"]
        assert store.delete_user("bob") == 2
        assert store.users() == ["alice"]
        assert store.search("bob", peanuts, 10, every) == []
        assert _ids(store.list("alice")) == ["a0", "a1", "a2", "a3"]
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
        assert all(len(store.list(f"user{n}")) == 10 for n in range(4))
