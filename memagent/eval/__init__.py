"""Evaluation harness: replay benchmarks through memagent and baselines, score them, report tables.

`evaluate` (runner) measures every `MemorySystem` with the same code, embedder, token counter and
budgets; `metrics` holds the pure scoring functions; `report` renders markdown and JSON; `mcq` scores
multiple choice with an LLM answerer; `commands.register(app)` adds ``memagent eval`` to a Typer app.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_RUNNER = ("EvalResult", "evaluate", "subset")


def __getattr__(name: str) -> Any:
    """Import the runner and the systems on first use: the CLI loads `memagent.eval.commands` at start-up
    and must not pay for the harness (or need its imports) unless ``eval`` or ``ablate`` runs."""
    if name not in __all__:
        raise AttributeError(f"module 'memagent.eval' has no attribute {name!r}")
    return getattr(
        import_module("memagent.eval.runner" if name in _RUNNER else "memagent.eval.systems"), name
    )
