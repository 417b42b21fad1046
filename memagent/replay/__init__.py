"""Replay: the generic JSON Lines history format and loaders for public memory benchmarks.

Every loader returns a `BenchmarkData`: turns in replay order per user, questions pinned to a
checkpoint (the number of the user's turns replayed before the question), and gold labels.
`load_benchmark` dispatches on the benchmark name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memagent.errors import ConfigError
from memagent.replay.base import BenchmarkData, Question
from memagent.replay.jsonl import ReadReport, parse_turn, read_turns, turn_to_json, write_turns
from memagent.replay.locomo import load_locomo
from memagent.replay.longmemeval import load_longmemeval
from memagent.replay.memorybank import load_memorybank
from memagent.replay.perma import load_perma
from memagent.replay.personachat import load_personachat
from memagent.replay.prefeval import load_prefeval

__all__ = [
    "LOADERS",
    "BenchmarkData",
    "Question",
    "ReadReport",
    "load_benchmark",
    "load_locomo",
    "load_longmemeval",
    "load_memorybank",
    "load_perma",
    "load_personachat",
    "load_prefeval",
    "parse_turn",
    "read_turns",
    "turn_to_json",
    "write_turns",
]

LOADERS: dict[str, Callable[..., BenchmarkData]] = {
    "perma": load_perma,
    "prefeval": load_prefeval,
    "personachat": load_personachat,
    "memorybank": load_memorybank,
    "locomo": load_locomo,
    "longmemeval": load_longmemeval,
}
"""Benchmark name -> loader."""


def load_benchmark(name: str, path: str | Path, **kwargs: Any) -> BenchmarkData:
    """Load benchmark ``name`` from ``path``; keyword arguments go to its loader (e.g. ``limit``).

    Raises:
        ConfigError: ``name`` is not a known benchmark, or the loader does not take a given argument.
        InputError: The data is missing or has the wrong shape.
    """
    loader = LOADERS.get(name.lower())
    if loader is None:
        raise ConfigError(f"unknown benchmark {name!r} (known: {', '.join(LOADERS)})")
    accepted = inspect.signature(loader).parameters
    if unknown := sorted(set(kwargs) - set(accepted)):
        raise ConfigError(f"{name} loader takes no argument(s) {unknown}")
    return loader(path, **kwargs)
