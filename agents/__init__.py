"""The LangGraph memory agent: `build_graph`, `MemoryAgent`, `AgentConfig`, `AgentState`."""

from .graph import NODE_NAMES, AgentConfig, AgentReply, MemoryAgent, build_graph, sqlite_checkpointer
from .responders import NO_MODEL_NOTICE, SYSTEM_PROMPT, build_messages, offline_reply
from .state import AgentState

__all__ = [
    "NODE_NAMES",
    "NO_MODEL_NOTICE",
    "SYSTEM_PROMPT",
    "AgentConfig",
    "AgentReply",
    "AgentState",
    "MemoryAgent",
    "build_graph",
    "build_messages",
    "offline_reply",
    "sqlite_checkpointer",
]
