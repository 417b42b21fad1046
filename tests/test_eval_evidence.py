"""Evidence recall end to end on LoCoMo and LongMemEval files written in their published shapes."""

from __future__ import annotations

from pathlib import Path

from memagent.eval.runner import evaluate
from memagent.eval.systems import build_systems
from memagent.replay import load_benchmark
from memagent.testing import FakeEmbedder
from memagent.tokens import WordCounter

from .test_loaders import _dump, _lme_instance, _locomo_sample


def _evaluate(benchmark: str, path: Path):
    data = load_benchmark(benchmark, path)
    embedder, counter = FakeEmbedder(), WordCounter()
    systems = build_systems(embedder, counter, names=("memagent", "naive-rag", "no-memory"))
    return evaluate(data, systems, budgets=(64, 1024), embedder=embedder, counter=counter)


def test_locomo_evidence_recall_counts_turns_through_provenance(tmp_path: Path) -> None:
    result = _evaluate("locomo", _dump(tmp_path / "locomo10.json", [_locomo_sample()]))
    assert result.counts["questions_with_evidence"] >= 1
    for system in ("memagent", "naive-rag"):
        assert (
            result.context[system]["1024"]["evidence_recall"] == 1.0
        )  # everything fits: every evidence turn
        assert 0.0 < result.ranking[system]["recall@5"] <= 1.0
    assert result.context["no-memory"]["1024"]["evidence_recall"] == 0.0


def test_longmemeval_evidence_is_the_flagged_turn(tmp_path: Path) -> None:
    result = _evaluate(
        "longmemeval", _dump(tmp_path / "lme.json", [_lme_instance("q1"), _lme_instance("q2")])
    )
    assert result.counts["questions_with_evidence"] == 2
    assert result.ranking["naive-rag"]["hit@5"] == 1.0
    assert result.context["memagent"]["1024"]["evidence_recall"] == 1.0
    assert result.context["no-memory"]["64"]["evidence_recall"] == 0.0
