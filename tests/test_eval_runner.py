"""The evaluation runner, report, manifest and command on a tiny synthetic benchmark."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from memagent.embeddings import CachedEmbedder
from memagent.eval.commands import register, run_eval
from memagent.eval.manifest import build_manifest, data_hashes, package_versions
from memagent.eval.report import to_json, to_markdown
from memagent.eval.runner import evaluate, match_text, subset
from memagent.eval.systems import Context, ContextLine, MemoryItem, build_systems
from memagent.replay.base import BenchmarkData, Question
from memagent.testing import FakeEmbedder
from memagent.tokens import WordCounter
from memagent.types import Role, Turn

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
THRESHOLDS = (0.3, 0.5)


def _turns(user: str, texts: Sequence[tuple[Role, str]], session: str = "s1", start: int = 0) -> list[Turn]:
    return [
        Turn(
            user_id=user,
            session_id=f"{user}:{session}",
            turn_id=f"t{start + i}",
            role=role,
            text=text,
            event_time=T0 + timedelta(minutes=start + i),
        )
        for i, (role, text) in enumerate(texts)
    ]


def tiny_benchmark() -> BenchmarkData:
    a = _turns(
        "a",
        [
            (Role.USER, "I am vegetarian and I love spicy food."),
            (Role.ASSISTANT, "Noted."),
            (Role.USER, "The train to Lyon leaves at noon."),
            (Role.ASSISTANT, "Have a good trip."),
        ],
    )
    a += _turns("a", [(Role.USER, "I hate jazz music."), (Role.ASSISTANT, "Understood.")], "s2", 4)
    b = _turns(
        "b",
        [
            (Role.USER, "I love coffee."),
            (Role.ASSISTANT, "Great."),
            (Role.USER, "Tell me about the weather in Oslo."),
            (Role.ASSISTANT, "Cold."),
            (Role.USER, "I no longer like coffee, I prefer tea now."),
            (Role.ASSISTANT, "Okay."),
        ],
    )
    questions = [
        Question(
            id="a2",
            user_id="a",
            text="Any concert ideas for me?",
            checkpoint=6,
            gold_preferences=["I hate jazz music"],
            evidence_turn_ids=["t4"],
        ),
        Question(
            id="a1",
            user_id="a",
            text="What should I cook tonight?",
            checkpoint=2,
            gold_preferences=["I am vegetarian"],
            evidence_turn_ids=["t0"],
        ),
        Question(
            id="b1",
            user_id="b",
            text="What drink should I order?",
            checkpoint=6,
            gold_preferences=["I prefer tea"],
            updated_preferences=[("I love coffee", "I prefer tea")],
        ),
    ]
    return BenchmarkData(
        name="tiny",
        turns=a + b,
        questions=questions,
        gold_profiles={
            "a": ["I am vegetarian", "I love spicy food", "I hate jazz music"],
            "b": ["I prefer tea"],
        },
        extraction_gold={"a:s1": ["I am vegetarian", "I love spicy food"], "a:s2": ["I hate jazz music"]},
    )


def _run(data: BenchmarkData, **kwargs: object):
    embedder = CachedEmbedder(FakeEmbedder())
    counter = WordCounter()
    systems = build_systems(embedder, counter)
    return evaluate(
        data, systems, budgets=(40, 200), thresholds=THRESHOLDS, embedder=embedder, counter=counter, **kwargs
    )


class Spy:
    """Records what it was given and when."""

    name = "spy"
    llm_calls = 0

    def __init__(self) -> None:
        self.ingested: list[Turn] = []
        self.asked: list[tuple[str, str, int, int]] = []

    def ingest(self, turns: Sequence[Turn]) -> None:
        self.ingested.extend(turns)

    def context(self, user_id: str, query: str, budget: int) -> Context:
        seen = sum(1 for t in self.ingested if t.user_id == user_id)
        self.asked.append((user_id, query, budget, seen))
        return Context(text="x", lines=(ContextLine("x", ("t0",), 1),), tokens=1)

    def rank(self, user_id: str, query: str, k: int) -> list[tuple[str, ...]]:
        return [("t0",)]

    def stored(self, user_id: str) -> int:
        return 0

    def memories(self, user_id: str) -> list[MemoryItem] | None:
        return []


def test_replay_is_incremental_and_stops_at_each_checkpoint() -> None:
    data = tiny_benchmark()
    spy = Spy()
    calls: list[tuple[int, int]] = []
    evaluate(
        data,
        [spy],
        budgets=(10, 20),
        thresholds=THRESHOLDS,
        embedder=CachedEmbedder(FakeEmbedder()),
        progress=lambda done, total, label: calls.append((done, total)),
    )
    assert [t.turn_id for t in spy.ingested] == [t.turn_id for t in data.turns]  # each turn once, in order
    # a1 (checkpoint 2) is asked before a2 (checkpoint 6) although listed after it
    assert [(q, budget, seen) for _, q, budget, seen in spy.asked] == [
        ("What should I cook tonight?", 10, 2),
        ("What should I cook tonight?", 20, 2),
        ("Any concert ideas for me?", 10, 6),
        ("Any concert ideas for me?", 20, 6),
        ("What drink should I order?", 10, 6),
        ("What drink should I order?", 20, 6),
    ]
    assert calls[-1] == (5, 5) and [d for d, _ in calls] == [1, 2, 3, 4, 5]


def test_memagent_recalls_preferences_that_no_memory_cannot() -> None:
    result = _run(tiny_benchmark())
    assert result.systems == ["memagent", "no-memory", "naive-rag", "bm25-raw", "recent"]
    mem, none = result.context["memagent"]["200"], result.context["no-memory"]["200"]
    assert mem["pref_recall@0.3"] is not None and mem["pref_recall@0.3"] > 0.5
    assert none["pref_recall@0.3"] == 0.0 and none.get("pref_precision@0.3") is None
    assert mem["evidence_recall"] == 1.0 and none["evidence_recall"] == 0.0
    assert "currency@0.3" in mem and "stale@0.3" in mem
    assert mem["tokens"] <= 200 and result.context["naive-rag"]["40"]["tokens"] <= 40
    assert set(result.ranking["memagent"]) == {
        "recall@5",
        "hit@5",
        "ndcg@5",
        "recall@10",
        "hit@10",
        "ndcg@10",
    }
    assert result.ranking["no-memory"]["recall@5"] == 0.0
    assert result.counts["questions_with_evidence"] == 2 and result.counts["questions_with_updates"] == 1
    rows = [r for r in result.per_question if r["system"] == "memagent" and r["budget"] == 200]
    assert sorted(r["question"] for r in rows) == ["a1", "a2", "b1"]
    assert all("pref_recall@0.3" in r for r in rows)


def test_extraction_is_scored_for_memagent_and_every_utterance() -> None:
    result = _run(tiny_benchmark())
    assert set(result.extraction) == {"memagent", "naive-rag"}
    for name in ("memagent", "naive-rag"):
        assert {"extraction_f1@0.3", "session_extraction_recall@0.5"} <= set(result.extraction[name])
    # storing every utterance keeps one memory per user turn; memagent keeps fewer, shorter ones
    assert result.extraction["naive-rag"]["memories_per_user_turn"] == 1.0
    assert result.cost["naive-rag"]["stored_per_user"] == 6.0
    assert result.cost["memagent"]["llm_calls_per_turn"] == 0.0


def test_same_inputs_give_identical_numbers() -> None:
    first, second = _run(tiny_benchmark()), _run(tiny_benchmark())
    assert first.metrics() == second.metrics()
    assert "timings" not in first.metrics() and first.timings["memagent"]["context_ms_p50"] is not None


def test_duplicate_system_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        evaluate(tiny_benchmark(), [Spy(), Spy()], embedder=FakeEmbedder())


def test_match_text_strips_rendering() -> None:
    assert match_text("- User is vegetarian (since 2024-03-01) [m:ab12cd]") == "User is vegetarian"
    assert match_text("- (2024-03-01) user: I hate jazz [m:0f0f0f]") == "user: I hate jazz"
    assert match_text("- 2024-03-01: User moved to Berlin [m:1a2b3c]") == "User moved to Berlin"
    assert match_text("- User likes tea (2024-01-01 to 2024-02-01) [m:1a2b3c]") == "User likes tea"


def test_subset_spreads_users() -> None:
    turns = [t for u in "abcdef" for t in _turns(u, [(Role.USER, f"hello from {u}")])]
    data = BenchmarkData(
        name="x",
        turns=turns,
        extraction_gold={f"{u}:s1": ["g"] for u in "abcdef"},
        gold_profiles={u: ["g"] for u in "abcdef"},
    )
    small = subset(data, 3)
    assert small.users() == ["a", "c", "e"]
    assert set(small.extraction_gold) == {"a:s1", "c:s1", "e:s1"} and set(small.gold_profiles) == {
        "a",
        "c",
        "e",
    }
    assert subset(data, None) is data and subset(data, 10) is data


def test_report_tables_and_json() -> None:
    result = _run(tiny_benchmark())
    md = to_markdown(result)
    assert "## tiny" in md and "| memagent |" in md and "| no-memory |" in md
    assert "40 tok @0.3" in md and "200 tok @0.5" in md
    assert "store every utterance" in md and "### Cost" in md
    assert json.loads(to_json(result))["context"]["memagent"]["200"]["tokens"] <= 200


def test_manifest_records_versions_hashes_and_machine(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_bytes(b"abc")
    hashes = data_hashes(tmp_path / "d")
    assert hashes["files"]["f.txt"] == hashlib.sha256(b"abc").hexdigest()
    assert data_hashes(tmp_path / "d" / "f.txt")["sha256"] == hashes["files"]["f.txt"]
    manifest = build_manifest(benchmark="b", data_path=tmp_path / "d", config={"k": 1}, seed=3, command=["x"])
    assert manifest["seed"] == 3 and manifest["command"] == ["x"] and manifest["machine"]["cpu_count"]
    assert package_versions(["numpy", "surely-not-installed-pkg"]) == {
        "numpy": package_versions(["numpy"])["numpy"],
        "surely-not-installed-pkg": None,
    }


PERSONACHAT = """1 your persona: i love to eat pizza.
2 your persona: i have two dogs.
3 hi there\ti love pizza , do you ?
4 what pets do you have ?\ti have two dogs and they are great .
1 your persona: i am a nurse.
2 hello\ti work as a nurse at night .
"""


def test_run_eval_writes_results_and_manifest(tmp_path: Path) -> None:
    path = tmp_path / "convai2.txt"
    path.write_text(PERSONACHAT, encoding="utf-8")
    out = tmp_path / "out"
    result = run_eval(
        "personachat",
        path,
        limit=None,
        budgets=[64],
        thresholds=[0.5],
        out=out,
        show_progress=False,
        embedder=FakeEmbedder(),
        counter=WordCounter(),
    )
    assert {p.name for p in out.iterdir()} == {"results.json", "results.md", "manifest.json"}
    assert result.counts["users"] == 2
    assert (
        json.loads((out / "results.json").read_text())["extraction"]["memagent"]["extraction_recall@0.5"] >= 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["sha256"] == hashlib.sha256(PERSONACHAT.encode()).hexdigest()
    assert manifest["config"]["budgets"] == [64] and manifest["config"]["embedder"] == "FakeEmbedder"


def test_register_adds_the_eval_command() -> None:
    app = typer.Typer()

    @app.command()
    def other() -> None:  # a second command keeps typer from collapsing to a single-command app
        """Nothing."""

    register(app)
    result = CliRunner().invoke(app, ["eval", "--help"])
    assert result.exit_code == 0, result.output
    assert "--budgets" in result.output and "--limit" in result.output and "--store" in result.output


@pytest.mark.integration
def test_real_embedder_run_is_deterministic(real_embedder: object) -> None:
    def once():
        embedder = CachedEmbedder(real_embedder)
        systems = build_systems(embedder, WordCounter())
        return evaluate(
            tiny_benchmark(), systems, budgets=(200,), thresholds=(0.5, 0.6, 0.7), embedder=embedder
        )

    first, second = once(), once()
    assert first.metrics() == second.metrics()
    assert (
        first.context["memagent"]["200"]["pref_recall@0.5"]
        > first.context["no-memory"]["200"]["pref_recall@0.5"]
    )
