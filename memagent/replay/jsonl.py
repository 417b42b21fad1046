"""The generic history format: JSON Lines, one conversation turn per line.

Each non-blank line is a JSON object::

    {"user_id": "alice", "session_id": "s1", "turn_id": "s1:0", "role": "user",
     "text": "I just moved to Lyon.", "timestamp": "2024-03-02T09:15:00+01:00",
     "speaker": "Alice", "metadata": {"source": "chat"}}

Fields:

* ``user_id``, ``session_id``, ``turn_id`` (required): non-empty strings (integers are accepted and
  converted). ``turn_id`` must be unique within the user; replaying a turn twice stores nothing twice, and a
  turn id given again with another text is reported (`IngestReport.turns_conflicting`), the first
  text kept.
* ``role`` (required): ``"user"``, ``"assistant"`` or ``"system"``.
* ``text`` (required): a string.
* ``timestamp`` (required): when the turn was said, ISO 8601 date (``2024-03-02``, taken as midnight)
  or datetime; a naive value is taken as UTC.
* ``speaker`` (optional): display name of the speaker (string or null).
* ``metadata`` (optional): a JSON object of free-form extra fields.

Any other field is an error. Lines are replayed in file order; blank lines are ignored. The file is
UTF-8. Errors name the file, the 1-based line and the field, e.g.
``history.jsonl:7, field 'timestamp': invalid datetime 'yesterday'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from memagent.errors import ConfigError, InputError
from memagent.limits import InputLimits, check_turn
from memagent.types import Role, Turn, checked_time

__all__ = [
    "ReadReport",
    "decode_line",
    "parse_turn",
    "read_turns",
    "turn_to_json",
    "validation_input_error",
    "write_turns",
]

MAX_DEPTH = 100
"""Deepest nesting of arrays and objects a line may hold (pydantic's serialiser stops near 255)."""
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A JSON escape of half a UTF-16 pair: the only way a lone surrogate gets into decoded UTF-8 text."""
_REQUIRED = ("user_id", "session_id", "turn_id", "role", "text", "timestamp")
_OPTIONAL = ("speaker", "metadata")
_ROLES = tuple(r.value for r in Role)
_DEFAULT_LIMITS = InputLimits()


@dataclass
class ReadReport:
    """What `read_turns` saw: filled in as the file is consumed.

    Attributes:
        lines_read: Lines read so far (blank lines included).
        turns: Turns yielded.
        errors: Bad lines skipped (only with ``errors="skip"``).
    """

    lines_read: int = 0
    turns: int = 0
    errors: list[InputError] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Number of bad lines skipped."""
        return len(self.errors)


def _parse_timestamp(value: Any, source: str | None, line: int | None) -> datetime:
    if not isinstance(value, str):
        raise InputError(
            f"expected an ISO 8601 string, got {type(value).__name__}",
            source=source,
            line=line,
            field="timestamp",
        )
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"invalid datetime {value!r}", source=source, line=line, field="timestamp") from None
    try:
        return checked_time(parsed)
    except ValueError as exc:
        raise InputError(str(exc), source=source, line=line, field="timestamp") from None


def _id(obj: dict[str, Any], key: str, source: str | None, line: int | None) -> str:
    value = obj[key]
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"expected a non-empty string, got {value!r}", source=source, line=line, field=key)
    return value


def parse_turn(
    obj: Any, *, source: str | None = None, line: int | None = None, limits: InputLimits | None = None
) -> Turn:
    """Validate one decoded JSON line and build its `Turn` (within ``limits``: the defaults when None).

    Raises:
        InputError: naming ``source``, ``line`` and the field at fault.
    """
    if not isinstance(obj, dict):
        raise InputError(f"expected a JSON object, got {type(obj).__name__}", source=source, line=line)
    for key in _REQUIRED:
        if key not in obj:
            raise InputError("missing field", source=source, line=line, field=key)
    unknown = sorted(set(obj) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise InputError(
            f"unknown field (allowed: {', '.join(_REQUIRED + _OPTIONAL)})",
            source=source,
            line=line,
            field=unknown[0],
        )
    role = obj["role"]
    if role not in _ROLES:
        raise InputError(
            f"invalid role {role!r} (expected one of {', '.join(_ROLES)})",
            source=source,
            line=line,
            field="role",
        )
    text = obj["text"]
    if not isinstance(text, str):
        raise InputError(
            f"expected a string, got {type(text).__name__}", source=source, line=line, field="text"
        )
    speaker = obj.get("speaker")
    if speaker is not None and not isinstance(speaker, str):
        raise InputError(
            f"expected a string or null, got {type(speaker).__name__}",
            source=source,
            line=line,
            field="speaker",
        )
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise InputError(
            f"expected an object, got {type(metadata).__name__}", source=source, line=line, field="metadata"
        )
    fields = {
        "user_id": _id(obj, "user_id", source, line),
        "session_id": _id(obj, "session_id", source, line),
        "turn_id": _id(obj, "turn_id", source, line),
        "role": Role(role),
        "text": text,
        "event_time": _parse_timestamp(obj["timestamp"], source, line),
        "speaker": speaker or None,
        "metadata": metadata,
    }
    try:
        turn = Turn.model_validate(fields)
    except ValidationError as exc:
        raise validation_input_error(exc, source, line) from None
    try:
        check_turn(turn, limits or _DEFAULT_LIMITS)
    except InputError as exc:
        raise InputError(exc.reason, source=source, line=line, field=exc.field) from None
    return turn


def validation_input_error(exc: ValidationError, source: str | None, line: int | None) -> InputError:
    """The `InputError` naming the first field a model refused, for a line of ``source``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    return InputError(first["msg"], source=source, line=line, field=where)


def decode_line(raw: bytes, source: str, number: int) -> Any | None:
    """The JSON value of one line of a JSON Lines file (None for a blank line).

    Raises:
        InputError: The line is not UTF-8, not JSON, or JSON that Python cannot hold (an integer of more
            than 4,300 digits, nesting deeper than `MAX_DEPTH`), or holds a lone surrogate.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8: {exc.reason}", source=source, line=number) from None
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON: {exc.msg} (column {exc.colno})", source=source, line=number
        ) from None
    except (ValueError, RecursionError) as exc:  # digits over the int limit; nesting too deep
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
        raise InputError(f"malformed JSON: {reason}", source=source, line=number) from None
    if not _SURROGATE_ESCAPE.search(text) and text.count("[") + text.count("{") <= MAX_DEPTH:
        return value  # nothing to walk for: the common case
    try:
        where = _unencodable(value)
    except ValueError as exc:  # nested deeper than the models that will read it can serialise
        raise InputError(f"malformed JSON: {exc}", source=source, line=number) from None
    if where is not None:
        raise InputError(
            "holds a lone surrogate (an escaped half of a UTF-16 pair), which cannot be stored",
            source=source,
            line=number,
            field=where or None,
        )
    return value


def _unencodable(value: Any) -> str | None:
    """The path (``"metadata.tags.0"``; ``""`` for the value itself) of the first string in ``value``, a
    key or a value, that cannot be written as UTF-8; None if there is none.

    Raises:
        ValueError: ``value`` nests deeper than `MAX_DEPTH` (walked without recursion, so any depth that
            the JSON parser accepted is refused cleanly).
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if not _encodes(item):
                return path
            continue
        if depth >= MAX_DEPTH and isinstance(item, dict | list):
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        children: list[tuple[Any, str, int]] = []
        for key, child in pairs:
            name = str(key)
            if not _encodes(name):  # the key itself: named so that the error can be printed
                return f"{path}.{ascii(key)}" if path else ascii(key)
            inner = f"{path}.{name}" if path else name
            children.append((child, inner, depth + 1))
        stack.extend(reversed(children))
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_turns(
    path: str | Path,
    *,
    errors: Literal["raise", "skip"] = "raise",
    report: ReadReport | None = None,
    limits: InputLimits | None = None,
) -> Iterator[Turn]:
    """Stream the turns of a JSON Lines history, one line at a time.

    The file is read lazily: turns before a bad line are yielded before its error is raised, so a
    consumer can store them.

    Args:
        path: The ``.jsonl`` file.
        errors: ``"raise"`` stops at the first bad line; ``"skip"`` skips it and records it in ``report``.
        report: Filled in with counts and skipped errors while the iterator is consumed.
        limits: The largest turn accepted (`memagent.limits.InputLimits`; the defaults when None).

    Raises:
        InputError: The file is missing, or (``errors="raise"``) a line is malformed; the message names
            the file, the 1-based line and the field.
        ConfigError: ``errors`` is neither "raise" nor "skip".
    """
    if errors not in ("raise", "skip"):
        raise ConfigError(f"errors must be 'raise' or 'skip', not {errors!r}")
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    return _read(path, errors, report if report is not None else ReadReport(), limits or _DEFAULT_LIMITS)


def _read(path: Path, errors: str, report: ReadReport, limits: InputLimits) -> Iterator[Turn]:
    source = str(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", source=source) from None
    with fh:
        for number, raw in enumerate(fh, start=1):
            report.lines_read += 1
            try:
                turn = _parse_line(raw, source, number, limits)
            except InputError as exc:
                if errors == "raise":
                    raise
                report.errors.append(exc)
                continue
            if turn is None:
                continue
            report.turns += 1
            yield turn


def _parse_line(raw: bytes, source: str, number: int, limits: InputLimits) -> Turn | None:
    obj = decode_line(raw, source, number)
    return None if obj is None else parse_turn(obj, source=source, line=number, limits=limits)


def turn_to_json(turn: Turn) -> dict[str, Any]:
    """The JSON object of ``turn`` in the history format (``speaker``/``metadata`` only when set)."""
    obj: dict[str, Any] = {
        "user_id": turn.user_id,
        "session_id": turn.session_id,
        "turn_id": turn.turn_id,
        "role": turn.role.value,
        "text": turn.text,
        "timestamp": turn.event_time.isoformat(),
    }
    if turn.speaker is not None:
        obj["speaker"] = turn.speaker
    if turn.metadata:
        obj["metadata"] = turn.metadata
    return obj


def write_turns(path: str | Path, turns: Iterable[Turn]) -> int:
    """Write ``turns`` to ``path`` in the history format (overwriting it); return how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as fh:
        for turn in turns:
            fh.write(json.dumps(turn_to_json(turn), ensure_ascii=False) + "\n")
            count += 1
    return count
