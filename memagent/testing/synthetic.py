"""`synthetic_history`: a seeded, generated conversation history for load tests and benchmarks."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from memagent.types import Role, Turn

__all__ = ["synthetic_history"]

_TEMPLATES = (
    "I love {x}.",
    "I can't stand {x}.",
    "What time is it in {city}?",
    "My friend visited yesterday and we talked about {x}.",
    "I usually have {x} in the morning.",
    "Tell me an interesting fact about {x}.",
    "I'm allergic to {x}.",
    "Last week I went to {city} for a conference.",
)
_THINGS = (
    "green tea", "jazz", "cycling", "sushi", "board games", "rainy days", "spicy food", "opera", "peanuts",
    "sailing", "poetry", "sourdough", "chess", "hiking", "oat milk", "horror films", "gardening", "tennis",
)  # fmt: skip
_CITIES = ("Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Hanoi", "Denver", "Tunis")


def synthetic_history(
    *, sessions: int, users: int = 3, turns_per_session: int = 6, seed: int = 0
) -> list[Turn]:
    """``sessions`` sessions spread over ``users`` users, one session a day, a minute per turn."""
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, 10, tzinfo=UTC)
    turns = []
    for s in range(sessions):
        for i in range(turns_per_session):
            template = rng.choice(_TEMPLATES)
            text = template.format(x=rng.choice(_THINGS), city=rng.choice(_CITIES))
            turns.append(
                Turn(
                    user_id=f"user{s % users}",
                    session_id=f"s{s}",
                    turn_id=f"s{s}-{i}",
                    role=Role.USER,
                    text=text,
                    event_time=start + timedelta(days=s, minutes=i),
                )
            )
    return turns
