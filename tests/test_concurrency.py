"""Writers that cannot collide: threads writing one user, and processes sharing one data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from memagent.errors import StoreError
from memagent.memory import Memory
from memagent.stores import ChromaStore, InProcessStore
from memagent.testing import FakeEmbedder
from memagent.types import MemoryKind, RecordFilter, Turn

COLORS = ("blue", "red", "green", "amber", "violet", "teal")
START = datetime(2024, 5, 1, 9, tzinfo=UTC)


def _write(memory: Memory, turn: Turn, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    barrier.wait()
    try:
        memory.remember([turn])
    except BaseException as exc:  # pragma: no cover - reported by the caller
        errors.append(exc)


def _race(memory: Memory, rounds: int, writers: int) -> list[int]:
    """Each round, ``writers`` threads store at once a new favourite colour for the same user; returns,
    per round, how many current values the slot has afterwards."""
    current: list[int] = []
    flt = RecordFilter(kinds=(MemoryKind.PREFERENCE,), slots=("favorite:color",))
    for round_ in range(rounds):
        barrier = threading.Barrier(writers)
        errors: list[BaseException] = []
        turns = [
            Turn(
                user_id="ana",
                session_id=f"r{round_}-w{n}",
                turn_id=f"r{round_}-w{n}",
                text=f"My favorite color is {COLORS[(round_ + n) % len(COLORS)]}.",
                event_time=START + timedelta(hours=round_, minutes=n),
            )
            for n in range(writers)
        ]
        threads = [threading.Thread(target=_write, args=(memory, t, barrier, errors)) for t in turns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        current.append(len(list(memory.store.scan("ana", flt))))
    return current


def test_same_user_writers_leave_one_current_value_per_slot() -> None:
    memory = Memory(InProcessStore(), FakeEmbedder())
    try:
        assert _race(memory, rounds=40, writers=4) == [1] * 40
        current = [r for r in memory.history("ana", "favorite:color") if r.valid_until is None]
        last = COLORS[(39 + 3) % len(COLORS)]  # said last: round 39, writer 3
        assert [r.content for r in current] == [f"User's favorite color is {last}"]
    finally:
        memory.close()


@pytest.mark.integration
def test_same_user_writers_on_chroma(tmp_path: Path) -> None:
    memory = Memory(ChromaStore.persistent(tmp_path / "data"), FakeEmbedder())
    try:
        assert _race(memory, rounds=10, writers=3) == [1] * 10
    finally:
        memory.close()


_HOLDER = """
import sys, time
from memagent.stores import ChromaStore
store = ChromaStore.persistent(sys.argv[1])
print("open", flush=True)
sys.stdin.readline()
store.close()
"""


def _hold(directory: Path) -> subprocess.Popen[str]:
    """A process that opens the store at ``directory`` and keeps it open until its stdin closes."""
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
    return proc


@pytest.mark.integration
def test_a_second_process_is_refused_clearly_and_a_killed_holder_frees_the_directory(tmp_path: Path) -> None:
    directory = tmp_path / "chroma"  # where the CLI's data directory keeps its store
    seed = Memory(ChromaStore.persistent(directory), FakeEmbedder())
    seed.remember([Turn(user_id="ana", session_id="s", turn_id="t", text="I love sushi.", event_time=START)])
    seed.close()

    holder = _hold(directory)
    try:
        with pytest.raises(StoreError, match=rf"in use by process {holder.pid}\b"):
            ChromaStore.persistent(directory)
        cli = subprocess.run(
            [sys.executable, "-m", "memagent.cli", "memories", "ana", "-d", str(tmp_path)],
            capture_output=True,
            text=True,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert cli.returncode == 1 and "Traceback" not in cli.stderr, cli.stderr
    assert f"in use by process {holder.pid}" in cli.stderr

    deadline = time.time() + 10
    while True:  # the system releases a killed process's lock: the directory opens, nothing was lost
        try:
            store = ChromaStore.persistent(directory)
            break
        except StoreError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    try:
        turns = store.find("ana", RecordFilter(kinds=(MemoryKind.TURN,)), limit=10)
        assert [r.content for r in turns] == ["user: I love sushi."]
    finally:
        store.close()


def test_stores_of_one_process_share_the_directory(tmp_path: Path) -> None:
    first = ChromaStore.persistent(tmp_path / "data")
    second = ChromaStore.persistent(tmp_path / "data")
    first.close()
    second.close()
    third = ChromaStore.persistent(tmp_path / "data")  # released by the last one to close
    third.close()


def test_imports_of_users_whose_locks_cross_do_not_deadlock() -> None:
    from memagent.memory import _stripe
    from memagent.testing.conformance import make_record

    # Two pairs of users whose lock stripes come in opposite orders when the users are sorted by id.
    users = [f"u{i}" for i in range(2000)]
    first = next((a, b) for a in users for b in users if a < b and _stripe(a) > _stripe(b))
    second = next(
        (a, b)
        for a in users
        for b in users
        if a < b and _stripe(a) == _stripe(first[1]) and _stripe(b) == _stripe(first[0])
    )
    memory = Memory(InProcessStore(), FakeEmbedder())
    errors: list[BaseException] = []

    def run(pair: tuple[str, str]) -> None:
        try:
            for round_ in range(30):
                memory.import_records([make_record(user, f"r{round_}", f"note {round_}") for user in pair])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(pair,), daemon=True) for pair in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "the imports deadlocked"
    assert not errors and all(memory.store.count(user) == 30 for user in (*first, *second))


def test_the_same_turn_remembered_by_two_threads_is_counted_once() -> None:
    memory = Memory(InProcessStore(), FakeEmbedder())
    for round_ in range(20):
        turn = Turn(
            user_id="ana",
            session_id="s",
            turn_id=f"t{round_}",
            text=f"My favorite color is {COLORS[round_ % len(COLORS)]}.",
            event_time=START + timedelta(hours=round_),
        )
        barrier = threading.Barrier(2)
        reports: list[int] = []

        def write(
            turn: Turn = turn, barrier: threading.Barrier = barrier, reports: list[int] = reports
        ) -> None:
            barrier.wait()
            reports.append(memory.remember([turn]).turns_new)

        threads = [threading.Thread(target=write) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(reports) == [0, 1], (round_, reports)
    assert memory.store.count("ana", RecordFilter(kinds=(MemoryKind.TURN,))) == 20
