"""The library without the graph: remember, recall, profile, history, forget."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from memagent.config import MemoryConfig
from memagent.errors import ConfigError
from memagent.types import MemoryKind, RecordFilter, Role

from .helpers import turn


def test_vegetarian_then_fish_supersedes_and_keeps_history(memory) -> None:
    memory.remember(
        [turn("I've been vegetarian for years.", "2023-01-10T12:00", session="jan", turn_id="j1")]
    )
    memory.remember([turn("I started eating fish again.", "2023-03-05T12:00", session="mar", turn_id="m1")])

    current = [r for r in memory.memories("ana") if r.slot == "diet"]
    assert len(current) == 1 and "fish" in current[0].content.lower()

    february = [
        r for r in memory.memories("ana", as_of=datetime(2023, 2, 15, tzinfo=UTC)) if r.slot == "diet"
    ]
    assert len(february) == 1 and "vegetarian" in february[0].content.lower()

    old, new = memory.history("ana", "diet")
    assert old.superseded_by == new.id and new.supersedes == old.id
    assert old.valid_until == new.valid_from

    profile = memory.profile("ana", "what should I cook for dinner?", budget=256)
    assert "fish" in profile.text.lower()
    diet_lines = [
        line.text.lower() for line in profile.lines if new.id in line.record_ids or old.id in line.record_ids
    ]
    assert diet_lines and all("vegetarian" not in text for text in diet_lines)
    assert all(line.record_ids for line in profile.lines)


def test_relative_time_resolves_against_the_turn_not_the_clock(memory) -> None:
    memory.remember([turn("My sister visited yesterday.", "2023-05-08T19:00", turn_id="t1")])
    events = memory.memories("ana", kinds=[MemoryKind.EVENT])
    assert len(events) == 1
    assert events[0].event_time.date() == date(2023, 5, 7)
    assert events[0].record_time.date() != date(2023, 5, 7)  # stored today, said then
    assert events[0].source_turn_ids == ["t1"]


def test_remember_is_idempotent_by_turn_id(memory) -> None:
    turns = [
        turn("I love hiking in the mountains.", "2023-01-01T10:00", turn_id="a"),
        turn("I'm allergic to peanuts.", "2023-01-01T10:01", turn_id="b"),
        turn("What's the capital of France?", "2023-01-01T10:02", turn_id="c"),
    ]
    first = memory.remember(turns)
    everything = list(memory.store.scan("ana", RecordFilter(current_only=False)))
    second = memory.remember(turns)
    assert first.turns_new == 3 and second.turns_new == 0 and second.turns_known == 3
    assert list(memory.store.scan("ana", RecordFilter(current_only=False))) == everything


def test_a_turn_id_repeated_with_another_text_is_reported_and_the_first_text_kept(memory) -> None:
    first = memory.remember([turn("I love hiking.", "2023-01-01T10:00", turn_id="a")])
    again = memory.remember(
        [
            turn("I love hiking.", "2023-01-01T10:00", turn_id="a"),  # a plain replay
            turn("I hate hiking.", "2023-01-01T10:00", turn_id="a"),  # the same id, another text
            turn("I moved to Lyon.", "2023-01-01T10:01", turn_id="b"),
            turn("I moved to Paris.", "2023-01-01T10:01", turn_id="b"),  # repeated within the batch
        ]
    )
    assert first.turns_conflicting == []
    assert again.turns_new == 1 and again.turns_known == 3
    assert again.turns_conflicting == ["a", "b"]
    twice = memory.remember([turn(f"I hate hiking {n}.", "2023-01-01T10:00", turn_id="a") for n in (1, 2)])
    assert twice.turns_conflicting == ["a"]
    texts = sorted(r.content for r in memory.store.scan("ana", RecordFilter(kinds=(MemoryKind.TURN,))))
    assert texts == ["user: I love hiking.", "user: I moved to Lyon."]


def test_a_turn_at_the_earliest_time_may_speak_of_the_day_before(memory) -> None:
    said = turn("Last night I ran my first marathon.", "0001-01-02T00:00", turn_id="a")
    assert memory.remember([said]).turns_new == 1
    assert memory.profile("ana", "marathon").text


def test_a_crash_during_the_write_is_repaired_by_replaying(make_memory) -> None:
    """Memories and the turn ledger land in one write: a crash leaves neither, a replay stores both once."""
    from memagent.stores import InProcessStore

    class CrashingStore(InProcessStore):
        crash = True

        def put(self, records, embeddings, *, updated=()):
            if self.crash:
                raise RuntimeError("killed")
            super().put(records, embeddings, updated=updated)

    store = CrashingStore()
    mem = make_memory(store=store)
    turns = [turn("I love jazz and I hate country music.", "2023-01-01T10:00", turn_id="a")]
    with pytest.raises(RuntimeError):
        mem.remember(turns)
    assert list(store.scan("ana", RecordFilter(current_only=False))) == []
    store.crash = False
    first = mem.remember(turns)
    again = mem.remember(turns)
    assert first.turns_new == 1 and again.turns_known == 1
    records = list(store.scan("ana", RecordFilter(current_only=False)))
    contents = [r.content for r in records]
    assert len(contents) == len(set(contents)) and sum(r.kind == MemoryKind.TURN for r in records) == 1
    assert any("jazz" in c for c in contents if not c.startswith("User:"))


def test_users_never_mix(memory) -> None:
    memory.remember([turn("I love sushi.", "2023-01-01T10:00", user="ana", turn_id="a")])
    memory.remember([turn("I hate sushi.", "2023-01-01T10:00", user="bob", turn_id="a")])
    ana = memory.recall("ana", "sushi")
    bob = memory.recall("bob", "sushi")
    assert ana and bob
    assert all(h.record.user_id == "ana" for h in ana) and all(h.record.user_id == "bob" for h in bob)
    assert "hate" not in memory.profile("ana", "sushi").text.lower()
    memory.forget("ana")
    assert memory.users() == ["bob"]
    assert memory.recall("ana", "sushi") == []


def test_non_personal_turns_cost_nothing(memory) -> None:
    report = memory.remember(
        [
            turn(
                "What's the difference between baking soda and baking powder?",
                "2023-01-01T10:00",
                turn_id="q",
            ),
            turn("Baking powder contains an acid.", "2023-01-01T10:01", turn_id="r", role=Role.ASSISTANT),
        ]
    )
    assert report.added == 0 and report.turns_new == 2
    assert memory.memories("ana") == []


def test_extraction_none_still_keeps_turns_as_episodic_memory(make_memory) -> None:
    mem = make_memory(config=MemoryConfig(extraction="none"))
    mem.remember([turn("I love hiking.", "2023-01-01T10:00", turn_id="a")])
    assert mem.memories("ana") == []
    hits = mem.recall("ana", "hiking")
    assert hits and hits[0].record.kind == MemoryKind.TURN


def test_llm_extraction_needs_a_model(make_memory) -> None:
    with pytest.raises(ConfigError, match="chat model"):
        make_memory(config=MemoryConfig(extraction="llm"))


def test_export_then_import_restores_everything(make_memory) -> None:
    source = make_memory()
    source.remember([turn("I've been vegetarian for years.", "2023-01-10T12:00", turn_id="j1")])
    source.remember([turn("I started eating fish again.", "2023-03-05T12:00", turn_id="m1")])
    exported = list(source.export())
    target = make_memory()
    assert target.import_records(exported) == len(exported)
    assert sorted(r.model_dump_json() for r in target.export()) == sorted(
        r.model_dump_json() for r in exported
    )
    assert (
        target.remember([turn("I started eating fish again.", "2023-03-05T12:00", turn_id="m1")]).turns_new
        == 0
    )


def test_constraints_survive_a_small_budget_for_an_unrelated_query(memory) -> None:
    memory.remember(
        [
            turn("I'm allergic to peanuts.", "2023-01-01T10:00", turn_id="a"),
            *[
                turn(f"I love {x}.", "2023-01-02T10:00", turn_id=f"b{i}")
                for i, x in enumerate(
                    ["jazz", "opera", "chess", "tennis", "sailing", "poetry", "baking", "anime"]
                )
            ],
        ]
    )
    profile = memory.profile("ana", "recommend a concert", budget=64)
    assert "peanut" in profile.text.lower() and profile.tokens <= 64


def test_profile_leaves_out_raw_turns_that_only_said_something_superseded(memory) -> None:
    memory.remember([turn("I love sushi.", "2023-01-01T10:00", session="a", turn_id="old")])
    memory.remember([turn("I hate sushi now.", "2023-03-01T10:00", session="b", turn_id="new")])
    text = memory.profile("ana", "sushi tonight?", budget=1024).text.lower()
    assert "hate" in text and "i love sushi" not in text and "user loves sushi" not in text
    february = memory.profile("ana", "sushi tonight?", budget=1024, as_of=datetime(2023, 2, 1, tzinfo=UTC))
    assert "love" in february.text.lower() and "hate" not in february.text.lower()


def test_a_late_arriving_value_never_leaves_two_values_valid_at_once(memory) -> None:
    memory.remember([turn("I've been vegetarian for years.", "2023-01-10T12:00", session="a", turn_id="a")])
    memory.remember([turn("I started eating fish again.", "2023-03-05T12:00", session="c", turn_id="c")])
    memory.remember([turn("I'm vegan now.", "2023-02-01T12:00", session="b", turn_id="b")])
    for day in (
        datetime(2023, 1, 20, tzinfo=UTC),
        datetime(2023, 2, 15, tzinfo=UTC),
        datetime(2023, 4, 1, tzinfo=UTC),
    ):
        assert len([r for r in memory.memories("ana", as_of=day) if r.slot == "diet"]) == 1
    assert (
        "vegan"
        in next(
            r for r in memory.memories("ana", as_of=datetime(2023, 2, 15, tzinfo=UTC)) if r.slot == "diet"
        ).content.lower()
    )


def test_relative_dates_are_the_speakers_local_dates(memory) -> None:
    memory.remember([turn("My sister visited yesterday.", "2023-05-08T01:00:00+02:00", turn_id="t1")])
    (event,) = memory.memories("ana", kinds=[MemoryKind.EVENT])
    assert event.event_time.date() == date(2023, 5, 7)


def test_one_memory_is_read_corrected_and_deleted_by_id(memory) -> None:
    from memagent.errors import InputError

    memory.remember([turn("I'm allergic to peanuts.", "2023-01-01T10:00", turn_id="a")])
    memory.remember([turn("I love hiking in the Alps.", "2023-01-02T10:00", turn_id="b")])
    [allergy] = [r for r in memory.memories("ana") if r.slot == "allergy:peanut"]
    assert memory.get("ana", allergy.id) == allergy and memory.get("bob", allergy.id) is None

    fixed = memory.correct(
        "ana", allergy.id, "User is allergic to cashews", at=datetime(2023, 2, 1, tzinfo=UTC)
    )
    assert (
        fixed.slot == "allergy:peanut" and fixed.supersedes == allergy.id and fixed.extractor == "correction"
    )
    current = [r.content for r in memory.memories("ana") if r.slot == "allergy:peanut"]
    assert current == ["User is allergic to cashews"]
    history = memory.history("ana", "allergy:peanut")
    assert [r.content for r in history] == ["User is allergic to peanuts", "User is allergic to cashews"]
    assert history[0].valid_until == datetime(2023, 2, 1, tzinfo=UTC)
    assert "cashews" in memory.profile("ana", "snacks?", budget=128).text
    with pytest.raises(InputError, match="no longer holds"):
        memory.correct("ana", allergy.id, "User is allergic to almonds")
    with pytest.raises(InputError, match="raw turn"):
        memory.correct("ana", next(r.id for r in memory.export("ana") if r.kind is MemoryKind.TURN), "x")

    assert memory.delete("ana", fixed.id) and not memory.delete("ana", fixed.id)
    [left] = memory.history("ana", "allergy:peanut")
    assert left.id == allergy.id and left.superseded_by is None  # the chain no longer names the deleted one
    assert all(h.record.id != fixed.id for h in memory.recall("ana", "cashews"))
    assert "cashews" not in memory.profile("ana", "snacks?", budget=128).text


def test_a_request_to_forget_deletes_what_it_names_and_is_not_itself_remembered(memory) -> None:
    memory.remember([turn("I hate mushrooms.", "2023-01-01T10:00", turn_id="a")])
    memory.remember([turn("I love olives and I live in Lyon.", "2023-01-02T10:00", turn_id="b")])
    report = memory.remember([turn("Please forget that I hate mushrooms.", "2023-01-03T10:00", turn_id="c")])
    assert report.forgotten == 1 and report.added == 0  # the request did not become "User hates mushrooms"
    assert sorted(r.content for r in memory.memories("ana")) == ["User lives in Lyon", "User loves olives"]
    said = [r.content for r in memory.export("ana") if r.kind is MemoryKind.TURN]
    assert not any("I hate mushrooms." in text and "forget" not in text for text in said)  # its turn went too
    assert any("olives" in text for text in said)  # a turn that said something else remembered stays
    # a statement that holds no memory of the user's, or names another value, deletes nothing
    assert memory.forget_matching("ana", "I love mushrooms") == []
    assert memory.forget_matching("ana", "the weather") == []
    assert [r.content for r in memory.forget_matching("ana", "I love olives")] == ["User loves olives"]
