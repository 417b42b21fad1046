"""The JSON Lines history format: roundtrip, located errors, skip mode, laziness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from memagent.errors import ConfigError, InputError
from memagent.replay import ReadReport, read_turns, turn_to_json, write_turns
from memagent.types import Role, Turn

from .helpers import history_line


def _write(tmp_path: Path, *lines: str, name: str = "history.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_roundtrip(tmp_path: Path) -> None:
    turns = [
        Turn(
            user_id="u1",
            session_id="s1",
            turn_id="a",
            role=Role.USER,
            text="Je suis végétarienne.",
            event_time=datetime(2024, 3, 2, 9, 15, tzinfo=timezone(timedelta(hours=1))),
            speaker="Alice",
            metadata={"k": [1, 2]},
        ),
        Turn(
            user_id="u1",
            session_id="s1",
            turn_id="b",
            role=Role.ASSISTANT,
            text="Noted.",
            event_time=datetime(2024, 3, 2, 8, 16, tzinfo=UTC),
        ),
        Turn(
            user_id="u2",
            session_id="s9",
            turn_id="c",
            role=Role.SYSTEM,
            text="",
            event_time=datetime(2024, 1, 1),
        ),
    ]
    path = tmp_path / "out.jsonl"
    assert write_turns(path, turns) == 3
    assert list(read_turns(path)) == turns
    assert "speaker" not in turn_to_json(turns[1]) and "metadata" not in turn_to_json(turns[1])


def test_dates_and_naive_timestamps_are_utc(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        history_line(timestamp="2024-03-02"),
        history_line(turn_id="t2", timestamp="2024-03-02T10:00:00Z"),
        history_line(turn_id=7),
    )
    got = list(read_turns(path))
    assert got[0].event_time == datetime(2024, 3, 2, tzinfo=UTC)
    assert got[1].event_time == datetime(2024, 3, 2, 10, tzinfo=UTC)
    assert got[2].turn_id == "7"


@pytest.mark.parametrize(
    ("bad", "field", "fragment"),
    [
        ("{not json", None, "malformed JSON"),
        ("[1, 2]", None, "expected a JSON object"),
        (history_line(text=...), "text", "missing field"),
        (history_line(role="bot"), "role", "invalid role 'bot'"),
        (history_line(timestamp="yesterday"), "timestamp", "invalid datetime 'yesterday'"),
        (history_line(timestamp=12), "timestamp", "ISO 8601"),
        (history_line(user_id=""), "user_id", "non-empty"),
        (history_line(metadata=[1]), "metadata", "expected an object"),
        (history_line(extra=1), "extra", "unknown field"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, bad: str, field: str | None, fragment: str) -> None:
    path = _write(tmp_path, history_line(), "", bad)
    with pytest.raises(InputError) as info:
        list(read_turns(path))
    err = info.value
    assert err.source == str(path) and err.line == 3 and err.field == field
    assert "history.jsonl:3" in str(err) and fragment in str(err)
    if field:
        assert f"field '{field}'" in str(err)


def test_skip_mode_counts_and_collects(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        history_line(),
        "{oops",
        "",
        history_line(turn_id="t2", role="robot"),
        history_line(turn_id="t3"),
    )
    report = ReadReport()
    turns = list(read_turns(path, errors="skip", report=report))
    assert [t.turn_id for t in turns] == ["t1", "t3"]
    assert report.lines_read == 5 and report.turns == 2 and report.skipped == 2
    assert [e.line for e in report.errors] == [2, 4]
    assert report.errors[1].field == "role"


def test_reading_is_lazy(tmp_path: Path) -> None:
    path = _write(
        tmp_path, history_line(), history_line(turn_id="t2"), history_line(turn_id="t3", timestamp="nope")
    )
    it = read_turns(path)
    assert next(it).turn_id == "t1"
    assert next(it).turn_id == "t2"
    with pytest.raises(InputError) as info:
        next(it)
    assert info.value.line == 3


def test_missing_file_and_bad_mode(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.jsonl"):
        read_turns(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError):
        read_turns(_write(tmp_path, history_line()), errors="ignore")  # type: ignore[arg-type]


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(history_line().encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputError) as info:
        list(read_turns(path))
    assert info.value.line == 2


@pytest.mark.parametrize(
    ("raw", "field", "says"),
    [
        (b'{"user_id": "u1", "text": "caf\xe9"}', None, "not UTF-8"),
        (b'{"user_id": ' + b"9" * 5000 + b"}", None, "4300 digits"),
        (b'{"user_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", None, "nested"),
        (b'{"user_id": ' + b"[" * 101 + b"]" * 101 + b"}", None, "nested deeper than 100 levels"),
        (history_line(text="\ud800 half a pair").encode(), "text", "lone surrogate"),
        (history_line(user_id="\udcff").encode(), "user_id", "lone surrogate"),
        (history_line(speaker="A\ud800").encode(), "speaker", "lone surrogate"),
        (history_line(metadata={"note": "\udfff"}).encode(), "metadata.note", "lone surrogate"),
        (history_line(timestamp="9999-12-31T23:59:59").encode(), "timestamp", "supported range"),
        (history_line(timestamp="0001-01-01T00:00:00+14:00").encode(), "timestamp", "supported range"),
    ],
)
def test_input_python_cannot_hold_is_a_located_error(
    tmp_path: Path, raw: bytes, field: str | None, says: str
) -> None:
    path = tmp_path / "history.jsonl"
    path.write_bytes(raw + b"\n" + history_line(turn_id="ok").encode() + b"\n")
    with pytest.raises(InputError) as caught:
        list(read_turns(path))
    assert (caught.value.source, caught.value.line, caught.value.field) == (str(path), 1, field)
    assert says in str(caught.value)
    report = ReadReport()
    assert [t.turn_id for t in read_turns(path, errors="skip", report=report)] == ["ok"]
    assert report.skipped == 1
