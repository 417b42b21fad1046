"""`evaluate`: replay a benchmark through several memory systems and score what each one gives the model.

One pass per user: the user's questions are sorted by checkpoint, and before each question every system
ingests the turns up to that checkpoint (incrementally, never twice). Then each system compiles a context
per budget and the runner scores, where the benchmark has the gold for it:

* preference recall/precision of the context (``gold_preferences``: PERMA, PrefEval) by embedding match,
* currency (``updated_preferences``: PERMA),
* evidence recall within the budget and Recall/nDCG@k of the ranking (``evidence_turn_ids``),
* extraction precision/recall after the user's whole history (``gold_profiles``: PersonaChat; per session
  ``extraction_gold``: PERMA), with "store every utterance" (NaiveRAG's stored user turns) as baseline,
* cost: tokens, stored records, memories and LLM calls per turn.

Everything compared is deterministic (no clock, no randomness); timings and memory are kept apart in
``EvalResult.timings``.
"""

from __future__ import annotations

import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from memagent.eval.metrics import (
    MatchCounts,
    currency,
    embedding_match,
    f1,
    hit_at_k,
    mean,
    ndcg_at_k,
    p50,
    p95,
    pool,
    recall_at_k,
    safe_div,
)
from memagent.eval.systems import Context, MemorySystem
from memagent.extraction.rules import first_person
from memagent.interfaces import Embedder, TokenCounter
from memagent.replay.base import BenchmarkData, Question
from memagent.types import Role

__all__ = ["EvalResult", "Progress", "RANK_KS", "evaluate", "match_text", "subset"]

Progress = Callable[[int, int, str], None]
"""``progress(done, total, label)``, called after every question and every user's extraction step."""

RANK_KS: tuple[int, ...] = (5, 10)
"""Cut-offs of the budget-free ranking metrics."""

_DECORATIONS = (
    re.compile(r"^\s*-\s+"),
    re.compile(r"^\(\d{4}-\d{2}-\d{2}\)\s+"),
    re.compile(r"^\d{4}-\d{2}-\d{2}:\s+"),
    re.compile(r"\s+\[m:[0-9a-f]+\]\s*$"),
    re.compile(r"\s+\((since \d{4}-\d{2}-\d{2}|\d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2})\)\s*$"),
)


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MiB (Linux reports KiB, macOS bytes); None where the
    system has no `resource` module (Windows)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def match_text(line: str) -> str:
    """A rendered context line without its bullet, dates and provenance tag (what is embedded to match)."""
    for pattern in _DECORATIONS:
        line = pattern.sub("", line)
    return line.strip()


@dataclass
class EvalResult:
    """Scores of every system on one benchmark. All but ``timings`` is deterministic."""

    benchmark: str
    systems: list[str]
    budgets: list[int]
    thresholds: list[float]
    counts: dict[str, int] = field(default_factory=dict)
    """users, turns, questions and what each metric was computed over."""
    context: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    """system -> budget (as a string) -> metric -> value."""
    ranking: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """system -> budget-free ranking metric (recall@k, ndcg@k, hit@k) -> value."""
    extraction: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """system -> extraction metric -> value."""
    cost: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """system -> deterministic cost (stored records, memories/LLM calls per turn)."""
    timings: dict[str, dict[str, float | None]] = field(default_factory=dict)
    """system -> ingest throughput and context latency; "process" -> wall time and peak RSS."""
    per_question: list[dict[str, Any]] = field(default_factory=list)
    """One row per (question, system, budget): the question's own metric values, for error analysis."""

    def metrics(self) -> dict[str, Any]:
        """Everything except timings: identical for identical inputs."""
        out = self.to_dict()
        out.pop("timings")
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)


def subset(data: BenchmarkData, limit: int | None) -> BenchmarkData:
    """At most ``limit`` users, evenly spaced over the benchmark's user order (so topics stay mixed)."""
    users = data.users()
    if limit is None or limit >= len(users):
        return data
    if limit < 1:
        raise ValueError("limit must be at least 1")
    step = len(users) / limit
    chosen = {users[int(i * step)] for i in range(limit)}
    turns = [t for t in data.turns if t.user_id in chosen]
    keys = {t.session_id for t in turns} | {t.turn_id for t in turns}
    return BenchmarkData(
        name=data.name,
        turns=turns,
        questions=[q for q in data.questions if q.user_id in chosen],
        gold_profiles={u: g for u, g in data.gold_profiles.items() if u in chosen},
        extraction_gold={k: g for k, g in data.extraction_gold.items() if k in keys},
        metadata={**data.metadata, "limit": limit, "users_total": len(users)},
    )


@dataclass
class _Acc:
    """Raw per-item values, aggregated at the end."""

    rows: dict[tuple[str, int], dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    ranking: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    extraction: dict[str, dict[str, list[MatchCounts]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    ingest_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    latency_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stored: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    memories: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    details: list[dict[str, Any]] = field(default_factory=list)


def _score_context(
    question: Question, ctx: Context, embedder: Embedder, thresholds: Sequence[float]
) -> dict[str, list[float]]:
    """Values of every applicable context metric for one question (currency: one value per changed pair)."""
    row: dict[str, list[float]] = defaultdict(list)
    row["tokens"].append(float(ctx.tokens))
    row["lines"].append(float(len(ctx.lines)))
    vectors = embedder.embed([match_text(line.text) for line in ctx.lines]) if ctx.lines else []
    if question.gold_preferences:
        gold = embedder.embed(question.gold_preferences)
        for t, counts in embedding_match(vectors, gold, thresholds).items():
            row[f"pref_recall@{t}"].append(counts.recall or 0.0)
            if counts.precision is not None:
                row[f"pref_precision@{t}"].append(counts.precision)
    for old, new in question.updated_preferences:
        old_v, new_v = embedder.embed([old, new])
        for t in thresholds:
            result = currency(vectors, old_v, new_v, t)
            row[f"currency@{t}"].append(float(result.current))
            row[f"stale@{t}"].append(float(result.old_present))
    if question.evidence_turn_ids:
        ranked = [line.turn_ids for line in ctx.lines]
        covered = len(ranked)
        row["evidence_recall"].append(recall_at_k(question.evidence_turn_ids, ranked, max(covered, 1)))
        row["evidence_hit"].append(hit_at_k(question.evidence_turn_ids, ranked, max(covered, 1)))
    return row


def _score_ranking(row: dict[str, list[float]], question: Question, ranked: list[tuple[str, ...]]) -> None:
    for k in RANK_KS:
        row[f"recall@{k}"].append(recall_at_k(question.evidence_turn_ids, ranked, k))
        row[f"hit@{k}"].append(hit_at_k(question.evidence_turn_ids, ranked, k))
        row[f"ndcg@{k}"].append(ndcg_at_k(question.evidence_turn_ids, ranked, k))


def _score_extraction(
    acc: _Acc,
    system: MemorySystem,
    data: BenchmarkData,
    user_id: str,
    embedder: Embedder,
    thresholds: Sequence[float],
) -> None:
    items = system.memories(user_id)
    if items is None:
        return
    acc.memories[system.name] += len(items)
    turns = data.turns_for(user_id)
    gold = data.gold_profiles.get(user_id)
    if gold:
        gold_vectors = embedder.embed(gold)
        matched = embedding_match(embedder.embed([i.text for i in items]), gold_vectors, thresholds)
        for t, counts in matched.items():
            acc.extraction[system.name][f"extraction@{t}"].append(counts)
        # Gold written in the first person ("i am a nurse") is matched a second time against the memories
        # in the first person too: MiniLM puts "User is a nurse" at cosine 0.60 from it, "I am a nurse" at
        # 0.97. Text that does not start with "User" (raw utterances) is unchanged by this.
        voiced = embedder.embed([first_person(i.text) for i in items])
        for t, counts in embedding_match(voiced, gold_vectors, thresholds).items():
            acc.extraction[system.name][f"extraction_first_person@{t}"].append(counts)
    sessions = sorted({t.session_id for t in turns if t.session_id in data.extraction_gold})
    for session in sessions:
        pred = [i.text for i in items if i.session_id == session]
        matched = embedding_match(
            embedder.embed(pred), embedder.embed(data.extraction_gold[session]), thresholds
        )
        for t, counts in matched.items():
            acc.extraction[system.name][f"session_extraction@{t}"].append(counts)


def evaluate(
    data: BenchmarkData,
    systems: Sequence[MemorySystem],
    *,
    budgets: Sequence[int] = (256, 512, 1024),
    thresholds: Sequence[float] = (0.5, 0.6, 0.7),
    embedder: Embedder,
    counter: TokenCounter | None = None,
    progress: Progress | None = None,
) -> EvalResult:
    """Replay ``data`` through ``systems`` and score them side by side.

    Args:
        data: A loaded benchmark (use `subset` to limit users).
        systems: Fresh systems (nothing ingested yet), all sharing ``embedder`` and ``counter``.
        budgets: Token budgets of the contexts.
        thresholds: Cosine thresholds of the embedding-match metrics.
        embedder: Embeds context lines and gold for matching (the systems' shared `CachedEmbedder`).
        counter: The systems' token counter (kept for the record; contexts report their own tokens).
        progress: Called as ``progress(done, total, label)``.
    """
    del counter  # contexts are counted by the systems with the shared counter
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"system names must be unique: {names}")
    thresholds = [float(t) for t in thresholds]
    started = time.perf_counter()
    acc = _Acc()
    users = data.users()
    total = len(data.questions) + len(users)
    done = 0
    user_turns = 0
    for user_id in users:
        turns = data.turns_for(user_id)
        user_turns += sum(1 for t in turns if t.role is Role.USER)
        indexed = sorted(enumerate(data.questions_for(user_id)), key=lambda p: (p[1].checkpoint, p[0]))
        position = 0
        for _, question in indexed:
            if question.checkpoint > position:
                _ingest(acc, systems, turns[position : question.checkpoint])
                position = question.checkpoint
            for system in systems:
                for budget in budgets:
                    t0 = time.perf_counter()
                    ctx = system.context(user_id, question.text, budget)
                    acc.latency_ms[system.name].append((time.perf_counter() - t0) * 1000)
                    scores = _score_context(question, ctx, embedder, thresholds)
                    row = acc.rows[(system.name, budget)]
                    for key, values in scores.items():
                        row[key].extend(values)
                    acc.details.append(
                        {
                            "question": question.id,
                            "system": system.name,
                            "budget": budget,
                            **{key: mean(values) for key, values in sorted(scores.items())},
                        }
                    )
                if question.evidence_turn_ids:
                    ranked = system.rank(user_id, question.text, max(RANK_KS))
                    _score_ranking(acc.ranking[system.name], question, ranked)
            done += 1
            if progress:
                progress(done, total, f"{user_id} q{done}")
        if position < len(turns):
            _ingest(acc, systems, turns[position:])
        for system in systems:
            acc.stored[system.name].append(system.stored(user_id))
            _score_extraction(acc, system, data, user_id, embedder, thresholds)
        done += 1
        if progress:
            progress(done, total, f"{user_id} done")
    return _result(data, systems, budgets, thresholds, acc, user_turns, time.perf_counter() - started)


def _ingest(acc: _Acc, systems: Sequence[MemorySystem], turns: Sequence[Any]) -> None:
    for system in systems:
        t0 = time.perf_counter()
        system.ingest(turns)
        acc.ingest_s[system.name] += time.perf_counter() - t0


def _extraction_summary(per_metric: dict[str, list[MatchCounts]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in sorted(per_metric):
        prefix, t = key.split("@")
        pooled = pool(per_metric[key])
        out[f"{prefix}_precision@{t}"] = pooled.precision
        out[f"{prefix}_recall@{t}"] = pooled.recall
        out[f"{prefix}_f1@{t}"] = pooled.f1
    return out


def _result(
    data: BenchmarkData,
    systems: Sequence[MemorySystem],
    budgets: Sequence[int],
    thresholds: Sequence[float],
    acc: _Acc,
    user_turns: int,
    wall_s: float,
) -> EvalResult:
    result = EvalResult(
        benchmark=data.name,
        systems=[s.name for s in systems],
        budgets=list(budgets),
        thresholds=list(thresholds),
        counts={
            "users": len(data.users()),
            "turns": len(data.turns),
            "user_turns": user_turns,
            "questions": len(data.questions),
            "questions_with_preferences": sum(1 for q in data.questions if q.gold_preferences),
            "questions_with_updates": sum(1 for q in data.questions if q.updated_preferences),
            "questions_with_evidence": sum(1 for q in data.questions if q.evidence_turn_ids),
            "users_with_gold_profile": sum(1 for u in data.users() if data.gold_profiles.get(u)),
            "sessions_with_extraction_gold": sum(1 for k in data.extraction_gold if data.extraction_gold[k]),
        },
    )
    n_turns = len(data.turns)
    for system in systems:
        name = system.name
        per_budget: dict[str, dict[str, float | None]] = {}
        for budget in budgets:
            row = acc.rows.get((name, budget), {})
            summary: dict[str, float | None] = {key: mean(row[key]) for key in sorted(row)}
            for t in thresholds:
                if f"pref_recall@{t}" in row:
                    summary[f"pref_f1@{t}"] = f1(
                        summary.get(f"pref_precision@{t}") or 0.0, summary[f"pref_recall@{t}"]
                    )
            per_budget[str(budget)] = summary
        result.context[name] = per_budget
        result.ranking[name] = {key: mean(v) for key, v in sorted(acc.ranking.get(name, {}).items())}
        if name in acc.extraction or name in acc.memories:
            summary = _extraction_summary(acc.extraction.get(name, {}))
            summary["memories_per_user_turn"] = safe_div(acc.memories.get(name, 0), user_turns)
            result.extraction[name] = summary
        stored = acc.stored.get(name, [])
        result.cost[name] = {
            "stored_per_user": mean([float(s) for s in stored]),
            "llm_calls_per_turn": safe_div(system.llm_calls, n_turns),
        }
        latencies = acc.latency_ms.get(name, [])
        ingest_s = acc.ingest_s.get(name, 0.0)
        result.timings[name] = {
            "ingest_s": ingest_s,
            "ingest_turns_per_s": safe_div(n_turns, ingest_s) if ingest_s > 0 else None,
            "context_ms_p50": p50(latencies),
            "context_ms_p95": p95(latencies),
        }
    result.per_question = acc.details
    result.timings["process"] = {
        "wall_s": wall_s,
        "peak_rss_mb": peak_rss_mb(),
    }
    return result
