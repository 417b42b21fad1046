"""A small ablation study: which parts of the pipeline matter for preference recall on PrefEval?

Run: python examples/ablation_study.py PATH_TO_PREFEVAL [OUT_DIR]
(PATH_TO_PREFEVAL is the benchmark's `benchmark_dataset` directory.) Writes results.md, ablation.png and
manifest.json to OUT_DIR; the same as `memagent ablate prefeval --data PATH --variant explicit --limit 8`.
"""

import sys
from pathlib import Path

from memagent.eval.commands import run_ablate

if len(sys.argv) < 2:
    sys.exit(__doc__)
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("ablation-out")
run_ablate(
    "prefeval",
    Path(sys.argv[1]),
    out=out,
    variant="explicit",
    limit=8,
    variants=["default", "no-extraction", "no-dense", "no-bm25", "no-turns"],
    budgets=[256, 512],
)
print((out / "results.md").read_text())
