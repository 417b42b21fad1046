"""Small builders shared by the tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from memagent.types import Role, Turn, stable_id

__all__ = ["history_line", "turn"]


def history_line(**overrides: object) -> str:
    """One line of the JSONL history format, a valid turn unless ``overrides`` say otherwise (a field
    given as ``...`` is left out)."""
    obj: dict[str, object] = {
        "user_id": "u1",
        "session_id": "s1",
        "turn_id": "t1",
        "role": "user",
        "text": "I moved to Lyon.",
        "timestamp": "2024-03-02T09:15:00",
    }
    obj.update(overrides)
    return json.dumps({k: v for k, v in obj.items() if v is not ...})


def turn(
    text: str,
    when: str,
    *,
    user: str = "ana",
    session: str = "s1",
    turn_id: str | None = None,
    role: Role = Role.USER,
) -> Turn:
    """A turn said at ISO time ``when``."""
    moment = datetime.fromisoformat(when)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return Turn(
        user_id=user,
        session_id=session,
        turn_id=turn_id or f"{session}-{stable_id(text)[:8]}",
        role=role,
        text=text,
        event_time=moment,
    )
