"""Plots of evaluation results (matplotlib, Agg backend: no display needed).

`plot_ablation` draws an ablation's headline metric against the token budget, one line per variant.
matplotlib is the ``eval`` extra; it is imported only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from memagent.errors import ConfigError

__all__ = ["plot_ablation", "series"]

_PERCENT_FREE = {"tokens", "lines"}


def series(doc: Mapping[str, Any], metric: str) -> dict[str, list[tuple[int, float]]]:
    """Variant -> ``(budget, value)`` points of ``metric`` from an ablation's ``results.json`` document,
    in percent for rates; budgets without a value are left out."""
    scale = 1.0 if metric in _PERCENT_FREE else 100.0
    out: dict[str, list[tuple[int, float]]] = {}
    for name, variant in doc["variants"].items():
        points = []
        for budget in doc["budgets"]:
            value = variant["context"].get(str(budget), {}).get(metric)
            if value is not None:
                points.append((int(budget), scale * float(value)))
        out[name] = points
    return out


def plot_ablation(doc: Mapping[str, Any], path: Path, *, metric: str | None = None) -> Path:
    """Write a PNG of ``metric`` (default: the document's headline) vs token budget, one line per variant.

    The ``default`` variant is drawn thick and black so every ablation reads as a departure from it;
    variants whose line equals it are dashed and labelled "(= default)" (they would hide behind it).

    Raises:
        ConfigError: matplotlib is not installed (``pip install 'memagent[eval]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'memagent[eval]'") from None
    metric = metric or doc["headline"]
    lines = series(doc, metric)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    try:
        cmap = plt.get_cmap("tab10" if len(lines) <= 10 else "tab20")
        markers = "osD^v<>pPX*h"
        reference = lines.get("default")
        for i, (name, points) in enumerate(lines.items()):
            if not points:
                continue
            xs, ys = zip(*points, strict=True)
            if name == "default":
                ax.plot(xs, ys, color="black", linewidth=3.2, marker="o", label=name, zorder=2, alpha=0.8)
                continue
            same = points == reference
            ax.plot(
                xs,
                ys,
                color=cmap(i % cmap.N),
                linewidth=1.2 if same else 1.6,
                linestyle="--" if same else "-",
                marker=markers[i % len(markers)],
                markersize=4 if same else 6,
                label=f"{name} (= default)" if same else name,
                zorder=3,
            )
        budgets = [int(b) for b in doc["budgets"]]
        ax.set_xscale("log", base=2)
        ax.set_xticks(budgets)
        ax.set_xticklabels([str(b) for b in budgets])
        ax.minorticks_off()
        unit = "" if metric in _PERCENT_FREE else " (%)"
        ax.set_xlabel("context token budget")
        ax.set_ylabel(f"{metric}{unit}")
        counts = doc.get("counts", {})
        ax.set_title(
            f"Ablation on {doc['benchmark']}: {metric} "
            f"({counts.get('users', '?')} users, {counts.get('questions', '?')} questions)",
            fontsize=10,
        )
        ax.grid(True, alpha=0.3)
        if any(lines.values()):
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
        else:
            ax.text(0.5, 0.5, f"no values of {metric}", ha="center", va="center", transform=ax.transAxes)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)
    return path
