"""The LangGraph memory agent: `build_graph`, `MemoryAgent`, `AgentConfig`, `AgentState`, `MemoryContext`."""

from .graph import NODE_NAMES, AgentConfig, AgentReply, MemoryAgent, build_graph, sqlite_checkpointer
from .responders import NO_MODEL_NOTICE, SYSTEM_PROMPT, build_messages, offline_reply
from .state import AgentState, MemoryContext

__all__ = [
    "NODE_NAMES",
    "NO_MODEL_NOTICE",
    "SYSTEM_PROMPT",
    "AgentConfig",
    "AgentReply",
    "AgentState",
    "MemoryAgent",
    "MemoryContext",
    "build_graph",
    "build_messages",
    "offline_reply",
    "sqlite_checkpointer",
]
