"""Loader for PrefEval (github.com/amazon-science/PrefEval), ``benchmark_dataset/`` layout.

Every preference record becomes its own user (``prefeval-<variant>-<topic>-<index>``) whose history is:

1. a short session revealing the preference: ``explicit`` - the preference as a user turn and an
   assistant acknowledgement; ``choice`` - the choice-based ``conversation`` (query, assistant options,
   user selection, acknowledgement); ``persona`` - the persona-driven ``conversation`` turns;
2. the filler ("inter-turn") conversations of ``filtered_inter_turns.json``, one session each, in an
   order shuffled per user with ``seed``, cut to ``filler_turns`` messages (default: all 632);
3. then the question (checkpoint = all the user's turns).

``gold_preferences`` is ``[preference]``; ``evidence_turn_ids`` are the user turns of the preference
session (the persona-driven reveal is unlabelled upstream, so all of them). Options come from
``mcq_options/<topic>.json`` (aligned by index; option 0 is the correct one), shuffled with ``seed``;
``gold_option`` records where the correct one went. Turn times are synthetic: one minute apart.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

from memagent.errors import ConfigError, InputError
from memagent.replay._common import EPOCH, as_list, field, load_json, require_dir, step
from memagent.replay.base import BenchmarkData, Question
from memagent.types import Role, Turn

__all__ = ["ACKNOWLEDGEMENT", "VARIANT_DIRS", "load_prefeval"]

VARIANT_DIRS = {
    "explicit": "explicit_preference",
    "choice": "implicit_preference/choice-based",
    "persona": "implicit_preference/persona-driven",
}
"""Directory of each variant under the dataset root."""

ACKNOWLEDGEMENT = "Got it, I'll keep that in mind."
"""Assistant reply to an explicitly stated preference."""

Variant = Literal["explicit", "choice", "persona"]


def load_prefeval(
    path: str | Path,
    *,
    variant: Variant = "explicit",
    topics: list[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    filler_turns: int | None = None,
) -> BenchmarkData:
    """Load PrefEval preference records as one-user histories with a question at the end.

    Args:
        path: The ``benchmark_dataset/`` directory (``prefeval/`` in the staged data).
        variant: ``"explicit"``, ``"choice"`` (implicit, choice-based) or ``"persona"`` (implicit,
            persona-driven).
        topics: Topic names (file stems); None loads every topic present, in sorted order.
        limit: Load at most this many users (records) in total.
        seed: Seeds the filler order and the option shuffle (each user gets its own stream).
        filler_turns: Filler messages per user (None: all of them, as in the benchmark; 0: none).

    Raises:
        ConfigError: ``variant`` is unknown or ``filler_turns`` negative.
        InputError: A file is missing or has the wrong shape (names the file and field).
    """
    if variant not in VARIANT_DIRS:
        raise ConfigError(f"unknown PrefEval variant {variant!r} (expected {', '.join(VARIANT_DIRS)})")
    if filler_turns is not None and filler_turns < 0:
        raise ConfigError("filler_turns must be >= 0")
    root = Path(path)
    vdir = require_dir(root / VARIANT_DIRS[variant])
    present = sorted(p.stem for p in vdir.glob("*.json"))
    if topics is None:
        topics = present
    elif missing := [t for t in topics if t not in present]:
        raise InputError(f"topic(s) not found: {missing}", source=str(vdir))
    filler = _filler(root / "filtered_inter_turns.json") if filler_turns != 0 else []

    turns: list[Turn] = []
    questions: list[Question] = []
    gold: dict[str, list[str]] = {}
    profiles: dict[str, list[str]] = {}
    for topic in topics:
        rpath = vdir / f"{topic}.json"
        records = as_list(load_json(rpath), rpath, "")
        mpath = root / "mcq_options" / f"{topic}.json"
        mcq = as_list(load_json(mpath), mpath, "") if mpath.is_file() else None
        if mcq is not None and len(mcq) != len(records):
            raise InputError(
                f"{len(mcq)} option records for {len(records)} preference records in {rpath.name}",
                source=str(mpath),
            )
        for idx, record in enumerate(records):
            if limit is not None and len(profiles) >= limit:
                break
            uid = f"prefeval-{variant}-{topic}-{idx:03d}"
            rng = random.Random(f"{seed}:{uid}")
            preference = field(record, "preference", str, rpath, f"[{idx}]")
            pref_turns = _preference_session(record, variant, rpath, idx)
            sid = f"{uid}:preference"
            user_turns: list[Turn] = []
            for n, (role, text) in enumerate(pref_turns):
                user_turns.append(
                    Turn(
                        user_id=uid,
                        session_id=sid,
                        turn_id=f"preference:{n}",
                        role=role,
                        text=text,
                        event_time=step(EPOCH, n),
                        metadata={"topic": topic},
                    )
                )
            evidence = [t.turn_id for t in user_turns if t.role is Role.USER]
            user_turns.extend(_filler_turns(uid, filler, rng, filler_turns, start=len(user_turns)))
            options: list[str] = []
            gold_option = None
            meta: dict[str, Any] = {"topic": topic, "index": idx, "explanation": record.get("explanation")}
            if mcq is not None:
                options = [
                    str(o) for o in field(mcq[idx], "classification_task_options", list, mpath, f"[{idx}]")
                ]
                order = list(range(len(options)))
                rng.shuffle(order)
                options = [options[i] for i in order]
                gold_option = order.index(0) if options else None
                meta["mcq_preference"] = mcq[idx].get("preference")
            if variant == "choice":
                meta["implicit_query"] = record.get("implicit_query")
            if variant == "persona":
                meta["persona"] = record.get("persona")
            turns.extend(user_turns)
            questions.append(
                Question(
                    id=f"{uid}:q",
                    user_id=uid,
                    text=field(record, "question", str, rpath, f"[{idx}]"),
                    checkpoint=len(user_turns),
                    asked_at=step(user_turns[-1].event_time, 1),
                    gold_preferences=[preference],
                    evidence_turn_ids=evidence,
                    options=options,
                    gold_option=gold_option,
                    category=variant,
                    metadata=meta,
                )
            )
            gold[sid] = [preference]
            profiles[uid] = [preference]
    return BenchmarkData(
        name="prefeval",
        turns=turns,
        questions=questions,
        gold_profiles=profiles,
        extraction_gold=gold,
        metadata={
            "variant": variant,
            "topics": topics,
            "seed": seed,
            "filler_messages": min(
                sum(len(c) for c in filler), filler_turns if filler_turns is not None else 10**9
            ),
        },
    )


def _preference_session(record: Any, variant: str, source: Path, idx: int) -> list[tuple[Role, str]]:
    where = f"[{idx}]"
    if variant == "explicit":
        return [
            (Role.USER, field(record, "preference", str, source, where)),
            (Role.ASSISTANT, ACKNOWLEDGEMENT),
        ]
    conv = field(record, "conversation", dict, source, where)
    cwhere = f"{where}.conversation"
    if variant == "choice":
        keys = [
            ("query", Role.USER),
            ("assistant_options", Role.ASSISTANT),
            ("user_selection", Role.USER),
            ("assistant_acknowledgment", Role.ASSISTANT),
        ]
        return [(role, field(conv, key, str, source, cwhere)) for key, role in keys]
    out: list[tuple[Role, str]] = []
    try:
        numbered = sorted(conv, key=int)
    except ValueError:
        raise InputError("expected turn keys '0', '1', ...", source=str(source), field=cwhere) from None
    for key in numbered:
        turn = conv[key]
        out.append((Role.USER, field(turn, "user", str, source, f"{cwhere}.{key}")))
        out.append((Role.ASSISTANT, field(turn, "assistant", str, source, f"{cwhere}.{key}")))
    return out


def _filler(path: Path) -> list[list[tuple[Role, str]]]:
    """The filler conversations as (role, text) lists."""
    convs: list[list[tuple[Role, str]]] = []
    for i, conv in enumerate(as_list(load_json(path), path, "")):
        msgs = []
        for j, msg in enumerate(field(conv, "conversation", list, path, f"[{i}]")):
            role = field(msg, "role", str, path, f"[{i}].conversation[{j}]")
            if role not in ("user", "assistant", "system"):
                raise InputError(
                    f"invalid role {role!r}", source=str(path), field=f"[{i}].conversation[{j}].role"
                )
            msgs.append((Role(role), field(msg, "content", str, path, f"[{i}].conversation[{j}]")))
        convs.append(msgs)
    return convs


def _filler_turns(
    uid: str, filler: list[list[tuple[Role, str]]], rng: random.Random, budget: int | None, start: int
) -> list[Turn]:
    order = list(range(len(filler)))
    rng.shuffle(order)
    out: list[Turn] = []
    for k in order:
        for n, (role, text) in enumerate(filler[k]):
            if budget is not None and len(out) >= budget:
                return out
            out.append(
                Turn(
                    user_id=uid,
                    session_id=f"{uid}:filler-{k}",
                    turn_id=f"filler-{k}:{n}",
                    role=role,
                    text=text,
                    event_time=step(EPOCH, start + len(out)),
                    metadata={"filler": True},
                )
            )
    return out
