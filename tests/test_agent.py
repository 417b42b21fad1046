"""The LangGraph agent: node order, switches, replacement, responders, SQLite threads, forgetting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.messages import SystemMessage

from memagent.agents import NO_MODEL_NOTICE, AgentConfig, MemoryAgent, build_graph, sqlite_checkpointer
from memagent.errors import ConfigError, InputError
from memagent.testing import scripted_chat_model
from memagent.types import MemoryKind

WHEN = datetime(2023, 5, 8, 19, tzinfo=UTC)


def test_offline_agent_says_no_model_and_shows_relevant_memories(memory) -> None:
    agent = MemoryAgent(memory)
    agent.chat("ana", "s1", "I'm allergic to peanuts.", at=WHEN)
    reply = agent.chat("ana", "s1", "Can you suggest a snack? Something with peanuts?", at=WHEN)
    assert reply.text.startswith(NO_MODEL_NOTICE)
    assert "peanut" in reply.text.lower()
    assert reply.profile_tokens <= memory.config.budget


def test_chat_model_receives_the_profile_and_its_answer_is_returned(memory) -> None:
    model = scripted_chat_model(["Try a mild coconut curry."])
    agent = MemoryAgent(memory, model)
    agent.chat("ana", "s1", "I can't stand spicy food.", at=WHEN)
    reply = agent.chat("ana", "s1", "What should I cook tonight?", at=WHEN)
    assert reply.text == "Try a mild coconut curry."
    system = model.prompts[-1][0]
    assert isinstance(system, SystemMessage) and "spicy" in str(system.content).lower()


def test_nodes_switch_off_and_replace(memory) -> None:
    agent = MemoryAgent(memory, config=AgentConfig(extract=False))
    agent.chat("ana", "s1", "I love jazz.", at=WHEN)
    assert memory.memories("ana") == []  # nothing extracted
    assert memory.memories("ana", kinds=[MemoryKind.TURN])  # but the turn is kept

    def fixed_profile(state):
        return {"profile": "- User is a test fixture", "profile_tokens": 6}

    agent = MemoryAgent(memory, config=AgentConfig(replace={"build_profile": fixed_profile}))
    assert "test fixture" in agent.chat("ana", "s1", "hello?", at=WHEN).text

    with pytest.raises(ConfigError, match="unknown node"):
        build_graph(memory, config=AgentConfig(replace={"nope": fixed_profile}))


def test_threads_persist_in_sqlite_and_forget_removes_them(memory, tmp_path) -> None:
    path = tmp_path / "threads.sqlite"
    agent = MemoryAgent(memory, checkpointer=sqlite_checkpointer(path))
    agent.chat("ana", "s1", "I love hiking.", at=WHEN)
    agent.chat("bob", "s1", "I love chess.", at=WHEN)

    reopened = MemoryAgent(memory, checkpointer=sqlite_checkpointer(path))
    reopened.chat("ana", "s1", "What do I love?", at=WHEN)
    state = reopened.graph.get_state({"configurable": {"thread_id": MemoryAgent.thread_id("ana", "s1")}})
    assert len(state.values["messages"]) == 4  # two exchanges in the same thread

    removed = reopened.forget("ana")
    assert removed > 0 and memory.users() == ["bob"]
    saver = reopened.checkpointer
    threads = {c.config["configurable"]["thread_id"] for c in saver.list(None)}
    assert threads == {MemoryAgent.thread_id("bob", "s1")}


def test_an_interrupted_forget_is_finished_by_a_second_one(memory, tmp_path, monkeypatch) -> None:
    agent = MemoryAgent(memory, checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"))
    agent.chat("ana", "s1", "I love hiking.", at=WHEN)
    assert agent.threads("ana") == {MemoryAgent.thread_id("ana", "s1")}

    def interrupted(user_id: str) -> int:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(memory, "forget", interrupted)
        with pytest.raises(KeyboardInterrupt):
            agent.forget("ana")
    assert agent.threads("ana") == set() and memory.users() == ["ana"]  # still known: forget again
    assert agent.forget("ana") > 0
    assert memory.users() == [] and agent.threads("ana") == set()


def test_a_message_that_cannot_be_stored_is_refused_before_the_graph_runs(memory, tmp_path) -> None:
    agent = MemoryAgent(memory, checkpointer=sqlite_checkpointer(tmp_path / "threads.sqlite"))
    with pytest.raises(InputError, match="surrogate") as caught:
        agent.chat("ana", "s1", "half a pair \ud800", at=WHEN)
    assert caught.value.field == "text"
    with pytest.raises(InputError, match="supported range"):
        agent.chat("ana", "s1", "hello", at=datetime(9999, 12, 31, 23, tzinfo=UTC))
    assert memory.users() == [] and agent.threads("ana") == set()


def test_every_message_is_a_new_turn_even_without_a_checkpointer(memory) -> None:
    agent = MemoryAgent(memory)
    assert agent.chat("ana", "s1", "I love tea.", at=WHEN).ingest["turns_new"] == 1
    assert agent.chat("ana", "s1", "I love tea.", at=WHEN).ingest["turns_new"] == 1
    turns = memory.memories("ana", kinds=[MemoryKind.TURN])
    assert len(turns) == 2 and all(t.source_turn_ids[0].startswith("s1:") for t in turns)


def test_the_message_being_answered_is_not_its_own_context(memory) -> None:
    agent = MemoryAgent(memory)
    reply = agent.chat("ana", "s1", "Zanzibar quokka question?", at=WHEN)
    assert "zanzibar" not in reply.text.lower()
    again = agent.chat("ana", "s2", "Tell me about Zanzibar quokkas", at=WHEN)
    assert "zanzibar quokka question" in again.text.lower()  # earlier turns are context


def test_a_message_without_a_time_is_said_now_not_at_the_previous_messages_time(memory, tmp_path) -> None:
    agent = MemoryAgent(memory, checkpointer=sqlite_checkpointer(tmp_path / "t.sqlite"))
    agent.chat("ana", "s1", "hello there", at=datetime(2020, 1, 10, tzinfo=UTC))
    agent.chat("ana", "s1", "My sister visited yesterday.")
    (event,) = memory.memories("ana", kinds=[MemoryKind.EVENT])
    assert event.event_time.year >= 2026


def test_without_a_profile_the_retrieved_memories_still_respect_the_budget(make_memory) -> None:
    from memagent.config import MemoryConfig

    memory = make_memory(config=MemoryConfig(budget=40, top_k=30))
    agent = MemoryAgent(memory, config=AgentConfig(build_profile=False))
    for i in range(30):
        agent.chat("ana", "s1", f"I love hiking trail number {i} in the mountains.", at=WHEN)
    reply = agent.chat("ana", "s1", "Which hiking trails do I love?", at=WHEN)
    shown = reply.text.split("\n", 1)[1]
    assert 0 < memory.counter.count(shown) <= 40


def test_one_turn_embeds_the_message_and_retrieves_once(memory) -> None:
    from memagent.testing.counting import CountingStore

    agent = MemoryAgent(memory)
    agent.chat("ana", "s1", "I'm allergic to peanuts.", at=WHEN)
    texts: list[str] = []
    embed = memory.embedder.embed

    def counting_embed(batch):
        texts.extend(batch)
        return embed(batch)

    memory.embedder.embed = counting_embed  # type: ignore[method-assign]
    counting = CountingStore(memory.store)
    memory.store = counting
    message = "Can you suggest a snack for tonight?"
    agent.chat("ana", "s1", message, at=WHEN)
    assert texts.count(message) == 1  # the query, once (the ledger embeds "user: ...")
    assert counting.calls["lexical_search"] == 1  # one retrieval, shared by recall and the profile


def test_the_extraction_travels_through_graph_state_whole(memory) -> None:
    from langchain_core.messages import HumanMessage

    from memagent.agents.nodes import _EXTRACTION
    from memagent.interfaces import ExtractionResult

    graph = build_graph(memory)
    out = graph.invoke(
        {
            "messages": [HumanMessage(content="I'm allergic to peanuts.")],
            "user_id": "ana",
            "session_id": "s1",
            "event_time": WHEN.isoformat(),
        }
    )
    result = _EXTRACTION.validate_python(out["extraction"])
    assert isinstance(result, ExtractionResult)
    assert result.turns_seen == 1 and [c.slot for c in result.candidates] == ["allergy:peanut"]
    assert _EXTRACTION.dump_python(result, mode="json") == out["extraction"]  # nothing dropped on the way
    assert out["ingest"]["added"] == 1


def test_the_user_comes_from_config_or_run_context_with_messages_only_input(memory) -> None:
    from langchain_core.messages import HumanMessage

    from memagent.agents import MemoryContext

    graph = build_graph(memory)
    said = {
        "messages": [HumanMessage(content="I'm allergic to peanuts.", id="m1")],
        "event_time": WHEN.isoformat(),
    }
    out = graph.invoke(said, config={"configurable": {"user_id": "ana", "thread_id": "t-7"}})
    assert out["user_id"] == "ana" and out["session_id"] == "t-7" and out["messages"][-1].type == "ai"
    assert [r.session_id for r in memory.export("ana") if r.kind is MemoryKind.TURN] == ["t-7"]

    out = graph.invoke(
        said | {"messages": [HumanMessage(content="I love jazz.", id="m2")]},
        context=MemoryContext(user_id="bob"),
    )
    assert out["user_id"] == "bob" and out["session_id"] == "default"
    out = graph.invoke(
        said | {"messages": [HumanMessage(content="I love opera.", id="m3")]},
        context={"user_id": "cy", "session_id": "s9"},
    )
    assert (out["user_id"], out["session_id"]) == ("cy", "s9")
    assert memory.users() == ["ana", "bob", "cy"]
    # a run naming another user than the state does is refused: a thread is one user's conversation
    with pytest.raises(InputError, match="conversation of user 'ana', not 'bob'"):
        graph.invoke(said | {"user_id": "ana", "session_id": "s1"}, context=MemoryContext(user_id="bob"))


def test_a_run_without_a_user_is_refused_by_name(memory) -> None:
    from langchain_core.messages import HumanMessage

    graph = build_graph(memory)
    with pytest.raises(InputError) as caught:
        graph.invoke({"messages": [HumanMessage(content="I love tea.")]})
    assert caught.value.field == "user_id" and "run context" in str(caught.value)
    with pytest.raises(InputError, match="control character"):
        graph.invoke({"messages": [HumanMessage(content="hi")]}, config={"configurable": {"user_id": "a\nb"}})
    assert memory.users() == []


def test_the_memory_graph_runs_as_a_node_of_a_messages_state_graph(memory) -> None:
    from langchain_core.messages import HumanMessage
    from langgraph.graph import END, START, MessagesState, StateGraph

    from memagent.agents import MemoryContext

    parent = StateGraph(MessagesState, context_schema=MemoryContext)
    parent.add_node("memory", build_graph(memory))
    parent.add_edge(START, "memory")
    parent.add_edge("memory", END)
    app = parent.compile()
    out = app.invoke(
        {"messages": [HumanMessage(content="I'm vegetarian.")]}, context=MemoryContext(user_id="ana")
    )
    assert [m.type for m in out["messages"]] == ["human", "ai"]
    assert [r.content for r in memory.memories("ana")] == ["User is vegetarian"]


def test_forget_finds_threads_of_runs_that_named_the_user_in_configurable(memory, tmp_path) -> None:
    from langchain_core.messages import HumanMessage

    checkpointer = sqlite_checkpointer(tmp_path / "threads.sqlite")
    agent = MemoryAgent(memory, checkpointer=checkpointer)
    graph = build_graph(memory, checkpointer=checkpointer)
    said = {"messages": [HumanMessage(content="I love tea.")], "event_time": WHEN.isoformat()}
    graph.invoke(said, config={"configurable": {"user_id": "ana", "thread_id": "support-chat-17"}})
    graph.invoke(said, config={"configurable": {"user_id": "bob", "thread_id": "support-chat-18"}})
    agent.chat("ana", "s1", "I love jazz.", at=WHEN)
    assert agent.threads("ana") == {"support-chat-17", MemoryAgent.thread_id("ana", "s1")}
    agent.forget("ana")
    remaining = {c.config["configurable"]["thread_id"] for c in checkpointer.list(None)}
    assert remaining == {"support-chat-18"}


def test_a_checkpointed_thread_keeps_its_user_and_not_its_last_turn(memory, tmp_path) -> None:
    from langchain_core.messages import HumanMessage

    from memagent.agents import MemoryContext

    checkpointer = sqlite_checkpointer(tmp_path / "threads.sqlite")
    graph = build_graph(memory, checkpointer=checkpointer)
    thread = {"configurable": {"thread_id": "T"}}
    first = {"messages": [HumanMessage(content="I love tea.", id="a")], "event_time": WHEN.isoformat()}
    graph.invoke(first, thread, context=MemoryContext(user_id="ana"))
    with pytest.raises(InputError, match="conversation of user 'ana', not 'bob'"):
        graph.invoke(
            {"messages": [HumanMessage(content="I love jazz.", id="b")]}, thread, context={"user_id": "bob"}
        )
    assert memory.users() == ["ana"]

    before = datetime.now(UTC)
    out = graph.invoke({"messages": [HumanMessage(content="I love hiking.", id="c")]}, thread)
    turns = [r for r in memory.export("ana") if r.kind is MemoryKind.TURN]
    assert out["user_id"] == "ana" and len(turns) == 2
    assert max(t.event_time for t in turns) >= before  # dated now, not by the first run's event_time

    quiet = build_graph(memory, config=AgentConfig(extract=False), checkpointer=checkpointer)
    out = quiet.invoke({"messages": [HumanMessage(content="I moved to Lyon.", id="d")]}, thread)
    assert out["ingest"]["turns_new"] == 1 and out["ingest"]["added"] == 0  # no replay of the last candidates


def test_the_agent_forgets_what_the_user_asks_it_to(memory) -> None:
    agent = MemoryAgent(memory)
    agent.chat("ana", "s1", "I hate mushrooms.", at=WHEN)
    reply = agent.chat("ana", "s1", "Please forget that I hate mushrooms.", at=WHEN)
    assert reply.ingest["forgotten"] == 1
    assert all("mushroom" not in r.content for r in memory.memories("ana"))
