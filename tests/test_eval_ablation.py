"""The ablation grid: expansion, the no-profile system, resume, determinism, outputs and the command."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from memagent.config import MemoryConfig, RetrievalConfig
from memagent.embeddings import CachedEmbedder
from memagent.errors import ConfigError
from memagent.eval.ablation import (
    DEFAULT_VARIANTS,
    LLM_VARIANT,
    RetrievedOnlySystem,
    ablate,
    build_variant_system,
    expand_grid,
    load_variant_file,
    merge_overrides,
)
from memagent.eval.ablation_report import collect, headline_metric, results_markdown
from memagent.eval.commands import register, run_ablate
from memagent.eval.plots import series
from memagent.replay.base import BenchmarkData, Question
from memagent.testing import FakeEmbedder, scripted_chat_model
from memagent.tokens import WordCounter
from memagent.types import Role, Turn

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
BUDGETS = (40, 200)
THRESHOLDS = (0.3, 0.5)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _turns(user: str, texts: list[tuple[Role, str]], session: str, start: int) -> list[Turn]:
    return [
        Turn(
            user_id=user,
            session_id=f"{user}:{session}",
            turn_id=f"{user}{start + i}",
            role=role,
            text=text,
            event_time=T0 + timedelta(days=start + i),
        )
        for i, (role, text) in enumerate(texts)
    ]


def tiny() -> BenchmarkData:
    a = _turns(
        "a",
        [
            (Role.USER, "I am vegetarian and I love spicy food."),
            (Role.ASSISTANT, "Noted."),
            (Role.USER, "The train to Lyon leaves at noon on Friday."),
            (Role.ASSISTANT, "Have a good trip."),
            (Role.USER, "I hate jazz music."),
            (Role.ASSISTANT, "Understood."),
        ],
        "s1",
        0,
    )
    b = _turns(
        "b",
        [
            (Role.USER, "I love coffee."),
            (Role.ASSISTANT, "Great."),
            (Role.USER, "I no longer like coffee, I prefer tea now."),
            (Role.ASSISTANT, "Okay."),
        ],
        "s1",
        0,
    )
    questions = [
        Question(
            id="a1",
            user_id="a",
            text="What should I cook tonight?",
            checkpoint=6,
            gold_preferences=["I am vegetarian"],
            evidence_turn_ids=["a0"],
        ),
        Question(
            id="b1",
            user_id="b",
            text="What drink should I order?",
            checkpoint=4,
            gold_preferences=["I prefer tea"],
            updated_preferences=[("I love coffee", "I prefer tea")],
        ),
    ]
    return BenchmarkData(name="tiny", turns=a + b, questions=questions)


def _ablate(out: Path, names: list[str], *, console: Console | None = None, **kwargs: Any) -> dict[str, Any]:
    data_file = out.parent / "data.txt"
    data_file.write_text("tiny", encoding="utf-8")
    options: dict[str, Any] = {"budgets": BUDGETS, "thresholds": THRESHOLDS, **kwargs}
    return ablate(
        tiny(),
        expand_grid(names, llm=options.get("chat_model") is not None),
        out,
        embedder=CachedEmbedder(FakeEmbedder()),
        counter=WordCounter(),
        manifest={"benchmark": "tiny", "data_path": data_file, "seed": 7},
        console=console,
        **options,
    )


def _without_timings(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "timings"}


# ------------------------------------------------------------------------------------------ grid (pure)
def test_default_grid_covers_every_switch_and_changes_one_thing_each() -> None:
    variants = {v.name: v for v in expand_grid()}
    assert list(variants) == list(DEFAULT_VARIANTS)
    assert variants["default"].config == MemoryConfig()
    retrieval = RetrievalConfig()
    assert variants["no-dense"].config.retrieval == retrieval.model_copy(update={"dense_weight": 0.0})
    assert variants["no-bm25"].config.retrieval == retrieval.model_copy(update={"lexical_weight": 0.0})
    assert variants["no-recency"].config.retrieval == retrieval.model_copy(update={"recency_weight": 0.0})
    assert variants["no-context"].config.retrieval == retrieval.model_copy(update={"context_weight": 0.0})
    assert variants["assistant-alike"].config.retrieval == retrieval.model_copy(
        update={"assistant_weight": 1.0}
    )
    assert variants["no-turn-context"].config.turn_context is False
    assert variants["no-turns"].config.retrieval.include_turns is False
    assert variants["no-extraction"].config.extraction == "none"
    assert variants["no-consolidation"].config.consolidation is False
    assert variants["no-profile"].config.profile is False
    assert (variants["top-k=4"].config.top_k, variants["top-k=16"].config.top_k) == (4, 16)
    for name, variant in variants.items():
        changed = {k for k, v in variant.config.model_dump().items() if v != MemoryConfig().model_dump()[k]}
        assert len(changed) == (0 if name == "default" else 1), name


def test_llm_variant_only_with_a_model() -> None:
    assert LLM_VARIANT not in [v.name for v in expand_grid()]
    assert [v.name for v in expand_grid(llm=True)][-1] == LLM_VARIANT
    with pytest.raises(ConfigError, match="--model"):
        expand_grid([LLM_VARIANT])


def test_names_pick_a_subset_in_order_and_top_k_is_open() -> None:
    variants = expand_grid(["top-k=7", "default", "no-bm25"])
    assert [v.name for v in variants] == ["top-k=7", "default", "no-bm25"]
    assert variants[0].config.top_k == 7


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["default", "no-such-thing"], "unknown variant 'no-such-thing'.*no-dense"),
        (["default", "default"], "duplicate"),
        (["../escape"], "bad variant name"),
        ([], "no variants"),
        (["top-k=0"], "invalid overrides"),
    ],
)
def test_bad_variant_names_are_clear_errors(names: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        expand_grid(names)


def test_extra_variants_merge_into_the_base_and_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "v.json"
    path.write_text(json.dumps({"rrf": {"retrieval": {"fusion": "rrf", "rrf_k": 10}}, "k12": {"top_k": 12}}))
    extra = load_variant_file(path)
    variants = expand_grid(None, extra=extra)
    assert [v.name for v in variants][-2:] == ["rrf", "k12"]
    rrf = variants[-2].config.retrieval
    assert rrf.rrf_k == 10 and rrf.dense_weight == RetrievalConfig().dense_weight
    with pytest.raises(ConfigError, match="variant 'typo'"):
        expand_grid(["typo"], extra={"typo": {"retrieval": {"dense_wieght": 0}}})
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        load_variant_file(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_variant_file(tmp_path / "missing.json")


def test_merge_overrides_is_nested_and_pure() -> None:
    base = {"a": 1, "r": {"x": 1, "y": 2}}
    overrides = {"r": {"y": 3}, "b": 2}
    assert merge_overrides(base, overrides) == {"a": 1, "b": 2, "r": {"x": 1, "y": 3}}
    assert base == {"a": 1, "r": {"x": 1, "y": 2}} and overrides == {"r": {"y": 3}, "b": 2}


# ------------------------------------------------------------------------------------ no-profile system
def test_no_profile_context_is_ranked_retrieval_packed_to_the_budget() -> None:
    (variant,) = expand_grid(["no-profile"])
    counter = WordCounter()
    system = build_variant_system(variant, CachedEmbedder(FakeEmbedder()), counter)
    assert isinstance(system, RetrievedOnlySystem)
    system.ingest(tiny().turns_for("a"))
    small, large = system.context("a", "vegetarian food", 30), system.context("a", "vegetarian food", 400)
    assert 0 < small.tokens <= 30 and counter.count(small.text) == small.tokens
    assert len(large.lines) > len(small.lines)
    assert not any(line.text.endswith(":") for line in large.lines)  # no section headings
    assert "Preferences:" not in large.text
    ranked = [line for line in (ln.text for ln in large.lines)]
    assert set(ln.text for ln in small.lines) <= set(ranked)
    (default,) = expand_grid(["default"])
    profile = build_variant_system(default, CachedEmbedder(FakeEmbedder()), counter)
    profile.ingest(tiny().turns_for("a"))
    assert not isinstance(profile, RetrievedOnlySystem)
    assert profile.context("a", "vegetarian food", 400).text.splitlines()[0].endswith(":")


# --------------------------------------------------------------------------------------- run and resume
def test_grid_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    doc = _ablate(out, ["default", "no-extraction", "no-profile", "top-k=4"])
    assert {p.name for p in out.iterdir()} == {
        "results.json",
        "results.md",
        "ablation.png",
        "manifest.json",
        "variants",
    }
    assert sorted(p.name for p in (out / "variants").iterdir()) == [
        "default.json",
        "no-extraction.json",
        "no-profile.json",
        "top-k=4.json",
    ]
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(doc))
    assert saved["headline"] == "pref_recall@0.5"
    for variant in saved["variants"].values():
        assert set(variant["context"]) == {"40", "200"}
        assert variant["context"]["40"]["tokens"] <= 40
    # extraction off stores no memories; the rules find some
    assert saved["variants"]["no-extraction"]["extraction"]["memories_per_user_turn"] == 0
    assert saved["variants"]["default"]["extraction"]["memories_per_user_turn"] > 0
    assert set(saved["timings"]) == set(saved["variants"])
    table = (out / "results.md").read_text()
    assert "| no-profile |" in table and "Δ 200" in table and "pref_recall@0.5" in table


def test_same_inputs_give_identical_numbers(tmp_path: Path) -> None:
    names = ["default", "no-dense", "no-profile"]
    first = _ablate(tmp_path / "one", names)
    second = _ablate(tmp_path / "two", names)
    assert _without_timings(first) == _without_timings(second)
    for name in names:
        a = json.loads((tmp_path / "one" / "variants" / f"{name}.json").read_text())["result"]
        b = json.loads((tmp_path / "two" / "variants" / f"{name}.json").read_text())["result"]
        a.pop("timings"), b.pop("timings")
        assert a == b


def test_finished_variants_are_skipped_unless_fresh(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _ablate(out, ["default"])
    path = out / "variants" / "default.json"
    record = json.loads(path.read_text())
    record["result"]["context"]["default"]["200"]["pref_recall@0.5"] = 0.123  # a sentinel
    path.write_text(json.dumps(record))
    log = io.StringIO()
    doc = _ablate(out, ["default", "no-bm25"], console=Console(file=log, width=200))
    assert doc["variants"]["default"]["context"]["200"]["pref_recall@0.5"] == 0.123  # not recomputed
    assert "no-bm25" in doc["variants"] and (out / "variants" / "no-bm25.json").exists()
    assert "skip default" in log.getvalue() and "skip no-bm25" not in log.getvalue()
    fresh = _ablate(out, ["default"], fresh=True)
    assert fresh["variants"]["default"]["context"]["200"]["pref_recall@0.5"] != 0.123


def test_changed_settings_recompute_a_saved_variant(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _ablate(out, ["default"])
    doc = _ablate(out, ["default"], budgets=(40, 200, 400))
    assert set(doc["variants"]["default"]["context"]) == {"40", "200", "400"}


def test_plot_is_a_png_with_one_series_per_variant(tmp_path: Path) -> None:
    from matplotlib.image import imread

    out = tmp_path / "out"
    doc = _ablate(out, ["default", "no-turns"])
    png = (out / "ablation.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    height, width, _ = imread(out / "ablation.png").shape
    assert width > 600 and height > 400
    points = series(doc, doc["headline"])
    assert list(points) == ["default", "no-turns"] and [b for b, _ in points["default"]] == list(BUDGETS)


def test_manifest_has_configs_hashes_versions_seed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _ablate(out, ["default", "top-k=4"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["sha256"] == hashlib.sha256(b"tiny").hexdigest()
    assert len(manifest["dataset_sha256"]) == 64
    assert manifest["packages"]["numpy"] and manifest["packages"]["pydantic"]
    assert manifest["seed"] == 7 and manifest["machine"]["cpu_count"] and manifest["command"]
    assert manifest["config"]["variants"]["top-k=4"]["config"]["top_k"] == 4
    assert manifest["config"]["variants"]["default"]["overrides"] == {}
    assert manifest["config"]["budgets"] == list(BUDGETS)


def test_llm_variant_calls_the_model(tmp_path: Path) -> None:
    model = scripted_chat_model(['{"memories": []}'])
    doc = _ablate(tmp_path / "out", [LLM_VARIANT], chat_model=model)
    assert doc["variants"][LLM_VARIANT]["cost"]["llm_calls_per_turn"] > 0
    assert model.prompts


# ---------------------------------------------------------------------------------------- tables (pure)
def _doc(values: dict[str, float], metric: str = "pref_recall@0.6") -> dict[str, Any]:
    variants = {
        name: {
            "overrides": {},
            "context": {"256": {metric: v, "tokens": 100.0}},
            "ranking": {},
            "extraction": {},
            "cost": {},
        }
        for name, v in values.items()
    }
    return {
        "benchmark": "b",
        "budgets": [256],
        "thresholds": [0.5, 0.6, 0.7],
        "counts": {},
        "variants": variants,
    }


def test_headline_and_table() -> None:
    doc = _doc({"default": 0.5, "no-dense": 0.4})
    assert headline_metric(doc) == "pref_recall@0.6"
    assert headline_metric(_doc({"default": 0.5}, "evidence_recall")) == "evidence_recall"
    table = results_markdown({**doc, "headline": "pref_recall@0.6"})
    assert "| no-dense | 40.0 | -10.0 |" in table and "| default | 50.0 | +0.0 |" in table
    assert "Δ" not in results_markdown({**_doc({"x": 0.5}), "headline": "pref_recall@0.6"})


def test_collect_keeps_timings_apart() -> None:
    result = {
        "benchmark": "b",
        "budgets": [64],
        "thresholds": [0.5],
        "counts": {"users": 1},
        "context": {"default": {"64": {"tokens": 10.0}}},
        "ranking": {},
        "extraction": {},
        "cost": {},
        "timings": {"default": {"ingest_s": 1.5}, "process": {"wall_s": 2.0}},
    }
    doc = collect({"default": {"overrides": {}, "result": result}})
    assert doc["timings"] == {"default": {"ingest_s": 1.5, "wall_s": 2.0}}
    assert "ingest_s" not in json.dumps(_without_timings(doc))
    with pytest.raises(ValueError):
        collect({})


# --------------------------------------------------------------------------------------------- command
PERSONACHAT = """1 your persona: i love to eat pizza.
2 your persona: i have two dogs.
3 hi there\ti love pizza , do you ?
4 what pets do you have ?\ti have two dogs and they are great .
"""


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def other() -> None:  # keeps typer from collapsing to a single-command app
        """Nothing."""

    register(app)
    return app


def test_run_ablate_loads_a_benchmark_file(tmp_path: Path) -> None:
    path = tmp_path / "convai2.txt"
    path.write_text(PERSONACHAT, encoding="utf-8")
    variants = tmp_path / "variants.json"
    variants.write_text(json.dumps({"k3": {"top_k": 3}}), encoding="utf-8")
    doc = run_ablate(
        "personachat",
        path,
        out=tmp_path / "out",
        budgets=[64],
        thresholds=[0.5],
        variants=["default", "no-extraction", "k3"],
        variant_file=variants,
        show_progress=False,
        embedder=FakeEmbedder(),
        counter=WordCounter(),
    )
    assert list(doc["variants"]) == ["default", "no-extraction", "k3"]
    assert doc["variants"]["k3"]["overrides"] == {"top_k": 3}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["data"]["sha256"] == hashlib.sha256(PERSONACHAT.encode()).hexdigest()
    assert manifest["config"]["embedder"] == "FakeEmbedder"


def test_command_help_and_bad_variant() -> None:
    runner = CliRunner()
    help_text = runner.invoke(_app(), ["ablate", "--help"])
    assert help_text.exit_code == 0 and "--variants" in help_text.output and "--fresh" in help_text.output
    assert runner.invoke(_app(), ["eval", "--help"]).exit_code == 0
    result = runner.invoke(_app(), ["ablate", "perma", "--data", ".", "--variants", "default,nope"])
    assert result.exit_code == 1
    assert "unknown variant 'nope'" in result.output
