"""The `memagent` command: demo, chat, replay, profile, memories, correct, delete, forget, export, import,
doctor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.text import Text

from memagent._console import console, err_console, memory_table, print_report, replay_file
from memagent.config import MemoryConfig
from memagent.errors import ConfigError, InputError, MemAgentError, UnknownUserError
from memagent.interfaces import MemoryStore
from memagent.limits import InputLimits, check_record
from memagent.memory import Memory
from memagent.types import MemoryKind, MemoryRecord, checked_time

__all__ = ["app"]

app = typer.Typer(help="Long-term, personalized memory for LLM assistants.", no_args_is_help=True)

DataDirOpt = Annotated[
    Path, typer.Option("--data-dir", "-d", envvar="MEMAGENT_HOME", help="Where memory is kept.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")]
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URL instead of DATA_DIR/chroma: memory://, http://HOST:PORT (a Chroma server; the "
        "records stay in DATA_DIR/catalog.sqlite3 unless the URL names ?catalog=PATH)",
    ),
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="LangChain chat model, e.g. openai:gpt-4o-mini (default: none)")
]
ExtractionOpt = Annotated[
    str, typer.Option("--extraction", help="rules (offline), llm (needs --model) or none")
]


_SETTINGS: dict[str, str | None] = {"embedding_model": None}


@app.callback()
def _main(
    embedding_model: Annotated[
        str | None,
        typer.Option(
            "--embedding-model",
            envvar="MEMAGENT_EMBEDDING_MODEL",
            help="Local sentence-transformers model directory (default: the bundled all-MiniLM-L6-v2)",
        ),
    ] = None,
) -> None:
    """Long-term, personalized memory for LLM assistants."""
    _SETTINGS["embedding_model"] = embedding_model


def _chat_model(model: str | None) -> Any:
    if model is None:
        return None
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MemAgentError("plugging a model needs the llm extra: pip install 'memagent[llm]'") from exc
    return init_chat_model(model)


def _open_memory(
    data_dir: Path, store: str | None, model: str | None = None, extraction: str = "rules"
) -> Memory:
    if extraction not in ("rules", "llm", "none"):
        raise InputError(f"unknown extraction {extraction!r}: use rules, llm or none", field="--extraction")
    config = MemoryConfig(extraction=extraction)  # type: ignore[arg-type]
    from memagent.embeddings import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(_SETTINGS["embedding_model"])
    opened = _open_store(data_dir, store)
    try:
        return _closing_later(Memory(opened, embedder, config=config, chat_model=_chat_model(model)))
    except BaseException:
        opened.close()
        raise


def _open_store(data_dir: Path, store: str | None) -> MemoryStore:
    """The store named by ``--store``, or the one of the data directory."""
    from memagent.stores import open_store

    return open_store(store or str(data_dir / "chroma"), catalog=data_dir / "catalog.sqlite3")


_TO_CLOSE: list[Any] = []


_Closable = TypeVar("_Closable")


def _closing_later(resource: _Closable) -> _Closable:
    """Close ``resource`` when the running command ends (see `_errors`)."""
    _TO_CLOSE.append(resource)
    return resource


@contextmanager
def _errors() -> Iterator[None]:
    """Turn memagent errors into a one-line message and exit code 1; close what the command opened."""
    try:
        yield
    except MemAgentError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None
    finally:
        while _TO_CLOSE:
            _TO_CLOSE.pop().close()


def _parse_when(value: str | None, *, field: str) -> datetime | None:
    """A date means the end of that day ("as of March 10" includes March 10)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"not an ISO date or datetime: {value!r}", field=field) from None
    if len(value) <= 10:
        parsed = datetime.combine(parsed.date(), dtime(23, 59, 59))
    try:
        return checked_time(parsed)
    except ValueError as exc:
        raise InputError(str(exc), field=field) from None


def _require_user(memory: Memory, user_id: str) -> None:
    if user_id not in memory.users():
        known = ", ".join(memory.users()[:10]) or "none"
        raise UnknownUserError(f"unknown user {user_id!r} (known users: {known})", field="user")


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL history, one turn a line")],
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    model: ModelOpt = None,
    extraction: ExtractionOpt = "rules",
    batch_size: Annotated[int, typer.Option(min=1, help="Turns per write batch")] = 64,
    skip_invalid: Annotated[bool, typer.Option(help="Count and skip bad lines instead of stopping")] = False,
) -> None:
    """Replay a recorded history (idempotent by turn id: re-running stores nothing twice)."""
    with _errors():
        memory = _open_memory(data_dir, store, model, extraction)
        start = time.perf_counter()
        report = replay_file(memory, file, batch_size=batch_size, skip_invalid=skip_invalid)
        print_report(report, time.perf_counter() - start)


@app.command()
def memories(
    user: Annotated[str, typer.Argument(help="User id")],
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Show what held on this date (ISO)")] = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Search instead of listing")] = None,
    kind: Annotated[list[MemoryKind] | None, typer.Option(help="Only this kind (repeatable)")] = None,
    history: Annotated[bool, typer.Option(help="Include superseded records")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines")] = False,
) -> None:
    """List or search a user's memories, now or as of a date."""
    with _errors():
        when = _parse_when(as_of, field="--as-of")
        memory = _open_memory(data_dir, store)
        _require_user(memory, user)
        if query:
            hits = memory.recall(user, query, kinds=kind, as_of=when, include_history=history)
            records = [h.record for h in hits]
        else:
            records = memory.memories(user, as_of=when, kinds=kind or None, include_history=history)
            if kind is None:
                records = [r for r in records if r.kind != MemoryKind.TURN]
        if as_json:
            for record in records:
                typer.echo(record.model_dump_json())
            return
        title = (
            f"memories of {user}"
            + (f" as of {as_of}" if as_of else "")
            + (f" for {query!r}" if query else "")
        )
        console.print(memory_table(records, title))


@app.command()
def profile(
    user: Annotated[str, typer.Argument(help="User id")],
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Compile for this message")] = None,
    budget: Annotated[int, typer.Option(min=16, help="Hard token budget")] = 512,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Profile as of this date (ISO)")] = None,
) -> None:
    """Print the token-budgeted profile of a user."""
    with _errors():
        when = _parse_when(as_of, field="--as-of")
        memory = _open_memory(data_dir, store)
        _require_user(memory, user)
        compiled = memory.profile(user, query, budget=budget, as_of=when)
        console.print(compiled.text, markup=False, highlight=False)
        console.print(
            f"[dim]{compiled.tokens}/{budget} tokens, {len(compiled.lines)} lines, "
            f"{compiled.dropped} dropped[/]"
        )


@app.command()
def forget(
    user: Annotated[str, typer.Argument(help="User id")],
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    yes: YesOpt = False,
) -> None:
    """Delete everything stored for a user: memories, turns and conversation threads."""
    with _errors():
        memory = _open_memory(data_dir, store)
        from memagent.agents import MemoryAgent, sqlite_checkpointer

        agent = _closing_later(
            MemoryAgent(memory, checkpointer=sqlite_checkpointer(data_dir / "threads.sqlite"))
        )
        if user not in memory.users() and not agent.threads(user):  # leftover threads make a user known
            _require_user(memory, user)
        if not yes and not typer.confirm(f"Delete everything stored for {user!r}?"):
            raise typer.Exit(1)
        removed = agent.forget(user)
        console.print(f"forgot {user}: {removed} records removed")


def _memory_id(memory: Memory, user: str, prefix: str) -> str:
    """The id of the user's record that starts with ``prefix`` (as `memories` shows ids), walking their
    history once."""
    _require_user(memory, user)
    found = [r.id for r in memory.export(user) if r.id.startswith(prefix)] if prefix else []
    if len(found) != 1:
        problem = "no record" if not found else f"{len(found)} records"
        raise InputError(f"{problem} of {user!r} with an id starting {prefix!r}", field="memory_id")
    return found[0]


@app.command()
def correct(
    user: Annotated[str, typer.Argument(help="User id")],
    memory_id: Annotated[str, typer.Argument(help="The memory's id, or its start as `memories` shows it")],
    content: Annotated[str, typer.Argument(help="What holds instead, e.g. 'User is allergic to cashews'")],
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
) -> None:
    """Correct one current memory: the correction supersedes it, which stays in the slot's history."""
    with _errors():
        memory = _open_memory(data_dir, store)
        fixed = memory.correct(user, _memory_id(memory, user, memory_id), content)
        console.print(f"corrected: {escape(fixed.content)} [{fixed.id[:8]}]")


@app.command("delete")
def delete_cmd(
    user: Annotated[str, typer.Argument(help="User id")],
    memory_id: Annotated[str, typer.Argument(help="The record's id, or its start as `memories` shows it")],
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    yes: YesOpt = False,
) -> None:
    """Delete one memory (or raw turn) of a user, from every index and from disk."""
    with _errors():
        memory = _open_memory(data_dir, store)
        full = _memory_id(memory, user, memory_id)
        if not yes and not typer.confirm(f"Delete record {full} of {user!r}?"):
            raise typer.Exit(1)
        memory.delete(user, full)
        console.print(f"deleted {full}")


@app.command("export")
def export_cmd(
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File (default: stdout)")] = None,
) -> None:
    """Export memories (history and raw turns included) as JSONL."""
    with _errors():
        memory = _open_memory(data_dir, store)
        if user is not None:
            _require_user(memory, user)
        lines = (record.model_dump_json() for record in memory.export(user))
        if output is None:
            for line in lines:
                typer.echo(line)
            return
        count = 0
        with output.open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line + "\n")
                count += 1
        console.print(f"exported {count} records to {output}")


def read_records(path: Path, limits: InputLimits | None = None) -> Iterator[MemoryRecord]:
    """Records of an export file, each within ``limits`` (the defaults when None); a bad line raises
    `InputError` naming file, line and field."""
    limits = limits or InputLimits()
    from pydantic import ValidationError

    from memagent.replay.jsonl import decode_line, validation_input_error

    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            data = decode_line(raw, str(path), number)
            if data is None:
                continue
            try:
                record = MemoryRecord.model_validate(data)
            except ValidationError as exc:
                raise validation_input_error(exc, str(path), number) from None
            for name in ("event_time", "record_time", "valid_from", "valid_until"):
                value = getattr(record, name)
                if value is None:
                    continue
                try:
                    checked_time(value)
                except ValueError as exc:
                    raise InputError(str(exc), source=str(path), line=number, field=name) from None
            try:
                check_record(record, limits)
            except InputError as exc:
                raise InputError(exc.reason, source=str(path), line=number, field=exc.field) from None
            yield record


@app.command("import")
def import_cmd(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL written by `memagent export`")
    ],
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
) -> None:
    """Import an export file (records keep their ids, so importing twice stores nothing twice)."""
    with _errors():
        memory = _open_memory(data_dir, store)
        batch: list[MemoryRecord] = []
        count = 0
        try:
            for record in read_records(file, memory.config.limits):
                batch.append(record)
                if len(batch) >= 256:
                    count += memory.import_records(batch)
                    batch.clear()
        finally:
            count += memory.import_records(batch)
            console.print(f"imported {count} records")


@app.command()
def doctor(
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="Only this user")] = None,
    repair: Annotated[bool, typer.Option(help="Write the vectors of unreachable records again")] = False,
) -> None:
    """Check that dense search reaches every stored record (a process killed while the vector index
    was writing its files can lose vectors); exit code 1 while some record stays unreachable."""
    from memagent.stores import IndexedStore

    with _errors():
        opened = _closing_later(_open_store(data_dir, store))
        if not isinstance(opened, IndexedStore):
            raise ConfigError(f"doctor checks memagent's own stores, not {type(opened).__name__}")
        users = opened.users()
        if user is not None and user not in users:
            known = ", ".join(users[:10]) or "none"
            raise UnknownUserError(f"unknown user {user!r} (known users: {known})", field="user")
        checked = unreachable = repaired = 0
        for user_id in [user] if user is not None else users:
            health = opened.check(user_id, repair=repair)
            checked += health.checked
            unreachable += len(health.unreachable)
            repaired += health.repaired
            if health.unreachable:
                console.print(
                    f"{escape(user_id)}: {len(health.unreachable)} of {health.checked} records unreachable"
                    + (f", {health.repaired} repaired" if repair else "")
                )
        console.print(
            f"checked {checked} records of {len(users) if user is None else 1} user(s): "
            f"{unreachable} unreachable" + (f", {repaired} repaired" if repair else "")
        )
        if unreachable > repaired:
            if not repair:
                err_console.print("run `memagent doctor --repair` to write their vectors again")
            raise typer.Exit(1)


@app.command()
def chat(
    user: Annotated[str, typer.Option("--user", "-u", help="Who is talking")] = "me",
    session: Annotated[
        str | None, typer.Option("--session", "-s", help="Conversation id (default: new)")
    ] = None,
    data_dir: DataDirOpt = Path(".memagent"),
    store: StoreOpt = None,
    model: ModelOpt = None,
    extraction: ExtractionOpt = "rules",
) -> None:
    """Talk to the memory agent (empty line or Ctrl-D to quit)."""
    from memagent.agents import MemoryAgent, sqlite_checkpointer

    with _errors():
        memory = _open_memory(data_dir, store, model, extraction)
        agent = _closing_later(
            MemoryAgent(
                memory, _chat_model(model), checkpointer=sqlite_checkpointer(data_dir / "threads.sqlite")
            )
        )
        session_id = session or datetime.now(UTC).strftime("chat-%Y%m%d-%H%M%S")
        console.print(f"[dim]user {user}, session {session_id}; empty line to quit[/]")
        while True:
            try:
                text = input("you> ").strip()
            except EOFError:
                break
            if not text:
                break
            reply = agent.chat(user, session_id, text)
            console.print(Text.assemble(("agent> ", "bold"), reply.text))


@app.command()
def demo(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", "-d", help="Keep the demo memory here (default: a temp dir)")
    ] = None,
    budget: Annotated[int, typer.Option(min=16, help="Token budget of the profile shown")] = 160,
) -> None:
    """Replay a bundled sample history and show what the agent remembers (offline)."""
    from memagent._demo import run_demo

    with _errors():
        run_demo(console, data_dir=data_dir, budget=budget)


def _register_eval() -> None:
    from memagent.eval.commands import register

    register(app)


_register_eval()

if __name__ == "__main__":  # pragma: no cover
    app()
