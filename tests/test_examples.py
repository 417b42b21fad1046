"""The examples run as documented (offline, on the bundled model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ENV = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
ENV.pop("MEMAGENT_MODEL", None)


def run(name: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_quickstart() -> None:
    out = run("quickstart.py")
    assert "peanut" in out and "diet on 2023-02-15: ['User is vegetarian']" in out
    assert "fish" in out.split("diet now:")[1]


def test_plug_a_chat_model_offline() -> None:
    out = run("plug_a_chat_model.py")
    assert "No language model is configured" in out and "spicy" in out


def test_replay_history_is_idempotent() -> None:
    out = run("replay_history.py")
    assert "first run: 24 turns stored" in out and "second run: 0 turns stored, 24 already there" in out


def test_ablation_study_without_data_prints_usage() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "ablation_study.py")], env=ENV, capture_output=True, text=True
    )
    assert done.returncode == 1 and "PATH_TO_PREFEVAL" in done.stderr


def _readme_snippet(heading: str) -> str:
    """The first ```python block after ``heading`` in the README."""
    text = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    after = text.split(heading, 1)[1]
    return after.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_python_snippets_run_as_written(tmp_path: Path) -> None:
    script = tmp_path / "snippets.py"
    script.write_text(
        _readme_snippet("## Python API in ten lines")
        + _readme_snippet("## The agent graph")
        + "print('REPLY', reply.text[:40]); print('USERS', memory.users())\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=ENV, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "fish" in done.stdout.split("REPLY")[0]  # the profile printed by the first snippet
    assert "USERS ['ana']" in done.stdout
