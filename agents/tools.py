"""Memory for tool-calling agents (LangChain's `create_agent`, or any graph with a tool node):
`memory_tools` gives the model `search_memory`, `remember_memory` and `manage_memory` (correct or delete
one memory), and `profile_prompt` is a middleware that puts the user's profile, compiled for their last
message, in the system prompt.

Whose memory a call reads and writes comes from the run, as in the memory graph: the run context
(`MemoryContext`, or any context with a ``user_id``) or ``config["configurable"]["user_id"]``; the model
never names the user, so it cannot reach another user's memory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

try:
    from langchain.agents.middleware import AgentMiddleware, ModelRequest, dynamic_prompt
    from langchain.tools import ToolRuntime, tool
except ImportError as exc:  # pragma: no cover - the llm extra is missing
    from memagent.errors import ConfigError

    raise ConfigError("memagent.agents.tools needs langchain: pip install 'memagent[llm]'") from exc
from langchain_core.messages import HumanMessage
from langchain_core.tools import BaseTool
from pydantic import ValidationError

from memagent.errors import InputError
from memagent.memory import Memory
from memagent.profile import render_record
from memagent.types import Turn, stable_id

from .nodes import run_identity
from .responders import SYSTEM_PROMPT, system_text
from .state import MemoryContext

__all__ = ["memory_tools", "profile_prompt"]


def memory_tools(memory: Memory, *, k: int | None = None) -> list[BaseTool]:
    """``search_memory`` (what is remembered about the user, best matches first, each with its date and
    id), ``remember_memory`` (store something the user said about themselves; extraction and
    consolidation run on it as on any turn) and ``manage_memory`` (correct or delete one memory by id:
    `Memory.correct`, `Memory.delete`)."""

    @tool
    def search_memory(query: str, runtime: ToolRuntime[MemoryContext]) -> str:
        """Search what you remember about the user: their preferences, facts about them, events in their
        life and past conversations. Returns the best matches, one a line, each with its date and id."""
        user, _ = run_identity(runtime.context, runtime.config, memory.config.limits)
        hits = memory.recall(user, query, k=k)
        if not hits:
            return "Nothing remembered matches."
        return "\n".join(f"{render_record(hit.record, memory.counter)} (id {hit.record.id})" for hit in hits)

    @tool
    def remember_memory(content: str, runtime: ToolRuntime[MemoryContext]) -> str:
        """Remember something the user said about themselves (a preference, a fact about them, an event in
        their life), in their own words, first person: "I'm allergic to peanuts"."""
        user, session = run_identity(runtime.context, runtime.config, memory.config.limits)
        # One turn per tool call: a retried call stores nothing twice.
        call = runtime.tool_call_id or stable_id(user, session, content)
        try:  # the model's mistakes go back to the model, not up as a failed run
            turn = Turn(
                user_id=user,
                session_id=session,
                turn_id=f"tool:{call}",
                text=content,
                event_time=datetime.now(UTC),
            )
            report = memory.remember([turn])
        except (InputError, ValidationError) as exc:
            return f"Not remembered: {exc}"
        return (
            f"Remembered: {report.added} new memories, {report.superseded} earlier values superseded, "
            f"{report.merged} merged into what was known."
        )

    @tool
    def manage_memory(
        action: Literal["correct", "delete"],
        memory_id: str,
        runtime: ToolRuntime[MemoryContext],
        content: str = "",
    ) -> str:
        """Correct or delete one memory found by search_memory, by its id: "correct" replaces what it says
        with ``content`` (the old value stays in its history), "delete" removes it when the user asks
        you to forget it."""
        user, _ = run_identity(runtime.context, runtime.config, memory.config.limits)
        if action == "delete":
            return "Deleted." if memory.delete(user, memory_id) else f"No memory {memory_id}."
        try:
            fixed = memory.correct(user, memory_id, content)
        except InputError as exc:
            return f"Not corrected: {exc.reason}"
        return f"Corrected: {fixed.content} (id {fixed.id})"

    return [search_memory, remember_memory, manage_memory]


def profile_prompt(
    memory: Memory, *, system_prompt: str = SYSTEM_PROMPT, budget: int | None = None
) -> AgentMiddleware:
    """A `create_agent` middleware: before each model call, the system prompt becomes ``system_prompt``
    followed by the user's profile compiled for their last message (under ``budget`` tokens, the memory's
    budget by default)."""

    @dynamic_prompt
    def with_profile(request: ModelRequest) -> str:
        user, _ = run_identity(request.runtime.context, _config_of(request), memory.config.limits)
        question = next(
            (str(m.content) for m in reversed(request.state["messages"]) if isinstance(m, HumanMessage)), None
        )
        profile = memory.profile(user, question, budget=budget)
        return system_text(profile.text, system_prompt)

    return with_profile


def _config_of(request: ModelRequest) -> Any:
    """The run's config inside a middleware (LangGraph keeps it in a context variable)."""
    from langgraph.config import get_config

    try:
        return get_config()
    except RuntimeError:  # pragma: no cover - outside a run
        return {}
