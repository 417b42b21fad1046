"""End to end through the `memagent` command, with the real embedding model and a persistent Chroma."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memagent._demo import sample_history_path
from memagent.cli import app
from memagent.replay.jsonl import write_turns
from memagent.stores.chroma import DEFAULT_COLLECTION, catalog_file
from memagent.testing.synthetic import synthetic_history

pytestmark = pytest.mark.integration
runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def records(data_dir: Path, user: str | None = None) -> list[dict]:
    args = ["export", "-d", str(data_dir)] + (["--user", user] if user else [])
    code, out, err = run(*args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_replay_query_profile_export_import_forget(tmp_path: Path) -> None:
    data = tmp_path / "home"
    code, out, _ = run("replay", str(sample_history_path()), "-d", str(data))
    assert code == 0 and "turns stored: 24" in out
    code, out, _ = run("replay", str(sample_history_path()), "-d", str(data))
    assert code == 0 and "turns stored: 0, already stored: 24" in out

    code, out, _ = run("memories", "maya", "-d", str(data), "--as-of", "2023-02-15", "--json")
    diet_then = [json.loads(x) for x in out.splitlines() if json.loads(x)["slot"] == "diet"]
    assert code == 0 and len(diet_then) == 1 and "vegetarian" in diet_then[0]["content"].lower()
    code, out, _ = run("memories", "maya", "-d", str(data), "--json")
    diet_now = [json.loads(x) for x in out.splitlines() if json.loads(x)["slot"] == "diet"]
    assert len(diet_now) == 1 and "fish" in diet_now[0]["content"].lower()

    code, out, _ = run("profile", "maya", "-d", str(data), "-q", "dinner tonight?", "--budget", "64")
    assert code == 0 and "/64 tokens" in out

    exported = records(data)
    assert len({r["id"] for r in exported}) == len(exported)
    dump = tmp_path / "dump.jsonl"
    assert run("export", "-d", str(data), "-o", str(dump))[0] == 0
    other = tmp_path / "other"
    assert run("import", str(dump), "-d", str(other))[0] == 0
    assert sorted(r["id"] for r in records(other)) == sorted(r["id"] for r in exported)

    code, out, _ = run("forget", "maya", "-d", str(data), "--yes")
    assert code == 0 and "forgot maya" in out
    assert all(r["user_id"] != "maya" for r in records(data))
    code, _, err = run("memories", "maya", "-d", str(data))
    assert code == 1 and "unknown user 'maya'" in err


def test_bad_line_names_file_line_field_and_keeps_earlier_lines(tmp_path: Path) -> None:
    good = {"user_id": "ana", "session_id": "s", "role": "user", "timestamp": "2023-01-01T10:00:00"}
    path = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {**good, "turn_id": "1", "text": "I love hiking."},
            {**good, "turn_id": "2", "text": "I'm allergic to peanuts."},
            {**good, "turn_id": "3"},  # no text
            {**good, "turn_id": "4", "text": "never reached"},
        ],
    )
    data = tmp_path / "home"
    code, _, err = run("replay", str(path), "-d", str(data))
    assert code == 1
    assert "bad.jsonl:3" in err and "field 'text'" in err
    turns = [r for r in records(data) if r["kind"] == "turn"]
    assert sorted(r["source_turn_ids"][0] for r in turns) == ["1", "2"]

    code, out, err = run("replay", str(path), "-d", str(data), "--skip-invalid")
    assert code == 0 and "1 invalid line(s) skipped" in err
    assert "turns stored: 1, already stored: 2" in out


def test_malformed_json_and_bad_dates_are_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"user_id": "ana",\n', encoding="utf-8")
    code, _, err = run("replay", str(path), "-d", str(tmp_path / "h"))
    assert code == 1 and "broken.jsonl:1" in err and "JSON" in err
    code, _, err = run("memories", "nobody", "-d", str(tmp_path / "h"), "--as-of", "last week")
    assert code == 1 and "--as-of" in err and "last week" in err


def test_bad_bytes_empty_ids_and_undecodable_arguments_are_clear_errors(tmp_path: Path) -> None:
    good = {"user_id": "ana", "session_id": "s", "role": "user", "timestamp": "2023-01-01T10:00:00"}
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"user_id": "ana", "text": "caf\xe9"}\n'
        + (json.dumps({**good, "turn_id": "1", "text": "I love hiking."}) + "\n").encode()
    )
    data = tmp_path / "home"
    code, _, err = run("replay", str(path), "-d", str(data))
    assert code == 1 and "mixed.jsonl:1" in err and "not UTF-8" in err
    code, out, err = run("replay", str(path), "-d", str(data), "--skip-invalid")
    assert code == 0 and "1 invalid line(s) skipped" in err and "turns stored: 1" in out
    changed = write_jsonl(tmp_path / "changed.jsonl", [{**good, "turn_id": "1", "text": "I hate hiking."}])
    code, out, err = run("replay", str(changed), "-d", str(data))
    assert code == 0 and "already stored: 1" in out
    assert "1 turn(s) reuse the id of a turn stored with another text" in err

    code, out, err = run("export", "-d", str(data), "--user", "")
    assert code == 1 and "unknown user ''" in err and out == ""

    exported = tmp_path / "export.jsonl"
    assert run("export", "-d", str(data), "-o", str(exported))[0] == 0
    first = json.loads(exported.read_text(encoding="utf-8").splitlines()[0])
    bad = tmp_path / "bad-export.jsonl"
    bad.write_text(json.dumps({**first, "user_id": ""}) + "\n", encoding="utf-8")
    code, _, err = run("import", str(bad), "-d", str(tmp_path / "other"))
    assert code == 1 and "bad-export.jsonl:1" in err and "field 'user_id'" in err

    code, _, err = run("profile", "ana", "-d", str(data), "-q", "caf\udce9")  # an undecodable byte
    assert code == 1 and "query" in err and "surrogate" in err
    code, _, err = run("memories", "ana", "-d", str(data), "--as-of", "0001-01-01T00:00:00+14:00")
    assert code == 1 and "--as-of" in err and "supported range" in err


def test_forget_finishes_with_threads_whose_memories_are_already_gone(tmp_path: Path) -> None:
    from memagent.agents import MemoryAgent, sqlite_checkpointer
    from memagent.memory import Memory
    from memagent.stores import open_store
    from memagent.testing.fakes import FakeEmbedder

    data = tmp_path / "home"
    result = runner.invoke(
        app, ["chat", "-u", "ana", "-s", "s1", "-d", str(data)], input="I love hiking.\n\n"
    )
    assert result.exit_code == 0, result.stderr
    store = open_store(str(data / "chroma"), catalog=data / "catalog.sqlite3")
    memory = Memory(store, FakeEmbedder())
    assert memory.forget("ana") > 0  # what an interrupted forget of an earlier release left: threads only
    memory.close()

    def threads() -> set[str]:
        agent = MemoryAgent(memory, checkpointer=sqlite_checkpointer(data / "threads.sqlite"))
        try:
            return agent.threads("ana")
        finally:
            agent.close()

    assert threads()
    code, out, err = run("forget", "ana", "-d", str(data), "--yes")
    assert code == 0, err
    assert threads() == set()
    code, _, err = run("forget", "ana", "-d", str(data), "--yes")
    assert code == 1 and "unknown user 'ana'" in err


def _synthetic_history(path: Path, sessions: int) -> int:
    turns = synthetic_history(sessions=sessions)
    write_turns(path, turns)
    return len(turns)


def _stored_turns(catalog: Path) -> int:
    """Raw turns committed to the catalog so far (read while another process writes it)."""
    if not catalog.exists():
        return 0
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1.0)
    try:
        (count,) = db.execute("SELECT count(*) FROM records WHERE kind = 'turn'").fetchone()
    except sqlite3.Error:  # created but not yet initialised
        return 0
    finally:
        db.close()
    return int(count)


def test_killed_replay_resumes_without_duplicates(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    total = _synthetic_history(history, sessions=150)
    data = tmp_path / "home"
    cli = [
        sys.executable,
        "-m",
        "memagent.cli",
        "replay",
        str(history),
        "-d",
        str(data),
        "--batch-size",
        "16",
    ]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    catalog = data / "chroma" / catalog_file(DEFAULT_COLLECTION)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and _stored_turns(catalog) < total // 4:
        time.sleep(0.05)
    killed_midway = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    first = records(data)
    stored_first = len([r for r in first if r["kind"] == "turn"])
    assert 0 < stored_first < total or not killed_midway, (stored_first, total)

    for _ in range(2):
        resumed = subprocess.run(cli, env=env, capture_output=True, text=True)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = records(data)
    turns = [r for r in final if r["kind"] == "turn"]
    assert len(turns) == total, (len(turns), total)
    assert len({r["id"] for r in final}) == len(final)
    keys = [(r["user_id"], r["kind"], r["content"], r["event_time"]) for r in final]
    assert len(keys) == len(set(keys)), "a memory was stored twice"
    assert killed_midway, "the replay finished before it could be killed; make the history longer"


def test_cli_starts_without_the_harness_and_without_resource() -> None:
    """`memagent` imports the evaluation harness only for eval/ablate, and needs no Unix-only module."""
    probe = (
        "import sys; sys.modules['resource'] = None\n"
        "from typer.testing import CliRunner\n"
        "from memagent.cli import app\n"
        "heavy = ('memagent.eval.runner', 'memagent.eval.systems', 'bm25s')\n"
        "loaded = [m for m in heavy if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "result = CliRunner().invoke(app, ['--help'])\n"
        "assert result.exit_code == 0 and 'doctor' in result.stdout, result.stdout\n"
        "from memagent.eval.runner import peak_rss_mb\n"
        "assert peak_rss_mb() is None\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_correct_and_delete_one_memory_by_its_shown_id(tmp_path: Path) -> None:
    from memagent.memory import Memory
    from memagent.stores import open_store
    from memagent.testing.fakes import FakeEmbedder

    data = tmp_path / "home"
    history = write_jsonl(
        tmp_path / "h.jsonl",
        [
            {
                "user_id": "ana",
                "session_id": "s",
                "turn_id": "1",
                "role": "user",
                "text": "I'm allergic to peanuts.",
                "timestamp": "2024-01-01T10:00:00",
            }
        ],
    )
    code, _, err = run("replay", str(history), "-d", str(data))
    assert code == 0, err
    memory = Memory(open_store(str(data / "chroma")), FakeEmbedder())
    [allergy] = memory.memories("ana")
    memory.close()

    code, out, err = run("correct", "ana", allergy.id[:8], "User is allergic to cashews", "-d", str(data))
    assert code == 0 and "corrected: User is allergic to cashews" in out, err
    code, _, err = run("correct", "ana", "zzzz", "x", "-d", str(data))
    assert code == 1 and "no record of 'ana' with an id starting 'zzzz'" in err
    fixed = [r for r in records(data, "ana") if r["extractor"] == "correction"]
    assert len(fixed) == 1
    code, out, err = run("delete", "ana", fixed[0]["id"][:8], "-d", str(data), "--yes")
    assert code == 0 and f"deleted {fixed[0]['id']}" in out, err
    assert all(r["id"] != fixed[0]["id"] for r in records(data, "ana"))
