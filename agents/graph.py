"""`build_graph` and `MemoryAgent`: the LangGraph memory agent with a SQLite checkpointer.

``extract -> consolidate -> retrieve -> build_profile -> respond``; `AgentConfig` switches any node off or
replaces it, which is how ablation studies swap parts.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel, ConfigDict, Field

from memagent.errors import InputError, StoreError
from memagent.limits import check_id, check_text
from memagent.memory import Memory
from memagent.types import as_utc, checked_time, encodable

from .nodes import (
    RetrievalCache,
    finish,
    make_build_profile,
    make_consolidate,
    make_extract,
    make_identify,
    make_respond,
    make_retrieve,
)
from .state import AgentState, MemoryContext

__all__ = ["NODE_NAMES", "AgentConfig", "AgentReply", "MemoryAgent", "build_graph", "sqlite_checkpointer"]

logger = logging.getLogger(__name__)

NODE_NAMES = ("extract", "consolidate", "retrieve", "build_profile", "respond")


class AgentConfig(BaseModel):
    """Which nodes run, and replacements for any of them."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    extract: bool = True
    consolidate: bool = True
    retrieve: bool = True
    build_profile: bool = True
    respond: bool = True
    replace: dict[str, Callable[[AgentState], dict[str, Any]]] = Field(default_factory=dict)
    """Node name -> a function used instead of the built-in node."""
    system_prompt: str | None = None
    """Instructions for the responder (None: the built-in prompt)."""

    def enabled(self) -> list[str]:
        """Names of the nodes that run, in pipeline order."""
        return [name for name in NODE_NAMES if getattr(self, name)]


def build_graph(
    memory: Memory,
    chat_model: Any | None = None,
    *,
    config: AgentConfig | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
) -> Any:
    """Compile the memory agent graph over ``memory``, answering with ``chat_model`` (None: offline).

    The graph takes LangGraph's usual input, ``{"messages": [...]}``; the user comes from the input,
    the run context (`MemoryContext`) or ``config["configurable"]`` (see `nodes.make_identify`), so it
    also runs as a node of a ``MessagesState`` graph.
    """
    config = config or AgentConfig()
    unknown = set(config.replace) - set(NODE_NAMES)
    if unknown:
        from memagent.errors import ConfigError

        raise ConfigError(f"unknown node(s) to replace: {sorted(unknown)}; nodes are {list(NODE_NAMES)}")
    cache = RetrievalCache()  # one embedding and one retrieval per turn, shared by two nodes
    factories = {
        "extract": lambda: make_extract(memory),
        "consolidate": lambda: make_consolidate(memory),
        "retrieve": lambda: make_retrieve(memory, cache),
        "build_profile": lambda: make_build_profile(memory, cache),
        "respond": lambda: make_respond(
            chat_model,
            system_prompt=config.system_prompt,
            budget=memory.config.budget,
            counter=memory.counter,
        ),
    }
    graph = StateGraph(AgentState, context_schema=MemoryContext)
    graph.add_node("identify", make_identify(memory.config.limits))
    names = config.enabled()
    for name in names:
        node = config.replace.get(name) or factories[name]()
        # LangGraph's node protocols name the parameter `state`; a Callable type cannot name it.
        graph.add_node(name, node)  # type: ignore[arg-type]
    graph.add_edge(START, "identify")
    graph.add_node("finish", finish)
    previous = "identify"
    for name in [*names, "finish"]:
        graph.add_edge(previous, name)
        previous = name
    graph.add_edge(previous, END)
    return graph.compile(checkpointer=checkpointer)


def sqlite_checkpointer(path: str | Path) -> Any:
    """A LangGraph SQLite checkpointer writing to ``path`` (the conversation threads)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), check_same_thread=False)
    connection.execute("PRAGMA secure_delete=ON")  # a deleted thread is overwritten, not left in free pages
    saver = SqliteSaver(connection)
    saver.setup()
    return saver


def _truncate_log(checkpointer: Any) -> None:
    """Empty the write-ahead log of a SQLite checkpointer (it keeps earlier page images, deleted threads
    included, until checkpointed); other checkpointers are left as they are."""
    connection = getattr(checkpointer, "conn", None)
    if isinstance(connection, sqlite3.Connection):
        with getattr(checkpointer, "lock", nullcontext()):
            busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            logger.warning("the threads database is being read elsewhere: its log keeps deleted threads")


class AgentReply(BaseModel):
    """What one agent step returns."""

    text: str
    profile: str
    profile_tokens: int
    retrieved: list[dict[str, Any]]
    ingest: dict[str, Any]


def _thread_user(thread_id: str) -> str | None:
    try:
        value = json.loads(thread_id)
    except ValueError:
        return None
    return value[0] if isinstance(value, list) and value else None


class MemoryAgent:
    """The compiled graph plus its memory and checkpointer; one thread per user session."""

    def __init__(
        self,
        memory: Memory,
        chat_model: Any | None = None,
        *,
        config: AgentConfig | None = None,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ):
        self.memory = memory
        self.checkpointer = checkpointer
        self.graph = build_graph(memory, chat_model, config=config, checkpointer=checkpointer)

    @staticmethod
    def thread_id(user_id: str, session_id: str) -> str:
        """The checkpointer thread of a user's session (JSON, so no user id can pose as another's prefix)."""
        return json.dumps([user_id, session_id])

    def chat(self, user_id: str, session_id: str, text: str, *, at: datetime | None = None) -> AgentReply:
        """Run one turn of the conversation; ``at`` is when the message was said (default: now).

        Raises:
            InputError: An id or the text holds a lone surrogate or breaks the memory's limits
                (`memagent.limits`), or ``at`` is outside the supported range
                (`memagent.types.checked_time`); nothing is stored or checkpointed.
        """
        for name, value in (("user_id", user_id), ("session_id", session_id), ("text", text)):
            try:
                encodable(value)
            except ValueError as exc:
                raise InputError(str(exc), field=name) from None
        limits = self.memory.config.limits
        check_id(user_id, "user_id", limits)
        check_id(session_id, "session_id", limits)
        check_text(text, "text", limits)
        try:
            said = checked_time(at if at is not None else datetime.now(UTC))
        except ValueError as exc:
            raise InputError(str(exc), field="at") from None
        state: dict[str, Any] = {
            "messages": [HumanMessage(content=text)],
            "user_id": user_id,
            "session_id": session_id,
            "turns": [],
            "extraction": {},
            "profile": "",
            "retrieved": [],
        }
        state["event_time"] = as_utc(said).isoformat()
        # The user in `configurable` also lands in every checkpoint's metadata, where `threads` finds it.
        thread = self.thread_id(user_id, session_id)
        run_config = {"configurable": {"thread_id": thread, "user_id": user_id, "session_id": session_id}}
        out = self.graph.invoke(state, run_config)
        last = out["messages"][-1]
        return AgentReply(
            text=str(last.content) if last.type == "ai" else "",
            profile=out.get("profile", ""),
            profile_tokens=out.get("profile_tokens", 0),
            retrieved=out.get("retrieved", []),
            ingest=out.get("ingest", {}),
        )

    def close(self) -> None:
        """Close the checkpointer's database connection, if it has one (the memory stays open)."""
        connection = getattr(self.checkpointer, "conn", None)
        if connection is not None:
            connection.close()

    def threads(self, user_id: str) -> set[str]:
        """The ids of the user's conversation threads in the checkpointer (none without one): those whose
        checkpoints name the user in their metadata (every run given ``configurable["user_id"]``, as
        `chat` gives it), and those named by `thread_id` (written before checkpoints named their user,
        found by listing every checkpoint)."""
        if self.checkpointer is None:
            return set()
        named = {
            c.config["configurable"]["thread_id"]
            for c in self.checkpointer.list(None, filter={"user_id": user_id})
        }
        return named | {
            c.config["configurable"]["thread_id"]
            for c in self.checkpointer.list(None)
            if _thread_user(c.config["configurable"]["thread_id"]) == user_id
        }

    def forget(self, user_id: str) -> int:
        """Delete every conversation thread of the user, then their memories; returns records removed.

        Threads go first: the memories are what makes the user known, so a `forget` interrupted between
        the two leaves a user that a second `forget` still finds and finishes with.
        """
        if self.checkpointer is not None:
            try:
                for thread in self.threads(user_id):
                    self.checkpointer.delete_thread(thread)
                _truncate_log(self.checkpointer)
            except sqlite3.Error as exc:
                raise StoreError(f"could not delete the threads of user {user_id!r}: {exc}") from exc
        return self.memory.forget(user_id)
