"""Regenerate the README's results: every benchmark run, then the summary table.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/run_all.py                 # every run below, then bench/results/summary.md
    .venv/bin/python bench/run_all.py --only perma    # one run (names below), then the summary
    .venv/bin/python bench/run_all.py --summary       # only rebuild the summary from saved results

Each run replays the staged public data in ../shared/data through memagent and the baselines with the
bundled embedding model, offline, and writes results.json, results.md and manifest.json to
bench/results/<run>/. Users are taken evenly spaced (`--limit`), never picked by hand. Each run takes
under 15 minutes on 2 cores. `ablation-prefeval-explicit` runs `memagent ablate` (every config switch,
budgets 256-2048) and writes ablation.png beside its tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MEMAGENT_DATA", ROOT.parent / "shared" / "data"))
RESULTS = ROOT / "bench" / "results"

RUNS: dict[str, dict] = {
    "perma": {"benchmark": "perma", "data": "perma", "limit": 4},
    "prefeval-explicit": {"benchmark": "prefeval", "data": "prefeval", "variant": "explicit", "limit": 96},
    "prefeval-choice": {"benchmark": "prefeval", "data": "prefeval", "variant": "choice", "limit": 96},
    "prefeval-persona": {"benchmark": "prefeval", "data": "prefeval", "variant": "persona", "limit": 96},
    "personachat": {"benchmark": "personachat", "data": "personachat", "limit": 500},
}
ABLATIONS: dict[str, dict] = {
    "ablation-prefeval-explicit": {
        "benchmark": "prefeval",
        "data": "prefeval",
        "variant": "explicit",
        "limit": 48,
    },
}
SYSTEMS = ("memagent", "naive-rag", "bm25-raw", "recent", "no-memory")


def run(name: str) -> float:
    """Run one benchmark or ablation; returns its wall time in seconds."""
    from memagent.eval.commands import run_ablate, run_eval

    started = time.perf_counter()
    if name in ABLATIONS:
        spec = ABLATIONS[name]
        run_ablate(
            spec["benchmark"],
            DATA / spec["data"],
            out=RESULTS / name,
            limit=spec["limit"],
            variant=spec.get("variant"),
            fresh=True,
            show_progress=sys.stderr.isatty(),
        )
        return time.perf_counter() - started
    spec = RUNS[name]
    run_eval(
        spec["benchmark"],
        DATA / spec["data"],
        limit=spec.get("limit"),
        budgets=[256, 512, 1024],
        thresholds=[0.5, 0.6, 0.7],
        out=RESULTS / name,
        variant=spec.get("variant"),
        show_progress=sys.stderr.isatty(),
    )
    return time.perf_counter() - started


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def summary() -> str:
    """The README table: preference recall at 512 tokens, and PersonaChat extraction F1."""
    lines = [
        "Preference recall in the context at 512 tokens "
        "(% of gold preferences matched at cosine >= 0.5 / 0.6 / 0.7):",
        "",
        "| benchmark (users, questions) | " + " | ".join(SYSTEMS) + " |",
        "|---|" + "---|" * len(SYSTEMS),
    ]
    for name in ("perma", "prefeval-explicit", "prefeval-choice", "prefeval-persona"):
        path = RESULTS / name / "results.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        counts = result["counts"]
        cells = []
        for system in SYSTEMS:
            at = result["context"].get(system, {}).get("512", {})
            cells.append(" / ".join(_cell(at.get(f"pref_recall@{t}")) for t in (0.5, 0.6, 0.7)))
        lines.append(f"| {name} ({counts['users']}, {counts['questions']}) | " + " | ".join(cells) + " |")
    path = RESULTS / "personachat" / "results.json"
    if path.exists():
        result = json.loads(path.read_text())
        lines += [
            "",
            "PersonaChat persona extraction against the gold persona sentences "
            f"({result['counts']['users']} dialogues), precision / recall / F1 at cosine >= t:",
            "",
            "| system | t = 0.5 | t = 0.6 | t = 0.7 |",
            "|---|---|---|---|",
        ]
        rows = (
            ("memagent, memories as stored ('User has ...')", "memagent", "extraction"),
            ("memagent, memories matched in the first person", "memagent", "extraction_first_person"),
            ("store every utterance", "naive-rag", "extraction"),
        )
        for label, system, prefix in rows:
            ex = result["extraction"].get(system, {})
            cells = [
                " / ".join(_cell(ex.get(f"{prefix}_{m}@{t}")) for m in ("precision", "recall", "f1"))
                for t in (0.5, 0.6, 0.7)
            ]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", choices=sorted({**RUNS, **ABLATIONS}), action="append", help="run only these (repeatable)"
    )
    parser.add_argument("--summary", action="store_true", help="only rebuild the summary")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"benchmark data not found at {DATA} (set MEMAGENT_DATA)")
    if not args.summary:
        for name in args.only or [*RUNS, *ABLATIONS]:
            seconds = run(name)
            print(f"{name}: {seconds:.0f}s", flush=True)
    text = summary()
    (RESULTS / "summary.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
