"""`forget` erases: after it, no file of the data directory holds the user's text, id or vectors.

The store is the default one (embedded persistent Chroma and its catalog), with the agent's SQLite
threads beside it; files are searched byte by byte while the process still has them open, and again
after it closed them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from memagent.agents import MemoryAgent, sqlite_checkpointer
from memagent.memory import Memory
from memagent.stores import ChromaStore
from memagent.stores._indexed import GROUPS
from memagent.types import Turn

pytestmark = pytest.mark.integration

VICTIM = "victim-5c1d"
MARK = "zorblaquux"  # a word nobody else says
START = datetime(2024, 3, 1, 9, tzinfo=UTC)


def _history(user: str, word: str, count: int) -> list[Turn]:
    lines = [
        f"I love {word} pancakes on Sundays.",
        f"My dog {word.title()} had knee surgery.",
        f"I'm allergic to {word} pollen, so spring is hard.",
        f"We moved to the {word} district last year.",
    ]
    return [
        Turn(
            user_id=user,
            session_id=f"s{i // 4}",
            turn_id=f"t{i}",
            text=f"{lines[i % len(lines)]} (note {i})",
            event_time=START + timedelta(hours=i),
        )
        for i in range(count)
    ]


def _vectors(store: ChromaStore, user_id: str) -> np.ndarray:
    rows = [matrix for group in GROUPS for _, matrix in store._chroma.vectors(user_id, group)]
    return np.concatenate(rows).astype(np.float32)


def _vector_hits(data: bytes, vectors: np.ndarray, tolerance: float = 1e-5) -> int:
    """How many places of ``data`` hold the first 8 components of one of ``vectors`` as float32 (at any
    byte alignment, within ``tolerance``: an index may store a re-normalised copy)."""
    hits = 0
    for offset in range(4):
        usable = (len(data) - offset) // 4 * 4
        if usable < 32:
            continue
        floats = np.nan_to_num(np.frombuffer(data[offset : offset + usable], dtype=np.float32))
        order = np.argsort(floats, kind="stable")
        ordered = floats[order]
        low = np.searchsorted(ordered, vectors[:, 0] - tolerance)
        high = np.searchsorted(ordered, vectors[:, 0] + tolerance)
        for row, start, stop in zip(vectors, low, high, strict=True):
            for position in order[start:stop]:
                window = floats[position : position + 8]
                if len(window) == 8 and np.allclose(window, row[:8], rtol=0, atol=tolerance):
                    hits += 1
    return hits


def _residue(directory: Path, vectors: np.ndarray) -> dict[str, dict[str, int]]:
    """Per file of ``directory``: how often it holds the victim's text, id and vectors."""
    found: dict[str, dict[str, int]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        counts = {
            "text": data.count(MARK.encode()) + data.count(MARK.title().encode()),
            "id": data.count(VICTIM.encode()),
            "vectors": _vector_hits(data, vectors),
        }
        if any(counts.values()):
            found[str(path.relative_to(directory))] = counts
    return found


def _total(found: dict[str, dict[str, int]], what: str) -> int:
    return sum(counts[what] for counts in found.values())


def test_forget_leaves_no_byte_of_the_user_in_any_file(tmp_path: Path, real_embedder) -> None:
    data = tmp_path / "home"
    store = ChromaStore.persistent(data / "chroma")
    memory = Memory(store, real_embedder)
    agent = MemoryAgent(memory, checkpointer=sqlite_checkpointer(data / "threads.sqlite"))
    for n, word in enumerate(["maple", "harbor", "violet"]):
        memory.remember(_history(f"user{n}", word, 24))
    memory.remember(_history(VICTIM, MARK, 40))
    agent.chat(VICTIM, "live", f"Remind me what I said about {MARK} pancakes?", at=START + timedelta(days=9))
    agent.chat("user0", "live", "What do I like for breakfast?", at=START + timedelta(days=9))

    victim_vectors = _vectors(store, VICTIM)
    before = _residue(data, victim_vectors)
    # The search finds what it looks for: each kind of trace is there before the forget.
    assert _total(before, "text") > 0 and _total(before, "id") > 0 and _total(before, "vectors") > 0, before

    assert agent.forget(VICTIM) > 0
    memory.remember(_history("user3", "cedar", 24))  # others keep writing after it
    agent.chat("user1", "live", "Anything new about the harbor?", at=START + timedelta(days=10))

    assert _residue(data, victim_vectors) == {}, "found while the files are open"
    agent.close()
    memory.close()
    assert _residue(data, victim_vectors) == {}, "found after the files were closed"

    reopened = Memory(ChromaStore.persistent(data / "chroma"), real_embedder)
    try:  # nothing the others stored was lost with her
        assert reopened.users() == ["user0", "user1", "user2", "user3"]
        assert [h.record.user_id for h in reopened.recall("user1", "harbor district")] != []
        assert all(_vectors(reopened.store, user).size for user in reopened.users())  # type: ignore[arg-type]
    finally:
        reopened.close()


def test_a_forget_killed_after_the_vectors_went_is_finished_by_the_next(
    tmp_path: Path, real_embedder
) -> None:
    data = tmp_path / "home"
    store = ChromaStore.persistent(data / "chroma")
    memory = Memory(store, real_embedder)
    memory.remember(_history("user0", "maple", 12))
    memory.remember(_history(VICTIM, MARK, 24))
    victim_vectors = _vectors(store, VICTIM)
    for group in GROUPS:  # what a forget killed right after Chroma deleted the collections leaves
        store.client.delete_collection(store._chroma.name(VICTIM, group))
    assert memory.users() == ["user0", VICTIM]  # still known: a second forget finds her
    assert memory.forget(VICTIM) > 0
    memory.close()
    assert _residue(data, victim_vectors) == {}
