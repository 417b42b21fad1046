"""Ablation results as a document (`collect`: ``results.json``) and tables (`results_markdown`).

Pure functions over the records `memagent.eval.ablation.run_ablation` saves; `headline_metric` picks the
metric the table and the plot lead with from what the benchmark measures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from memagent.eval.report import fmt, markdown_table

__all__ = ["collect", "headline_metric", "results_markdown"]

_HEADLINES = ("pref_recall@{t}", "evidence_recall", "currency@{t}", "pref_f1@{t}")


def collect(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The ``results.json`` document: every variant x budget x metric, timings kept apart.

    Everything but the ``timings`` key is identical for identical inputs.
    """
    if not records:
        raise ValueError("no variant results to collect")
    first = next(iter(records.values()))["result"]
    variants: dict[str, Any] = {}
    timings: dict[str, Any] = {}
    for name, record in records.items():
        result = record["result"]
        variants[name] = {
            "overrides": record["overrides"],
            "context": result["context"][name],
            "ranking": result["ranking"].get(name, {}),
            "extraction": result["extraction"].get(name, {}),
            "cost": result["cost"].get(name, {}),
        }
        timings[name] = {**result["timings"].get(name, {}), **result["timings"].get("process", {})}
    doc: dict[str, Any] = {
        "benchmark": first["benchmark"],
        "budgets": first["budgets"],
        "thresholds": first["thresholds"],
        "counts": first["counts"],
        "variants": variants,
    }
    doc["headline"] = headline_metric(doc)
    doc["timings"] = timings
    return doc


def headline_metric(doc: Mapping[str, Any]) -> str:
    """The metric the table and plot lead with: preference recall at the middle threshold where the
    benchmark has preference gold, else evidence recall, currency or preference F1; else tokens."""
    thresholds = doc["thresholds"]
    middle = thresholds[len(thresholds) // 2]
    present = {key for v in doc["variants"].values() for per in v["context"].values() for key in per}
    for pattern in _HEADLINES:
        key = pattern.format(t=middle)
        if key in present:
            return key
    return "tokens"


def _number(value: Any, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _delta(value: Any, reference: Any) -> str:
    if value is None or reference is None:
        return "–"
    return f"{100 * (value - reference):+.1f}"


def results_markdown(doc: Mapping[str, Any], metric: str | None = None) -> str:
    """Markdown tables of ``collect``'s document: ``metric`` per variant and budget (with the change
    from ``default`` where it ran), then the budget-free ranking, extraction and cost columns."""
    metric = metric or doc["headline"]
    budgets = [str(b) for b in doc["budgets"]]
    variants: Mapping[str, Any] = doc["variants"]
    reference = variants.get("default")
    percent = metric not in {"tokens", "lines"}
    header = ["variant", *[f"{b} tok" for b in budgets]]
    if reference is not None:
        header += [f"Δ {b}" for b in budgets]
    rows = []
    for name, v in variants.items():
        row = [name, *[fmt(v["context"].get(b, {}).get(metric), percent=percent) for b in budgets]]
        if reference is not None:
            row += [
                _delta(v["context"].get(b, {}).get(metric), reference["context"].get(b, {}).get(metric))
                for b in budgets
            ]
        rows.append(row)
    counts = doc["counts"]
    out = [
        f"## Ablation on {doc['benchmark']}: {metric} (%)",
        "",
        f"{counts.get('users', 0)} users, {counts.get('questions', 0)} questions"
        + ("; Δ: points against `default`." if reference is not None else "."),
        "",
        markdown_table(header, rows),
        "",
    ]
    thresholds = doc["thresholds"]
    middle = thresholds[len(thresholds) // 2]
    extra_cols = [
        ("ranking", "recall@5"),
        ("ranking", "recall@10"),
        ("ranking", "ndcg@10"),
        ("extraction", f"session_extraction_f1@{middle}"),
        ("extraction", f"extraction_f1@{middle}"),
    ]
    present = [(s, k) for s, k in extra_cols if any(v[s].get(k) is not None for v in variants.values())]
    header = ["variant", *[k for _, k in present], "memories/user turn", "records/user", "LLM calls/turn"]
    rows = []
    for name, v in variants.items():
        cost = [
            _number(v["extraction"].get("memories_per_user_turn"), 3),
            _number(v["cost"].get("stored_per_user"), 1),
            _number(v["cost"].get("llm_calls_per_turn"), 2),
        ]
        rows.append([name, *[fmt(v[s].get(k)) for s, k in present], *cost])
    out += ["### Budget-free metrics (%) and cost", "", markdown_table(header, rows), ""]
    return "\n".join(out)
