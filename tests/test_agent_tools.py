"""Memory for tool-calling agents: `memory_tools` and `profile_prompt` inside LangChain's real
`create_agent`, driven by a scripted chat model that calls the tools."""

from __future__ import annotations

from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage

from memagent.agents import MemoryContext
from memagent.agents.tools import memory_tools, profile_prompt
from memagent.errors import InputError

from .helpers import turn


class ToolCallingModel(FakeMessagesListChatModel):
    """Answers with scripted messages (tool calls included) and records what it was shown."""

    shown: list[list[BaseMessage]] = []

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.shown.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def _call(name: str, **args: str) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"call-{name}"}])


def test_the_model_remembers_then_searches_through_the_tools(memory) -> None:
    model = ToolCallingModel(
        responses=[
            _call("remember_memory", content="I'm allergic to peanuts."),
            _call("search_memory", query="allergies"),
            AIMessage(content="Noted: no peanuts."),
        ],
        shown=[],
    )
    agent = create_agent(model, tools=memory_tools(memory), context_schema=MemoryContext)
    out = agent.invoke(
        {"messages": [{"role": "user", "content": "Remember I can't have peanuts."}]},
        context=MemoryContext(user_id="ana"),
    )
    results = {m.name: str(m.content) for m in out["messages"] if m.type == "tool"}
    assert "1 new memories" in results["remember_memory"]
    assert "User is allergic to peanuts" in results["search_memory"] and "[m:" in results["search_memory"]
    assert [r.content for r in memory.memories("ana")] == ["User is allergic to peanuts"]
    assert memory.users() == ["ana"]  # the model never names the user: no other user was touched

    model.responses, model.i = (
        [_call("remember_memory", content="I'm allergic to peanuts."), AIMessage(content="ok")],
        0,
    )
    agent.invoke({"messages": [{"role": "user", "content": "again"}]}, context=MemoryContext(user_id="ana"))
    turns = [r for r in memory.export("ana") if r.kind.value == "turn"]
    assert len(turns) == 1  # the same tool call again (a retry) stores nothing twice


def test_tools_take_the_user_from_configurable_and_refuse_a_run_without_one(memory) -> None:
    memory.remember([turn("I love jazz.", "2024-01-01T00:00", user="bob", turn_id="t")])
    model = ToolCallingModel(
        responses=[_call("search_memory", query="music"), AIMessage(content="ok")], shown=[]
    )
    agent = create_agent(model, tools=memory_tools(memory))
    out = agent.invoke(
        {"messages": [{"role": "user", "content": "music?"}]}, config={"configurable": {"user_id": "bob"}}
    )
    assert "User loves jazz" in [str(m.content) for m in out["messages"] if m.type == "tool"][0]

    model = ToolCallingModel(
        responses=[_call("search_memory", query="music"), AIMessage(content="ok")], shown=[]
    )
    agent = create_agent(model, tools=memory_tools(memory))
    with pytest.raises(InputError, match="no user for this run"):
        agent.invoke({"messages": [{"role": "user", "content": "music?"}]})


def test_profile_prompt_puts_the_profile_for_the_last_message_in_the_system_prompt(memory) -> None:
    memory.remember([turn("I'm vegetarian.", "2024-01-01T00:00", user="ana", turn_id="t")])
    model = ToolCallingModel(responses=[AIMessage(content="Try a lentil curry.")], shown=[])
    agent = create_agent(model, middleware=[profile_prompt(memory)], context_schema=MemoryContext)
    agent.invoke(
        {"messages": [{"role": "user", "content": "What should I cook?"}]}, context={"user_id": "ana"}
    )
    [prompt] = model.shown
    assert isinstance(prompt[0], SystemMessage)
    assert "What you remember" in str(prompt[0].content) and "User is vegetarian" in str(prompt[0].content)


def test_the_model_corrects_then_deletes_a_memory_it_found(memory) -> None:
    memory.remember([turn("I'm allergic to peanuts.", "2024-01-01T00:00", user="ana", turn_id="t")])
    [allergy] = memory.memories("ana")
    model = ToolCallingModel(
        responses=[
            _call("search_memory", query="allergies"),
            _call(
                "manage_memory", action="correct", memory_id=allergy.id, content="User is allergic to cashews"
            ),
            AIMessage(content="Fixed."),
        ],
        shown=[],
    )
    agent = create_agent(model, tools=memory_tools(memory), context_schema=MemoryContext)
    out = agent.invoke(
        {"messages": [{"role": "user", "content": "It's cashews, not peanuts."}]}, context={"user_id": "ana"}
    )
    results = [str(m.content) for m in out["messages"] if m.type == "tool"]
    assert f"(id {allergy.id})" in results[0] and results[1].startswith(
        "Corrected: User is allergic to cashews"
    )
    [fixed] = memory.memories("ana")
    assert fixed.content == "User is allergic to cashews"

    model = ToolCallingModel(
        responses=[
            _call("manage_memory", action="delete", memory_id=fixed.id),
            AIMessage(content="Forgotten."),
        ],
        shown=[],
    )
    agent = create_agent(model, tools=memory_tools(memory), context_schema=MemoryContext)
    agent.invoke({"messages": [{"role": "user", "content": "Forget that."}]}, context={"user_id": "ana"})
    assert memory.get("ana", fixed.id) is None and memory.memories("ana") == []


def test_a_bad_memory_from_the_model_is_refused_back_to_the_model(make_memory) -> None:
    from memagent.config import InputLimits, MemoryConfig

    memory = make_memory(config=MemoryConfig(limits=InputLimits(max_text_chars=20)))
    model = ToolCallingModel(
        responses=[_call("remember_memory", content="I love " + "jazz " * 10), AIMessage(content="Sorry.")],
        shown=[],
    )
    agent = create_agent(model, tools=memory_tools(memory), context_schema=MemoryContext)
    out = agent.invoke({"messages": [{"role": "user", "content": "hi"}]}, context={"user_id": "ana"})
    [result] = [str(m.content) for m in out["messages"] if m.type == "tool"]
    assert result.startswith("Not remembered:") and "over the limit of 20" in result
    assert memory.users() == []
