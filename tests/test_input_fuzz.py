"""Generated bad input: every line is stored or refused with a located error, and nothing crashes."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from memagent.cli import read_records
from memagent.errors import InputError, MemAgentError
from memagent.memory import Memory
from memagent.replay import ReadReport, read_turns

_NASTY_VALUES: list[bytes] = [
    b'""',
    b'"\\ud800"',
    b'"a\\udfffb"',
    b'"\\u0000\\u001b[31m"',
    b'"' + b"x" * 20_000 + b'"',
    b"9" * 5000,
    b"[" * 5000 + b"]" * 5000,
    b"1e400",
    b"-1",
    b"null",
    b"true",
    b"{}",
    b"[]",
    b'"9999-12-31T23:59:59"',
    b'"0001-01-01T00:00:00+14:00"',
    b'"9999-12-30T00:00:00"',
    b'"0001-01-02T00:00:00"',
    b'"2024-02-30"',
    b'"\xff\xfe"',
    b'"\xe2\x80\xae RTL"',
]
_TURN = {
    "user_id": "ana",
    "session_id": "s1",
    "turn_id": "t",
    "role": "user",
    "text": "I moved to Lyon and I love hiking.",
    "timestamp": "2024-03-02T09:15:00",
}


def _mutated(rng: random.Random, base: dict[str, object], index: int) -> bytes:
    """``base`` with one to three fields replaced by nasty raw JSON, removed or added, or its bytes cut
    or flipped."""
    obj = {**base, **({"turn_id": f"t{index}"} if "turn_id" in base else {"id": f"r{index}"})}
    raw: dict[str, bytes] = {}
    for _ in range(rng.randint(1, 3)):
        key = rng.choice([*obj, "unknown"])
        action = rng.random()
        if action < 0.1:
            obj.pop(key, None)
        else:
            obj[key] = f"@raw{len(raw)}@"
            raw[f'"@raw{len(raw)}@"'] = rng.choice(_NASTY_VALUES)
    line = json.dumps(obj).encode()
    for placeholder, value in raw.items():
        line = line.replace(placeholder.encode(), value)
    if rng.random() < 0.1:
        cut = rng.randrange(len(line))
        line = line[:cut] + bytes([rng.randrange(256)]) + line[cut + 1 :]
    return line.replace(b"\n", b" ")


@pytest.mark.parametrize(
    "seed", [1, 2, *(pytest.param(seed, marks=pytest.mark.slow) for seed in range(3, 23))]
)
def test_generated_history_lines_are_stored_or_refused_by_line(
    tmp_path: Path, make_memory: Callable[..., Memory], seed: int
) -> None:
    rng = random.Random(seed)
    lines = [_mutated(rng, _TURN, i) for i in range(1500)]
    path = tmp_path / "history.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = ReadReport()
    turns = list(read_turns(path, errors="skip", report=report))
    assert report.turns + report.skipped == sum(1 for line in lines if line.strip())
    assert all(isinstance(e, InputError) and e.line and e.source == str(path) for e in report.errors)
    assert 0 < len(turns) < len(lines)  # the generator makes both kinds
    memory = make_memory()
    stored = memory.remember(turns)  # anything the reader accepts, memory stores
    assert stored.turns_new + stored.turns_known == len(turns)
    for turn in turns:
        assert memory.recall(turn.user_id, turn.text) is not None


def test_generated_export_lines_are_imported_or_refused_by_line(
    tmp_path: Path, make_memory: Callable[..., Memory]
) -> None:
    memory = make_memory()
    memory.remember(list(read_turns(_history(tmp_path))))
    before = [r.model_dump_json() for r in memory.export()]
    [exported] = [r for r in memory.export("ana") if r.kind.value == "turn"][:1]
    base = json.loads(exported.model_dump_json())
    rng = random.Random(3)
    accepted, refused = 0, 0
    for index in range(600):
        path = tmp_path / f"export-{index}.jsonl"
        path.write_bytes(_mutated(rng, base, index) + b"\n")
        try:
            records = list(read_records(path))
        except InputError as exc:
            assert (exc.source, exc.line) == (str(path), 1)
            refused += 1
            continue
        try:
            memory.import_records(records)
        except MemAgentError:
            refused += 1
            continue
        accepted += 1
    assert accepted and refused
    after = {r.model_dump_json() for r in memory.export()}
    assert after.issuperset(before)  # what was stored before is intact: nothing refused changed it


@pytest.mark.parametrize("field", ["event_time", "record_time", "valid_from", "valid_until"])
def test_an_export_line_with_a_time_at_the_limits_is_refused_by_field(
    tmp_path: Path, make_memory: Callable[..., Memory], field: str
) -> None:
    memory = make_memory()
    memory.remember(list(read_turns(_history(tmp_path))))
    record = json.loads(next(iter(memory.export("ana"))).model_dump_json())
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps({**record, field: "9999-12-31T23:59:59+00:00"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="supported range") as caught:
        list(read_records(path))
    assert (caught.value.line, caught.value.field) == (1, field)


def _history(tmp_path: Path) -> Path:
    path = tmp_path / "base.jsonl"
    path.write_text(json.dumps(_TURN) + "\n", encoding="utf-8")
    return path
