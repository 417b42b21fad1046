"""Loader for MemoryBank (github.com/zhongwanjun/MemoryBank-SiliconFriend), ``eval_data/en/``.

``memory_bank_en.json`` maps each user name to ``{history: {"YYYY-MM-DD": [{query, response}]}, ...}``;
each date becomes a session (user query, assistant response pairs from 09:00 UTC, a minute apart).
``probing_questions_en.jsonl`` (optional) holds ``{name: [questions]}`` lines; the questions are asked
after the whole history and carry no gold (smoke use only). User names are matched with surrounding
spaces stripped. Questions for users missing from the
histories are counted in ``metadata["unmapped_questions"]``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from memagent.errors import InputError
from memagent.replay._common import as_list, as_str, field, load_json, step
from memagent.replay.base import BenchmarkData, Question
from memagent.types import Role, Turn

__all__ = ["load_memorybank"]


def load_memorybank(path: str | Path, *, limit: int | None = None) -> BenchmarkData:
    """Load MemoryBank users' multi-day histories and their probing questions.

    Args:
        path: The directory holding ``memory_bank_en.json`` (and ``probing_questions_en.jsonl``), or the
            ``memory_bank_en.json`` file itself.
        limit: Load at most this many users (in file order).

    Raises:
        InputError: A file is missing or has the wrong shape (names the file and field).
    """
    root = Path(path)
    bank_path = root / "memory_bank_en.json" if root.is_dir() else root
    bank = load_json(bank_path)
    if not isinstance(bank, dict):
        raise InputError(f"expected an object of users, got {type(bank).__name__}", source=str(bank_path))
    names = list(bank)[:limit] if limit is not None else list(bank)
    turns: list[Turn] = []
    counts: dict[str, int] = {}
    last: dict[str, datetime] = {}
    for name in names:
        uid = f"memorybank-{name.strip()}"
        history = field(bank[name], "history", dict, bank_path, name)
        start = len(turns)
        for day in sorted(history):
            try:
                base = datetime.strptime(day, "%Y-%m-%d").replace(hour=9, tzinfo=UTC)
            except ValueError:
                raise InputError(
                    f"invalid date {day!r}", source=str(bank_path), field=f"{name}.history"
                ) from None
            sid = f"{uid}:{day}"
            n = 0
            for i, pair in enumerate(as_list(history[day], bank_path, f"{name}.history.{day}")):
                where = f"{name}.history.{day}[{i}]"
                for key, role in (("query", Role.USER), ("response", Role.ASSISTANT)):
                    text = field(pair, key, str, bank_path, where)
                    turns.append(
                        Turn(
                            user_id=uid,
                            session_id=sid,
                            turn_id=f"{day}:{n}",
                            role=role,
                            text=text,
                            speaker=name if role is Role.USER else None,
                            event_time=step(base, n),
                        )
                    )
                    n += 1
        counts[uid] = len(turns) - start
        if counts[uid]:
            last[uid] = turns[-1].event_time
    questions: list[Question] = []
    known = {n.strip() for n in bank}  # names in the staged file carry stray spaces (" Jason ")
    unmapped = 0
    qpath = (root if root.is_dir() else root.parent) / "probing_questions_en.jsonl"
    if qpath.is_file():
        for number, line in enumerate(qpath.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"malformed JSON: {exc.msg}", source=str(qpath), line=number) from None
            if not isinstance(obj, dict):
                raise InputError("expected an object {name: [questions]}", source=str(qpath), line=number)
            for name, qs in obj.items():
                uid = f"memorybank-{name.strip()}"
                if not isinstance(qs, list):
                    raise InputError(
                        "expected a list of questions", source=str(qpath), line=number, field=name
                    )
                if uid not in counts:
                    unmapped += 0 if name.strip() in known else len(qs)
                    continue
                for k, text in enumerate(qs):
                    questions.append(
                        Question(
                            id=f"{uid}:q{k}",
                            user_id=uid,
                            text=as_str(text, qpath, f"{name}[{k}]"),
                            checkpoint=counts[uid],
                            category="probing",
                            asked_at=last[uid].replace(hour=9, minute=0) + timedelta(days=1)
                            if uid in last
                            else None,
                        )
                    )
    return BenchmarkData(
        name="memorybank",
        turns=turns,
        questions=questions,
        metadata={"users": len(names), "unmapped_questions": unmapped},
    )
