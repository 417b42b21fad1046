"""The vector index's health: records search cannot reach are found, repaired, and never left behind by
a write that a dead process interrupted (`IndexedStore.check`, `memagent doctor`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memagent.cli import app
from memagent.memory import Memory
from memagent.replay.jsonl import read_turns, write_turns
from memagent.stores import ChromaStore, IndexedStore, InProcessStore
from memagent.stores._indexed import MEMORIES, TURNS
from memagent.stores.chroma import DEFAULT_COLLECTION, catalog_file
from memagent.testing.conformance import make_record
from memagent.testing.fakes import FakeEmbedder
from memagent.testing.synthetic import synthetic_history
from memagent.types import MemoryKind

runner = CliRunner()


def _fill(store: IndexedStore, users: int = 3, per_user: int = 30) -> None:
    embedder = FakeEmbedder()
    records = [
        make_record(
            f"u{u}",
            f"r{u}-{i}",
            f"user {u} note {i} about topic {i * 7 % 11}",
            kind=MemoryKind.TURN if i % 3 == 0 else MemoryKind.FACT,
        )
        for u in range(users)
        for i in range(per_user)
    ]
    store.put(records, embedder.embed([r.content for r in records]))


def _lose(store: IndexedStore, user_id: str, ids: list[str]) -> None:
    """What a killed index write does: the catalog keeps records whose vectors the index lost."""
    kinds = store.catalog.kinds(user_id, ids)
    for group, kind_test in ((TURNS, True), (MEMORIES, False)):
        chosen = [i for i in ids if (kinds[i] is MemoryKind.TURN) is kind_test]
        store.vectors.delete(user_id, group, chosen)


@pytest.fixture(params=["in-process", "chroma"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> IndexedStore:
    built: IndexedStore = (
        InProcessStore() if request.param == "in-process" else ChromaStore.persistent(tmp_path)
    )
    request.addfinalizer(built.close)
    return built


def test_check_finds_and_repairs_records_search_cannot_reach(store: IndexedStore) -> None:
    _fill(store)
    assert store.check("u1").unreachable == [] and store.check("u1").checked == 30
    lost = ["r1-0", "r1-4", "r1-5", "r1-9"]  # turns and facts
    _lose(store, "u1", lost)

    found = store.check("u1")
    assert found.unreachable == sorted(lost) and not found.healthy and found.repaired == 0
    assert store.check("u0").unreachable == []  # other users are untouched

    repaired = store.check("u1", repair=True)
    assert repaired.unreachable == sorted(lost) and repaired.repaired == 4 and repaired.healthy
    assert store.check("u1").unreachable == []


def test_a_store_opening_after_an_interrupted_write_repairs_its_groups(tmp_path: Path) -> None:
    store = ChromaStore.persistent(tmp_path)
    _fill(store)
    store.catalog.mark_pending([("u2", MEMORIES)])  # a write began, and its process died
    _lose(store, "u2", ["r2-1", "r2-2"])
    store.close()

    reopened = ChromaStore.persistent(tmp_path)
    try:
        assert reopened.catalog.pending() == []
        assert reopened.check("u2").unreachable == []
    finally:
        reopened.close()


def test_doctor_reports_then_repairs(tmp_path: Path) -> None:
    store = ChromaStore.persistent(tmp_path / "chroma")
    _fill(store)
    _lose(store, "u0", ["r0-1", "r0-3"])
    store.close()

    result = runner.invoke(app, ["doctor", "-d", str(tmp_path)])
    assert result.exit_code == 1, result.stdout
    assert "u0: 2 of 30 records unreachable" in result.stdout
    assert "checked 90 records of 3 user(s): 2 unreachable" in result.stdout
    assert "memagent doctor --repair" in result.stderr

    result = runner.invoke(app, ["doctor", "-d", str(tmp_path), "--repair"])
    assert result.exit_code == 0 and "2 unreachable, 2 repaired" in result.stdout
    result = runner.invoke(app, ["doctor", "-d", str(tmp_path), "--user", "u0"])
    assert result.exit_code == 0 and "checked 30 records of 1 user(s): 0 unreachable" in result.stdout
    result = runner.invoke(app, ["doctor", "-d", str(tmp_path), "--user", "nobody"])
    assert result.exit_code == 1 and "unknown user 'nobody'" in result.stderr


def _stored(catalog: Path) -> int:
    import sqlite3

    if not catalog.exists():
        return 0
    try:
        with sqlite3.connect(catalog, timeout=1) as db:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.integration
def test_import_killed_then_run_again_leaves_every_record_reachable(tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    write_turns(history, synthetic_history(sessions=60))
    source = tmp_path / "source"
    memory = Memory.open(source / "chroma", embedder=FakeEmbedder())
    memory.remember(read_turns(history))
    exported = tmp_path / "export.jsonl"
    exported.write_text("".join(r.model_dump_json() + "\n" for r in memory.export()), encoding="utf-8")
    total = sum(1 for _ in memory.export())
    memory.close()

    target = tmp_path / "target"
    cli = [sys.executable, "-m", "memagent.cli", "import", str(exported), "-d", str(target)]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1"}
    catalog = target / "chroma" / catalog_file(DEFAULT_COLLECTION)
    kills = 0
    for fraction in (0.2, 0.5, 0.8):
        proc = subprocess.Popen(cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and _stored(catalog) < total * fraction:
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    finished = subprocess.run(cli, env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert kills >= 2, "the import finished before it could be killed; make the history longer"

    doctor = runner.invoke(app, ["doctor", "-d", str(target)])
    assert doctor.exit_code == 0, doctor.stdout
    assert f"checked {total} records" in doctor.stdout and " 0 unreachable" in doctor.stdout
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len({(r["user_id"], r["id"]) for r in lines}) == total


def test_check_finds_a_lost_record_among_records_with_the_same_vector(store: IndexedStore) -> None:
    embedder = FakeEmbedder()
    records = [make_record("ana", f"t{i}", "thanks", kind=MemoryKind.TURN) for i in range(10)]
    store.put(records, embedder.embed([r.content for r in records]))
    assert store.check("ana").unreachable == []
    _lose(store, "ana", ["t3"])
    assert store.check("ana").unreachable == ["t3"]  # its twins do not stand in for it
    assert store.check("ana", repair=True).healthy and store.check("ana").unreachable == []
