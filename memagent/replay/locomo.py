"""Loader for LoCoMo (github.com/snap-research/locomo), the published ``locomo10.json`` schema.

The file is a list of samples ``{sample_id, conversation, qa, event_summary, ...}``. ``conversation``
holds ``speaker_a``, ``speaker_b``, ``session_<n>: [{speaker, dia_id, text, ...}]`` and
``session_<n>_date_time`` ("1:56 pm on 8 May, 2023").

Each sample becomes one memory user (``locomo-<sample_id>``) holding both speakers' turns (role user,
name in ``Turn.speaker``; ``turn_id`` = ``dia_id``; a shared image's ``blip_caption`` is appended to
the text as ``[shared <caption>]``, since the photo is part of what was said; every other turn field
goes to metadata), sessions in numeric order, one minute per turn from the session's date. Every
``qa`` item is a question asked after all turns, with ``answer`` (``adversarial_answer`` for
category 5), ``category`` and ``evidence_turn_ids`` (dia ids found in ``evidence``; ids absent from the
conversation are kept in ``metadata["unknown_evidence"]``). ``event_summary.events_session_<n>`` lists
are the extraction gold of session ``n``.
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

__all__ = ["load_locomo", "parse_locomo_date"]

_SESSION = re.compile(r"^session_(\d+)$")
_DIA_ID = re.compile(r"D\d+:\d+")
_DATE_FORMATS = (
    "%I:%M %p on %d %B, %Y",
    "%I:%M %p on %d %B %Y",
    "%I:%M %p on %d %b, %Y",
    "%I:%M %p on %d %b %Y",
)


def _with_caption(text: str, extra: dict[str, Any]) -> str:
    """The turn's text, followed by the caption of the image it shares (if any)."""
    caption = extra.get("blip_caption")
    return f"{text} [shared {caption.strip()}]" if isinstance(caption, str) and caption.strip() else text


def parse_locomo_date(value: str, *, source: str | None = None, where: str | None = None) -> datetime:
    """Parse a LoCoMo session date ("1:56 pm on 8 May, 2023") to an aware UTC datetime."""
    return parse_date(" ".join(value.split()), _DATE_FORMATS, value, source=source, where=where)


def load_locomo(path: str | Path, *, limit: int | None = None) -> BenchmarkData:
    """Load LoCoMo samples as one memory user each.

    Args:
        path: ``locomo10.json`` (or a file of the same shape).
        limit: Load at most this many samples.

    Raises:
        InputError: The file is missing or has the wrong shape (names the file and field).
    """
    fpath = Path(path)
    samples = as_list(load_json(fpath), fpath, "")
    turns: list[Turn] = []
    questions: list[Question] = []
    gold: dict[str, list[str]] = {}
    for i, sample in enumerate(samples[:limit] if limit is not None else samples):
        sample_turns, sample_questions, sample_gold = _sample(sample, fpath, f"[{i}]")
        turns.extend(sample_turns)
        questions.extend(sample_questions)
        gold.update(sample_gold)
    return BenchmarkData(
        name="locomo",
        turns=turns,
        questions=questions,
        extraction_gold=gold,
        metadata={"samples": len(samples) if limit is None else min(limit, len(samples))},
    )


def _sample(sample: Any, fpath: Path, where: str) -> tuple[list[Turn], list[Question], dict[str, list[str]]]:
    sample_id = str(field(sample, "sample_id", (str, int), fpath, where))
    uid = f"locomo-{sample_id}"
    conv = field(sample, "conversation", dict, fpath, where)
    cwhere = f"{where}.conversation"
    numbers = sorted(int(m.group(1)) for key in conv if (m := _SESSION.match(key)))
    turns: list[Turn] = []
    for n in numbers:
        key = f"session_{n}"
        base = parse_locomo_date(
            field(conv, f"{key}_date_time", str, fpath, cwhere),
            source=str(fpath),
            where=f"{cwhere}.{key}_date_time",
        )
        for k, item in enumerate(as_list(conv[key], fpath, f"{cwhere}.{key}")):
            iwhere = f"{cwhere}.{key}[{k}]"
            extra = (
                {name: value for name, value in item.items() if name not in ("speaker", "dia_id", "text")}
                if isinstance(item, dict)
                else {}
            )
            turns.append(
                Turn(
                    user_id=uid,
                    session_id=f"{uid}:{key}",
                    turn_id=field(item, "dia_id", str, fpath, iwhere),
                    role=Role.USER,
                    speaker=field(item, "speaker", str, fpath, iwhere),
                    text=_with_caption(field(item, "text", str, fpath, iwhere), extra),
                    event_time=step(base, k),
                    metadata=extra,
                )
            )
    known = {t.turn_id for t in turns}
    questions: list[Question] = []
    for k, qa in enumerate(field(sample, "qa", list, fpath, where) if "qa" in sample else []):
        qwhere = f"{where}.qa[{k}]"
        text = field(qa, "question", str, fpath, qwhere)
        answer = qa.get("answer", qa.get("adversarial_answer"))
        ids: list[str] = []
        for ev in as_list(qa.get("evidence", []), fpath, f"{qwhere}.evidence"):
            ids.extend(_DIA_ID.findall(as_str(ev, fpath, f"{qwhere}.evidence")))
        ids = list(dict.fromkeys(ids))
        meta: dict[str, Any] = {}
        if unknown := [e for e in ids if e not in known]:
            meta["unknown_evidence"] = unknown
        if "adversarial_answer" in qa and "answer" not in qa:
            meta["adversarial"] = True
        questions.append(
            Question(
                id=f"{uid}:q{k}",
                user_id=uid,
                text=text,
                checkpoint=len(turns),
                asked_at=step(turns[-1].event_time, 1) if turns else None,
                answer=None if answer is None else str(answer),
                evidence_turn_ids=[e for e in ids if e in known],
                category=None if qa.get("category") is None else str(qa["category"]),
                metadata=meta,
            )
        )
    gold: dict[str, list[str]] = {}
    summary = sample.get("event_summary") or {}
    if not isinstance(summary, dict):
        raise InputError("expected an object", source=str(fpath), field=f"{where}.event_summary")
    for key, events in summary.items():
        m = re.fullmatch(r"events_session_(\d+)", key)
        if m is None or not isinstance(events, dict):
            continue
        items = [
            str(e)
            for speaker_events in events.values()
            if isinstance(speaker_events, list)
            for e in speaker_events
        ]
        gold[f"{uid}:session_{m.group(1)}"] = items
    return turns, questions, gold
