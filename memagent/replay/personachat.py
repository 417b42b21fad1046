"""Loader for PersonaChat / ConvAI2 in ParlAI text format (e.g. ``convai2_valid_self_original_no_cands.txt``).

Each line is ``"<idx> your persona: <sentence>"`` or ``"<idx> <partner utterance>\\t<self utterance>"``
(further tab-separated fields, such as reply candidates, are ignored); ``idx`` restarts at 1 for each
dialogue. ``partner's persona:`` lines (the "both" variants) are kept in metadata only.

Each dialogue becomes one user (``personachat-<file stem>-<n>``) with one session: the partner's
utterances as assistant turns (speaker "partner") interleaved with the self speaker's utterances as user
turns. ``__SILENCE__`` partner turns are dropped. The "your persona" sentences are the user's gold
profile and the extraction gold of the session. There are no questions. Turn times are synthetic.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from memagent.errors import InputError
from memagent.replay._common import EPOCH, require_file, step
from memagent.replay.base import BenchmarkData
from memagent.types import Role, Turn

__all__ = ["load_personachat"]

_LINE = re.compile(r"^(\d+) (.*)$")
_SILENCE = "__SILENCE__"


def load_personachat(path: str | Path, *, limit: int | None = None) -> BenchmarkData:
    """Load ConvAI2 dialogues as users whose gold profile is their persona.

    Args:
        path: A ParlAI-format ``.txt`` file, or a directory whose ``*.txt`` files are all read (sorted).
        limit: Load at most this many dialogues (users) in total.

    Raises:
        InputError: A line is not in the ParlAI format (names the file and line).
    """
    root = Path(path)
    files = sorted(root.glob("*.txt")) if root.is_dir() else [require_file(root)]
    if not files:
        raise InputError("no .txt files", source=str(root))
    dialogues: list[dict[str, Any]] = []
    for fpath in files:
        for dialogue in _parse(fpath):
            if limit is not None and len(dialogues) >= limit:
                break
            dialogues.append(dialogue)
    turns: list[Turn] = []
    gold: dict[str, list[str]] = {}
    profiles: dict[str, list[str]] = {}
    for d in dialogues:
        uid, sid = d["user_id"], f"{d['user_id']}:dialogue"
        for n, (role, text) in enumerate(d["turns"]):
            turns.append(
                Turn(
                    user_id=uid,
                    session_id=sid,
                    turn_id=f"dialogue:{n}",
                    role=role,
                    text=text,
                    speaker="partner" if role is Role.ASSISTANT else None,
                    event_time=step(EPOCH, n),
                    metadata={"partner_persona": d["partner"]} if d["partner"] and n == 0 else {},
                )
            )
        gold[sid] = list(d["persona"])
        profiles[uid] = list(d["persona"])
    return BenchmarkData(
        name="personachat",
        turns=turns,
        gold_profiles=profiles,
        extraction_gold=gold,
        metadata={"files": [str(f) for f in files], "dialogues": len(dialogues)},
    )


def _parse(fpath: Path) -> list[dict[str, Any]]:
    source = str(fpath)
    try:
        lines = fpath.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file: {exc}", source=source) from None
    dialogues: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise InputError("expected '<index> <text>'", source=source, line=number)
        idx, body = int(m.group(1)), m.group(2)
        if idx == 1 or current is None:
            if idx != 1:
                raise InputError(f"dialogue starts at index {idx}, expected 1", source=source, line=number)
            current = {
                "user_id": f"personachat-{fpath.stem}-{len(dialogues):04d}",
                "persona": [],
                "partner": [],
                "turns": [],
            }
            dialogues.append(current)
        if body.startswith("your persona:"):
            current["persona"].append(body.removeprefix("your persona:").strip())
            continue
        if body.startswith("partner's persona:"):
            current["partner"].append(body.removeprefix("partner's persona:").strip())
            continue
        fields = body.split("\t")
        if len(fields) < 2:
            raise InputError("expected '<partner utterance>\\t<self utterance>'", source=source, line=number)
        partner, own = fields[0].strip(), fields[1].strip()
        if partner and partner != _SILENCE:
            current["turns"].append((Role.ASSISTANT, partner))
        current["turns"].append((Role.USER, own))
    return dialogues
