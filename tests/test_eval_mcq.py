"""Multiple choice with scripted LLM answerers: parsing, accuracy with/without memory, controls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memagent.embeddings import CachedEmbedder
from memagent.eval.mcq import build_messages, evaluate_mcq, longest_option, parse_choice
from memagent.eval.systems import build_systems
from memagent.replay.base import BenchmarkData, Question
from memagent.testing import FakeEmbedder, scripted_chat_model
from memagent.tokens import WordCounter
from memagent.types import Role, Turn

OPTIONS = ["Go to a steakhouse", "Cook a vegetable curry", "Order a burger", "Skip dinner"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("B", 1),
        ("(c)", 2),
        ("b.", 1),
        ("Answer: D", 3),
        ("The answer is **C** because the user avoids meat.", 2),
        ("I would pick option b here.", 1),
        ("<think>A looks wrong, D too.</think>\nB) Cook a vegetable curry", 1),
        ("Definitely (B), since they are vegetarian.", 1),
        ("Cook a vegetable curry", 1),  # the option's text
        ("A or B, hard to say", None),  # ambiguous
        ("E", None),  # not an option
        ("I cannot decide.", None),
        ("", None),
    ],
)
def test_parse_choice(reply: str, expected: int | None) -> None:
    assert parse_choice(reply, 4, OPTIONS) == expected


def test_prompt_lists_letters_and_memory() -> None:
    without = build_messages("What should I eat?", OPTIONS)
    with_memory = build_messages("What should I eat?", OPTIONS, "- User is vegetarian")
    assert "A. Go to a steakhouse" in without[1][1] and "D. Skip dinner" in without[1][1]
    assert "vegetarian" not in without[0][1] and "User is vegetarian" in with_memory[0][1]


def test_longest_option_control() -> None:
    assert longest_option(OPTIONS) == 1
    assert longest_option(["ab", "cd", "e"]) == 0


def _data() -> BenchmarkData:
    turns = [
        Turn(
            user_id="u",
            session_id="u:s",
            turn_id=f"t{i}",
            role=role,
            text=text,
            event_time=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
        )
        for i, (role, text) in enumerate([(Role.USER, "I am vegetarian."), (Role.ASSISTANT, "Noted.")])
    ]
    questions = [
        Question(
            id="q1",
            user_id="u",
            text="What should I eat tonight?",
            checkpoint=2,
            options=OPTIONS,
            gold_option=1,
        ),
        Question(
            id="q2",
            user_id="u",
            text="Pick a restaurant.",
            checkpoint=2,
            options=["Steak house", "Green garden, a vegetarian place"],
            gold_option=1,
        ),
        Question(id="q3", user_id="u", text="No options here.", checkpoint=2),
    ]
    return BenchmarkData(name="mcq", turns=turns, questions=questions)


def _system():
    (system,) = build_systems(CachedEmbedder(FakeEmbedder()), WordCounter(), names=["memagent"])
    return system


def test_accuracy_with_and_without_memory_next_to_controls() -> None:
    # replies alternate: q1 without, q1 with, q2 without, q2 with
    model = scripted_chat_model(["A", "Answer: B", "no idea", "B"])
    result = evaluate_mcq(_data(), _system(), model, budget=100)
    assert result.n == 2
    assert result.accuracy_without_memory == 0.0
    assert result.accuracy_with_memory == 1.0
    assert result.parse_failures_without_memory == 1 and result.parse_failures_with_memory == 0
    assert result.chance == pytest.approx((1 / 4 + 1 / 2) / 2)
    assert result.longest_option == 1.0  # both gold options are the longest: the control to beat
    assert all(item.context_tokens > 0 for item in result.items)
    assert result.to_dict()["items"][0]["question_id"] == "q1"


class _Broken:
    def invoke(self, messages: object) -> object:
        raise RuntimeError("rate limited")


def test_model_errors_are_counted_as_parse_failures() -> None:
    result = evaluate_mcq(_data(), _system(), _Broken(), budget=100)
    assert result.accuracy_with_memory == 0.0
    assert result.parse_failures_with_memory == 2 and result.parse_failures_without_memory == 2
