"""Replay throughput and read latency of the default stack (persistent Chroma, bundled MiniLM, rules).

Usage: python bench/ingest_and_recall.py [--sessions N] [--queries Q]

1. Replays the bundled sample history (the demo's) and reports turns/s.
2. Replays a seeded synthetic history of N sessions (6 turns each, 3 users) into a fresh persistent Chroma,
   reporting turns/s and the memories stored.
3. Times `recall` and `profile` (512 tokens) for Q queries of one user: p50/p95 in ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from memagent._demo import sample_history_path
from memagent.embeddings import SentenceTransformerEmbedder
from memagent.memory import Memory
from memagent.replay.jsonl import read_turns
from memagent.stores import ChromaStore
from memagent.testing.synthetic import synthetic_history
from memagent.types import MemoryKind, RecordFilter


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def replay(memory: Memory, turns: list, batch: int = 64) -> float:
    start = time.perf_counter()
    for i in range(0, len(turns), batch):
        memory.remember(turns[i : i + batch])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=600)
    parser.add_argument("--queries", type=int, default=100)
    args = parser.parse_args()
    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    with tempfile.TemporaryDirectory() as tmp:
        sample = list(read_turns(sample_history_path()))
        memory = Memory(ChromaStore.persistent(Path(tmp) / "sample"), embedder)
        elapsed = replay(memory, sample)
        print(f"bundled sample: {len(sample)} turns in {elapsed:.2f}s = {len(sample) / elapsed:.1f} turns/s")
        memory.close()

        turns = synthetic_history(sessions=args.sessions)
        memory = Memory(ChromaStore.persistent(Path(tmp) / "synthetic"), embedder)
        elapsed = replay(memory, turns)
        user = "user0"
        stored = memory.store.list(user, RecordFilter(current_only=False))
        extracted = sum(1 for r in stored if r.kind != MemoryKind.TURN)
        print(
            f"synthetic: {len(turns)} turns in {elapsed:.1f}s = {len(turns) / elapsed:.1f} turns/s; "
            f"{user} holds {len(stored)} records ({extracted} extracted memories, the rest raw turns)"
        )
        queries = [t.text for t in turns[: args.queries]]
        for name, call in (
            ("recall (top 8)", lambda q: memory.recall(user, q)),
            ("profile (512 tokens)", lambda q: memory.profile(user, q, budget=512)),
        ):
            timings = []
            for q in queries:
                t0 = time.perf_counter()
                call(q)
                timings.append((time.perf_counter() - t0) * 1000)
            print(
                f"{name}: p50 {percentile(timings, 0.5):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms, "
                f"mean {statistics.mean(timings):.1f} ms over {len(timings)} queries"
            )
        memory.close()


if __name__ == "__main__":
    main()
