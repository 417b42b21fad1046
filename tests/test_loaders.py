"""Benchmark loaders: staged data slices (skipped when absent) and small fixtures in the published shapes."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from memagent.errors import ConfigError, InputError
from memagent.replay import (
    load_benchmark,
    load_locomo,
    load_longmemeval,
    load_memorybank,
    load_perma,
    load_personachat,
    load_prefeval,
)
from memagent.replay.perma import parse_perma_date
from memagent.replay.perma_preferences import parse_preferences
from memagent.types import Role

DATA = Path(os.environ.get("MEMAGENT_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def _data(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"staged benchmark data not found at {path}")
    return path


def _dump(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------------- PERMA


def test_perma_staged_order_and_checkpoints() -> None:
    root = _data("perma")
    data = load_perma(root, users=["user108"])
    uid = "perma-user108"
    turns = data.turns_for(uid)
    timeline = json.loads((root / "tasks/user108/interleaved_timeline.json").read_text())
    sessions = list(dict.fromkeys(t.session_id for t in turns))
    assert sessions == [f"{uid}:{e['task_id']}" for e in timeline]
    assert all(a.event_time < b.event_time for a, b in zip(turns, turns[1:], strict=False))
    assert data.metadata["unmappable"] == [] and data.metadata["users"][uid]["questions"] == len(
        data.questions
    )
    ends = {i + 1 for i in range(len(turns) - 1) if turns[i].session_id != turns[i + 1].session_id} | {
        len(turns)
    }
    by_task: dict[str, dict[int, int]] = {}
    for q in data.questions:
        assert len(q.options) == 8 and q.gold_option is not None
        assert q.checkpoint in ends and q.gold_preferences
        assert {g.split("-", 1)[0] for g in q.gold_preferences} <= set(q.metadata["relevant_domains"])
        by_task.setdefault(q.metadata["task_id"], {})[q.metadata["task_type"]] = q.checkpoint
        replayed = {t.metadata["domain"] for t in data.history_before(q)}
        assert set(q.metadata["relevant_domains"]) <= replayed
    for cps in by_task.values():
        assert cps.get(3) == len(turns)
        if 1 in cps and 2 in cps:
            assert cps[1] <= cps[2]
    sd1 = next(
        q for q in data.questions if q.metadata["task_id"].startswith("SD-") and q.metadata["task_type"] == 1
    )
    domain = sd1.metadata["relevant_domains"][0]
    first = next(i for i, e in enumerate(timeline) if e["relevant_domain"] == domain)
    assert sd1.metadata["sessions_replayed"] == first + 1
    raw = json.loads((root / f"evaluation/user108/meta/overall/{sd1.id.split(':', 1)[1]}.json").read_text())
    assert "ABCDEFGH".index(raw["gold_label"]) == sd1.gold_option
    assert raw["options"].startswith("A: " + sd1.options[0][:20])


def test_perma_staged_limit_variant_and_gold() -> None:
    root = _data("perma")
    data = load_perma(root, limit=1, variant="n")
    assert len(data.users()) == 1 and data.gold_profiles[data.users()[0]]
    sess = next(iter(data.extraction_gold.values()))
    assert sess and all(re.match(r"^[A-Z][\w ]*-.+-.+", p) for p in sess)


def test_parse_preferences_and_dates() -> None:
    text = "Books-Reading Format-physical, ebook; Books-Genre-non-fiction, Alarm-Alarm Time-7:00 AM, 9:00 AM"
    prefs = parse_preferences(
        text, {"Books", "Alarm"}, {"Books": {"Reading Format", "Genre"}}, single={("Alarm", "Alarm Time")}
    )
    assert [p.text for p in prefs] == [
        "Books-Reading Format-physical",
        "Books-Reading Format-ebook",
        "Books-Genre-non-fiction",
        "Alarm-Alarm Time-7:00 AM, 9:00 AM",
    ]
    assert parse_perma_date("2023-01-15 Morning") == datetime(2023, 1, 15, 9, tzinfo=UTC)
    with pytest.raises(InputError, match="invalid date"):
        parse_perma_date("15/01/2023")


def _perma_fixture(root: Path, options: str = "A: right\nanswer\nB: wrong") -> Path:
    """Two domains interleaved A1 B1 A2 B2; SD-A, SD-B and MD (A+B) questions of types 1-3."""
    user = "user1"
    timeline = [
        ("A", 1, "2023-01-01 Morning"),
        ("B", 1, "2023-01-02 Evening"),
        ("A", 2, "2023-01-03 Night"),
        ("B", 2, "2023-01-04 Afternoon"),
    ]
    dialogs: dict[str, list[dict[str, Any]]] = {"A": [], "B": []}
    for dom, k, _date in timeline:
        value = "x" if k == 1 else "y"
        dialogs[dom].append(
            {
                "date": "2022-12-01 Morning",
                "task_id": f"event_{k} ({dom})",
                "event_type": "preference_emergence",
                "conversation": [
                    {"role": "user", "content": f"{dom}{k} hi"},
                    {"role": "assistant", "content": "ok"},
                ],
                "preferences": f"{dom}-Level-{value}, {dom}-Likes-{dom.lower()}{k}",
            }
        )
    _dump(
        root / f"tasks/{user}/raw_dialogues_c.json",
        [{"topic": d, "timeline": [], "dialogs": v} for d, v in dialogs.items()],
    )
    _dump(
        root / f"tasks/{user}/interleaved_timeline.json",
        [
            {"date": date, "task_id": f"event_{k} ({dom})", "relevant_domain": dom}
            for dom, k, date in timeline
        ],
    )
    _dump(
        root / f"profile/{user}/profile.json",
        {"affinities": {d: {"Level": "y", "Likes": [f"{d.lower()}1", f"{d.lower()}2"]} for d in "AB"}},
    )
    _dump(
        root / f"profile/{user}/tasks.json",
        {f"Task {i}": {"task_id": f"SD-{d}-task-1", "Relevant Domains": [d]} for i, d in enumerate("AB")},
    )
    _dump(
        root / f"profile/{user}/tasks_md.json",
        {"Task 1": {"task_id": "MD-task-1", "Relevant Domains": ["A", "B"]}},
    )
    qdir = root / f"evaluation/{user}/meta/overall"
    for task_id in ("SD-A-task-1", "SD-B-task-1", "MD-task-1", "SD-C-task-9"):
        for qtype in (1, 2, 3):
            _dump(
                qdir / f"{task_id}_{qtype}.json",
                {
                    "task_id": task_id,
                    "question": "q?",
                    "task_type": qtype,
                    "question_date": "2023-01-02",
                    "options": options,
                    "gold_label": "A",
                },
            )
    return root


def test_perma_checkpoint_rule_on_fixture(tmp_path: Path) -> None:
    data = load_perma(_perma_fixture(tmp_path))
    cps = {q.id.split(":", 1)[1]: q for q in data.questions}
    # 4 sessions of 2 turns: A1 B1 A2 B2
    assert [cps[f"SD-A-task-1_{t}"].checkpoint for t in (1, 2, 3)] == [2, 6, 8]
    assert [cps[f"SD-B-task-1_{t}"].checkpoint for t in (1, 2, 3)] == [4, 8, 8]
    assert [cps[f"MD-task-1_{t}"].checkpoint for t in (1, 2, 3)] == [4, 8, 8]
    assert cps["MD-task-1_1"].metadata["approximate_checkpoint"]
    q = cps["SD-A-task-1_1"]
    assert q.options == ["right\nanswer", "wrong"] and q.gold_option == 0
    assert q.gold_preferences == ["A-Likes-a1", "A-Level-x"] and q.updated_preferences == []
    assert q.asked_at is not None and q.asked_at >= data.history_before(q)[-1].event_time
    q3 = cps["SD-A-task-1_3"]
    assert q3.updated_preferences == [("A-Level-x", "A-Level-y")] and "A-Level-x" not in q3.gold_preferences
    assert [u["id"] for u in data.metadata["unmappable"]] == [
        f"perma-user1:SD-C-task-9_{t}" for t in (1, 2, 3)
    ]
    turns = data.turns_for("perma-user1")
    assert turns[2].event_time == datetime(
        2023, 1, 2, 19, tzinfo=UTC
    )  # interleaved date, not the domain date
    assert data.extraction_gold["perma-user1:event_1 (A)"] == ["A-Level-x", "A-Likes-a1"]


def test_perma_wrong_shape_names_file(tmp_path: Path) -> None:
    root = _perma_fixture(tmp_path, options="1) right 2) wrong")
    with pytest.raises(InputError) as info:
        load_perma(root)
    assert info.value.field == "options" and str(info.value).startswith(str(root / "evaluation"))
    _dump(root / "tasks/user1/interleaved_timeline.json", {"not": "a list"})
    with pytest.raises(InputError, match="interleaved_timeline.json"):
        load_perma(root)


# -------------------------------------------------------------------------------------------- PrefEval


@pytest.mark.parametrize("variant", ["explicit", "choice", "persona"])
def test_prefeval_staged_variants(variant: str) -> None:
    root = _data("prefeval")
    data = load_prefeval(root, variant=variant, topics=["lifestyle_dietary"], limit=3, filler_turns=6, seed=3)
    assert len(data.users()) == 3 and len(data.questions) == 3
    records = json.loads((root / "mcq_options/lifestyle_dietary.json").read_text())
    for i, q in enumerate(data.questions):
        turns = data.turns_for(q.user_id)
        assert q.checkpoint == len(turns) and q.gold_preferences == data.gold_profiles[q.user_id]
        assert sum(1 for t in turns if t.metadata.get("filler")) == 6
        assert not turns[0].metadata.get("filler") and turns[0].role is Role.USER
        assert set(q.evidence_turn_ids) <= {t.turn_id for t in turns if not t.metadata.get("filler")}
        assert (
            q.gold_option is not None
            and q.options[q.gold_option] == records[i]["classification_task_options"][0]
        )
    if variant == "explicit":
        assert data.turns_for(data.users()[0])[0].text == data.questions[0].gold_preferences[0]
    again = load_prefeval(
        root, variant=variant, topics=["lifestyle_dietary"], limit=3, filler_turns=6, seed=3
    )
    assert again.turns == data.turns and again.questions == data.questions


def test_prefeval_default_filler_is_whole_haystack() -> None:
    data = load_prefeval(_data("prefeval"), limit=1)
    turns = data.turns
    assert sum(1 for t in turns if t.metadata.get("filler")) == 632 == data.metadata["filler_messages"]
    assert len({t.turn_id for t in turns}) == len(turns)


def test_prefeval_wrong_shape(tmp_path: Path) -> None:
    _dump(tmp_path / "explicit_preference/topic.json", [{"preference": "I am vegan."}])
    _dump(tmp_path / "filtered_inter_turns.json", [{"conversation": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(InputError) as info:
        load_prefeval(tmp_path)
    assert info.value.field == "[0].question" and "topic.json" in str(info.value)
    with pytest.raises(InputError, match="topic"):
        load_prefeval(tmp_path, topics=["absent"])
    with pytest.raises(ConfigError):
        load_prefeval(tmp_path, variant="implicit")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- PersonaChat, MemoryBank


def test_personachat_staged() -> None:
    data = load_personachat(_data("personachat"), limit=2)
    assert len(data.users()) == 2
    uid = data.users()[0]
    turns = data.turns_for(uid)
    assert data.gold_profiles[uid][0] == "i read twenty books a year."
    assert turns[0].role is Role.ASSISTANT and turns[1].role is Role.USER
    assert turns[1].text.startswith("i am good")
    assert data.extraction_gold[turns[0].session_id] == data.gold_profiles[uid]


def test_personachat_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text("1 your persona: i like cats.\n2 hello there no tab\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_personachat(path)
    assert info.value.line == 2 and "chat.txt" in str(info.value)


def test_memorybank_staged() -> None:
    data = load_memorybank(_data("memorybank"), limit=5)
    assert len(data.users()) == 5 and data.metadata["unmapped_questions"] == 0
    assert all(" " not in u.removeprefix("memorybank-").strip() or u == u.strip() for u in data.users())
    for q in data.questions:
        assert q.checkpoint == len(data.turns_for(q.user_id)) > 0
    days = [t.event_time for t in data.turns_for(data.users()[0])]
    assert days == sorted(days)


def test_memorybank_wrong_shape(tmp_path: Path) -> None:
    _dump(tmp_path / "memory_bank_en.json", {"Ann": {"history": {"2023-01-01": [{"query": "hi"}]}}})
    with pytest.raises(InputError) as info:
        load_memorybank(tmp_path)
    assert info.value.field == "Ann.history.2023-01-01[0].response"


# ----------------------------------------------------------------------------------- LoCoMo, LongMemEval


def _locomo_sample(sample_id: str = "conv-1") -> dict[str, Any]:
    return {
        "sample_id": sample_id,
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_2_date_time": "10:37 am on 27 June, 2023",
            "session_2": [
                {"speaker": "Caroline", "dia_id": "D2:1", "text": "I adopted a dog."},
                {"speaker": "Melanie", "dia_id": "D2:2", "text": "Lovely!", "blip_caption": "a dog"},
            ],
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "I went to a support group."},
                {"speaker": "Melanie", "dia_id": "D1:2", "text": "Good for you."},
            ],
            "session_10_date_time": "9:00 am on 1 July, 2023",
            "session_10": [{"speaker": "Melanie", "dia_id": "D10:1", "text": "We painted a sunrise."}],
        },
        "qa": [
            {
                "question": "When did Caroline go to the support group?",
                "answer": "7 May 2023",
                "evidence": ["D1:1"],
                "category": 2,
            },
            {
                "question": "What did Caroline adopt?",
                "answer": 1,
                "evidence": ["D2:1; D10:1", "D9:9"],
                "category": 1,
            },
            {
                "question": "What did Melanie adopt?",
                "adversarial_answer": "a dog",
                "evidence": [],
                "category": 5,
            },
        ],
        "event_summary": {
            "events_session_1": {
                "Caroline": ["Caroline attends a support group."],
                "Melanie": [],
                "date": "8 May, 2023",
            }
        },
    }


def test_locomo_fixture(tmp_path: Path) -> None:
    path = _dump(tmp_path / "locomo10.json", [_locomo_sample(), _locomo_sample("conv-2")])
    data = load_locomo(path, limit=1)
    assert data.users() == ["locomo-conv-1"]
    turns = data.turns
    assert [t.turn_id for t in turns] == ["D1:1", "D1:2", "D2:1", "D2:2", "D10:1"]
    assert turns[0].speaker == "Caroline" and turns[0].event_time == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert turns[3].metadata == {"blip_caption": "a dog"}
    assert turns[3].text == "Lovely! [shared a dog]"  # the photo is part of what was said
    assert turns[2].text == _locomo_sample()["conversation"]["session_2"][0]["text"]
    q0, q1, q2 = data.questions
    assert q0.evidence_turn_ids == ["D1:1"] and q0.category == "2" and q0.checkpoint == 5
    assert q1.evidence_turn_ids == ["D2:1", "D10:1"] and q1.metadata["unknown_evidence"] == ["D9:9"]
    assert q1.answer == "1" and q2.answer == "a dog" and q2.metadata["adversarial"]
    assert data.extraction_gold == {"locomo-conv-1:session_1": ["Caroline attends a support group."]}


def test_locomo_wrong_shape(tmp_path: Path) -> None:
    sample = _locomo_sample()
    sample["conversation"]["session_1_date_time"] = "sometime"
    with pytest.raises(InputError) as info:
        load_locomo(_dump(tmp_path / "locomo10.json", [sample]))
    assert "locomo10.json" in str(info.value) and info.value.field == "[0].conversation.session_1_date_time"
    with pytest.raises(InputError, match="expected a list"):
        load_locomo(_dump(tmp_path / "bad.json", {"sample_id": "x"}))


def _lme_instance(qid: str, flagged: bool = True) -> dict[str, Any]:
    return {
        "question_id": qid,
        "question_type": "single-session-user",
        "question": "What degree did I graduate with?",
        "answer": "Business Administration",
        "question_date": "2023/05/30 (Tue) 23:40",
        "haystack_session_ids": ["s_a", "answer_1"],
        "haystack_dates": ["2023/05/20 (Sat) 02:21", "2023/05/21 (Sun) 10:00"],
        "haystack_sessions": [
            [{"role": "user", "content": "Plan a trip."}, {"role": "assistant", "content": "Sure."}],
            [
                {"role": "user", "content": "I graduated in Business Administration.", "has_answer": flagged},
                {"role": "assistant", "content": "Congrats!"},
            ],
        ],
        "answer_session_ids": ["answer_1"],
    }


def test_longmemeval_fixture(tmp_path: Path) -> None:
    path = _dump(
        tmp_path / "longmemeval_s.json", [_lme_instance("q1"), _lme_instance("q2_abs", flagged=False)]
    )
    data = load_longmemeval(path)
    assert data.users() == ["longmemeval-q1", "longmemeval-q2_abs"]
    turns = data.turns_for("longmemeval-q1")
    assert [t.turn_id for t in turns] == ["s_a:0", "s_a:1", "answer_1:0", "answer_1:1"]
    assert turns[0].event_time == datetime(2023, 5, 20, 2, 21, tzinfo=UTC)
    q1, q2 = data.questions
    assert (
        q1.evidence_turn_ids == ["answer_1:0"] and q1.checkpoint == 4 and q1.category == "single-session-user"
    )
    assert q1.asked_at == datetime(2023, 5, 30, 23, 40, tzinfo=UTC)
    assert q2.evidence_turn_ids == ["answer_1:0", "answer_1:1"] and q2.metadata["abstention"]


def test_longmemeval_wrong_shape(tmp_path: Path) -> None:
    inst = _lme_instance("q1")
    inst["haystack_dates"] = inst["haystack_dates"][:1]
    with pytest.raises(InputError) as info:
        load_longmemeval(_dump(tmp_path / "lme.json", [inst]))
    assert "lme.json" in str(info.value) and info.value.field == "[0].haystack_sessions"
    inst = _lme_instance("q1")
    del inst["question"]
    with pytest.raises(InputError, match=r"field '\[0\]\.question'"):
        load_longmemeval(_dump(tmp_path / "lme.json", [inst]))
    with pytest.raises(InputError, match="file not found"):
        load_longmemeval(tmp_path / "absent.json")


# --------------------------------------------------------------------------------------------- dispatch


def test_load_benchmark_dispatch(tmp_path: Path) -> None:
    path = _dump(tmp_path / "locomo10.json", [_locomo_sample()])
    assert load_benchmark("locomo", path, limit=1).name == "locomo"
    with pytest.raises(ConfigError, match="unknown benchmark"):
        load_benchmark("msc", path)
    with pytest.raises(ConfigError, match="variant"):
        load_benchmark("locomo", path, variant="c")
