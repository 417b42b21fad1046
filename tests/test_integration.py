"""The library on its real parts: a persistent Chroma and the bundled embedding model."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from memagent.memory import Memory
from memagent.stores import ChromaStore
from memagent.tokens import TiktokenCounter
from memagent.types import MemoryKind

from .helpers import turn

pytestmark = pytest.mark.integration


@pytest.fixture
def memory(tmp_path, real_embedder):
    mem = Memory(ChromaStore.persistent(tmp_path / "chroma"), real_embedder, counter=TiktokenCounter())
    yield mem
    mem.close()


def test_the_issue_scenarios_on_real_parts(memory) -> None:
    memory.remember(
        [turn("I've been vegetarian for years.", "2023-01-10T12:00", session="jan", turn_id="j1")]
    )
    memory.remember([turn("I started eating fish again.", "2023-03-05T12:00", session="mar", turn_id="m1")])
    memory.remember([turn("My sister visited yesterday.", "2023-05-08T19:00", session="may", turn_id="y1")])

    (now,) = [r for r in memory.memories("ana") if r.slot == "diet"]
    (then,) = [r for r in memory.memories("ana", as_of=datetime(2023, 2, 15, tzinfo=UTC)) if r.slot == "diet"]
    assert "fish" in now.content.lower() and "vegetarian" in then.content.lower()
    assert then.superseded_by == now.id and now.supersedes == then.id
    (event,) = memory.memories("ana", kinds=[MemoryKind.EVENT])
    assert event.event_time.date() == date(2023, 5, 7)

    profile = memory.profile("ana", "What should I cook tonight?", budget=64)
    assert profile.tokens <= 64 and "fish" in profile.text.lower()
    current_diet = [line.text for line in profile.lines if now.id in line.record_ids]
    assert current_diet and all("vegetarian" not in text.lower() for text in current_diet)


def test_users_never_mix_and_forget_is_complete(memory) -> None:
    memory.remember([turn("I love sushi and jazz.", "2023-01-01T10:00", user="ana", turn_id="a")])
    memory.remember([turn("I hate sushi, I love opera.", "2023-01-01T10:00", user="bob", turn_id="a")])
    assert all(h.record.user_id == "bob" for h in memory.recall("bob", "sushi jazz"))
    assert "jazz" not in memory.profile("bob", "music tonight?").text.lower()
    memory.forget("ana")
    assert memory.users() == ["bob"] and memory.recall("ana", "sushi") == []
    assert list(memory.export("ana")) == []
