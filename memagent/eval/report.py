"""Render an `EvalResult` as markdown tables (memagent beside every baseline) and as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memagent.eval.runner import EvalResult

__all__ = ["fmt", "markdown_table", "to_json", "to_markdown"]

_CONTEXT_FAMILIES: tuple[tuple[str, str], ...] = (
    ("pref_recall", "Preference recall in the context (share of gold preferences matched, cos >= t)"),
    ("pref_precision", "Precision of context lines (share of lines matching a gold preference)"),
    ("pref_f1", "F1 of preference recall and line precision"),
    ("currency", "Currency (new value present, old value absent)"),
    ("stale", "Stale values (old value present; lower is better)"),
)
_PLAIN_CONTEXT: tuple[tuple[str, str, bool], ...] = (
    ("evidence_recall", "Evidence recall within the budget", True),
    ("evidence_hit", "Evidence hit within the budget", True),
    ("tokens", "Context tokens (mean)", False),
    ("lines", "Context lines (mean)", False),
)


def fmt(value: Any, *, percent: bool = True) -> str:
    """A table cell: rates as percentages with one decimal, other numbers with one decimal, None as "–"."""
    if value is None:
        return "–"
    if isinstance(value, float | int):
        return f"{100 * value:.1f}" if percent else f"{value:.1f}"
    return str(value)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _has(result: EvalResult, key: str) -> bool:
    return any(
        key in per_budget for per_system in result.context.values() for per_budget in per_system.values()
    )


def _context_tables(result: EvalResult) -> list[str]:
    out: list[str] = []
    budgets = [str(b) for b in result.budgets]
    for family, title in _CONTEXT_FAMILIES:
        if not _has(result, f"{family}@{result.thresholds[0]}"):
            continue
        header = ["system", *[f"{b} tok @{t}" for b in budgets for t in result.thresholds]]
        rows = [
            [
                name,
                *[
                    fmt(result.context[name][b].get(f"{family}@{t}"))
                    for b in budgets
                    for t in result.thresholds
                ],
            ]
            for name in result.systems
        ]
        out += [f"### {title}", "", markdown_table(header, rows), ""]
    for key, title, percent in _PLAIN_CONTEXT:
        if not _has(result, key):
            continue
        header = ["system", *[f"{b} tok" for b in budgets]]
        rows = [
            [name, *[fmt(result.context[name][b].get(key), percent=percent) for b in budgets]]
            for name in result.systems
        ]
        out += [f"### {title}", "", markdown_table(header, rows), ""]
    return out


def _ranking_table(result: EvalResult) -> list[str]:
    keys = sorted(
        {k for v in result.ranking.values() for k in v}, key=lambda k: (k.split("@")[0], int(k.split("@")[1]))
    )
    if not keys:
        return []
    rows = [[name, *[fmt(result.ranking[name].get(k)) for k in keys]] for name in result.systems]
    return ["### Evidence ranking (budget-free)", "", markdown_table(["system", *keys], rows), ""]


def _extraction_tables(result: EvalResult) -> list[str]:
    out: list[str] = []
    names = [n for n in result.systems if n in result.extraction]
    for prefix, title in (
        ("extraction", "Extraction vs gold profile (pooled over users)"),
        (
            "extraction_first_person",
            "Extraction vs gold profile, memories matched in the first person ('User has' -> 'I have')",
        ),
        ("session_extraction", "Extraction vs per-session gold (pooled over sessions)"),
    ):
        if not any(f"{prefix}_f1@{result.thresholds[0]}" in result.extraction[n] for n in names):
            continue
        header = ["system", *[f"{m} @{t}" for t in result.thresholds for m in ("P", "R", "F1")]]
        rows = [
            [
                "store every utterance" if n == "naive-rag" else n,
                *[
                    fmt(result.extraction[n].get(f"{prefix}_{m}@{t}"))
                    for t in result.thresholds
                    for m in ("precision", "recall", "f1")
                ],
            ]
            for n in names
        ]
        out += [f"### {title}", "", markdown_table(header, rows), ""]
    if names:
        rows = [
            [
                "store every utterance" if n == "naive-rag" else n,
                f"{v:.2f}" if (v := result.extraction[n].get("memories_per_user_turn")) is not None else "–",
            ]
            for n in names
        ]
        out += [
            "### Memories per user turn",
            "",
            markdown_table(["system", "memories / user turn"], rows),
            "",
        ]
    return out


def _cost_table(result: EvalResult) -> list[str]:
    header = [
        "system",
        "stored / user",
        "LLM calls / turn",
        "ingest turns/s",
        "context p50 ms",
        "context p95 ms",
    ]
    rows = []
    for name in result.systems:
        cost, timing = result.cost.get(name, {}), result.timings.get(name, {})
        rows.append(
            [
                name,
                fmt(cost.get("stored_per_user"), percent=False),
                f"{cost['llm_calls_per_turn']:.3f}" if cost.get("llm_calls_per_turn") is not None else "–",
                fmt(timing.get("ingest_turns_per_s"), percent=False),
                fmt(timing.get("context_ms_p50"), percent=False),
                fmt(timing.get("context_ms_p95"), percent=False),
            ]
        )
    process = result.timings.get("process", {})
    note = (
        f"Wall time {fmt(process.get('wall_s'), percent=False)} s, peak RSS "
        f"{fmt(process.get('peak_rss_mb'), percent=False)} MB. Systems share one embedding cache: the first "
        "system to see a text pays for embedding it, so ingest throughput favours later systems."
    )
    return ["### Cost", "", markdown_table(header, rows), "", note, ""]


def to_markdown(result: EvalResult) -> str:
    """All tables of ``result``: rates in percent, "–" where a metric is undefined."""
    counts = ", ".join(f"{k} {v}" for k, v in result.counts.items() if v)
    out = [f"## {result.benchmark}", "", f"Counts: {counts}.", ""]
    out += _context_tables(result)
    out += _ranking_table(result)
    out += _extraction_tables(result)
    out += _cost_table(result)
    return "\n".join(out).rstrip() + "\n"


def to_json(result: EvalResult) -> str:
    """``result`` as indented JSON."""
    return json.dumps(result.to_dict(), indent=2)
