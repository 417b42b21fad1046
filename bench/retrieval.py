"""Retrieval quality: memagent against each of its signals alone, with 95% bootstrap confidence intervals.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/retrieval.py                  # every benchmark below (about 15 minutes)
    .venv/bin/python bench/retrieval.py --only locomo    # one of them (repeatable)

For every staged benchmark with evidence it replays the users' histories (incrementally, up to each
question's checkpoint) and scores, per question:

* recall@5, @10 and @25 and nDCG@10 of the ranking (`Memory.recall`, a memory counting for every turn
  in its provenance);
* evidence recall within 256, 512 and 1,024 tokens: the evidence covered by the context the system
  compiles for the question (memagent's profile; the baselines' best turns packed to the budget).

Evidence is turn-level where the benchmark labels turns (LoCoMo, PrefEval: the turns stating the
preference) and session-level on PERMA (the sessions of the question's domains replayed so far; an item
covers the sessions of its provenance turns).

Systems, all on the bundled MiniLM and the same token counter:

* memagent: the default configuration;
* dense alone / BM25 alone: memagent's own records and indexes, ranked by one signal (the other signal,
  recency, neighbouring turns and the assistant-turn share switched off), its profile around that ranking;
* naive-rag / bm25-raw: the raw-turn baselines of `memagent eval` (every turn stored, ranked by one
  signal, packed to the budget).

A second table shows what each retrieval switch of the ablation grid (`memagent.eval.ablation`) is
worth: recall@10 and evidence recall within 1,024 tokens with that one part switched off.

Intervals: percentile bootstrap over questions (1,000 resamples, seed 0). Users are taken evenly spaced,
as in `bench/run_all.py`. Output: a Markdown table (printed, and in bench/results/retrieval/results.md)
and every per-question value in results.json beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from memagent.config import MemoryConfig, RetrievalConfig
from memagent.embeddings import CachedEmbedder, SentenceTransformerEmbedder
from memagent.eval.ablation import expand_grid
from memagent.eval.metrics import bootstrap_interval, ndcg_at_k, recall_at_k
from memagent.eval.runner import subset
from memagent.eval.systems import BM25Raw, MemagentSystem, MemorySystem, NaiveRAG, ReplayClock
from memagent.memory import Memory
from memagent.replay import load_benchmark
from memagent.replay.base import BenchmarkData, Question
from memagent.stores import InProcessStore
from memagent.tokens import TiktokenCounter
from memagent.types import Turn

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEMAGENT_DATA", ROOT.parent / "shared" / "data"))
OUT = ROOT / "bench" / "results" / "retrieval"

BENCHMARKS: dict[str, dict[str, Any]] = {
    "locomo": {"loader": "locomo", "path": "locomo/locomo_dev.json", "limit": None},
    "prefeval-explicit": {"loader": "prefeval", "path": "prefeval", "variant": "explicit", "limit": 96},
    "prefeval-choice": {"loader": "prefeval", "path": "prefeval", "variant": "choice", "limit": 96},
    "prefeval-persona": {"loader": "prefeval", "path": "prefeval", "variant": "persona", "limit": 96},
    "perma": {"loader": "perma", "path": "perma", "limit": 4, "sessions": True},
}
KS = (5, 10, 25)
BUDGETS = (256, 512, 1024)
METRICS = (*(f"recall@{k}" for k in KS), "ndcg@10", *(f"within {b}" for b in BUDGETS))
ALONE = {"dense_weight": 1.0, "lexical_weight": 0.0, "recency_weight": 0.0, "context_weight": 0.0}
SIGNAL_ONLY: dict[str, RetrievalConfig] = {
    "dense alone": RetrievalConfig(**{**ALONE, "assistant_weight": 1.0}),
    "BM25 alone": RetrievalConfig(
        **{**ALONE, "dense_weight": 0.0, "lexical_weight": 1.0, "assistant_weight": 1.0}
    ),
}


SWITCHES = ("no-dense", "no-bm25", "no-recency", "no-context", "no-turn-context", "assistant-alike")
"""Variants of the ablation grid that change retrieval, shown in the second table."""


class _SameStore(MemagentSystem):
    """memagent under another retrieval configuration, reading the records another system ingests."""

    def ingest(self, turns: Sequence[Turn]) -> None:
        """Nothing: the system that owns the store ingests."""


def _systems(embedder: CachedEmbedder, counter: TiktokenCounter) -> list[MemorySystem]:
    """memagent, each signal alone, the raw-turn baselines, then the retrieval switches (``SWITCHES``).
    What changes only how memagent reads shares its store; what changes what it writes gets its own."""
    clock = ReplayClock(datetime(2000, 1, 1, tzinfo=UTC))
    store = InProcessStore()

    def reader(name: str, config: MemoryConfig) -> MemorySystem:
        return _SameStore(Memory(store, embedder, counter=counter, config=config, clock=clock), name=name)

    memagent = MemagentSystem(Memory(store, embedder, counter=counter, clock=clock), clock=clock)
    systems: list[MemorySystem] = [memagent]
    systems += [reader(name, MemoryConfig(retrieval=retrieval)) for name, retrieval in SIGNAL_ONLY.items()]
    systems += [NaiveRAG(embedder, counter), BM25Raw(embedder, counter)]
    for variant in expand_grid(SWITCHES):
        if variant.config.model_copy(update={"retrieval": RetrievalConfig()}) == MemoryConfig():
            systems.append(reader(variant.name, variant.config))
        else:
            own = Memory(InProcessStore(), embedder, counter=counter, config=variant.config, clock=clock)
            systems.append(MemagentSystem(own, name=variant.name))
    return systems


def _evidence(question: Question, sessions: bool) -> list[str]:
    return list(question.metadata.get("evidence_session_ids", [])) if sessions else question.evidence_turn_ids


def _score(
    system: MemorySystem,
    user_id: str,
    question: Question,
    gold: list[str],
    as_units: Callable[[Sequence[str]], set[str]],
) -> dict[str, float]:
    ranked = [as_units(turn_ids) for turn_ids in system.rank(user_id, question.text, max(KS))]
    row = {f"recall@{k}": recall_at_k(gold, ranked, k) for k in KS}
    row["ndcg@10"] = ndcg_at_k(gold, ranked, 10)
    for budget in BUDGETS:
        lines = system.context(user_id, question.text, budget).lines
        covered = [as_units(line.turn_ids) for line in lines]
        row[f"within {budget}"] = recall_at_k(gold, covered, max(len(covered), 1))
    return row


def run(name: str, embedder: CachedEmbedder, counter: TiktokenCounter) -> dict[str, dict[str, list[float]]]:
    """Per system, per metric, the value of every question with evidence."""
    spec = BENCHMARKS[name]
    kwargs = {"variant": spec["variant"]} if "variant" in spec else {}
    data: BenchmarkData = subset(load_benchmark(spec["loader"], DATA / spec["path"], **kwargs), spec["limit"])
    sessions = bool(spec.get("sessions"))
    session_of = {t.turn_id: t.session_id for t in data.turns}

    def as_units(turn_ids: Sequence[str]) -> set[str]:
        return {session_of.get(t, t) for t in turn_ids} if sessions else set(turn_ids)

    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for user_id in data.users():
        systems = _systems(embedder, counter)
        turns = data.turns_for(user_id)
        position = 0
        for question in sorted(data.questions_for(user_id), key=lambda q: q.checkpoint):
            gold = _evidence(question, sessions)
            if not gold:
                continue
            if question.checkpoint > position:
                for system in systems:
                    system.ingest(turns[position : question.checkpoint])
                position = question.checkpoint
            for system in systems:
                for metric, value in _score(system, user_id, question, gold, as_units).items():
                    values[system.name][metric].append(value)
    return values


def _cell(values: Sequence[float]) -> str:
    low, high = bootstrap_interval(values)
    return f"{100 * sum(values) / len(values):.1f} ({100 * low:.1f}-{100 * high:.1f})"


def table(results: dict[str, dict[str, dict[str, list[float]]]]) -> str:
    """One Markdown table: a row per (benchmark, system), a column per metric, mean (95% CI)."""
    lines = [
        "| benchmark (questions) | system | " + " | ".join(METRICS) + " |",
        "|---|---|" + "---|" * len(METRICS),
    ]
    for name, per_system in results.items():
        for system, per_metric in per_system.items():
            if system in SWITCHES or not per_metric[METRICS[0]]:
                continue
            count = len(per_metric[METRICS[0]])
            cells = " | ".join(_cell(per_metric[m]) for m in METRICS)
            lines.append(f"| {name} ({count}) | {system} | {cells} |")
    return "\n".join(lines) + "\n"


def switches_table(results: dict[str, dict[str, dict[str, list[float]]]]) -> str:
    """Recall@10 / evidence recall within 1,024 tokens with each retrieval switch off, and the change."""
    names = [name for name, per_system in results.items() if per_system.get("memagent")]
    lines = ["| variant | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def mean(values: Sequence[float]) -> float:
        return 100 * sum(values) / len(values)

    for variant in ("memagent", *SWITCHES):
        cells = []
        for name in names:
            got, base = results[name][variant], results[name]["memagent"]
            pair = [mean(got[m]) for m in ("recall@10", "within 1024")]
            if variant == "memagent":
                cells.append(" / ".join(f"{v:.1f}" for v in pair))
            else:
                delta = [v - mean(base[m]) for v, m in zip(pair, ("recall@10", "within 1024"), strict=True)]
                cells.append(" / ".join(f"{v:.1f} ({d:+.1f})" for v, d in zip(pair, delta, strict=True)))
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", choices=sorted(BENCHMARKS), action="append", help="run only these (repeatable)"
    )
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"benchmark data not found at {DATA} (set MEMAGENT_DATA)")
    embedder = CachedEmbedder(SentenceTransformerEmbedder())
    counter = TiktokenCounter()
    results: dict[str, dict[str, dict[str, list[float]]]] = {}
    timings: dict[str, float] = {}
    for name in args.only or list(BENCHMARKS):
        started = time.perf_counter()
        results[name] = run(name, embedder, counter)
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"{name}: {timings[name]:.0f}s", file=sys.stderr, flush=True)
    text = (
        "Evidence recall (%) of the ranking and of the context within a token budget; mean over questions "
        "with its 95% bootstrap interval (`bench/retrieval.py`).\n\n"
        + table(results)
        + "\nEach retrieval switch off (recall@10 / evidence recall within 1,024 tokens, change from "
        "memagent):\n\n" + switches_table(results)
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.md").write_text(text, encoding="utf-8")
    (OUT / "results.json").write_text(json.dumps({"values": results, "seconds": timings}), encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
