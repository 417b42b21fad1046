"""Helpers shared by the benchmark loaders: JSON reading and shape checks that raise `InputError`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from memagent.errors import InputError

__all__ = [
    "EPOCH",
    "as_list",
    "as_str",
    "field",
    "load_json",
    "parse_date",
    "require_dir",
    "require_file",
    "step",
]

T = TypeVar("T")

_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer", bool: "a boolean"}


def require_file(path: Path) -> Path:
    """Return ``path`` if it is a readable file, else raise `InputError` naming it."""
    if not path.is_file():
        raise InputError("file not found", source=str(path))
    return path


def require_dir(path: Path) -> Path:
    """Return ``path`` if it is a directory, else raise `InputError` naming it."""
    if not path.is_dir():
        raise InputError("directory not found", source=str(path))
    return path


def load_json(path: Path) -> Any:
    """Parse the JSON file at ``path``; a missing or malformed file raises `InputError` naming it."""
    require_file(path)
    try:
        with path.open("rb") as fh:
            return json.load(fh)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise InputError(f"malformed JSON: {exc}", source=str(path), line=line) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc}", source=str(path)) from None


def field(obj: Any, key: str, typ: type[T] | tuple[type, ...], source: Path | str, where: str = "") -> T:
    """Return ``obj[key]`` checked to be of type ``typ``.

    Args:
        obj: The JSON object that should hold ``key`` (a non-dict is itself an error).
        key: The field name.
        typ: Accepted type(s) of the value.
        source: File named in the error.
        where: Path of ``obj`` inside the file ("[3].conversation"), prefixed to the field name.
    """
    name = f"{where}.{key}" if where else key
    if not isinstance(obj, dict):
        raise InputError(
            f"expected an object holding '{key}', got {type(obj).__name__}",
            source=str(source),
            field=where or None,
        )
    if key not in obj:
        raise InputError("missing field", source=str(source), field=name)
    value = obj[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        wanted = typ if isinstance(typ, tuple) else (typ,)
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in wanted)
        raise InputError(f"expected {names}, got {type(value).__name__}", source=str(source), field=name)
    return value  # type: ignore[return-value]


def as_list(value: Any, source: Path | str, where: str) -> list[Any]:
    """Return ``value`` if it is a list, else raise `InputError` naming ``where``."""
    if not isinstance(value, list):
        raise InputError(
            f"expected a list, got {type(value).__name__}", source=str(source), field=where or None
        )
    return value


def as_str(value: Any, source: Path | str, where: str) -> str:
    """Return ``value`` if it is a string, else raise `InputError` naming ``where``."""
    if not isinstance(value, str):
        raise InputError(f"expected a string, got {type(value).__name__}", source=str(source), field=where)
    return value


def parse_date(
    text: str, formats: Sequence[str], value: str, *, source: str | None = None, where: str | None = None
) -> datetime:
    """``text`` read with the first of ``formats`` that fits, as an aware UTC datetime.

    Raises:
        InputError: No format fits (the message quotes the original ``value``).
    """
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InputError(f"invalid date {value!r}", source=source, field=where)


def step(base: datetime, index: int) -> datetime:
    """``base`` plus ``index`` minutes: strictly increasing times for the turns of one session."""
    return base + timedelta(minutes=index)


EPOCH = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
"""Start of the synthetic timeline of benchmarks that carry no dates (PrefEval, PersonaChat)."""
