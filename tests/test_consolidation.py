"""Supersede, don't delete: the pure consolidation rules."""

from __future__ import annotations

from datetime import UTC, datetime

from memagent.consolidation import WorkingSet, consolidate, record_from_candidate
from memagent.testing import FakeEmbedder
from memagent.types import Candidate, MemoryKind, Polarity

NOW = datetime(2024, 1, 1, tzinfo=UTC)
EMBED = FakeEmbedder()


def cand(
    content: str,
    when: datetime,
    *,
    slot: str | None = None,
    value: str | None = None,
    kind: MemoryKind = MemoryKind.PREFERENCE,
    turn: str = "t1",
) -> Candidate:
    return Candidate(
        kind=kind,
        content=content,
        slot=slot,
        value=value,
        polarity=Polarity.POSITIVE,
        event_time=when,
        source_turn_ids=[turn],
        session_id="s",
    )


def fold(working: WorkingSet, c: Candidate, *, enabled: bool = True):
    return consolidate(
        c, EMBED.embed([c.content])[0], working, user_id="u", now=NOW, dedupe_threshold=0.92, enabled=enabled
    )


def test_new_value_for_a_slot_supersedes_and_links() -> None:
    working = WorkingSet()
    jan, mar = datetime(2023, 1, 10, tzinfo=UTC), datetime(2023, 3, 5, tzinfo=UTC)
    fold(working, cand("User is vegetarian", jan, slot="diet", value="vegetarian", turn="a"))
    stats = fold(working, cand("User eats fish", mar, slot="diet", value="eats fish", turn="b"))
    assert (stats.added, stats.superseded) == (1, 1)
    old, new = sorted(working.records.values(), key=lambda r: r.valid_from)
    assert old.valid_until == mar and old.superseded_by == new.id
    assert new.is_current and new.supersedes == old.id
    assert old.valid_at(datetime(2023, 2, 15, tzinfo=UTC)) and not new.valid_at(
        datetime(2023, 2, 15, tzinfo=UTC)
    )


def test_same_value_merges_provenance_instead_of_duplicating() -> None:
    working = WorkingSet()
    fold(
        working,
        cand(
            "User is vegetarian", datetime(2023, 1, 1, tzinfo=UTC), slot="diet", value="vegetarian", turn="a"
        ),
    )
    stats = fold(
        working,
        cand(
            "User is a vegetarian",
            datetime(2023, 2, 1, tzinfo=UTC),
            slot="diet",
            value="Vegetarian",
            turn="b",
        ),
    )
    assert (stats.added, stats.merged) == (0, 1)
    (only,) = working.records.values()
    assert only.source_turn_ids == ["a", "b"]


def test_out_of_order_older_value_becomes_history_not_current() -> None:
    working = WorkingSet()
    mar, jan = datetime(2023, 3, 5, tzinfo=UTC), datetime(2023, 1, 10, tzinfo=UTC)
    fold(working, cand("User eats fish", mar, slot="diet", value="eats fish", turn="b"))
    fold(working, cand("User is vegetarian", jan, slot="diet", value="vegetarian", turn="a"))
    current = [r for r in working.records.values() if r.is_current]
    assert [r.value for r in current] == ["eats fish"]
    old = next(r for r in working.records.values() if r.value == "vegetarian")
    assert old.valid_until == mar and old.superseded_by == current[0].id


def test_near_duplicate_without_slot_merges_but_events_on_other_days_do_not() -> None:
    working = WorkingSet()
    d1, d2 = datetime(2023, 5, 1, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC)
    fold(working, cand("User went hiking with their sister", d1, kind=MemoryKind.EVENT, turn="a"))
    stats = fold(working, cand("User went hiking with their sister", d2, kind=MemoryKind.EVENT, turn="b"))
    assert stats.added == 1, "the same kind of event on another day is another event"
    stats = fold(working, cand("User went hiking with their sister", d2, kind=MemoryKind.EVENT, turn="c"))
    assert stats.merged == 1


def test_replaying_the_same_candidate_is_a_no_op() -> None:
    working = WorkingSet()
    c = cand("User likes tea", datetime(2023, 1, 1, tzinfo=UTC), slot="pref:tea", value="like")
    fold(working, c)
    stats = fold(working, c)
    assert (stats.added, stats.merged) == (0, 1)
    assert len(working.records) == 1


def test_disabled_consolidation_appends_everything() -> None:
    working = WorkingSet()
    fold(
        working,
        cand("User is vegetarian", datetime(2023, 1, 1, tzinfo=UTC), slot="diet", value="veg", turn="a"),
        enabled=False,
    )
    fold(
        working,
        cand("User eats fish", datetime(2023, 3, 1, tzinfo=UTC), slot="diet", value="fish", turn="b"),
        enabled=False,
    )
    assert all(r.is_current for r in working.records.values()) and len(working.records) == 2


def test_record_ids_are_deterministic() -> None:
    c = cand("User likes tea", datetime(2023, 1, 1, tzinfo=UTC))
    assert record_from_candidate("u", c, now=NOW).id == record_from_candidate("u", c, now=NOW).id
    assert record_from_candidate("u", c, now=NOW).id != record_from_candidate("v", c, now=NOW).id


def test_a_late_value_splits_the_interval_it_falls_in_and_relinks() -> None:
    working = WorkingSet()
    jan, feb, mar = (datetime(2023, m, d, tzinfo=UTC) for m, d in ((1, 10), (2, 1), (3, 5)))
    fold(working, cand("User is vegetarian", jan, slot="diet", value="vegetarian", turn="a"))
    fold(working, cand("User eats fish", mar, slot="diet", value="eats fish", turn="b"))
    stats = fold(working, cand("User is vegan", feb, slot="diet", value="vegan", turn="c"))
    assert (stats.added, stats.superseded) == (1, 1)
    veg, vegan, fish = sorted(working.records.values(), key=lambda r: r.valid_from)
    for moment in (
        datetime(2023, 1, 20, tzinfo=UTC),
        datetime(2023, 2, 15, tzinfo=UTC),
        datetime(2023, 4, 1, tzinfo=UTC),
    ):
        assert len([r for r in (veg, vegan, fish) if r.valid_at(moment)]) == 1
    assert (veg.valid_until, veg.superseded_by) == (feb, vegan.id)
    assert (vegan.supersedes, vegan.valid_until, vegan.superseded_by) == (veg.id, mar, fish.id)
    assert fish.supersedes == vegan.id and fish.is_current


def test_a_late_value_older_than_the_whole_history_is_superseded_by_the_first() -> None:
    working = WorkingSet()
    mar, jan = datetime(2023, 3, 5, tzinfo=UTC), datetime(2023, 1, 10, tzinfo=UTC)
    fold(working, cand("User eats fish", mar, slot="diet", value="eats fish", turn="b"))
    fold(working, cand("User is vegetarian", jan, slot="diet", value="vegetarian", turn="a"))
    veg, fish = sorted(working.records.values(), key=lambda r: r.valid_from)
    assert (veg.valid_until, veg.superseded_by, fish.supersedes) == (mar, fish.id, veg.id)
