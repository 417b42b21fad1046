"""`memagent demo`: replay the bundled sample history and show what the agent remembers, offline."""

from __future__ import annotations

import tempfile
import time
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from memagent._console import memory_table, print_report, replay_file

__all__ = ["SAMPLE_HISTORY", "run_demo", "sample_history_path"]

SAMPLE_HISTORY = "sample_history.jsonl"

QUESTIONS = [
    ("maya", "Can you suggest a dinner for tonight?"),
    ("maya", "What do you know about my diet?"),
    ("leo", "Any tips for my morning routine?"),
]


def sample_history_path() -> Path:
    """Path of the bundled sample history (JSONL, two users, January to May 2023)."""
    return Path(str(resources.files("memagent") / "data" / SAMPLE_HISTORY))


def run_demo(console: Console, *, data_dir: Path | None = None, budget: int = 160) -> None:
    """Replay the sample, then print memories, a superseded preference, the profile and agent answers."""
    from memagent.agents import MemoryAgent, sqlite_checkpointer
    from memagent.memory import Memory

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="memagent-demo-") as tmp, ExitStack() as stack:
        home = data_dir or Path(tmp)
        console.rule("memagent demo: offline, bundled embedding model, embedded Chroma")
        console.print(f"memory kept in {home}")
        memory = stack.enter_context(closing(Memory.open(home / "chroma")))
        load = time.perf_counter()
        memory.embedder.embed(["warm up"])
        console.print(f"embedding model loaded in {time.perf_counter() - load:.1f}s")

        path = sample_history_path()
        console.rule(f"1. replay {path.name}")
        t0 = time.perf_counter()
        report = replay_file(memory, path)
        print_report(report, time.perf_counter() - t0)
        again = replay_file(memory, path)
        console.print(
            f"replayed again: {again.turns_new} new turns, {again.turns_known} already stored (idempotent)"
        )

        console.rule("2. what was extracted")
        for user in memory.users():
            console.print(memory_table(memory.memories(user), f"current memories of {user}"))

        console.rule("3. supersede, don't delete")
        history = Table(title="maya's diet over time")
        for column in ("value", "content", "valid from", "valid until", "superseded by"):
            history.add_column(column)
        for record in memory.history("maya", "diet"):
            history.add_row(
                Text(record.value or ""),
                Text(record.content),
                record.valid_from.date().isoformat(),
                record.valid_until.date().isoformat() if record.valid_until else "now",
                (record.superseded_by or "")[:8],
            )
        console.print(history)
        february = datetime(2023, 2, 15, tzinfo=UTC)
        then = [r.content for r in memory.memories("maya", as_of=february) if r.slot == "diet"]
        now = [r.content for r in memory.memories("maya") if r.slot == "diet"]
        console.print(f"as of 2023-02-15: {then}\nnow: {now}", markup=False)

        console.rule("4. events keep their own dates")
        for record in memory.memories("maya", kinds=None):
            if record.kind.value == "event":
                console.print(
                    f"{record.event_time.date().isoformat()}: {record.content} "
                    f"(said in turn {record.source_turn_ids[0]})",
                    markup=False,
                )

        console.rule(f"5. profile of maya for a dinner request, budget {budget} tokens")
        compiled = memory.profile("maya", "Can you suggest a dinner for tonight?", budget=budget)
        console.print(Panel(Text(compiled.text), title=f"{compiled.tokens}/{budget} tokens"))

        console.rule("6. the agent answers (no language model configured: it says so)")
        agent = stack.enter_context(
            closing(MemoryAgent(memory, checkpointer=sqlite_checkpointer(home / "threads.sqlite")))
        )
        for user, question in QUESTIONS:
            reply = agent.chat(user, "demo", question, at=datetime(2023, 5, 9, 12, tzinfo=UTC))
            console.print(Panel(Text(reply.text), title=Text(f"{user}: {question}")))
    console.rule(f"demo finished in {time.perf_counter() - started:.1f}s")
