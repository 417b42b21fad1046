"""`synthetic_history`: a seeded, generated conversation history for load tests and benchmarks.

Sessions alternate user and assistant turns, as recorded chats do. About two user turns in five say
something personal (a preference, a fact, a life event) and the rest ask questions or chat, so roughly
a fifth of all turns carry a memory. Everyday words are drawn from a large generated vocabulary with
Zipf-like frequencies, so lexical postings grow the way they do in real histories rather than
concentrating on a handful of words.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from memagent.types import Role, Turn

__all__ = ["iter_synthetic_history", "synthetic_history"]

_PERSONAL = (
    "I love {thing}, especially on {day}s.",
    "I can't stand {thing} anymore.",
    "I'm allergic to {thing}.",
    "I usually have {thing} in the morning before {activity}.",
    "I work as a {job} near {city}.",
    "Last week I went to {city} for {activity} with {name}.",
    "My friend {name} got me into {activity} this year.",
    "I moved to {city} a few months ago.",
)
_CHAT = (
    "What time is it in {city} right now?",
    "Tell me an interesting fact about {word} and {word2}.",
    "Can you explain how {word} works in simple terms?",
    "Any tips for {activity} when it rains?",
    "Write a short poem about {word} and {thing}.",
    "How do I say {word} in Spanish?",
    "Is {word2} related to {word} at all?",
    "What's the history of {thing}?",
)
_REPLIES = (
    "Good question. {word} is often linked to {word2}; here is a short overview.",
    "Here are three ideas about {activity}: start small, keep notes on {word}, and ask {name}.",
    "Sure. In {city} people usually pair {thing} with {word}.",
    "That sounds lovely. Would you like suggestions about {word2} too?",
    "Noted. Many people find {activity} easier with a little {word} first.",
)
_THINGS = (
    "green tea", "jazz", "cycling", "sushi", "board games", "rainy days", "spicy food", "opera",
    "peanuts", "sailing", "poetry", "sourdough", "chess", "hiking", "oat milk", "horror films",
    "gardening", "tennis", "shellfish", "espresso", "podcasts", "pottery", "kimchi", "techno",
    "gluten", "strawberries", "crosswords", "yoga", "dark chocolate", "camping",
)  # fmt: skip
_ACTIVITIES = (
    "running", "climbing", "painting", "baking", "swimming", "birdwatching", "knitting", "surfing",
    "photography", "woodworking", "salsa dancing", "skiing", "fishing", "journaling", "rowing",
)  # fmt: skip
_JOBS = ("nurse", "teacher", "data analyst", "carpenter", "pilot", "chef", "lawyer", "architect")
_CITIES = ("Lisbon", "Osaka", "Nairobi", "Lima", "Oslo", "Hanoi", "Denver", "Tunis", "Quito", "Perth")
_NAMES = ("Maya", "Tom", "Aiko", "Ravi", "Lena", "Omar", "Sofia", "Jonas", "Ines", "Kofi")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SYLLABLES = (
    "ba", "ko", "ri", "tu", "me", "sa", "lo", "ne", "vi", "da", "pu", "ga", "fe", "zo", "mi", "ta",
    "ru", "le", "no", "ki", "sha", "bo", "ya", "wen", "dor", "lin", "mar", "tes", "quil", "ron",
)  # fmt: skip
_VOCABULARY = 5000
_PERSONAL_SHARE = 0.4


def _vocabulary(rng: random.Random) -> list[str]:
    words: dict[str, None] = {}
    while len(words) < _VOCABULARY:
        words["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))] = None
    return list(words)


def synthetic_history(
    *, sessions: int, users: int = 3, turns_per_session: int = 6, seed: int = 0
) -> list[Turn]:
    """``sessions`` sessions spread over ``users`` users, one session a day, a minute per turn.

    Turns alternate user and assistant, starting with the user.
    """
    return list(
        iter_synthetic_history(sessions=sessions, users=users, turns_per_session=turns_per_session, seed=seed)
    )


def iter_synthetic_history(
    *, sessions: int, users: int = 3, turns_per_session: int = 6, seed: int = 0
) -> Iterator[Turn]:
    """The turns of `synthetic_history`, generated one at a time (a long history need not be held)."""
    rng = random.Random(seed)
    vocabulary = _vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(vocabulary))]  # Zipf's law

    def fill(template: str) -> str:
        word, word2 = rng.choices(vocabulary, weights=weights, k=2)
        return template.format(
            thing=rng.choice(_THINGS),
            activity=rng.choice(_ACTIVITIES),
            job=rng.choice(_JOBS),
            city=rng.choice(_CITIES),
            name=rng.choice(_NAMES),
            day=rng.choice(_DAYS),
            word=word,
            word2=word2,
        )

    start = datetime(2023, 1, 1, 10, tzinfo=UTC)
    for s in range(sessions):
        for i in range(turns_per_session):
            if i % 2:
                role, template = Role.ASSISTANT, rng.choice(_REPLIES)
            else:
                personal = rng.random() < _PERSONAL_SHARE
                role, template = Role.USER, rng.choice(_PERSONAL if personal else _CHAT)
            yield Turn(
                user_id=f"user{s % users}",
                session_id=f"s{s}",
                turn_id=f"s{s}-{i}",
                role=role,
                text=fill(template),
                event_time=start + timedelta(days=s, minutes=i),
            )
