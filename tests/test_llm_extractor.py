"""The LLM extractor with scripted chat models: parsing, one repair, fallback to the rules, batching."""

import json
from datetime import UTC, datetime
from typing import Any

from memagent.extraction import LLMExtractor, RuleExtractor
from memagent.extraction.llm import parse_reply
from memagent.interfaces import Extractor
from memagent.testing.fakes import scripted_chat_model
from memagent.types import MemoryKind, Polarity, Role, Turn

WHEN = datetime(2023, 5, 8, 10, tzinfo=UTC)


def _turn(turn_id: str, text: str, *, session: str = "s1", role: Role = Role.USER) -> Turn:
    return Turn(user_id="u", session_id=session, turn_id=turn_id, role=role, text=text, event_time=WHEN)


def _reply(*memories: dict[str, Any]) -> str:
    return json.dumps({"memories": list(memories)})


class _Counting:
    """Wraps a chat model and records every call's messages."""

    def __init__(self, model: Any):
        self.model = model
        self.calls: list[list[Any]] = []

    def invoke(self, messages: list[Any]) -> Any:
        self.calls.append(list(messages))
        return self.model.invoke(messages)


VALID = _reply(
    {"kind": "preference", "content": "User is vegetarian", "slot": "diet", "value": "vegetarian",
     "polarity": "positive", "confidence": 0.9, "turn_id": "t1", "when": None},
    {"kind": "event", "content": "User's sister visited", "slot": None, "value": None, "polarity": None,
     "confidence": 0.8, "turn_id": "t2", "when": "yesterday"},
)  # fmt: skip


def test_is_an_extractor() -> None:
    assert isinstance(LLMExtractor(scripted_chat_model([VALID])), Extractor)


def test_valid_json_becomes_candidates_with_provenance() -> None:
    model = _Counting(scripted_chat_model([f"Here you go:\n```json\n{VALID}\n```"]))
    turns = [_turn("t1", "I'm vegetarian."), _turn("t2", "My sister visited yesterday.")]
    result = LLMExtractor(model).extract(turns)
    assert (result.llm_calls, result.failures, result.repairs, result.fallbacks) == (1, 0, 0, 0)
    diet, visit = result.candidates
    assert (diet.slot, diet.value, diet.polarity, diet.extractor) == (
        "diet",
        "vegetarian",
        Polarity.POSITIVE,
        "llm",
    )
    assert diet.source_turn_ids == ["t1"] and diet.session_id == "s1" and diet.event_time == WHEN
    assert visit.kind is MemoryKind.EVENT and visit.source_turn_ids == ["t2"]
    assert visit.event_time.date().isoformat() == "2023-05-07"  # "yesterday" resolved against the turn
    prompt = model.calls[0][1].content
    assert "[t1]" in prompt and "[t2]" in prompt and "2023-05-08" in prompt


def test_iso_when_is_used() -> None:
    reply = _reply({"kind": "event", "content": "User graduated", "turn_id": "t1", "when": "2020-06-01"})
    result = LLMExtractor(scripted_chat_model([reply])).extract([_turn("t1", "I graduated in June 2020")])
    assert result.candidates[0].event_time == datetime(2020, 6, 1, tzinfo=UTC)


def test_malformed_then_repaired() -> None:
    model = _Counting(scripted_chat_model(["{not json", VALID]))
    turns = [_turn("t1", "I'm vegetarian."), _turn("t2", "My sister visited yesterday.")]
    result = LLMExtractor(model).extract(turns)
    assert (result.llm_calls, result.failures, result.repairs, result.fallbacks) == (2, 1, 1, 0)
    assert len(result.candidates) == 2 and all(c.extractor == "llm" for c in result.candidates)
    repair = model.calls[1]
    assert repair[-2].content == "{not json" and "invalid JSON" in repair[-1].content
    assert len(result.errors) == 1


def test_unknown_turn_id_is_a_validation_error() -> None:
    bad = _reply({"kind": "fact", "content": "User is a nurse", "turn_id": "nope"})
    good = _reply({"kind": "fact", "content": "User is a nurse", "slot": "job", "turn_id": "t1"})
    model = _Counting(scripted_chat_model([bad, good]))
    result = LLMExtractor(model).extract([_turn("t1", "I work as a nurse")])
    assert result.repairs == 1 and result.candidates[0].slot == "job"
    assert "unknown turn_id" in model.calls[1][-1].content


def test_malformed_twice_falls_back_to_rules() -> None:
    model = _Counting(scripted_chat_model(["sorry, I can't", '{"memories": [{"kind": "opinion"}]}']))
    turns = [_turn("t1", "I don't like spicy food."), _turn("t2", "I love jazz.")]
    result = LLMExtractor(model).extract(turns)
    assert (result.llm_calls, result.failures, result.repairs, result.fallbacks) == (2, 2, 0, 1)
    assert len(result.errors) == 2
    by_slot = {c.slot: c for c in result.candidates}
    assert by_slot["pref:" + "spici food"].polarity is Polarity.NEGATIVE
    assert by_slot["pref:jazz"].extractor == "rules" and by_slot["pref:jazz"].source_turn_ids == ["t2"]
    assert result.turns_seen == 2  # the fallback's counts do not double the turns


def test_no_fallback_counts_but_stores_nothing() -> None:
    result = LLMExtractor(scripted_chat_model(["x", "y"]), fallback=None).extract(
        [_turn("t1", "I love jazz")]
    )
    assert result.candidates == [] and result.failures == 2 and result.fallbacks == 0


def test_model_exception_goes_to_fallback() -> None:
    class Broken:
        def invoke(self, messages: list[Any]) -> Any:
            raise TimeoutError("model down")

    result = LLMExtractor(Broken()).extract([_turn("t1", "I love jazz")])
    assert result.fallbacks == 1 and result.failures == 1 and "TimeoutError" in result.errors[0]
    assert [c.slot for c in result.candidates] == ["pref:jazz"]


def test_one_call_per_session_batch_and_prefilter() -> None:
    model = _Counting(scripted_chat_model([_reply()]))
    turns = [
        _turn("a1", "I love hiking", session="A"),
        _turn("a2", "Sure, here is a plan.", session="A", role=Role.ASSISTANT),
        _turn("a3", "The weather is nice.", session="A"),
        _turn("a4", "My dog is old", session="A"),
        _turn("b1", "I'm a nurse", session="B"),
    ]
    result = LLMExtractor(model, batch_turns=20).extract(turns)
    assert result.llm_calls == 2 == len(model.calls)
    assert result.turns_seen == 5 and result.turns_skipped == 2
    first = model.calls[0][1].content
    assert (
        "[a1]" in first
        and "[a4]" in first
        and "[a3]" not in first
        and "[a2]" not in first
        and "[b1]" not in first
    )


def test_batches_split_long_sessions() -> None:
    model = _Counting(scripted_chat_model([_reply()]))
    turns = [_turn(f"t{i}", f"I like thing number {i}") for i in range(5)]
    assert LLMExtractor(model, batch_turns=2).extract(turns).llm_calls == 3


def test_parse_reply_tolerates_prose_and_bare_list() -> None:
    memories = parse_reply(
        'Sure! [{"kind": "Fact", "content": "User is 30", "turn_id": "t1", "slot": "age"}]', ["t1"]
    )
    assert memories[0].kind == "fact" and memories[0].slot == "age"


def test_default_fallback_is_rules() -> None:
    assert isinstance(LLMExtractor(scripted_chat_model([_reply()])).fallback, RuleExtractor)
