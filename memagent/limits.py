"""`InputLimits`: how large a turn may be, checked where input arrives (`check_turn`, `check_record`).

A history file, an export or an application may hand memagent anything; a single 2 GB line or a
megabyte-long user id would reach the embedder, the catalog and every profile. The limits are part of
`memagent.config.MemoryConfig` (``limits``), so a deployment raises or lowers them in one place. Ids
are also refused when blank or holding control characters (C0, DEL): they name files, collections and
log lines.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field

from memagent.errors import InputError
from memagent.types import MemoryRecord, Turn

__all__ = ["InputLimits", "check_id", "check_record", "check_text", "check_turn"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InputLimits(BaseModel):
    """The largest input accepted (in characters, and bytes of JSON for metadata)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_text_chars: int = Field(default=100_000, ge=1)
    """A turn's text (about 25k tokens: far beyond one message, short of a pasted book)."""
    max_id_chars: int = Field(default=512, ge=1)
    """A user, session, turn or record id."""
    max_metadata_bytes: int = Field(default=65_536, ge=2)
    """A turn's metadata or a record's attributes, as compact JSON."""


def check_id(value: str, field: str, limits: InputLimits) -> None:
    """Refuse a blank id, one with control characters, or one over ``limits.max_id_chars``.

    Raises:
        InputError: naming ``field``.
    """
    if not value.strip():
        raise InputError(f"expected a non-blank id, got {value!r}", field=field)
    if len(value) > limits.max_id_chars:
        raise InputError(
            f"id of {len(value)} characters, over the limit of {limits.max_id_chars}", field=field
        )
    found = _CONTROL.search(value)
    if found:
        raise InputError(f"id holds the control character {found.group()!r}", field=field)


def check_text(value: str, field: str, limits: InputLimits) -> None:
    """Refuse a text over ``limits.max_text_chars``.

    Raises:
        InputError: naming ``field``.
    """
    if len(value) > limits.max_text_chars:
        raise InputError(
            f"{len(value)} characters of text, over the limit of {limits.max_text_chars}", field=field
        )


def _check_size(value: object, field: str, limit: int) -> None:
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))
    if size > limit:
        raise InputError(f"{size} bytes of JSON, over the limit of {limit}", field=field)


def check_turn(turn: Turn, limits: InputLimits) -> None:
    """Refuse a turn over ``limits`` or with an unusable id.

    Raises:
        InputError: naming the field at fault.
    """
    for field in ("user_id", "session_id", "turn_id"):
        check_id(getattr(turn, field), field, limits)
    check_text(turn.text, "text", limits)
    if turn.metadata:
        _check_size(turn.metadata, "metadata", limits.max_metadata_bytes)


def check_record(record: MemoryRecord, limits: InputLimits) -> None:
    """Refuse an imported record over ``limits`` or with an unusable id.

    Raises:
        InputError: naming the field at fault.
    """
    check_id(record.id, "id", limits)
    check_id(record.user_id, "user_id", limits)
    check_text(record.content, "content", limits)
    if record.attributes:
        _check_size(record.attributes, "attributes", limits.max_metadata_bytes)
