"""`AgentState`: what flows through the memory agent graph (plain, checkpointable values only), and
`MemoryContext`: who a run is for, as LangGraph's run context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

__all__ = ["AgentState", "MemoryContext"]


@dataclass(frozen=True)
class MemoryContext:
    """The run context of the memory graph (``graph.invoke(..., context=MemoryContext(user_id="ana"))``,
    or a dict of the same keys): whose memory a run reads and writes, and which session of theirs it is.

    The user may also come from ``config["configurable"]`` (``user_id``; the session from ``session_id``
    or the ``thread_id``), as LangGraph users pass them, or from the input state (``user_id``).
    """

    user_id: str | None = None
    session_id: str | None = None


class AgentState(TypedDict, total=False):
    """State of one conversation thread.

    ``messages`` accumulates (and is checkpointed per thread); everything else is recomputed each turn.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation so far."""
    user_id: str
    """Whose memory the thread reads and writes."""
    session_id: str
    """The conversation's id (the thread)."""
    event_time: str
    """ISO time the newest message was said (defaults to now)."""
    turns: list[dict[str, Any]]
    """The new turn(s) of this step, as `Turn` dicts."""
    extraction: dict[str, Any]
    """Candidates and counts from the extract node."""
    ingest: dict[str, Any]
    """Counts from the consolidate node."""
    retrieved: list[dict[str, Any]]
    """Retrieved memories: id, kind, content, score, event time."""
    profile: str
    """The compiled, token-budgeted profile given to the responder."""
    profile_tokens: int
    """Tokens of ``profile``."""
