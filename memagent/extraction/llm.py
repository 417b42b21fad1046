"""`LLMExtractor`: asks any LangChain chat model for memories as JSON; repairs once, then falls back.

Works with plain text output (no tool calling or structured-output support needed), so local and fake
models work too. Per session, the personal user turns (see `is_personal`) are sent in batches of
``batch_turns`` turns, one call per batch. The reply is parsed leniently (code fences and leading prose
are tolerated) and validated with pydantic, including that every ``turn_id`` is one of the batch. An
invalid reply gets one repair call that shows the model its output and the error; if that also fails
the batch goes to the fallback extractor (the rules by default), so no turn is lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from memagent.extraction.rules import RuleExtractor, carries_memories
from memagent.interfaces import ExtractionResult, Extractor
from memagent.timeparse import resolve_when
from memagent.types import Candidate, MemoryKind, Polarity, Turn

__all__ = ["SYSTEM_PROMPT", "LLMExtractor", "parse_reply"]

SYSTEM_PROMPT = """You extract long-term memories about the USER from a conversation, for a personal
assistant.

Record only what the user says about themselves or their life, stated or clearly implied:
- "preference": likes, dislikes, habits, routines, constraints (diet, allergies, health, budget),
  and changes to them.
- "event": something that happened or will happen in the user's life (or to people and pets close to them).
- "fact": stable facts about the user: name, age, job, where they live, family, pets, education.
Ignore questions, requests, small talk, and anything the assistant said. Do not invent details.

Reply with JSON only, no other text, in exactly this shape:
{"memories": [{"kind": "preference|event|fact", "content": "...", "slot": "...", "value": "...",
  "polarity": "positive|negative|neutral", "confidence": 0.0-1.0, "turn_id": "...", "when": "..."}]}

Field rules:
- content: one short plain sentence in the third person, starting with "User" ("User is vegetarian",
  "User does not like spicy food", "User's sister visited").
- slot: what the memory is about, so a later value can replace it: "diet", "job", "home", "name", "age",
  "allergy:<thing>", "pref:<thing>" for a like or dislike of one thing, "habit:<activity>"; null for events.
- value: the current value for the slot ("vegetarian", "like", "dislike", "nurse"); may be null.
- polarity: direction of a preference; null for facts and events.
- turn_id: the id of the turn the memory comes from, copied exactly from the input.
- when: for events, the date it happened or will happen, as an ISO date (YYYY-MM-DD) or the time phrase
  the user used ("yesterday", "last week"); otherwise null.
If there is nothing to remember, reply {"memories": []}."""

_REPAIR = (
    "Your reply could not be used: {error}\n"
    'Reply again with JSON only, in the shape {{"memories": [...]}}, using only the turn ids given.'
)
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


class _Memory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    kind: Literal["preference", "event", "fact"]
    content: str = Field(min_length=1)
    slot: str | None = None
    value: str | None = None
    polarity: Polarity | None = None
    confidence: float = Field(default=0.7, ge=0.0, le=1.0)
    turn_id: str = Field(min_length=1)
    when: str | None = None
    ends_slot: bool = False

    @field_validator("content", mode="before")
    @classmethod
    def _strip_content(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("kind", mode="before")
    @classmethod
    def _lower_kind(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("polarity", mode="before")
    @classmethod
    def _lower_polarity(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return value or None
        return value

    @field_validator("slot", "value", "when", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value or None
        return str(value)


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    memories: list[_Memory]


def _json_text(text: str) -> Any:
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1)
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ValueError("no JSON object found in the reply")
    value, _ = json.JSONDecoder().raw_decode(text[min(starts) :])
    return value


def parse_reply(text: str, turn_ids: Sequence[str]) -> list[_Memory]:
    """Parse and validate a model reply; raises ValueError (with a short reason) when it cannot be used.

    Tolerates code fences, leading prose and a bare list of memories. Every ``turn_id`` must be one of
    ``turn_ids``.
    """
    try:
        data = _json_text(text)
    except (ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from exc
    if isinstance(data, list):
        data = {"memories": data}
    try:
        reply = _Reply.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"schema error: {exc.errors(include_url=False)[:3]}") from exc
    unknown = sorted({m.turn_id for m in reply.memories} - set(turn_ids))
    if unknown:
        raise ValueError(f"unknown turn_id(s) {unknown}; valid ids are {list(turn_ids)}")
    return reply.memories


def _content(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def _event_time(when: str | None, turn: Turn) -> datetime:
    if not when:
        return turn.event_time
    text = when.strip()
    try:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=turn.event_time.tzinfo)
    except ValueError:
        pass
    try:
        day = date.fromisoformat(text[:10])
        return datetime(day.year, day.month, day.day, tzinfo=turn.event_time.tzinfo)
    except ValueError:
        pass
    resolved = resolve_when(text, turn.event_time)
    return resolved.when if resolved else turn.event_time


def _render(turns: Sequence[Turn]) -> str:
    lines = ["Conversation turns by the user (id, date, text):"]
    for turn in turns:
        day = turn.event_time.strftime("%Y-%m-%d %A")
        lines.append(f"[{turn.turn_id}] ({day}) {turn.text}")
    return "\n".join(lines)


_RULES = RuleExtractor()


class LLMExtractor:
    """Extractor backed by any LangChain chat model, with one repair call and a fallback extractor.

    Args:
        chat_model: A LangChain ``BaseChatModel`` (anything with ``invoke(messages)``).
        fallback: Runs on a batch whose output stays invalid after the repair; None drops such batches
            (they are still counted in ``failures`` and ``errors``).
        batch_turns: Most personal turns of one session sent in one call.
    """

    name = "llm"

    def __init__(self, chat_model: Any, *, fallback: Extractor | None = _RULES, batch_turns: int = 20):
        if batch_turns < 1:
            raise ValueError("batch_turns must be at least 1")
        self.chat_model = chat_model
        self.fallback = fallback
        self.batch_turns = batch_turns

    def extract(self, turns: Sequence[Turn]) -> ExtractionResult:
        """Extract candidates from ``turns``: one model call per batch of personal user turns per session."""
        result = ExtractionResult(turns_seen=len(turns))
        sessions: dict[str, list[Turn]] = {}
        for turn in turns:
            if not carries_memories(turn):
                result.turns_skipped += 1
                continue
            sessions.setdefault(turn.session_id, []).append(turn)
        for session_turns in sessions.values():
            for i in range(0, len(session_turns), self.batch_turns):
                self._batch(session_turns[i : i + self.batch_turns], result)
        return result

    def _call(self, messages: list[Any], result: ExtractionResult) -> str:
        result.llm_calls += 1
        return _content(self.chat_model.invoke(messages))

    def _batch(self, batch: list[Turn], result: ExtractionResult) -> None:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        ids = [t.turn_id for t in batch]
        messages: list[Any] = [SystemMessage(SYSTEM_PROMPT), HumanMessage(_render(batch))]
        memories: list[_Memory] | None = None
        try:
            reply = self._call(messages, result)
            try:
                memories = parse_reply(reply, ids)
            except ValueError as exc:
                result.failures += 1
                result.errors.append(f"llm output invalid ({ids[0]}..): {exc}"[:500])
                messages += [AIMessage(reply), HumanMessage(_REPAIR.format(error=str(exc)[:800]))]
                repaired = self._call(messages, result)
                try:
                    memories = parse_reply(repaired, ids)
                    result.repairs += 1
                except ValueError as exc2:
                    result.failures += 1
                    result.errors.append(f"llm repair invalid ({ids[0]}..): {exc2}"[:500])
        except Exception as exc:
            result.failures += 1
            result.errors.append(f"llm call failed ({ids[0]}..): {type(exc).__name__}: {exc}"[:500])
            memories = None
        if memories is None:
            if self.fallback is not None:
                result.fallbacks += 1
                result.candidates.extend(self.fallback.extract(batch).candidates)
            return
        by_id = {t.turn_id: t for t in batch}
        for memory in memories:
            turn = by_id[memory.turn_id]
            result.candidates.append(
                Candidate(
                    kind=MemoryKind(memory.kind),
                    content=memory.content.strip(),
                    slot=memory.slot,
                    value=memory.value,
                    polarity=memory.polarity,
                    confidence=memory.confidence,
                    event_time=_event_time(memory.when, turn),
                    source_turn_ids=[turn.turn_id],
                    session_id=turn.session_id,
                    extractor=self.name,
                    ends_slot=memory.ends_slot,
                )
            )
