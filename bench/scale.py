"""How reads and writes scale with one user's history, on the default persistent store.

Usage (from the project root, after `make install`):
    .venv/bin/python bench/scale.py                        # 1k, 10k and 100k records, 1,000 other users
    .venv/bin/python bench/scale.py --records 10000 --turns 10000 --others 100 --out /tmp/scale

What it does, with the bundled MiniLM embedder and the rule extractor on a persistent `ChromaStore`
(the `memagent replay` default) in a temporary directory:

1. Replays a short seeded history for each of ``--others`` other users (2 sessions each).
2. Replays one user's seeded synthetic history (`memagent.testing.synthetic`: user and assistant turns,
   about a fifth of them carrying a memory) in batches of ``--batch`` turns, timing every batch.
3. Each time the user's record count reaches a checkpoint (1k, 10k, 100k by default), times
   ``Memory.recall`` (top 8) and ``Memory.profile`` (512 tokens) for ``--queries`` questions taken from
   another seed of the same generator. Both timings include embedding the question.
4. Replays the rest of the ``--turns`` turns (about 1.2 records a turn, so the default 100k turns pass
   100k records before the end): the writes into a store that already holds that many records.

It prints a Markdown report (also written to ``--out``/results.md, with the raw figures in results.json):
latency percentiles per checkpoint, the p50 ratio between the last and first checkpoints, replay
throughput over the first and last 10% of the replay and after the last checkpoint, and the process's
resident memory at each checkpoint and at its peak.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from memagent.embeddings import SentenceTransformerEmbedder
from memagent.memory import Memory
from memagent.stores import ChromaStore
from memagent.testing.synthetic import iter_synthetic_history, synthetic_history
from memagent.types import MemoryKind, RecordFilter, Role, Turn

ROOT = Path(__file__).resolve().parents[1]
TURNS_PER_SESSION = 10
USER = "user0"


@dataclass
class Checkpoint:
    """Latency and memory when the user's history reached ``records``."""

    records: int
    memories: int
    turns_replayed: int
    recall_ms: dict[str, float]
    profile_ms: dict[str, float]
    rss_mib: float


@dataclass
class Report:
    """Everything the benchmark measured."""

    machine: str
    others: int
    other_records: int
    batch: int
    queries: int
    checkpoints: list[Checkpoint] = field(default_factory=list)
    turns_replayed: int = 0
    replay_turns_per_s: float = 0.0
    first_10pct_turns_per_s: float = 0.0
    last_10pct_turns_per_s: float = 0.0
    first_10pct_store_ms_per_turn: float = 0.0
    """Time per turn outside embedding (extraction, consolidation, the store's writes), first 10%."""
    last_10pct_store_ms_per_turn: float = 0.0
    after_last_checkpoint_turns_per_s: float = 0.0
    after_last_checkpoint_turns: int = 0
    peak_rss_mib: float = 0.0
    wall_s: float = 0.0


def rss_mib() -> float:
    """Resident memory of this process now (Linux), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and mean of ``values`` (nearest rank)."""
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    return {
        "p50": round(rank(0.5), 2),
        "p95": round(rank(0.95), 2),
        "p99": round(rank(0.99), 2),
        "mean": round(statistics.mean(ordered), 2),
    }


def timed(call: Callable[[str], object], queries: Sequence[str]) -> dict[str, float]:
    """Milliseconds per call of ``call`` on each query."""
    timings = []
    for query in queries:
        started = time.perf_counter()
        call(query)
        timings.append((time.perf_counter() - started) * 1000)
    return percentiles(timings)


class TimedEmbedder:
    """An `Embedder` that adds up the seconds its inner embedder spends, so that a batch's time can be
    split into embedding (a constant cost per turn) and everything else."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started


def user_history(turns: int, seed: int) -> Iterator[Turn]:
    """``turns`` turns of one user (sessions of `TURNS_PER_SESSION`), generated as they are replayed, so
    that the benchmark's own copy of the history does not weigh on the memory it reports."""
    sessions = -(-turns // TURNS_PER_SESSION)
    history = iter_synthetic_history(
        sessions=sessions, users=1, turns_per_session=TURNS_PER_SESSION, seed=seed
    )
    return itertools.islice(history, turns)


def questions(count: int) -> list[str]:
    """User turns of another seed: the questions and statements the benchmark asks about."""
    pool = [t.text for t in user_history(20 * count, seed=99) if t.role is Role.USER]
    return pool[:: max(1, len(pool) // count)][:count]


def other_users(count: int) -> list[Turn]:
    """Two sessions for each of ``count`` other users, dated like the main user's history."""
    turns = synthetic_history(sessions=2 * count, users=count, turns_per_session=6, seed=5)
    return [t.model_copy(update={"user_id": f"other{t.user_id[4:]}"}) for t in turns]


Batch = tuple[int, float, float]
"""One replayed batch: turns, seconds, of which seconds spent embedding."""


def _window(batches: Sequence[Batch], first: int, last: int) -> tuple[int, float, float]:
    """Turns, seconds and embedding seconds of the batches that start within turn indices [first, last)."""
    turns, seconds, embedding, start = 0, 0.0, 0.0, 0
    for size, spent, embedded in batches:
        if first <= start < last:
            turns, seconds, embedding = turns + size, seconds + spent, embedding + embedded
        start += size
    return turns, seconds, embedding


def rate(batches: Sequence[Batch], first: int, last: int) -> float:
    """Turns per second over the batches that start within turn indices [first, last)."""
    turns, seconds, _ = _window(batches, first, last)
    return turns / seconds if seconds else 0.0


def store_ms_per_turn(batches: Sequence[Batch], first: int, last: int) -> float:
    """Milliseconds per turn spent outside embedding over the batches starting within [first, last)."""
    turns, seconds, embedding = _window(batches, first, last)
    return 1000 * (seconds - embedding) / turns if turns else 0.0


def run(args: argparse.Namespace, directory: Path) -> Report:
    started = time.perf_counter()
    embedder = TimedEmbedder(SentenceTransformerEmbedder())
    embedder.embed(["warm up"])
    memory = Memory(ChromaStore.persistent(directory / "chroma"), embedder)
    store = memory.store
    report = Report(
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        others=args.others,
        other_records=0,
        batch=args.batch,
        queries=args.queries,
    )
    others = other_users(args.others)
    for i in range(0, len(others), 512):
        memory.remember(others[i : i + 512])
    report.other_records = sum(store.count(f"other{n}") for n in range(args.others))
    print(f"{args.others} other users hold {report.other_records} records", flush=True)

    asked = questions(args.queries)
    when = None
    checkpoints = sorted(args.checkpoints)
    history = user_history(args.turns, seed=1)
    batches: list[Batch] = []
    replayed = 0
    passed_last_at: int | None = None
    while batch := list(itertools.islice(history, args.batch)):
        t0, embedding_before = time.perf_counter(), embedder.seconds
        memory.remember(batch)
        batches.append((len(batch), time.perf_counter() - t0, embedder.seconds - embedding_before))
        replayed += len(batch)
        when = batch[-1].event_time + timedelta(minutes=1)
        records = store.count(USER)
        while checkpoints and records >= checkpoints[0]:
            checkpoints.pop(0)
            memories = store.count(USER, RecordFilter(current_only=False, kinds=(
                MemoryKind.PREFERENCE, MemoryKind.FACT, MemoryKind.EVENT)))  # fmt: skip
            point = Checkpoint(
                records=records,
                memories=memories,
                turns_replayed=replayed,
                recall_ms=timed(lambda q, now=when: memory.recall(USER, q, now=now), asked),
                profile_ms=timed(lambda q, now=when: memory.profile(USER, q, budget=512, now=now), asked),
                rss_mib=round(rss_mib(), 1),
            )
            report.checkpoints.append(point)
            print(f"checkpoint: {json.dumps(asdict(point))}", flush=True)
            if not checkpoints:
                passed_last_at = replayed
    memory.close()
    total = sum(size for size, _, _ in batches)
    report.turns_replayed = total
    report.replay_turns_per_s = round(total / sum(s for _, s, _ in batches), 1)
    tenth = total // 10
    report.first_10pct_turns_per_s = round(rate(batches, 0, tenth), 1)
    report.last_10pct_turns_per_s = round(rate(batches, total - tenth, total), 1)
    report.first_10pct_store_ms_per_turn = round(store_ms_per_turn(batches, 0, tenth), 3)
    report.last_10pct_store_ms_per_turn = round(store_ms_per_turn(batches, total - tenth, total), 3)
    if passed_last_at is not None:
        report.after_last_checkpoint_turns = total - passed_last_at
        report.after_last_checkpoint_turns_per_s = round(rate(batches, passed_last_at, total), 1)
    report.peak_rss_mib = round(peak_rss_mib(), 1)
    report.wall_s = round(time.perf_counter() - started, 1)
    return report


def markdown(report: Report) -> str:
    lines = [
        f"One user's history on a persistent ChromaStore with {report.others} other users "
        f"({report.other_records} records) present; bundled MiniLM, rule extractor, {report.queries} "
        f"questions per checkpoint, timings include embedding the question ({report.machine}).",
        "",
        "| user's records (memories) | recall top 8 p50 / p95 ms | profile 512 p50 / p95 ms | RSS MiB |",
        "|---|---|---|---|",
    ]
    for c in report.checkpoints:
        lines.append(
            f"| {c.records:,} ({c.memories:,}) | {c.recall_ms['p50']} / {c.recall_ms['p95']} | "
            f"{c.profile_ms['p50']} / {c.profile_ms['p95']} | {c.rss_mib} |"
        )
    if len(report.checkpoints) >= 2:
        first, last = report.checkpoints[0], report.checkpoints[-1]
        lines += [
            "",
            f"p50 at {last.records:,} / p50 at {first.records:,} records: recall "
            f"{last.recall_ms['p50'] / first.recall_ms['p50']:.2f}, profile "
            f"{last.profile_ms['p50'] / first.profile_ms['p50']:.2f}.",
        ]
    lines += [
        "",
        f"Replay ({report.batch} turns a batch): {report.turns_replayed:,} turns at "
        f"{report.replay_turns_per_s} turns/s; first 10% {report.first_10pct_turns_per_s} turns/s, last 10% "
        f"{report.last_10pct_turns_per_s} turns/s (ratio "
        f"{report.last_10pct_turns_per_s / max(report.first_10pct_turns_per_s, 1e-9):.2f}); "
        f"{report.after_last_checkpoint_turns:,} turns after the last checkpoint at "
        f"{report.after_last_checkpoint_turns_per_s} turns/s. Time per turn outside embedding the turns: "
        f"{report.first_10pct_store_ms_per_turn} ms over the first 10%, "
        f"{report.last_10pct_store_ms_per_turn} ms over the last.",
        f"Peak RSS {report.peak_rss_mib} MiB; wall time {report.wall_s / 60:.1f} min.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="the last checkpoint")
    parser.add_argument("--others", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--turns", type=int, default=100_000, help="turns of the user's history replayed")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale")
    args = parser.parse_args(argv)
    args.checkpoints = [n for n in (1_000, 10_000, 100_000) if n < args.records] + [args.records]
    with tempfile.TemporaryDirectory(prefix="memagent-scale-") as tmp:
        report = run(args, Path(tmp))
    text = markdown(report)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(text + "\n")
    (args.out / "results.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
