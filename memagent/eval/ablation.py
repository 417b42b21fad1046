"""Ablation grid: one `MemoryConfig` switch changed at a time, every variant scored by the same runner.

A `Variant` is a named override of a base `MemoryConfig` (`DEFAULT_VARIANTS`, ``top-k=N`` for any N, or
variants read from a JSON file). `expand_grid` resolves names to variants (pure), `run_ablation` evaluates
each variant in turn with `evaluate` and saves it to ``OUT/variants/<name>.json`` as soon as it finishes,
so an interrupted run resumes where it stopped; `run_ablate` is the whole command (load, grid, progress
bar, outputs). `memagent.eval.ablation_report` turns the saved variants into ``results.json`` and
``results.md``, `memagent.eval.plots` into ``ablation.png``.

``no-profile`` (``MemoryConfig.profile=False``) is measured by `RetrievedOnlySystem`: the context is
memagent's hybrid retrieval alone (memories and raw turns, best first), rendered as the profile renders
records and packed to the same budget, with no profile sections.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from memagent.config import MemoryConfig
from memagent.errors import ConfigError
from memagent.eval.ablation_report import collect, results_markdown
from memagent.eval.manifest import build_manifest
from memagent.eval.runner import Progress, evaluate
from memagent.eval.systems import MAX_CANDIDATES, Context, ContextLine, MemagentSystem, ReplayClock
from memagent.interfaces import Embedder, TokenCounter
from memagent.memory import Memory
from memagent.profile import pack_to_budget, render_record
from memagent.replay.base import BenchmarkData

__all__ = [
    "DEFAULT_VARIANTS",
    "ablate",
    "LLM_VARIANT",
    "RetrievedOnlySystem",
    "Variant",
    "build_variant_system",
    "dataset_sha256",
    "expand_grid",
    "load_variant_file",
    "merge_overrides",
    "run_ablation",
]

DEFAULT_VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "no-extraction": {"extraction": "none"},
    "no-consolidation": {"consolidation": False},
    "no-dense": {"retrieval": {"dense_weight": 0.0}},
    "no-bm25": {"retrieval": {"lexical_weight": 0.0}},
    "no-recency": {"retrieval": {"recency_weight": 0.0}},
    "no-context": {"retrieval": {"context_weight": 0.0}},
    "no-turn-context": {"turn_context": False},
    "assistant-alike": {"retrieval": {"assistant_weight": 1.0}},
    "no-turns": {"retrieval": {"include_turns": False}},
    "no-profile": {"profile": False},
    "top-k=4": {"top_k": 4},
    "top-k=16": {"top_k": 16},
}
"""Variant name -> overrides of the base config (nested for ``retrieval``), in report order."""

LLM_VARIANT = "llm-extraction"
"""Extraction by a chat model; part of the default grid only when a model is given."""

_TOP_K = re.compile(r"^top-k=(\d+)$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")


@dataclass(frozen=True)
class Variant:
    """One point of the grid.

    Attributes:
        name: Label in reports and file name of its saved result.
        overrides: What it changes in the base config.
        config: The base config with ``overrides`` applied.
    """

    name: str
    overrides: dict[str, Any]
    config: MemoryConfig


def merge_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied, nested mappings merged key by key (neither input changes)."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_overrides(out[key], value)
        else:
            out[key] = value
    return out


def expand_grid(
    names: Sequence[str] | None = None,
    *,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
    base: MemoryConfig | None = None,
    llm: bool = False,
) -> list[Variant]:
    """Resolve variant names to configs.

    Args:
        names: Variants to run, in order (``top-k=N`` works for any N). None: every default variant,
            then ``llm-extraction`` if ``llm``, then the ``extra`` ones.
        extra: More named overrides (e.g. from `load_variant_file`); they may replace a default.
        base: Config every override applies to (default ``MemoryConfig()``).
        llm: Whether a chat model is available (``llm-extraction`` needs one).

    Raises:
        ConfigError: An unknown or duplicate name, a bad name, or an override `MemoryConfig` rejects.
    """
    extra = extra or {}
    known = {**DEFAULT_VARIANTS, LLM_VARIANT: {"extraction": "llm"}, **{k: dict(v) for k, v in extra.items()}}
    if names is None:
        names = list(dict.fromkeys([*DEFAULT_VARIANTS, *([LLM_VARIANT] if llm else []), *extra]))
    if not names:
        raise ConfigError("no variants selected")
    if duplicates := sorted({n for n in names if list(names).count(n) > 1}):
        raise ConfigError(f"duplicate variant names: {', '.join(duplicates)}")
    base_dump = (base or MemoryConfig()).model_dump()
    variants: list[Variant] = []
    for name in names:
        if not _NAME.match(name):
            raise ConfigError(f"bad variant name {name!r}: use letters, digits and . _ = + -")
        if name in known:
            overrides = known[name]
        elif match := _TOP_K.match(name):
            overrides = {"top_k": int(match.group(1))}
        else:
            choices = ", ".join([*known, "top-k=N"])
            raise ConfigError(f"unknown variant {name!r} (known: {choices})")
        try:
            config = MemoryConfig.model_validate(merge_overrides(base_dump, overrides))
        except ValidationError as exc:
            raise ConfigError(f"variant {name!r}: invalid overrides {overrides}: {exc}") from None
        if config.extraction == "llm" and not llm:
            raise ConfigError(f"variant {name!r} uses LLM extraction: pass --model provider:model")
        variants.append(Variant(name=name, overrides=dict(overrides), config=config))
    return variants


def load_variant_file(path: Path) -> dict[str, dict[str, Any]]:
    """Named overrides from a JSON file: ``{"name": {"top_k": 12, "retrieval": {"rrf_k": 10}}, ...}``.

    Raises:
        ConfigError: The file is missing, not JSON, or not an object of objects.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read variants from {path}: {exc}") from None
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ConfigError(f"{path}: expected a JSON object mapping variant names to override objects")
    return raw


class RetrievedOnlySystem(MemagentSystem):
    """memagent without the profile: the retrieved records alone, packed to the budget.

    Retrieval goes ``depth`` deep (default `MAX_CANDIDATES`) so the context can fill the budget like
    the profile does; lines are rendered with `render_record` and packed with `pack_to_budget`.
    """

    def __init__(
        self, memory: Memory, *, name: str, clock: ReplayClock | None = None, depth: int = MAX_CANDIDATES
    ):
        super().__init__(memory, name=name, clock=clock)
        self.depth = depth

    def context(self, user_id: str, query: str, budget: int) -> Context:
        """The best-ranked records that fit ``budget``, in rank order."""
        counter = self.memory.counter
        records = [hit.record for hit in self.memory.recall(user_id, query, k=self.depth)]
        rendered = [render_record(r, counter) for r in records]
        keep = pack_to_budget(rendered, budget, counter)
        lines = tuple(
            ContextLine(
                text=rendered[i],
                turn_ids=tuple(records[i].source_turn_ids),
                tokens=counter.count(rendered[i]),
            )
            for i in keep
        )
        text = "\n".join(line.text for line in lines)
        return Context(text=text, lines=lines, tokens=counter.count(text) if text else 0)


def build_variant_system(
    variant: Variant, embedder: Embedder, counter: TokenCounter, *, chat_model: Any = None
) -> MemagentSystem:
    """A fresh memagent system (in-process store, replay clock) configured as ``variant``."""
    from memagent.stores import InProcessStore

    clock = ReplayClock(datetime(2000, 1, 1, tzinfo=UTC))
    memory = Memory(
        InProcessStore(), embedder, counter=counter, config=variant.config, chat_model=chat_model, clock=clock
    )
    cls = MemagentSystem if variant.config.profile else RetrievedOnlySystem
    return cls(memory, name=variant.name, clock=clock)


def dataset_sha256(data: BenchmarkData) -> str:
    """Hash of the loaded benchmark (turns, questions, gold): the identity of the replayed inputs."""
    return hashlib.sha256(data.model_dump_json().encode("utf-8")).hexdigest()


def _fingerprint(variant: Variant, settings: Mapping[str, Any]) -> str:
    payload = {"config": variant.config.model_dump(mode="json"), **settings}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _saved(path: Path, fingerprint: str) -> dict[str, Any] | None:
    """The saved variant at ``path`` if it was computed with the same settings."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return saved if saved.get("fingerprint") == fingerprint else None


def run_ablation(
    data: BenchmarkData,
    variants: Sequence[Variant],
    out: Path,
    *,
    embedder: Embedder,
    counter: TokenCounter,
    budgets: Sequence[int] = (256, 512, 1024, 2048),
    thresholds: Sequence[float] = (0.5, 0.6, 0.7),
    chat_model: Any = None,
    settings: Mapping[str, Any] | None = None,
    fresh: bool = False,
    on_variant: Callable[[Variant, str], None] | None = None,
    progress: Callable[[Variant], Progress | None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate every variant not already saved; returns name -> saved record, in ``variants`` order.

    Each record (also written to ``out/variants/<name>.json`` when it finishes) holds the variant's
    overrides, config, fingerprint and ``EvalResult.to_dict()``. A saved record is reused when its
    fingerprint (variant config, dataset hash, budgets, thresholds, ``settings``) matches, unless ``fresh``.

    Args:
        data: The (already limited) benchmark.
        variants: From `expand_grid`.
        out: Output directory.
        embedder: Shared by every variant (wrap it in `CachedEmbedder`).
        counter: Shared token counter.
        budgets: Context budgets.
        thresholds: Cosine thresholds of the match metrics.
        chat_model: For LLM-extraction variants.
        settings: Anything else that identifies the inputs (embedder and model names...).
        fresh: Recompute every variant.
        on_variant: Called as ``on_variant(variant, status)`` with status "skip", "run" or "done".
        progress: Returns the runner's per-question progress callback for a variant.
    """
    folder = out / "variants"
    folder.mkdir(parents=True, exist_ok=True)
    ident = {
        "benchmark": data.name,
        "dataset_sha256": dataset_sha256(data),
        "budgets": [int(b) for b in budgets],
        "thresholds": [float(t) for t in thresholds],
        **dict(settings or {}),
    }
    records: dict[str, dict[str, Any]] = {}
    for variant in variants:
        path = folder / f"{variant.name}.json"
        fingerprint = _fingerprint(variant, ident)
        saved = None if fresh else _saved(path, fingerprint)
        if saved is not None:
            records[variant.name] = saved
            if on_variant:
                on_variant(variant, "skip")
            continue
        if on_variant:
            on_variant(variant, "run")
        system = build_variant_system(variant, embedder, counter, chat_model=chat_model)
        result = evaluate(
            data,
            [system],
            budgets=budgets,
            thresholds=thresholds,
            embedder=embedder,
            counter=counter,
            progress=progress(variant) if progress else None,
        )
        record = {
            "name": variant.name,
            "fingerprint": fingerprint,
            "inputs": ident,
            "overrides": variant.overrides,
            "config": variant.config.model_dump(mode="json"),
            "result": result.to_dict(),
        }
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
        tmp.replace(path)  # atomic: a killed run never leaves a half-written variant
        records[variant.name] = record
        if on_variant:
            on_variant(variant, "done")
    return records


def ablate(
    data: BenchmarkData,
    variants: Sequence[Variant],
    out: Path,
    *,
    embedder: Any,
    counter: TokenCounter,
    budgets: Sequence[int],
    thresholds: Sequence[float],
    manifest: Mapping[str, Any],
    chat_model: Any = None,
    settings: Mapping[str, Any] | None = None,
    fresh: bool = False,
    metric: str | None = None,
    console: Any = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """`run_ablation` under a rich progress bar, then write every output; returns ``results.json``'s document.

    Writes ``results.json`` (`collect`), ``results.md`` (`results_markdown`), ``ablation.png``
    (`memagent.eval.plots.plot_ablation`) and ``manifest.json`` (`build_manifest`: every variant's config,
    versions, data hashes, seed, machine, command line) to ``out``.

    Args:
        data: The (already limited) benchmark.
        variants: From `expand_grid`.
        out: Output directory.
        embedder: Shared by every variant; a `CachedEmbedder` (its hit counts are recorded).
        counter: Shared token counter.
        budgets: Context budgets.
        thresholds: Cosine thresholds of the match metrics.
        manifest: ``benchmark``, ``data_path`` (hashed) and ``seed``, plus any run settings to record.
        chat_model: For LLM-extraction variants.
        settings: As in `run_ablation`.
        fresh: Recompute every variant.
        metric: Metric of the table and plot (default: `headline_metric`).
        console: A rich console for the progress bar and skip notices (None: silent).
        show_progress: Draw the progress bar.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as ProgressBar

    from memagent.eval.plots import plot_ablation

    started = time.perf_counter()
    steps = len(data.questions) + len(data.users())
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with ProgressBar(*columns, console=console, disable=console is None or not show_progress) as bar:
        overall = bar.add_task(f"ablate {data.name}", total=len(variants))
        inner = bar.add_task("", total=steps, visible=False)

        def on_variant(variant: Variant, status: str) -> None:
            if status == "skip" and console is not None:
                console.print(f"skip {variant.name}: already in {out / 'variants'} (--fresh recomputes)")
            if status == "run":
                bar.reset(inner, total=steps, description=f"  {variant.name}", visible=True)
            else:
                bar.advance(overall)

        def progress(variant: Variant) -> Progress:
            return lambda done, total, label: bar.update(inner, completed=done, total=total)

        records = run_ablation(
            data,
            variants,
            out,
            embedder=embedder,
            counter=counter,
            budgets=budgets,
            thresholds=thresholds,
            chat_model=chat_model,
            settings=settings,
            fresh=fresh,
            on_variant=on_variant,
            progress=progress,
        )
    doc = collect(records)
    metric = metric or doc["headline"]
    (out / "results.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    (out / "results.md").write_text(results_markdown(doc, metric), encoding="utf-8")
    plot_ablation(doc, out / "ablation.png", metric=metric)
    info = dict(manifest)
    run_config = {
        **{k: v for k, v in info.items() if k not in {"benchmark", "data_path", "seed"}},
        "budgets": list(budgets),
        "thresholds": list(thresholds),
        "metric": metric,
        "fresh": fresh,
        **dict(settings or {}),
        "variants": {
            v.name: {"overrides": v.overrides, "config": v.config.model_dump(mode="json")} for v in variants
        },
    }
    document = build_manifest(
        benchmark=info["benchmark"],
        data_path=info["data_path"],
        config=run_config,
        seed=info["seed"],
        command=sys.argv,
        extra={
            "counts": doc["counts"],
            "dataset_sha256": dataset_sha256(data),
            "loader_metadata": json.loads(json.dumps(data.metadata, default=str)),
            "wall_s": time.perf_counter() - started,
            "embedding_cache": {
                "hits": getattr(embedder, "hits", None),
                "misses": getattr(embedder, "misses", None),
            },
        },
    )
    (out / "manifest.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    return doc
