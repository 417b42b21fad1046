"""The same pipeline with a language model: scripted valid output is stored; malformed output is counted
and the offline extractor takes over, so no turn is lost."""

from __future__ import annotations

import json

from memagent.config import MemoryConfig
from memagent.testing import scripted_chat_model
from memagent.types import MemoryKind

from .helpers import turn

TURNS = [
    turn("I've been vegetarian for years.", "2023-01-10T12:00", session="s1", turn_id="t1"),
    turn("What's a good name for a cat?", "2023-01-10T12:01", session="s1", turn_id="t2"),
    turn("My sister visited yesterday.", "2023-01-10T12:02", session="s1", turn_id="t3"),
]


def reply(*memories: dict) -> str:
    return json.dumps({"memories": list(memories)})


def test_llm_memories_are_stored_with_provenance_and_one_call_per_session(make_memory) -> None:
    model = scripted_chat_model(
        [
            reply(
                {
                    "kind": "preference",
                    "content": "User follows a vegetarian diet",
                    "slot": "diet",
                    "value": "vegetarian",
                    "polarity": "positive",
                    "confidence": 0.9,
                    "turn_id": "t1",
                    "when": None,
                },
                {
                    "kind": "event",
                    "content": "User's sister came to visit",
                    "slot": None,
                    "value": None,
                    "polarity": None,
                    "confidence": 0.8,
                    "turn_id": "t3",
                    "when": "yesterday",
                },
            )
        ]
    )
    memory = make_memory(config=MemoryConfig(extraction="llm"), chat_model=model)
    report = memory.remember(TURNS)
    assert report.extraction.llm_calls == 1 and len(model.prompts) == 1
    assert "cat" not in str(model.prompts[0][-1].content), "a non-personal turn was sent to the model"
    assert report.extraction.failures == 0
    stored = {m.content: m for m in memory.memories("ana")}
    assert stored["User follows a vegetarian diet"].extractor == "llm"
    assert stored["User follows a vegetarian diet"].source_turn_ids == ["t1"]
    assert stored["User's sister came to visit"].event_time.date().isoformat() == "2023-01-09"
    assert len(memory.memories("ana", kinds=[MemoryKind.TURN])) == 3


def test_malformed_output_is_counted_and_the_rules_take_over(make_memory) -> None:
    model = scripted_chat_model(
        ["Sure! Here are the memories: {not json", '{"memories": [{"kind": "mood"}]}']
    )
    memory = make_memory(config=MemoryConfig(extraction="llm"), chat_model=model)
    report = memory.remember(TURNS)
    ex = report.extraction
    assert (ex.llm_calls, ex.failures, ex.repairs, ex.fallbacks) == (2, 2, 0, 1)
    assert ex.errors, "failures must carry a description"
    contents = " ".join(m.content.lower() for m in memory.memories("ana"))
    assert "vegetarian" in contents and "sister" in contents
    assert {m.extractor for m in memory.memories("ana")} == {"rules"}
    assert len(memory.memories("ana", kinds=[MemoryKind.TURN])) == 3


def test_a_repaired_reply_counts_one_failure_and_one_repair(make_memory) -> None:
    good = reply(
        {
            "kind": "preference",
            "content": "User is vegetarian",
            "slot": "diet",
            "value": "vegetarian",
            "polarity": "positive",
            "confidence": 0.9,
            "turn_id": "t1",
            "when": None,
        }
    )
    model = scripted_chat_model(['```json\n{"memories": [{"turn_id": "nope"}]}\n```', good])
    memory = make_memory(config=MemoryConfig(extraction="llm"), chat_model=model)
    ex = memory.remember(TURNS).extraction
    assert (ex.llm_calls, ex.failures, ex.repairs, ex.fallbacks) == (2, 1, 1, 0)
    assert [m.content for m in memory.memories("ana")] == ["User is vegetarian"]


def test_a_blank_memory_in_the_reply_is_a_validation_failure_not_a_crash(make_memory) -> None:
    blank = reply({"kind": "preference", "content": "   ", "slot": None, "value": None, "polarity": None,
                   "confidence": 0.5, "turn_id": "t1", "when": None})  # fmt: skip
    memory = make_memory(
        config=MemoryConfig(extraction="llm"), chat_model=scripted_chat_model([blank, blank])
    )
    ex = memory.remember(TURNS).extraction
    assert (ex.failures, ex.fallbacks) == (2, 1)
    assert any("vegetarian" in m.content.lower() for m in memory.memories("ana"))
    assert len(memory.memories("ana", kinds=[MemoryKind.TURN])) == 3
