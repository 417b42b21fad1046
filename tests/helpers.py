"""Small builders shared by the tests."""

from __future__ import annotations

from datetime import UTC, datetime

from memagent.types import Role, Turn

__all__ = ["turn"]


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
        turn_id=turn_id or f"{session}-{abs(hash(text)) % 10**8}",
        role=role,
        text=text,
        event_time=moment,
    )
