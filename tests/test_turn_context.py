"""A raw turn is embedded after the turn before it in its session; its text stays its own."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from memagent._turns import PREVIOUS_TURN, embedding_texts, turn_record, turn_record_id
from memagent.config import MemoryConfig
from memagent.memory import Memory
from memagent.types import MemoryRecord, Role, Turn

from .helpers import turn

ASK = turn(
    "Did you go to the gallery opening?", "2023-05-01T10:00", session="s1", turn_id="ask", role=Role.ASSISTANT
)
ANSWER = turn("Yes, last Saturday with my sister.", "2023-05-01T10:01", session="s1", turn_id="answer")
LATER = turn("It was crowded but fun.", "2023-05-01T10:02", session="s1", turn_id="later")
ELSEWHERE = turn("I need a new bike.", "2023-05-03T09:00", session="s2", turn_id="elsewhere")


def _record(memory: Memory, turn_id: str) -> MemoryRecord:
    (found,) = memory.store.get("ana", [turn_record_id("ana", turn_id)])
    return found


def _stored_as(memory: Memory, turn_id: str, text: str) -> float:
    """Cosine of the turn's stored vector to the embedding of ``text``."""
    vector = memory.embedder.embed([text])[0]
    return memory.store.similarity("ana", vector, [turn_record_id("ana", turn_id)])[
        turn_record_id("ana", turn_id)
    ]


def _content(said: Turn) -> str:
    return turn_record(said, now=ASK.event_time).content


def test_a_turn_is_embedded_after_the_turn_it_answers(memory: Memory) -> None:
    memory.remember([ASK, ANSWER])
    answer = _record(memory, "answer")
    assert answer.attributes[PREVIOUS_TURN] == "ask"
    assert answer.content == _content(ANSWER)  # the text, BM25 terms and profile line stay its own
    assert PREVIOUS_TURN not in _record(memory, "ask").attributes
    assert _stored_as(memory, "answer", f"{_content(ASK)}\n{_content(ANSWER)}") == pytest.approx(
        1.0, abs=1e-5
    )
    assert _stored_as(memory, "answer", _content(ANSWER)) < 0.99


def test_the_turn_before_comes_from_the_store_but_never_from_another_session(memory: Memory) -> None:
    memory.remember([ASK])
    memory.remember([ANSWER])  # a later write: the turn before it is looked up
    memory.remember([ELSEWHERE, LATER])  # given out of order: each finds its own session's turn
    assert _record(memory, "answer").attributes[PREVIOUS_TURN] == "ask"
    assert _record(memory, "later").attributes[PREVIOUS_TURN] == "answer"
    assert PREVIOUS_TURN not in _record(memory, "elsewhere").attributes  # the newest stored turn is s1's


def test_switched_off_a_turn_is_embedded_alone(make_memory: Callable[..., Memory]) -> None:
    memory = make_memory(config=MemoryConfig(turn_context=False))
    memory.remember([ASK, ANSWER])
    assert PREVIOUS_TURN not in _record(memory, "answer").attributes
    assert _stored_as(memory, "answer", _content(ANSWER)) == pytest.approx(1.0, abs=1e-5)


def test_an_import_embeds_each_turn_as_it_was_first_stored(make_memory: Callable[..., Memory]) -> None:
    source = make_memory()
    source.remember([ASK, ANSWER, LATER])
    exported = list(source.export())  # oldest first
    assert [r.attributes.get("turn_id") for r in exported] == ["ask", "answer", "later"]
    target = make_memory()
    target.import_records(exported[:1])
    target.import_records(exported[1:])  # "answer" finds "ask" in the store, "later" finds "answer" here
    expected = {
        "ask": _content(ASK),
        "answer": f"{_content(ASK)}\n{_content(ANSWER)}",
        "later": f"{_content(ANSWER)}\n{_content(LATER)}",
    }
    for turn_id, text in expected.items():
        assert _stored_as(source, turn_id, text) == pytest.approx(1.0, abs=1e-5)
        assert _stored_as(target, turn_id, text) == pytest.approx(1.0, abs=1e-5)


def test_a_turn_record_without_a_turn_id_is_embedded_alone(memory: Memory) -> None:
    memory.remember([ASK])
    bare = turn_record(ANSWER, now=ANSWER.event_time)
    bare = bare.model_copy(update={"attributes": {"role": "user"}})  # no turn id, names no earlier turn
    linked = turn_record(LATER, now=LATER.event_time)
    linked = linked.model_copy(update={"attributes": {**linked.attributes, PREVIOUS_TURN: "ask"}})
    texts = embedding_texts(memory.store, "ana", [bare, linked])
    assert texts == [bare.content, f"{_content(ASK)}\n{linked.content}"]
