"""Console output shared by the `memagent` command and its demo: the consoles, the memory table, the
ingest report, and replaying a history file with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from memagent.memory import IngestReport, Memory
from memagent.types import MemoryRecord, Turn

__all__ = ["console", "err_console", "memory_table", "print_report", "replay_file"]

console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, soft_wrap=True)


def memory_table(records: list[MemoryRecord], title: str) -> Table:
    """Records as a table: id, kind, content, slot, event time, validity and source turns."""
    table = Table(title=title, show_lines=False)
    for column in ("id", "kind", "content", "slot", "event time", "valid", "turns"):
        table.add_column(column, overflow="fold")
    for r in records:
        until = r.valid_until.date().isoformat() if r.valid_until else "now"
        table.add_row(
            r.id[:8],
            r.kind.value,
            Text(r.content),
            Text(r.slot or ""),
            r.event_time.date().isoformat(),
            f"{r.valid_from.date().isoformat()} → {until}",
            Text(", ".join(r.source_turn_ids)),
        )
    return table


def print_report(report: IngestReport, elapsed: float) -> None:
    """What a replay stored, skipped and superseded, and how fast."""
    ex = report.extraction
    rate = report.turns_new / elapsed if elapsed > 0 else 0.0
    console.print(
        f"turns stored: {report.turns_new}, already stored: {report.turns_known}, "
        f"memories added: {report.added}, superseded: {report.superseded}, merged: {report.merged}, "
        f"non-personal turns skipped by extraction: {ex.turns_skipped}"
    )
    if ex.llm_calls or ex.failures:
        console.print(
            f"LLM calls: {ex.llm_calls}, invalid outputs: {ex.failures}, repaired: {ex.repairs}, "
            f"fell back to rules: {ex.fallbacks}"
        )
    if report.forgotten:
        console.print(f"memories forgotten on request: {report.forgotten}")
    conflicting = report.turns_conflicting
    if conflicting:
        shown = ", ".join(conflicting[:10]) + (", ..." if len(conflicting) > 10 else "")
        err_console.print(
            f"[yellow]{len(conflicting)} turn(s) reuse the id of a turn stored with another text; "
            f"the stored text was kept:[/] {escape(shown)}"
        )
    console.print(f"{report.turns_new} turns in {elapsed:.1f}s ({rate:.1f} turns/s)")


def replay_file(
    memory: Memory, path: Path, *, batch_size: int = 64, skip_invalid: bool = False
) -> IngestReport:
    """Replay a JSONL history into ``memory`` with a progress bar; earlier lines stay stored on a bad line."""
    from memagent.replay.jsonl import ReadReport, read_turns

    with path.open("rb") as fh:  # bytes: a line that is not UTF-8 is reported by the reader, not here
        total = sum(1 for line in fh if line.strip())
    report = IngestReport()
    read = ReadReport()
    batch: list[Turn] = []
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as progress:
        task = progress.add_task("replay", total=total)

        def flush() -> None:
            if batch:
                report.merge(memory.remember(batch))
                progress.advance(task, len(batch))
                batch.clear()

        try:
            mode: Literal["raise", "skip"] = "skip" if skip_invalid else "raise"
            for turn in read_turns(path, errors=mode, report=read, limits=memory.config.limits):
                if batch and (len(batch) >= batch_size or batch[-1].session_id != turn.session_id):
                    flush()
                batch.append(turn)
        finally:
            flush()
    for error in read.errors:
        err_console.print(f"[yellow]skipped:[/] {escape(str(error))}")
    if read.errors:
        err_console.print(f"[yellow]{len(read.errors)} invalid line(s) skipped[/]")
    return report
