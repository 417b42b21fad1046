"""Crash safety of the `memagent` command: SIGKILL it at seeded random moments, resume, compare.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/reliability.py                         # 20 replay kills, 8 import kills
    .venv/bin/python bench/reliability.py --kills 5 --import-kills 2 --seed 3 --keep /tmp/reliability

What it does, in a temporary directory (``--keep DIR`` keeps it), with the real CLI as a subprocess:

1. Writes a seeded synthetic history (several dozen users, a few thousand turns of everyday talk:
   preferences that change, pets, plans, jobs, moves, events) in the JSONL format `memagent replay` reads.
2. reference: `memagent replay --batch-size 16` runs once, uninterrupted, into a fresh data directory;
   `memagent export` writes every record.
3. replay: the same command in another fresh directory, killed with SIGKILL ``--kills`` times (mostly a
   random delay after a write was seen in the catalog, some during start-up), then run to completion.
4. import: `memagent import` of the reference export into a fresh directory, killed ``--import-kills``
   times, then run to completion.
5. Each complete store is exported and compared with the reference by record id (every field but
   ``record_time``, the storage clock; an import keeps it, so its export must be byte-identical) and by
   logical key (user, kind, content, event time): lost, duplicated, changed and extra records.
6. Reachability: every record's vector, as the catalog keeps it, queries the user's Chroma collection of
   its group directly (the store's exact ranking from the catalog would hide a vector that Chroma's HNSW
   index lost); a record missing from its own nearest neighbours is unreachable. `memagent doctor` then
   runs on each store, and its own count (and time) are reported beside this independent one.

It prints a Markdown table (also written to ``--out``/results.md) and exits 1 when any count is not
zero, a run failed on its own, or fewer kills than asked for happened: it doubles as a check.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from memagent.stores import ChromaStore
from memagent.stores._indexed import group_of
from memagent.stores.chroma import DEFAULT_COLLECTION, catalog_file
from memagent.types import MemoryKind

ENV = {**os.environ, "ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
"""The environment of every command: no telemetry, no download."""
ROOT = Path(__file__).resolve().parents[1]
BATCH = 16
STARTUP_KILLS = 0.2
"""Share of the kills aimed at start-up (opening Chroma and the catalog) rather than after a write."""
RUN_TIMEOUT = 900.0
NEIGHBOURS = 8
"""Nearest neighbours asked for in the reachability check (plus the record's exact copies)."""
LOGICAL = ("user_id", "kind", "content", "event_time")
STORAGE_CLOCK = ("record_time",)

# ------------------------------------------------------------------------------------- the history

_NAMES = ("Maya", "Tom", "Aiko", "Ravi", "Lena", "Omar", "Sofia", "Jonas", "Ines", "Kofi", "Nora", "Yuki")
_CITIES = ("Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Hanoi", "Denver", "Tunis", "Quito", "Perth")
_JOBS = ("nurse", "teacher", "data analyst", "carpenter", "pilot", "chef", "lawyer", "architect", "baker")
_PETS = ("dog", "cat", "rabbit", "parrot", "hamster", "tortoise")
_PET_NAMES = ("Rex", "Luna", "Biscuit", "Pepper", "Milo", "Olive", "Ziggy", "Mochi", "Sunny", "Bean")
_FOODS = ("sushi", "spicy food", "dark chocolate", "sourdough", "kimchi", "oat milk", "green tea", "pizza")
_HOBBIES = ("running", "climbing", "painting", "baking", "swimming", "knitting", "chess", "gardening")
_GENRES = ("jazz", "techno", "opera", "folk music", "podcasts", "horror films", "crosswords", "poetry")
_PERSONAL = (
    "I love {food}, especially on weekends.",
    "I really don't like {genre}.",
    "My favourite hobby is {hobby}.",
    "I have a {pet} named {pet_name}.",
    "My {pet} {pet_name} turned {age} last week.",
    "I work as a {job} in {city}.",
    "I moved to {city} a few months ago.",
    "I'm planning a trip to {city} next month with {name}.",
    "Yesterday I went {hobby} with my friend {name}.",
    "I used to hate {food} but now I love it.",
    "I'm allergic to {allergen}.",
    "I started {hobby} this year.",
    "I'm vegetarian.",
    "I eat fish again since the spring.",
    "My sister {name} is getting married in June.",
    "I stopped drinking coffee.",
)
_ALLERGENS = ("peanuts", "shellfish", "cats", "pollen", "gluten")
_CHAT = (
    "What time is it in {city} right now?",
    "Can you suggest a recipe with {food}?",
    "Any tips for {hobby} when it rains?",
    "How do I say good morning in Spanish?",
    "What is a good gift for someone who likes {genre}?",
    "How long does it take to fly to {city}?",
)
_REPLIES = (
    "Good question. Here is a short overview about {hobby}.",
    "Sure. In {city} people often pair {food} with tea.",
    "That sounds lovely. Would you like suggestions about {genre} too?",
    "Noted. Many people find {hobby} easier with a little practice first.",
    "Here are three ideas: start small, keep notes, and ask {name}.",
)


def _fill(template: str, rng: random.Random) -> str:
    """``template`` with its placeholders drawn from the word lists."""
    return template.format(
        name=rng.choice(_NAMES),
        city=rng.choice(_CITIES),
        job=rng.choice(_JOBS),
        pet=rng.choice(_PETS),
        pet_name=rng.choice(_PET_NAMES),
        age=rng.randint(2, 12),
        food=rng.choice(_FOODS),
        hobby=rng.choice(_HOBBIES),
        genre=rng.choice(_GENRES),
        allergen=rng.choice(_ALLERGENS),
    )


def history(seed: int, users: int = 40) -> list[dict[str, Any]]:
    """Seeded turns of ``users`` users: 5-10 sessions each, 6-12 alternating turns a session, about half
    of the user turns personal; users interleave session by session, as a merged log would."""
    rng = random.Random(seed)
    sessions: list[tuple[datetime, list[dict[str, Any]]]] = []
    start = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
    for u in range(users):
        user = f"u{u:02d}"
        day = start + timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600))
        for s in range(rng.randint(5, 10)):
            day += timedelta(days=rng.randint(1, 14), minutes=rng.randint(0, 300))
            turns = []
            for t in range(rng.randrange(6, 13, 2)):
                if t % 2:
                    role, text = "assistant", _fill(rng.choice(_REPLIES), rng)
                else:
                    pool = _PERSONAL if rng.random() < 0.5 else _CHAT
                    role, text = "user", _fill(rng.choice(pool), rng)
                turns.append(
                    {
                        "user_id": user,
                        "session_id": f"{user}-s{s}",
                        "turn_id": f"{user}-s{s}-{t}",
                        "role": role,
                        "text": text,
                        "timestamp": (day + timedelta(minutes=2 * t)).isoformat(),
                    }
                )
            sessions.append((day, turns))
    sessions.sort(key=lambda pair: (pair[0], pair[1][0]["session_id"]))
    return [turn for _, turns in sessions for turn in turns]


def write_history(path: Path, seed: int) -> int:
    """Write the seeded history to ``path``; returns its number of turns."""
    turns = history(seed)
    path.write_text("".join(json.dumps(t) + "\n" for t in turns), encoding="utf-8")
    return len(turns)


# ------------------------------------------------------------------------------------ the command


def cli(*args: str) -> list[str]:
    """The `memagent` command line with ``args``, run by this interpreter."""
    return [sys.executable, "-m", "memagent.cli", *args]


def catalog_of(data_dir: Path) -> Path:
    """The catalog file of the default store of ``data_dir`` (`memagent replay -d DIR`)."""
    return data_dir / "chroma" / catalog_file(DEFAULT_COLLECTION)


class CatalogWatch:
    """Notices commits to a catalog made by another process (SQLite's ``data_version``) and its
    record count, read-only, while the other process writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._version: int | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None and self.path.exists():
            try:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1.0)
            except sqlite3.Error:  # being created: try again at the next poll
                return None
        return self._db

    def records(self) -> int:
        """Records committed so far (0 while the catalog is missing or not initialised)."""
        db = self._connect()
        if db is None:
            return 0
        try:
            return int(db.execute("SELECT count(*) FROM records").fetchone()[0])
        except sqlite3.Error:
            return 0

    def committed(self) -> bool:
        """True once a transaction that holds records was committed since the first call."""
        db = self._connect()
        if db is None:
            return False
        try:
            version = int(db.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return False
        if self._version is None:
            self._version = version
            return False
        return version != self._version and self.records() > 0

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


@dataclass
class Run:
    """How one launch of the command ended."""

    killed: bool
    returncode: int
    seconds: float
    first_write_s: float | None
    """Seconds from launch to the first commit seen (None: none seen)."""
    records_after: int
    hot_journal: bool
    """Chroma's rollback journal was left behind (by a killed write) when the run started."""
    output: str
    """The end of what the run printed."""


def launch(
    command: list[str], data_dir: Path, log: Path, kill_at: Callable[[float, float | None], bool]
) -> Run:
    """Run ``command``; SIGKILL it as soon as ``kill_at(seconds since launch, seconds since the first
    commit or None)`` says so. Its output goes to ``log``."""
    watch = CatalogWatch(catalog_of(data_dir))
    hot = (data_dir / "chroma" / "chroma.sqlite3-journal").exists()
    started = time.perf_counter()
    first: float | None = None
    killed = False
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        offset = out.tell()
        proc = subprocess.Popen(command, env=ENV, stdout=out, stderr=out)
        try:
            while proc.poll() is None:
                now = time.perf_counter() - started
                if first is None and watch.committed():
                    first = now
                if kill_at(now, None if first is None else now - first):
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
                if now > RUN_TIMEOUT:
                    proc.kill()
                    break
                time.sleep(0.02)
        finally:
            returncode = proc.wait()
    with log.open("rb") as fh:
        fh.seek(offset)
        output = fh.read().decode(errors="replace").strip()[-600:]
    run = Run(killed, returncode, time.perf_counter() - started, first, watch.records(), hot, output)
    watch.close()
    return run


def never(_now: float, _since: float | None) -> bool:
    """The kill moment of a run left to finish."""
    return False


def run_to_end(command: list[str], log: Path, data_dir: Path = Path("/nonexistent")) -> Run:
    """Run ``command`` (writing to ``data_dir``, if any) to its end."""
    return launch(command, data_dir, log, never)


# ------------------------------------------------------------------------------- kill and resume


@dataclass
class Pace:
    """What the uninterrupted reference run measured: start-up time and write rate."""

    startup_s: float
    records: int
    records_per_s: float


@dataclass
class Scenario:
    """One kill-and-resume scenario and what it found."""

    name: str
    kills: int = 0
    startup_kills: int = 0
    finished_early: int = 0
    """Launches that completed before their kill moment came."""
    failures: list[str] = field(default_factory=list)
    """Launches that exited non-zero on their own (with the end of their output)."""
    records: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    orphan_vectors: int = 0
    doctor: str = ""
    """The summary line of `memagent doctor` on the completed store."""
    doctor_s: float = 0.0
    identical: bool | None = None
    wall_s: float = 0.0
    kill_points: list[int] = field(default_factory=list)
    """Records in the catalog after each kill."""

    @property
    def problems(self) -> int:
        counts = (self.lost, self.duplicated, self.changed, self.extra, self.unreachable, self.failures)
        return sum(len(c) for c in counts) + (self.identical is False)


def kill_moment(
    rng: random.Random, pace: Pace, kills_left: int, stored: Callable[[], int], *, resumable: bool
) -> Callable[[float, float | None], bool]:
    """A seeded kill moment: during start-up (a share `STARTUP_KILLS` of them) or a random delay after
    the first commit. For a resumable run the delay is capped so that the kills left still find work:
    at most twice the remaining time shared among them."""
    if rng.random() < STARTUP_KILLS:
        at = rng.uniform(0.0, pace.startup_s)
        return lambda now, _since: now >= at
    fraction = rng.random()
    cap = 0.6 * pace.records / pace.records_per_s  # a whole run, less a margin (an import starts over)
    if resumable:
        left_s = max(0, pace.records - stored()) / pace.records_per_s
        cap = min(cap, 2 * left_s / (kills_left + 1))
    delay = fraction * cap
    return lambda _now, since: since is not None and since >= delay


def kill_and_resume(
    scenario: Scenario,
    command: list[str],
    data_dir: Path,
    log: Path,
    kills: int,
    pace: Pace,
    rng: random.Random,
    *,
    resumable: bool,
) -> None:
    """Kill ``command`` ``kills`` times at seeded moments, then run it to completion."""
    watch = CatalogWatch(catalog_of(data_dir))
    started = time.perf_counter()
    attempts = 0
    while scenario.kills < kills and attempts < 3 * kills + 5:
        attempts += 1
        moment = kill_moment(rng, pace, kills - scenario.kills, watch.records, resumable=resumable)
        run = launch(command, data_dir, log, moment)
        if run.killed:
            scenario.kills += 1
            scenario.startup_kills += run.first_write_s is None
            scenario.kill_points.append(run.records_after)
        elif run.returncode == 0:
            scenario.finished_early += 1
        else:
            journal = ", Chroma's rollback journal left by the kill before" if run.hot_journal else ""
            scenario.failures.append(f"launch {attempts} exit {run.returncode}{journal}: {run.output}")
        when = (
            "before any write"
            if run.first_write_s is None
            else f"{run.seconds - run.first_write_s:.1f}s after the first write"
        )
        print(
            f"  {scenario.name} launch {attempts}: "
            f"{'killed' if run.killed else f'exit {run.returncode}'} {when}, {run.seconds:.1f}s in all, "
            f"{run.records_after} records{', started on a hot journal' if run.hot_journal else ''}",
            flush=True,
        )
    final = run_to_end(command, log, data_dir)
    if final.returncode != 0:
        scenario.failures.append(f"final run exit {final.returncode}: {final.output}")
    scenario.wall_s = time.perf_counter() - started
    watch.close()


# -------------------------------------------------------------------------------------- comparing


def export(data_dir: Path, out: Path, log: Path) -> list[str]:
    """Every record of ``data_dir`` as JSON lines (`memagent export`)."""
    run = run_to_end(cli("export", "-d", str(data_dir), "-o", str(out)), log)
    if run.returncode != 0:
        raise RuntimeError(f"export of {data_dir} failed: {run.output}")
    return [line for line in out.read_text(encoding="utf-8").splitlines() if line.strip()]


def _without(record: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in fields}


def compare(scenario: Scenario, reference: list[str], resumed: list[str], ignore: Sequence[str]) -> None:
    """Lost, duplicated, changed and extra records of ``resumed`` against ``reference`` (JSON lines),
    by (user, id) with the ``ignore`` fields left out, and by logical key (`LOGICAL`)."""
    ref = [json.loads(line) for line in reference]
    got = [json.loads(line) for line in resumed]
    scenario.records = len(got)
    by_id = {(r["user_id"], r["id"]): r for r in ref}
    got_ids = Counter((r["user_id"], r["id"]) for r in got)
    scenario.lost = [f"{u}/{i}" for (u, i) in by_id if (u, i) not in got_ids]
    scenario.duplicated = [f"{u}/{i} stored {n} times" for (u, i), n in got_ids.items() if n > 1]
    logical_ref = Counter(tuple(r[k] for k in LOGICAL) for r in ref)
    distinct = {(r["user_id"], r["id"]): r for r in got}.values()  # a repeated id is counted once, above
    logical_got = Counter(tuple(r[k] for k in LOGICAL) for r in distinct)
    scenario.duplicated += [
        f"{key[0]} {key[1]} {key[2]!r} at {key[3]}: {n} records, {logical_ref[key]} in the reference"
        for key, n in logical_got.items()
        if n > max(1, logical_ref[key])
    ]
    for record in got:
        key = (record["user_id"], record["id"])
        before = by_id.get(key)
        if before is None:
            scenario.extra.append(f"{key[0]}/{key[1]} {record['kind']} {record['content']!r}")
        elif _without(before, ignore) != _without(record, ignore):
            fields = sorted(k for k in before.keys() | record.keys() if before.get(k) != record.get(k))
            scenario.changed.append(f"{key[0]}/{key[1]}: {', '.join(f for f in fields if f not in ignore)}")
    if not ignore:  # nothing left out: the export must be the same bytes
        scenario.identical = sorted(reference) == sorted(resumed)


def reachability(data_dir: Path, scenario: Scenario) -> None:
    """Query each record's own stored vector in its user's Chroma collection of its group; a record not
    among the nearest neighbours (its exact copies included) is unreachable."""
    store = ChromaStore.persistent(data_dir / "chroma")
    db = sqlite3.connect(f"file:{catalog_of(data_dir)}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT u.user_id, r.id, r.kind, v.data FROM records r JOIN users u ON u.ukey = r.ukey "
            "LEFT JOIN vectors v ON v.ukey = r.ukey AND v.doc = r.doc ORDER BY u.user_id, r.doc"
        ).fetchall()
        groups: dict[tuple[str, str], list[tuple[str, bytes | None]]] = defaultdict(list)
        for user_id, record_id, kind, data in rows:
            groups[(user_id, group_of(MemoryKind(kind)))].append((record_id, data))
        for (user_id, group), members in groups.items():
            scenario.unreachable += _unreachable(store, user_id, group, members, scenario)
    finally:
        db.close()
        store.close()


def doctor(data_dir: Path, scenario: Scenario) -> None:
    """Run `memagent doctor` on the completed store: its summary line and wall time (start-up included);
    a non-zero exit counts as a failed run."""
    started = time.perf_counter()
    done = subprocess.run(cli("doctor", "-d", str(data_dir)), env=ENV, capture_output=True, text=True)
    scenario.doctor_s = time.perf_counter() - started
    lines = done.stdout.strip().splitlines()
    scenario.doctor = lines[-1] if lines else "(no output)"
    if done.returncode != 0:
        scenario.failures.append(f"memagent doctor exit {done.returncode}: {done.stdout[-500:]}")


def _unreachable(
    store: ChromaStore, user_id: str, group: str, members: list[tuple[str, bytes | None]], scenario: Scenario
) -> list[str]:
    """The members (id, stored vector) of one user's group that Chroma does not return for their vector."""
    import numpy as np

    where = f"{user_id}/{group}"
    missing = [f"{where}/{rid}: no stored vector" for rid, data in members if data is None]
    members = [(rid, data) for rid, data in members if data is not None]
    try:
        collection = store.client.get_collection(store.vectors.name(user_id, group))  # type: ignore[attr-defined]
    except Exception as exc:  # any failure to open it makes its records unreachable
        return missing + [f"{where}/{rid}: collection unusable ({type(exc).__name__})" for rid, _ in members]
    size = collection.count()
    scenario.orphan_vectors += max(0, size - len(members) - len(missing))
    copies = Counter(data for _, data in members)
    n = min(size, NEIGHBOURS + max(copies.values(), default=1))
    lost = list(missing)
    for start in range(0, len(members), 256):
        chunk = members[start : start + 256]
        matrix = np.stack([np.frombuffer(data, dtype=np.float32) for _, data in chunk])  # type: ignore[arg-type]
        try:
            found = collection.query(query_embeddings=matrix, n_results=max(1, n), include=[])["ids"]
        except Exception as exc:  # a failing query makes the chunk unreachable
            lost += [f"{where}/{rid}: query failed ({type(exc).__name__}: {exc})" for rid, _ in chunk]
            continue
        lost += [f"{where}/{rid}" for (rid, _), ids in zip(chunk, found, strict=True) if rid not in ids]
    return lost


# ---------------------------------------------------------------------------------------- report


def table(scenarios: Sequence[Scenario]) -> str:
    """The Markdown table of the scenarios."""
    lines = [
        "| scenario | kills (at start-up) | failed runs | records | lost | duplicated | changed | extra "
        "| unreachable | wall s | `memagent doctor` |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in scenarios:
        lines.append(
            f"| {s.name} | {s.kills} ({s.startup_kills}) | {len(s.failures)} | {s.records:,} | "
            f"{len(s.lost)} | {len(s.duplicated)} | {len(s.changed)} | {len(s.extra)} | "
            f"{len(s.unreachable)} | {s.wall_s:.0f} | {s.doctor} ({s.doctor_s:.1f} s) |"
        )
    return "\n".join(lines)


def details(scenarios: Sequence[Scenario], limit: int = 10) -> list[str]:
    """Notes under the table: failures, byte identity, orphan vectors, and the first problems found."""
    out: list[str] = []
    for s in scenarios:
        note = f"- {s.name}: "
        parts = []
        if s.identical is not None:
            parts.append(
                f"export byte-identical to the reference after sorting: {'yes' if s.identical else 'no'}"
            )
        if s.kill_points:
            parts.append(f"records in the catalog after each kill: {', '.join(map(str, s.kill_points))}")
        if s.finished_early:
            parts.append(f"{s.finished_early} launch(es) finished before their kill moment")
        parts.append(f"vectors in Chroma that no record owns: {s.orphan_vectors}")
        out.append(note + "; ".join(parts) + ".")
        for label, found in (
            ("failed run", s.failures),
            ("lost", s.lost),
            ("duplicated", s.duplicated),
            ("changed", s.changed),
            ("extra", s.extra),
            ("unreachable", s.unreachable),
        ):
            for item in found[:limit]:
                out.append(f"  - {label}: {item}")
            if len(found) > limit:
                out.append(f"  - ... and {len(found) - limit} more {label}")
    return out


def markdown(
    args: argparse.Namespace, turns: int, scenarios: Sequence[Scenario], shortfall: list[str]
) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    command = "python bench/reliability.py" + "".join(
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name in ("kills", "import_kills", "seed")
        if getattr(args, name) != DEFAULTS[name]
    )
    lines = [
        f"Crash safety of the `memagent` CLI under SIGKILL ({machine}). Regenerate with "
        f"`.venv/bin/{command}`.",
        "",
        f"History: {turns:,} turns (seed {args.seed}), replayed with `--batch-size {BATCH}`. Each scenario "
        "runs the command in a fresh directory, kills it with SIGKILL at seeded random moments (about "
        f"{STARTUP_KILLS:.0%} during start-up, the rest a random delay after a write was seen), then runs it "
        "to completion and exports. Compared with the uninterrupted reference by record id (every field "
        "but `record_time`) and by (user, kind, content, event time); unreachable: a record whose own "
        "stored vector does not find it in its user's Chroma collection. Wall time: the kills and the "
        "final run.",
        "",
        table(scenarios),
        "",
        *details(scenarios),
    ]
    lines += [f"- {problem}" for problem in shortfall]
    verdict = "FAIL" if shortfall or any(s.problems for s in scenarios) else "PASS"
    lines += ["", f"Verdict: {verdict}."]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main

DEFAULTS = {"kills": 20, "import_kills": 8, "seed": 7}


def reference_run(history_file: Path, data_dir: Path, log: Path) -> tuple[Scenario, Pace]:
    """Replay the history once, uninterrupted, and measure start-up time and write rate."""
    scenario = Scenario("reference replay (no kill)")
    command = cli("replay", str(history_file), "-d", str(data_dir), "--batch-size", str(BATCH))
    run = run_to_end(command, log, data_dir)
    if run.returncode != 0:
        raise RuntimeError(f"the reference replay failed: {run.output}")
    scenario.wall_s = run.seconds
    startup = run.first_write_s or run.seconds / 2
    writing = max(run.seconds - startup, 1.0)
    return scenario, Pace(startup, run.records_after, run.records_after / writing)


def run(args: argparse.Namespace, work: Path) -> tuple[int, list[Scenario], list[str]]:
    """Every scenario in ``work``; returns the history's turns, the scenarios and any kill shortfall."""
    rng = random.Random(args.seed)
    log = work / "commands.log"
    history_file = work / "history.jsonl"
    turns = write_history(history_file, args.seed)
    print(f"history: {turns} turns in {history_file}", flush=True)

    reference, pace = reference_run(history_file, work / "reference", log)
    reference_lines = export(work / "reference", work / "reference.jsonl", log)
    reference.records = len(reference_lines)
    print(
        f"reference: {len(reference_lines)} records, start-up {pace.startup_s:.1f}s, "
        f"{pace.records_per_s:.0f} records/s",
        flush=True,
    )

    replay = Scenario("replay, killed and resumed")
    data = work / "replay"
    command = cli("replay", str(history_file), "-d", str(data), "--batch-size", str(BATCH))
    kill_and_resume(replay, command, data, log, args.kills, pace, rng, resumable=True)
    compare(replay, reference_lines, export(data, work / "replay.jsonl", log), STORAGE_CLOCK)

    imported = Scenario("import, killed and resumed")
    data = work / "import"
    command = cli("import", str(work / "reference.jsonl"), "-d", str(data))
    import_pace = Pace(pace.startup_s, len(reference_lines), pace.records_per_s)
    kill_and_resume(imported, command, data, log, args.import_kills, import_pace, rng, resumable=False)
    compare(imported, reference_lines, export(data, work / "import.jsonl", log), ())

    scenarios = [reference, replay, imported]
    for scenario, name in zip(scenarios, ("reference", "replay", "import"), strict=True):
        reachability(work / name, scenario)
        doctor(work / name, scenario)
    shortfall = [
        f"{s.name}: only {s.kills} kills of {wanted} asked for"
        for s, wanted in ((replay, args.kills), (imported, args.import_kills))
        if s.kills < wanted
    ]
    return turns, scenarios, shortfall


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=DEFAULTS["kills"], help="kills of the replay")
    parser.add_argument(
        "--import-kills", type=int, default=DEFAULTS["import_kills"], help="kills of the import"
    )
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="history and kill moments")
    parser.add_argument("--keep", type=Path, default=None, help="keep the data directories here")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "reliability")
    args = parser.parse_args(argv)
    if args.keep is not None:
        if args.keep.exists() and any(args.keep.iterdir()):
            parser.error(f"--keep {args.keep} must be empty or missing")
        args.keep.mkdir(parents=True, exist_ok=True)
        work = args.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="memagent-reliability-"))
    try:
        turns, scenarios, shortfall = run(args, work)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    text = markdown(args, turns, scenarios, shortfall)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(text + "\n")
    return 1 if shortfall or any(s.problems for s in scenarios) else 0


if __name__ == "__main__":
    sys.exit(main())
