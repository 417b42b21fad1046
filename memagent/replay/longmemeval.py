"""Loader for LongMemEval (github.com/xiaowu0162/LongMemEval), the published instance schema.

The file (``longmemeval_s.json``, ``_m``, ``_oracle``) is a list of instances ``{question_id,
question_type, question, answer, question_date, haystack_session_ids, haystack_dates,
haystack_sessions: [[{role, content, has_answer?}]], answer_session_ids}``.

Each instance becomes one user (``longmemeval-<question_id>``) whose history is its haystack, in the
given order; turn ids are ``f"{session_id}:{i}"`` and turn times one minute apart from the session's
date ("2023/05/20 (Sat) 02:21"). The question is asked after all turns at ``question_date``; its
evidence is the turns flagged ``has_answer``, or, if none is flagged, all turns of the answer sessions.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from memagent.errors import InputError
from memagent.replay._common import as_list, as_str, field, load_json, parse_date, step
from memagent.replay.base import BenchmarkData, Question
from memagent.types import Role, Turn

__all__ = ["load_longmemeval", "parse_longmemeval_date"]

_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M", "%Y-%m-%d")

_WEEKDAY = re.compile(r"\s*\([A-Za-z]+\)\s*")


def parse_longmemeval_date(value: str, *, source: str | None = None, where: str | None = None) -> datetime:
    """Parse a LongMemEval date ("2023/05/20 (Sat) 02:21", the time optional) to an aware UTC datetime."""
    text = " ".join(_WEEKDAY.sub(" ", value).split())
    return parse_date(text, _DATE_FORMATS, value, source=source, where=where)


def load_longmemeval(path: str | Path, *, limit: int | None = None) -> BenchmarkData:
    """Load LongMemEval instances as one user each.

    Args:
        path: A LongMemEval JSON file.
        limit: Load at most this many instances.

    Raises:
        InputError: The file is missing or has the wrong shape (names the file and field).
    """
    fpath = Path(path)
    instances = as_list(load_json(fpath), fpath, "")
    turns: list[Turn] = []
    questions: list[Question] = []
    for i, inst in enumerate(instances[:limit] if limit is not None else instances):
        inst_turns, question = _instance(inst, fpath, f"[{i}]")
        turns.extend(inst_turns)
        questions.append(question)
    return BenchmarkData(
        name="longmemeval", turns=turns, questions=questions, metadata={"instances": len(questions)}
    )


def _instance(inst: Any, fpath: Path, where: str) -> tuple[list[Turn], Question]:
    qid = str(field(inst, "question_id", (str, int), fpath, where))
    uid = f"longmemeval-{qid}"
    sids = field(inst, "haystack_session_ids", list, fpath, where)
    dates = field(inst, "haystack_dates", list, fpath, where)
    sessions = field(inst, "haystack_sessions", list, fpath, where)
    if not len(sids) == len(dates) == len(sessions):
        raise InputError(
            f"{len(sids)} session ids, {len(dates)} dates and {len(sessions)} sessions",
            source=str(fpath),
            field=f"{where}.haystack_sessions",
        )
    answer_sids = [str(s) for s in inst.get("answer_session_ids") or []]
    turns: list[Turn] = []
    flagged: list[str] = []
    by_session: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    for k, (raw_sid, date, session) in enumerate(zip(sids, dates, sessions, strict=True)):
        sid = str(raw_sid)
        seen[sid] = seen.get(sid, 0) + 1
        if seen[sid] > 1:  # a repeated haystack session keeps unique turn ids
            sid = f"{sid}#{seen[sid]}"
        base = parse_longmemeval_date(
            as_str(date, fpath, f"{where}.haystack_dates[{k}]"),
            source=str(fpath),
            where=f"{where}.haystack_dates[{k}]",
        )
        for n, msg in enumerate(as_list(session, fpath, f"{where}.haystack_sessions[{k}]")):
            mwhere = f"{where}.haystack_sessions[{k}][{n}]"
            role = field(msg, "role", str, fpath, mwhere)
            if role not in ("user", "assistant", "system"):
                raise InputError(f"invalid role {role!r}", source=str(fpath), field=f"{mwhere}.role")
            turn_id = f"{sid}:{n}"
            turns.append(
                Turn(
                    user_id=uid,
                    session_id=f"{uid}:{sid}",
                    turn_id=turn_id,
                    role=Role(role),
                    text=field(msg, "content", str, fpath, mwhere),
                    event_time=step(base, n),
                    metadata={"has_answer": True} if msg.get("has_answer") else {},
                )
            )
            by_session.setdefault(sid, []).append(turn_id)
            if msg.get("has_answer"):
                flagged.append(turn_id)
    evidence = flagged or [t for s in answer_sids for t in by_session.get(s, [])]
    qdate = inst.get("question_date")
    asked_at = (
        parse_longmemeval_date(qdate, source=str(fpath), where=f"{where}.question_date")
        if isinstance(qdate, str)
        else None
    )
    answer = inst.get("answer")
    question = Question(
        id=qid,
        user_id=uid,
        text=field(inst, "question", str, fpath, where),
        checkpoint=len(turns),
        asked_at=asked_at,
        answer=None if answer is None else str(answer),
        evidence_turn_ids=evidence,
        category=inst.get("question_type"),
        metadata={
            "answer_session_ids": answer_sids,
            "abstention": qid.endswith("_abs"),
            "evidence_flagged": bool(flagged),
        },
    )
    return turns, question
