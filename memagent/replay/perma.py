"""Loader for PERMA (github.com/PolarisLiu1/PERMA): event-driven preference emergence over time.

Layout read (per user directory name, e.g. ``user108``)::

    tasks/<user>/raw_dialogues_<variant>.json    sessions grouped by topic (domain)
    tasks/<user>/interleaved_timeline.json       the chronological order of all sessions
    profile/<user>/profile.json                  gold profile (``affinities``)
    profile/<user>/tasks.json, tasks_md.json     task specs with ``Relevant Domains``
    evaluation/<user>/meta/overall/*.json        one 8-option multiple-choice question per file

Replay order and time: sessions are replayed in the order of ``interleaved_timeline.json`` (joined on
``task_id``). The ``date`` of a session inside ``raw_dialogues_*`` follows its domain's own timeline, so
turn times come from the session's ``date`` *in the interleaved timeline* ("2023-01-15 Morning" ->
09:00 UTC; Afternoon 14:00, Evening 19:00, Night 22:00; one minute per turn), which keeps event time
increasing along the replay and consistent with ``question_date``. The per-domain date is kept in
``Turn.metadata["domain_date"]``.

Checkpoints: a question's task spec (``tasks.json`` for SD-, ``tasks_md.json`` for MD- questions, joined
on ``task_id``) lists its ``Relevant Domains``. With the sessions of those domains located on the
interleaved timeline, the question is asked: type 1 after the first session of every relevant domain,
type 2 after the last one, type 3 after the whole timeline. ``Question.checkpoint`` counts the turns of
the sessions before that point. A question whose spec is missing, or one of whose domains has no session,
cannot be placed: it is not loaded but listed in ``metadata["unmappable"]``. MD questions are placed
from single-domain sessions only; the multi-domain sessions of the official inputs are not in
``raw_dialogues``, so they carry ``metadata["approximate_checkpoint"] = True``.

Gold: per session, the parsed ``preferences`` ("Domain-Attribute-Value, ...") are the extraction gold;
a question's ``gold_preferences`` are the preferences *about its relevant domains* stated in any session
replayed before its checkpoint (a Buses session may state Train preferences), deduplicated. For
attributes that are single-valued in the gold profile, only the latest stated value is kept and each
earlier, different value is recorded as ``(old, new)`` in ``updated_preferences``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from memagent.errors import ConfigError, InputError
from memagent.replay._common import as_list, as_str, field, load_json, require_dir, require_file, step
from memagent.replay.base import BenchmarkData, Question
from memagent.replay.perma_preferences import PermaPreference, gold_preferences, parse_preferences
from memagent.types import Role, Turn

__all__ = ["load_perma", "parse_perma_date"]

_TIME_OF_DAY = {"morning": 9, "afternoon": 14, "evening": 19, "night": 22}
_OPTION = re.compile(r"^([A-H]): ", re.MULTILINE)
_VARIANT_FILES = {
    "c": ("raw_dialogues_c.json",),
    "n": ("raw_dialogues_n.json", "raw_dialogues_wn.json"),
    "s": ("raw_dialogues_style_transformed.json",),
}


def parse_perma_date(value: str, *, source: str = "", where: str = "date") -> datetime:
    """Parse a PERMA session date ("2023-01-15 Morning") to an aware UTC datetime."""
    day, _, part = value.strip().partition(" ")
    try:
        base = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"invalid date {value!r}", source=source or None, field=where) from None
    return base + timedelta(hours=_TIME_OF_DAY.get(part.strip().lower(), 12))


def _natural(text: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def load_perma(
    path: str | Path,
    *,
    limit: int | None = None,
    variant: Literal["c", "n", "s"] = "c",
    users: list[str] | None = None,
) -> BenchmarkData:
    """Load PERMA users as replayable histories with timeline checkpoints.

    Args:
        path: The ``perma/`` directory (holding ``tasks/``, ``profile/``, ``evaluation/``).
        limit: Load at most this many users (in sorted order).
        variant: ``"c"`` clean, ``"n"`` noisy (``raw_dialogues_n.json``, or ``raw_dialogues_wn.json``
            where that is the name used), ``"s"`` style-transformed dialogues.
        users: Only these user directory names (e.g. ``["user108"]``).

    Raises:
        ConfigError: ``variant`` is unknown.
        InputError: A file is missing or has the wrong shape (names the file and field).
    """
    if variant not in _VARIANT_FILES:
        raise ConfigError(f"unknown PERMA variant {variant!r} (expected c, n or s)")
    root = Path(path)
    tasks_dir = require_dir(root / "tasks")
    names = sorted((p.name for p in tasks_dir.iterdir() if p.is_dir()), key=_natural)
    if users is not None:
        missing = [u for u in users if u not in names]
        if missing:
            raise InputError(f"unknown PERMA user(s): {missing}", source=str(tasks_dir))
        names = [u for u in names if u in users]
    if limit is not None:
        names = names[:limit]
    turns: list[Turn] = []
    questions: list[Question] = []
    profiles: dict[str, list[str]] = {}
    gold: dict[str, list[str]] = {}
    unmappable: list[dict[str, str]] = []
    counts: dict[str, dict[str, int]] = {}
    for name in names:
        user = _load_user(root, name, variant)
        turns.extend(user["turns"])
        questions.extend(user["questions"])
        profiles[user["user_id"]] = user["profile"]
        gold.update(user["gold"])
        unmappable.extend(user["unmappable"])
        counts[user["user_id"]] = {
            "sessions": user["sessions"],
            "questions": len(user["questions"]),
            "multi_domain": sum(1 for q in user["questions"] if q.metadata["multi_domain"]),
            "unmappable": len(user["unmappable"]),
        }
    return BenchmarkData(
        name="perma",
        turns=turns,
        questions=questions,
        gold_profiles=profiles,
        extraction_gold=gold,
        metadata={"variant": variant, "users": counts, "unmappable": unmappable},
    )


def _dialogue_file(tasks: Path, variant: str) -> Path:
    for candidate in _VARIANT_FILES[variant]:
        if (tasks / candidate).is_file():
            return tasks / candidate
    return require_file(tasks / _VARIANT_FILES[variant][0])


def _profile(path: Path) -> tuple[list[PermaPreference], dict[str, set[str]], set[tuple[str, str]]]:
    """Flattened gold affinities, the attribute names per domain, and the single-valued attributes."""
    affinities = field(load_json(path), "affinities", dict, path)
    prefs: list[PermaPreference] = []
    attributes: dict[str, set[str]] = {}
    single: set[tuple[str, str]] = set()
    for domain, attrs in affinities.items():
        if not isinstance(attrs, dict):
            raise InputError("expected an object", source=str(path), field=f"affinities.{domain}")
        attributes[domain] = set(attrs)
        for attr, value in attrs.items():
            values = value if isinstance(value, list) else [value]
            if not isinstance(value, list):
                single.add((domain, attr))
            prefs.extend(PermaPreference(domain, attr, str(v)) for v in values if str(v).strip())
    return prefs, attributes, single


def _specs(profile_dir: Path) -> dict[str, list[str]]:
    """task_id -> Relevant Domains, from tasks.json and (if present) tasks_md.json."""
    specs: dict[str, list[str]] = {}
    for fname in ("tasks.json", "tasks_md.json"):
        fpath = profile_dir / fname
        if fname == "tasks_md.json" and not fpath.is_file():
            continue
        data = load_json(fpath)
        entries = data.values() if isinstance(data, dict) else as_list(data, fpath, "")
        for i, spec in enumerate(entries):
            task_id = field(spec, "task_id", str, fpath, f"[{i}]")
            domains = field(spec, "Relevant Domains", list, fpath, f"[{i}]")
            specs[task_id] = [as_str(d, fpath, f"[{i}].Relevant Domains") for d in domains]
    return specs


def _load_user(root: Path, name: str, variant: str) -> dict[str, Any]:
    uid = f"perma-{name}"
    tasks = root / "tasks" / name
    dial_path = _dialogue_file(tasks, variant)
    tl_path = tasks / "interleaved_timeline.json"
    profile, attributes, single = _profile(root / "profile" / name / "profile.json")
    specs = _specs(root / "profile" / name)

    sessions: dict[str, dict[str, Any]] = {}
    topics = as_list(load_json(dial_path), dial_path, "")
    domains = set(attributes)
    for i, topic in enumerate(topics):
        domains.add(field(topic, "topic", str, dial_path, f"[{i}]"))
        for j, dialog in enumerate(field(topic, "dialogs", list, dial_path, f"[{i}]")):
            sessions[field(dialog, "task_id", str, dial_path, f"[{i}].dialogs[{j}]")] = dialog
    timeline = as_list(load_json(tl_path), tl_path, "")
    domains |= {field(e, "relevant_domain", str, tl_path, f"[{k}]") for k, e in enumerate(timeline)}

    turns: list[Turn] = []
    order: list[dict[str, Any]] = []  # per replayed session: domain, prefs, turn range
    gold: dict[str, list[str]] = {}
    missing_sessions = 0
    for k, entry in enumerate(timeline):
        task_id = field(entry, "task_id", str, tl_path, f"[{k}]")
        dialog = sessions.pop(task_id, None)
        if dialog is None:
            missing_sessions += 1
            continue
        where = f"task_id={task_id!r}"
        base = parse_perma_date(
            field(entry, "date", str, tl_path, f"[{k}]"), source=str(tl_path), where=f"[{k}].date"
        )
        sid = f"{uid}:{task_id}"
        for n, msg in enumerate(field(dialog, "conversation", list, dial_path, where)):
            role = field(msg, "role", str, dial_path, f"{where}.conversation[{n}]")
            if role not in ("user", "assistant", "system"):
                raise InputError(
                    f"invalid role {role!r}", source=str(dial_path), field=f"{where}.conversation[{n}].role"
                )
            turns.append(
                Turn(
                    user_id=uid,
                    session_id=sid,
                    turn_id=f"{task_id}:{n}",
                    role=Role(role),
                    text=field(msg, "content", str, dial_path, f"{where}.conversation[{n}]"),
                    event_time=step(base, n),
                    metadata={
                        "domain": entry["relevant_domain"],
                        "domain_date": dialog.get("date"),
                        "event_type": entry.get("event_type"),
                    },
                )
            )
        prefs = parse_preferences(
            field(dialog, "preferences", str, dial_path, where), domains, attributes, single
        )
        gold[sid] = [p.text for p in prefs]
        order.append({"sid": sid, "domain": entry["relevant_domain"], "prefs": prefs, "end": len(turns)})

    questions, unmappable = _questions(
        root / "evaluation" / name / "meta" / "overall", uid, specs, order, turns, single
    )
    return {
        "user_id": uid,
        "turns": turns,
        "questions": questions,
        "profile": [p.text for p in profile],
        "gold": gold,
        "unmappable": unmappable,
        "sessions": len(order),
        "missing_sessions": missing_sessions,
        "unordered_sessions": len(sessions),
    }


def _parse_options(text: str, source: Path) -> tuple[list[str], list[str]]:
    marks = list(_OPTION.finditer(text))
    letters = [m.group(1) for m in marks]
    if len(marks) < 2 or letters != [chr(ord("A") + i) for i in range(len(marks))]:
        raise InputError(
            f"expected options 'A: ...' to 'H: ...', found labels {letters}",
            source=str(source),
            field="options",
        )
    bodies = [
        text[m.end() : nxt.start() if nxt else len(text)].strip()
        for m, nxt in zip(marks, [*marks[1:], None], strict=True)
    ]
    return letters, bodies


def _questions(
    qdir: Path,
    uid: str,
    specs: dict[str, list[str]],
    order: list[dict[str, Any]],
    turns: list[Turn],
    single: set[tuple[str, str]],
) -> tuple[list[Question], list[dict[str, str]]]:
    require_dir(qdir)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for pos, sess in enumerate(order):
        first.setdefault(sess["domain"], pos)
        last[sess["domain"]] = pos
    questions: list[Question] = []
    unmappable: list[dict[str, str]] = []
    for qpath in sorted(qdir.glob("*.json"), key=lambda p: _natural(p.stem)):
        data = load_json(qpath)
        task_id = field(data, "task_id", str, qpath)
        qtype = field(data, "task_type", int, qpath)
        letters, options = _parse_options(field(data, "options", str, qpath), qpath)
        label = field(data, "gold_label", str, qpath).strip()
        if label not in letters:
            raise InputError(
                f"gold label {label!r} is not one of the options {letters}",
                source=str(qpath),
                field="gold_label",
            )
        qid = f"{uid}:{qpath.stem}"
        rel = specs.get(task_id)
        if rel is None and (m := re.fullmatch(r"SD-(.+)-task-\d+", task_id)):
            rel = [m.group(1)]
        reason = None
        if not rel:
            reason = f"no task spec with Relevant Domains for {task_id}"
        elif qtype not in (1, 2, 3):
            reason = f"unknown task_type {qtype}"
        elif absent := [d for d in rel if d not in first]:
            reason = f"no replayed session of domain(s) {absent}"
        if reason is not None:
            unmappable.append({"id": qid, "reason": reason})
            continue
        assert rel is not None
        n_sessions = (
            max(first[d] for d in rel) + 1
            if qtype == 1
            else max(last[d] for d in rel) + 1
            if qtype == 2
            else len(order)
        )
        checkpoint = order[n_sessions - 1]["end"] if n_sessions else 0
        prefs, updated = gold_preferences(order[:n_sessions], set(rel), single)
        asked_at = turns[checkpoint - 1].event_time + timedelta(minutes=1) if checkpoint else None
        if isinstance(qdate := data.get("question_date"), str):
            try:
                day_end = datetime.strptime(qdate.strip(), "%Y-%m-%d").replace(hour=23, minute=59, tzinfo=UTC)
                asked_at = max(asked_at, day_end) if asked_at else day_end
            except ValueError:
                raise InputError(
                    f"invalid date {qdate!r}", source=str(qpath), field="question_date"
                ) from None
        questions.append(
            Question(
                id=qid,
                user_id=uid,
                text=field(data, "question", str, qpath),
                checkpoint=checkpoint,
                asked_at=asked_at,
                gold_preferences=prefs,
                options=options,
                gold_option=letters.index(label),
                updated_preferences=updated,
                category=f"type{qtype}",
                metadata={
                    "task_id": task_id,
                    "task_type": qtype,
                    "relevant_domains": rel,
                    "multi_domain": task_id.startswith("MD-") or len(rel) > 1,
                    "approximate_checkpoint": task_id.startswith("MD-"),
                    "sessions_replayed": n_sessions,
                    "evidence_session_ids": [s["sid"] for s in order[:n_sessions] if s["domain"] in rel],
                    "question_date": qdate,
                    "scope": data.get("scope"),
                    "task_description": data.get("task_description"),
                    "task_goal": data.get("task_goal"),
                },
            )
        )
    return questions, unmappable
