"""Replay a recorded history (the JSONL format of `memagent replay`), twice: the second run stores nothing.

Run: python examples/replay_history.py [FILE]   (default: the bundled sample history)
"""

import sys
import tempfile
from pathlib import Path

from memagent import Memory
from memagent._demo import sample_history_path
from memagent.replay.jsonl import ReadReport, read_turns

path = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_history_path()
with tempfile.TemporaryDirectory() as home:
    memory = Memory.open(f"{home}/chroma")
    for attempt in ("first", "second"):
        report = ReadReport()
        ingest = memory.remember(read_turns(path, errors="skip", report=report))
        print(
            f"{attempt} run: {ingest.turns_new} turns stored, {ingest.turns_known} already there, "
            f"{ingest.added} memories added, {ingest.superseded} superseded, {len(report.errors)} bad lines"
        )
    for user in memory.users():
        print(user, "->", [m.content for m in memory.memories(user)][:5])
    memory.close()
