"""Input limits and id rules (`memagent.limits`), enforced where input arrives: the history reader, the
export reader, `Memory.remember` / `import_records` and `MemoryAgent.chat`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from memagent.agents import MemoryAgent
from memagent.cli import read_records
from memagent.config import InputLimits, MemoryConfig
from memagent.errors import InputError
from memagent.replay import ReadReport, read_turns
from memagent.testing.conformance import make_record
from memagent.types import Turn

from .helpers import history_line

WHEN = datetime(2024, 3, 2, 9, 15, tzinfo=UTC)
SMALL = InputLimits(max_text_chars=40, max_id_chars=12, max_metadata_bytes=64)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"text": "x" * 41}, "text", "41 characters of text, over the limit of 40"),
        ({"user_id": "u" * 13}, "user_id", "id of 13 characters, over the limit of 12"),
        ({"session_id": "   "}, "session_id", "non-empty string"),
        ({"turn_id": "t\x1b[31m"}, "turn_id", "control character '\\x1b'"),
        ({"user_id": "a\x00b"}, "user_id", "control character '\\x00'"),
        ({"metadata": {"note": "y" * 80}}, "metadata", "bytes of JSON, over the limit of 64"),
    ],
)
def test_reader_names_line_and_field_of_input_over_the_limits(
    tmp_path: Path, overrides: dict[str, object], field: str, reason: str
) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(
        history_line() + "\n" + history_line(**{"turn_id": "t2", **overrides}) + "\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as caught:
        list(read_turns(path, limits=SMALL))
    assert (caught.value.line, caught.value.field) == (2, field) and reason in str(caught.value)

    report = ReadReport()
    kept = list(read_turns(path, errors="skip", report=report, limits=SMALL))
    assert [t.turn_id for t in kept] == ["t1"] and len(report.errors) == 1


def test_default_limits_accept_long_but_plausible_input(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(history_line(text="word " * 10_000, user_id="ü" * 200) + "\n", encoding="utf-8")
    assert len(list(read_turns(path))) == 1


def test_remember_refuses_the_whole_call_before_storing_anything(make_memory) -> None:
    memory = make_memory(config=MemoryConfig(limits=SMALL))
    good = Turn(user_id="ana", session_id="s", turn_id="a", text="I love tea.", event_time=WHEN)
    long = Turn(user_id="ana", session_id="s", turn_id="b", text="I love " + "tea " * 20, event_time=WHEN)
    with pytest.raises(InputError, match=r"turn 'b' of user 'ana': 87 characters of text") as caught:
        memory.remember([good, long])
    assert caught.value.field == "text" and memory.users() == []
    memory.remember([good])
    assert memory.users() == ["ana"]


def test_import_refuses_blank_ids_and_oversized_records(make_memory, tmp_path: Path) -> None:
    record = make_record("ana", "r1", "User loves tea")
    path = tmp_path / "export.jsonl"
    blank = record.model_copy(update={"user_id": "  "})
    path.write_text(record.model_dump_json() + "\n" + blank.model_dump_json() + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_records(path))
    assert (caught.value.line, caught.value.field) == (2, "user_id") and "non-blank" in str(caught.value)

    memory = make_memory(config=MemoryConfig(limits=SMALL))
    oversized = record.model_copy(update={"content": "User loves " + "tea " * 20})
    with pytest.raises(InputError, match=r"record 'r1' of user 'ana': \d+ characters of text"):
        memory.import_records([record.model_copy(update={"id": "r0"}), oversized])
    assert memory.users() == []


def test_chat_refuses_input_over_the_limits_before_the_graph_runs(make_memory) -> None:
    memory = make_memory(config=MemoryConfig(limits=SMALL))
    agent = MemoryAgent(memory)
    with pytest.raises(InputError) as caught:
        agent.chat("ana", "s1", "tell me " * 10, at=WHEN)
    assert caught.value.field == "text"
    with pytest.raises(InputError) as caught:
        agent.chat("ana\n", "s1", "hi", at=WHEN)
    assert caught.value.field == "user_id"
    assert memory.users() == []
