"""The agent's nodes: extract -> consolidate -> retrieve -> build_profile -> respond.

Each factory closes over a `Memory` and returns a LangGraph node (state in, partial state out).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import TypeAdapter

from memagent.errors import InputError
from memagent.interfaces import ExtractionResult, TokenCounter
from memagent.limits import InputLimits, check_id
from memagent.memory import Memory
from memagent.profile import pack_to_budget
from memagent.types import Role, ScoredRecord, Turn

from .responders import build_messages, offline_reply
from .state import AgentState, MemoryContext

__all__ = [
    "DEFAULT_SESSION",
    "Node",
    "RetrievalCache",
    "make_build_profile",
    "make_consolidate",
    "make_extract",
    "finish",
    "make_identify",
    "run_identity",
    "make_respond",
    "make_retrieve",
    "new_turns",
]

Node = Callable[[AgentState], dict[str, Any]]
_TURNS = TypeAdapter(list[Turn])
_EXTRACTION = TypeAdapter(ExtractionResult)
"""Graph state holds JSON: the new turns and the extraction travel from node to node through these, whole."""


DEFAULT_SESSION = "default"
"""The session of a run that names none (no ``session_id`` in the state, context or config, no thread)."""


def run_identity(
    context: Any, config: Any, limits: InputLimits, *, user: str | None = None, session: str | None = None
) -> tuple[str, str]:
    """(user, session) of a run: the run context (`MemoryContext`, or any object or dict with
    ``user_id``/``session_id``), else ``config["configurable"]`` (``user_id``; the session from
    ``session_id`` or ``thread_id``), else ``user``/``session`` (the graph state: the input, or what the
    thread's checkpoint kept); the session defaults to `DEFAULT_SESSION`.

    Raises:
        InputError: No user is named anywhere; the run names another user than the one the thread's
            state holds (a thread is one user's conversation); or an id breaks ``limits``.
    """
    configurable = (config or {}).get("configurable") or {}
    named = _named(context, "user_id") or configurable.get("user_id")
    if named and user and named != user:
        raise InputError(
            f"this thread is the conversation of user {user!r}, not {named!r}: give each user a thread",
            field="user_id",
        )
    user = named or user
    if not user:
        raise InputError(
            "no user for this run: give user_id in the input, in the run context "
            "(context=MemoryContext(user_id=...)) or in config['configurable']",
            field="user_id",
        )
    session = (
        _named(context, "session_id")
        or configurable.get("session_id")
        or configurable.get("thread_id")
        or session
        or DEFAULT_SESSION
    )
    for name, value in (("user_id", user), ("session_id", session)):
        if not isinstance(value, str):
            raise InputError(f"expected a string, got {type(value).__name__}", field=name)
        check_id(value, name, limits)
    return user, session


def _named(context: Any, name: str) -> Any:
    return context.get(name) if isinstance(context, dict) else getattr(context, name, None)


def make_identify(limits: InputLimits) -> Callable[..., dict[str, Any]]:
    """Node: settle whose memory this run is for (`run_identity`), so that a messages-only input works as
    in any LangGraph graph, and drop what an earlier run of the thread left of its own turn (its new
    turns and their extraction), which a checkpointer keeps."""

    def identify(
        state: AgentState, config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        user, session = run_identity(
            runtime.context, config, limits, user=state.get("user_id"), session=state.get("session_id")
        )
        return {"user_id": user, "session_id": session, "turns": [], "extraction": {}}

    return identify


def finish(state: AgentState) -> dict[str, Any]:
    """Node, last: forget when this run's message was said, so that the thread's next run, whose input
    may give no time, is not dated by this one (the checkpointer keeps every state key)."""
    return {"event_time": ""}


def _latest_text(state: AgentState) -> str:
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return str(message.content)
    return ""


def _said_at(state: AgentState) -> datetime:
    """When the newest message was said."""
    return datetime.fromisoformat(state["event_time"]) if state.get("event_time") else datetime.now(UTC)


def _current_turn_ids(state: AgentState) -> list[str]:
    """Ids of the turn being answered (so it is not retrieved as its own context)."""
    return [t.turn_id for t in new_turns(state)]


def new_turns(state: AgentState) -> list[Turn]:
    """The newest human message as a `Turn`, identified by its message id (pass ids to dedupe re-sends)."""
    messages = state.get("messages", [])
    humans = [m for m in messages if isinstance(m, HumanMessage)]
    if not humans:
        return []
    when = _said_at(state)
    session = state["session_id"]
    turn = Turn(
        user_id=state["user_id"],
        session_id=session,
        turn_id=f"{session}:{humans[-1].id or len(humans)}",
        role=Role.USER,
        text=str(humans[-1].content),
        event_time=when,
    )
    return [turn]


def make_extract(memory: Memory) -> Node:
    """Node: extract candidate memories from the new turn (nothing is stored yet)."""

    def extract(state: AgentState) -> dict[str, Any]:
        turns = memory.new_turns(state["user_id"], new_turns(state))
        result = memory.extract(turns)
        return {
            "turns": _TURNS.dump_python(turns, mode="json"),
            "extraction": _EXTRACTION.dump_python(result, mode="json"),
        }

    return extract


def make_consolidate(memory: Memory) -> Node:
    """Node: fold candidates into memory (supersede, don't delete) and record the turn."""

    def consolidate(state: AgentState) -> dict[str, Any]:
        turns = _TURNS.validate_python(state.get("turns") or [])
        if not turns:  # extract was switched off: take the turn from the messages
            turns = memory.new_turns(state["user_id"], new_turns(state))
        result = _EXTRACTION.validate_python(state.get("extraction") or {})
        report = memory.commit(state["user_id"], turns, result)
        return {
            "ingest": {
                "turns_new": report.turns_new,
                "added": report.added,
                "superseded": report.superseded,
                "merged": report.merged,
                "forgotten": report.forgotten,
            }
        }

    return consolidate


def _retrieval_key(state: AgentState) -> str:
    """Identifies the message a retrieval was computed for."""
    return json.dumps([state.get("user_id"), _current_turn_ids(state), _latest_text(state)])


class RetrievalCache:
    """The retrieve node's work for the latest messages (query embedding and fused candidates), handed
    to build_profile in the same process without putting it into the checkpointed state."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[list[float] | None, list[ScoredRecord]]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, embedding: list[float] | None, candidates: list[ScoredRecord]) -> None:
        """Remember the work done for ``key`` (the oldest entry goes when full)."""
        with self._lock:
            self._entries[key] = (embedding, candidates)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def get(self, key: str) -> tuple[list[float] | None, list[ScoredRecord] | None]:
        """The embedding and candidates computed for ``key``, or ``(None, None)``."""
        with self._lock:
            return self._entries.get(key, (None, None))


def make_retrieve(memory: Memory, cache: RetrievalCache | None = None) -> Node:
    """Node: embed the newest message once and retrieve for it (build_profile reuses both via ``cache``)."""

    def retrieve(state: AgentState) -> dict[str, Any]:
        text = _latest_text(state)
        vector = memory.embedder.embed([text])[0] if text.strip() else None
        found = memory.candidates(
            state["user_id"],
            text,
            query_embedding=vector,
            now=_said_at(state),
            exclude_turn_ids=_current_turn_ids(state),
        )
        if cache is not None:
            cache.put(_retrieval_key(state), vector, found)
        hits = memory.recall(
            state["user_id"],
            text,
            exclude_turn_ids=_current_turn_ids(state),
            now=_said_at(state),
            candidates=found,
        )
        return {
            "retrieved": [
                {
                    "id": h.record.id,
                    "kind": h.record.kind.value,
                    "content": h.record.content,
                    "score": round(h.score, 6),
                    "event_time": h.record.event_time.isoformat(),
                }
                for h in hits
            ]
        }

    return retrieve


def make_build_profile(memory: Memory, cache: RetrievalCache | None = None) -> Node:
    """Node: compile the token-budgeted profile for the newest message (reusing the retrieve node's work)."""

    def build_profile(state: AgentState) -> dict[str, Any]:
        vector, found = cache.get(_retrieval_key(state)) if cache is not None else (None, None)
        profile = memory.profile(
            state["user_id"],
            _latest_text(state),
            exclude_turn_ids=_current_turn_ids(state),
            now=_said_at(state),
            query_embedding=vector,
            candidates=found,
        )
        return {"profile": profile.text, "profile_tokens": profile.tokens}

    return build_profile


def make_respond(
    chat_model: Any | None, *, system_prompt: str | None = None, budget: int, counter: TokenCounter
) -> Node:
    """Node: answer with ``chat_model`` given the profile, or say plainly that no model is configured.

    Without a compiled profile (the build_profile node switched off) the retrieved memories are given
    instead, packed to the same token ``budget``.
    """

    def respond(state: AgentState) -> dict[str, Any]:
        profile = state.get("profile") or ""
        if not profile and state.get("retrieved"):
            lines = [f"- {item['content']}" for item in state["retrieved"]]
            profile = "\n".join(lines[i] for i in pack_to_budget(lines, budget, counter))
        if chat_model is None:
            return {"messages": [AIMessage(content=offline_reply(profile))]}
        history = state.get("messages", [])
        messages = (
            build_messages(profile, history, system_prompt=system_prompt)
            if system_prompt
            else build_messages(profile, history)
        )
        reply = chat_model.invoke(messages)
        return {"messages": [reply]}

    return respond
