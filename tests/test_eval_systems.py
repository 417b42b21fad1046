"""memagent and the baselines behind the `MemorySystem` protocol, on tiny synthetic histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from memagent.embeddings import CachedEmbedder
from memagent.eval.systems import (
    BM25Raw,
    MemagentSystem,
    MemorySystem,
    NaiveRAG,
    NoMemory,
    RecentHistory,
    build_systems,
)
from memagent.testing import FakeEmbedder
from memagent.tokens import WordCounter
from memagent.types import Role, Turn

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
TEXTS = [
    (Role.USER, "I am vegetarian and I love spicy food."),
    (Role.ASSISTANT, "Noted, no meat for you."),
    (Role.USER, "The train to Lyon leaves at noon tomorrow."),
    (Role.ASSISTANT, "Have a good trip to Lyon."),
    (Role.USER, "I hate jazz music, it gives me a headache."),
    (Role.ASSISTANT, "Understood."),
]


def history(user: str = "u1") -> list[Turn]:
    return [
        Turn(
            user_id=user,
            session_id=f"{user}:s1",
            turn_id=f"t{i}",
            role=role,
            text=text,
            event_time=T0 + timedelta(minutes=i),
        )
        for i, (role, text) in enumerate(TEXTS)
    ]


@pytest.fixture
def parts() -> tuple[CachedEmbedder, WordCounter]:
    return CachedEmbedder(FakeEmbedder()), WordCounter()


def test_every_system_satisfies_the_protocol(parts: tuple[CachedEmbedder, WordCounter]) -> None:
    systems = build_systems(*parts)
    assert [s.name for s in systems] == ["memagent", "no-memory", "naive-rag", "bm25-raw", "recent"]
    assert all(isinstance(s, MemorySystem) for s in systems)
    with pytest.raises(ValueError, match="unknown system"):
        build_systems(*parts, names=["nope"])


@pytest.mark.parametrize("budget", [20, 40, 200])
def test_contexts_respect_the_budget_and_carry_provenance(
    parts: tuple[CachedEmbedder, WordCounter], budget: int
) -> None:
    embedder, counter = parts
    for system in build_systems(embedder, counter):
        system.ingest(history())
        ctx = system.context("u1", "what music do I dislike", budget)
        assert ctx.tokens == (counter.count(ctx.text) if ctx.text else 0)
        assert ctx.tokens <= budget, system.name
        assert ctx.text == "\n".join(line.text for line in ctx.lines) or system.name == "memagent"
        for line in ctx.lines:
            assert line.turn_ids, (system.name, line.text)
            assert set(line.turn_ids) <= {t.turn_id for t in history()}


def test_naive_rag_ranks_by_similarity(parts: tuple[CachedEmbedder, WordCounter]) -> None:
    rag = NaiveRAG(*parts)
    rag.ingest(history())
    assert rag.rank("u1", "I hate jazz music", 1) == [("t4",)]
    ctx = rag.context("u1", "I hate jazz music", 1000)
    assert ctx.lines[0].turn_ids == ("t4",)
    assert len(ctx.lines) == len(TEXTS)
    assert "jazz" in ctx.lines[0].text and "[m:" in ctx.lines[0].text  # rendered like memagent's turn lines
    assert rag.context("other", "jazz", 100).lines == ()


def test_bm25_ranks_only_turns_sharing_a_term(parts: tuple[CachedEmbedder, WordCounter]) -> None:
    bm25 = BM25Raw(*parts)
    bm25.ingest(history())
    ranked = bm25.rank("u1", "Lyon train", 10)
    assert ranked[0] == ("t2",)
    assert set(ranked) == {("t2",), ("t3",)}
    assert bm25.context("u1", "zebra", 500).lines == ()


def test_recent_history_is_the_longest_fitting_suffix(parts: tuple[CachedEmbedder, WordCounter]) -> None:
    embedder, counter = parts
    recent = RecentHistory(embedder, counter)
    recent.ingest(history())
    small, large = recent.context("u1", "anything", 30), recent.context("u1", "anything", 1000)
    ids = [line.turn_ids[0] for line in large.lines]
    assert ids == [f"t{i}" for i in range(len(TEXTS))]
    small_ids = [line.turn_ids[0] for line in small.lines]
    assert small_ids and small_ids == ids[len(ids) - len(small_ids) :]
    assert len(small_ids) < len(ids)
    assert counter.count("\n".join(line.text for line in large.lines[-len(small_ids) - 1 :])) > 30


def test_raw_baselines_ingest_idempotently_and_store_every_utterance(
    parts: tuple[CachedEmbedder, WordCounter],
) -> None:
    rag = NaiveRAG(*parts)
    rag.ingest(history())
    rag.ingest(history()[:3])
    assert rag.stored("u1") == len(TEXTS)
    items = rag.memories("u1")
    assert items is not None
    assert [i.text for i in items] == [t for r, t in TEXTS if r is Role.USER]
    assert all(i.session_id == "u1:s1" for i in items)
    assert BM25Raw(*parts).memories("u1") is None and RecentHistory(*parts).memories("u1") is None


def test_no_memory_is_empty() -> None:
    none = NoMemory()
    none.ingest(history())
    assert none.context("u1", "jazz", 512).tokens == 0
    assert none.rank("u1", "jazz", 5) == [] and none.stored("u1") == 0 and none.memories("u1") is None


def test_memagent_system_wraps_memory(parts: tuple[CachedEmbedder, WordCounter]) -> None:
    (system,) = build_systems(*parts, names=["memagent"])
    assert isinstance(system, MemagentSystem)
    system.ingest(history())
    texts = [m.text for m in system.memories("u1") or []]
    assert any("vegetarian" in t for t in texts)
    assert any("jazz" in t for t in texts)
    assert system.stored("u1") == len(TEXTS) + len(texts)
    ctx = system.context("u1", "what should I eat tonight", 200)
    assert "vegetarian" in ctx.text
    assert any("t0" in line.turn_ids for line in ctx.lines)
    assert system.rank("u1", "jazz music", 3)
    assert system.llm_calls == 0
    # the replay clock follows event time, not the wall clock
    assert system.clock is not None and system.clock() == history()[-1].event_time
