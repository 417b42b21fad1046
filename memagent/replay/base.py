"""Data models shared by the benchmark loaders: `Question` and `BenchmarkData`.

A loader turns one public benchmark into a replayable history (``BenchmarkData.turns``, in replay order
per user) plus questions pinned to a *checkpoint*: the number of that user's turns to replay before the
question is asked. Gold labels are optional and benchmark-specific (preferences, evidence turns,
multiple-choice options, gold profiles, per-session extraction gold).

Id conventions used by every loader: user ids are prefixed with the benchmark name ("perma-user108"),
session ids with the user id ("perma-user108:<session>"), so several benchmarks can share one store and
``extraction_gold`` keys are unique; turn ids are unique within their user.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from memagent.types import Timestamp, Turn

__all__ = ["BenchmarkData", "Question"]


class Question(BaseModel):
    """A question asked of one user's memory at a point of the replay."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    """Unique within the benchmark."""
    user_id: str = Field(min_length=1)
    text: str
    """What the user asks."""
    checkpoint: int = Field(ge=0)
    """Number of this user's turns (in replay order) replayed before the question is asked."""
    asked_at: Timestamp | None = None
    """When the question is asked (event time), if the benchmark says."""
    answer: str | None = None
    """Free-text gold answer (LoCoMo, LongMemEval)."""
    gold_preferences: list[str] = Field(default_factory=list)
    """Preferences a personalised answer must respect (for preference recall in the profile)."""
    evidence_turn_ids: list[str] = Field(default_factory=list)
    """Turns of this user that hold the answer (for evidence recall)."""
    options: list[str] = Field(default_factory=list)
    """Multiple-choice options, if any."""
    gold_option: int | None = None
    """Index of the correct option in ``options``."""
    category: str | None = None
    """Benchmark-specific question type."""
    updated_preferences: list[tuple[str, str]] = Field(default_factory=list)
    """(old, new) preference pairs changed before the checkpoint: the profile should hold new, not old."""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_option(self) -> Question:
        if self.gold_option is not None and not 0 <= self.gold_option < len(self.options):
            raise ValueError(f"gold_option {self.gold_option} out of range for {len(self.options)} options")
        return self


class BenchmarkData(BaseModel):
    """One loaded benchmark: turns in replay order, questions, and gold labels.

    Checked on construction: every question's user has at least ``checkpoint`` turns, and its
    evidence turns belong to that user.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    turns: list[Turn]
    """All turns, in replay order within each user (users may be interleaved)."""
    questions: list[Question] = Field(default_factory=list)
    gold_profiles: dict[str, list[str]] = Field(default_factory=dict)
    """user_id -> the user's gold preferences or persona sentences."""
    extraction_gold: dict[str, list[str]] = Field(default_factory=dict)
    """session_id (or turn_id) -> what an extractor should find there."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Loader notes and counts (variant, skipped or unmappable items)."""

    _by_user: dict[str, list[Turn]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check_questions(self) -> BenchmarkData:
        by_user = _index(self.turns)
        for q in self.questions:
            turns = by_user.get(q.user_id, [])
            if q.checkpoint > len(turns):
                raise ValueError(
                    f"question {q.id}: checkpoint {q.checkpoint} > {len(turns)} turns of {q.user_id}"
                )
            known = {t.turn_id for t in turns}
            missing = [t for t in q.evidence_turn_ids if t not in known]
            if missing:
                raise ValueError(f"question {q.id}: evidence turns not in the history: {missing[:3]}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        """Index the turns by user (the index is not refreshed if ``turns`` is mutated later)."""
        self._by_user = _index(self.turns)

    def users(self) -> list[str]:
        """User ids in order of first appearance."""
        return list(self._by_user)

    def turns_for(self, user_id: str) -> list[Turn]:
        """The user's turns in replay order (empty for an unknown user)."""
        return list(self._by_user.get(user_id, []))

    def questions_for(self, user_id: str) -> list[Question]:
        """The user's questions, in load order."""
        return [q for q in self.questions if q.user_id == user_id]

    def history_before(self, question: Question) -> list[Turn]:
        """The turns replayed before ``question`` is asked."""
        return self._by_user.get(question.user_id, [])[: question.checkpoint]


def _index(turns: list[Turn]) -> dict[str, list[Turn]]:
    by_user: dict[str, list[Turn]] = defaultdict(list)
    for turn in turns:
        by_user[turn.user_id].append(turn)
    return dict(by_user)
