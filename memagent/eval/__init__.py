"""Evaluation harness: replay benchmarks through memagent and baselines, score them, report tables.

`evaluate` (runner) measures every `MemorySystem` with the same code, embedder, token counter and
budgets; `metrics` holds the pure scoring functions; `report` renders markdown and JSON; `mcq` scores
multiple choice with an LLM answerer; `commands.register(app)` adds ``memagent eval`` to a Typer app.
"""

from memagent.eval.runner import EvalResult, evaluate, subset
from memagent.eval.systems import (
    BASELINES,
    BM25Raw,
    Context,
    ContextLine,
    MemagentSystem,
    MemoryItem,
    MemorySystem,
    NaiveRAG,
    NoMemory,
    RecentHistory,
    build_systems,
)

__all__ = [
    "BASELINES",
    "BM25Raw",
    "Context",
    "ContextLine",
    "EvalResult",
    "MemagentSystem",
    "MemoryItem",
    "MemorySystem",
    "NaiveRAG",
    "NoMemory",
    "RecentHistory",
    "build_systems",
    "evaluate",
    "subset",
]
