"""The LangGraph memory agent with any LangChain chat model, or offline without one.

Run:
    python examples/plug_a_chat_model.py                         # offline responder
    MEMAGENT_MODEL=openai:gpt-4o-mini python examples/plug_a_chat_model.py   # needs langchain-openai + a key
"""

import os
import tempfile
from datetime import UTC, datetime

from memagent import Memory
from memagent.agents import MemoryAgent, sqlite_checkpointer

model_name = os.environ.get("MEMAGENT_MODEL")  # e.g. "anthropic:claude-3-5-haiku-latest", "ollama:llama3.1"
chat_model = None
if model_name:
    from langchain.chat_models import init_chat_model

    chat_model = init_chat_model(model_name)

with tempfile.TemporaryDirectory() as home:
    memory = Memory.open(f"{home}/chroma")
    agent = MemoryAgent(memory, chat_model, checkpointer=sqlite_checkpointer(f"{home}/threads.sqlite"))
    agent.chat(
        "ana",
        "s1",
        "I can't stand spicy food, and I'm training for a marathon.",
        at=datetime(2023, 4, 1, tzinfo=UTC),
    )
    reply = agent.chat(
        "ana", "s2", "What should I eat the night before my race?", at=datetime(2023, 4, 20, tzinfo=UTC)
    )
    print(reply.text)
    print(f"(profile: {reply.profile_tokens} tokens)")
    agent.forget("ana")  # memories and conversation threads
    agent.close()
    memory.close()
