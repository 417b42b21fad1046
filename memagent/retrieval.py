"""Hybrid retrieval: dense similarity and BM25 fused by score, with recency as a bounded prior.

Everything here is a pure function except `retrieve`, whose only I/O is index queries on the
`MemoryStore` (`search` and `lexical_search` nominate candidates; `similarity` and ``score_ids`` score
each signal on the other's candidates; `adjacent` fetches the turns around candidate turns), never a
listing of the user's records. By default (`score_fusion`) each signal is a share of a best match: a
cosine divided by the best cosine among the candidates (so the closest record counts 1, however far it
is), BM25 divided by the score of a record holding every query term
(`memagent.lexical.full_match_score`, so a word in common by chance stays small). The two are mixed by
weight; recency can scale the result down by at most ``recency_weight``. Then (`with_context`) an
assistant's turn keeps ``assistant_weight`` of its score (what the assistant said is context for the
user's memory, seldom the memory itself), and a raw turn adds ``context_weight`` of the better of its
two neighbours' scores: evidence is often the reply to, or the lead-in of, the turn that matches.
Weighted reciprocal-rank fusion (`rank_fusion`) is the alternative to the score mix. A weight of 0
switches a signal off completely (it neither nominates candidates nor moves them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime

from memagent.config import RetrievalConfig
from memagent.interfaces import MemoryStore
from memagent.types import MemoryKind, MemoryRecord, RecordFilter, RecordOrder, Role, ScoredRecord, as_utc

__all__ = [
    "DENSE",
    "FUSED",
    "LEXICAL",
    "RECENCY",
    "mmr",
    "rank_fusion",
    "recency_scores",
    "retrieve",
    "score_fusion",
    "with_context",
]

DENSE = "dense"
"""Signal name of embedding cosine similarity."""
LEXICAL = "bm25"
"""Signal name of the BM25 score (divided by the score of a full match)."""
RECENCY = "recency"
"""Signal name of the recency decay value."""
FUSED = "fused"
"""Key of the fused score in `ScoredRecord.signals`."""

_WORD = re.compile(r"\w+")
_SECONDS_PER_DAY = 86_400.0


def recency_scores(records: Sequence[MemoryRecord], now: datetime, half_life_days: float) -> dict[str, float]:
    """Exponential decay of each record's event-time age: ``0.5 ** (age_days / half_life_days)``.

    Args:
        records: Records to score.
        now: The reference time (naive is taken as UTC).
        half_life_days: Age at which the score halves; must be positive.

    Returns:
        A value in ``[0, 1]`` per record id; events at or after ``now`` score 1.0.
    """
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    now = as_utc(now)
    scores: dict[str, float] = {}
    for record in records:
        age_days = (now - record.event_time).total_seconds() / _SECONDS_PER_DAY
        scores[record.id] = 1.0 if age_days <= 0 else 0.5 ** (age_days / half_life_days)
    return scores


def rank_fusion(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: int = 60
) -> dict[str, float]:
    """Weighted reciprocal-rank fusion: ``score(d) = sum_s weights[s] / (k + rank_s(d))``, ranks from 1.

    Args:
        rankings: Per signal, ids best first (repeats are ignored: a repeated id keeps its first place).
        weights: Per signal weight; a missing signal weighs 1.0, a weight of 0 switches it off.
        k: Rank offset; larger values flatten the difference between top and lower ranks.

    Returns:
        The fused score of every id ranked by at least one signal with a positive weight.
    """
    ranks: dict[str, dict[str, int]] = {}
    for signal, ranking in rankings.items():
        ranks[signal] = {item: rank for rank, item in enumerate(dict.fromkeys(ranking), start=1)}
    return _fuse_ranks(ranks, weights, k)


def _fuse_ranks(
    ranks: Mapping[str, Mapping[str, int]], weights: Mapping[str, float], k: int
) -> dict[str, float]:
    """`rank_fusion` over explicit ranks (tied items may share a rank)."""
    if k < 0:
        raise ValueError("k must be non-negative")
    fused: dict[str, float] = {}
    for signal in sorted(ranks):  # a fixed summation order: identical floats on every run
        weight = weights.get(signal, 1.0)
        if weight < 0:
            raise ValueError(f"weight of {signal!r} must be non-negative")
        if weight == 0:
            continue
        for item, rank in sorted(ranks[signal].items(), key=lambda pair: (pair[1], pair[0])):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def score_fusion(
    scores: Mapping[str, Mapping[str, float]],
    weights: Mapping[str, float],
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, float]:
    """Weighted sum of normalised scores, divided by the total weight (so the result is in [0, 1]).

    ``scores`` maps a signal to its raw scores. A signal with ``bounds`` (its theoretical minimum and
    maximum) is normalised by them, clipped to [0, 1]; any other by the minimum and maximum it actually
    took. An id a signal did not score counts as that signal's minimum. Unlike reciprocal-rank fusion, a
    record nominated weakly by two signals does not beat one nominated strongly by the better signal.
    """
    ids = sorted({item for values in scores.values() for item in values})
    total = sum(weights.get(signal, 1.0) for signal in scores if weights.get(signal, 1.0) > 0)
    fused = dict.fromkeys(ids, 0.0)
    if total <= 0:
        return fused
    for signal in sorted(scores):  # a fixed summation order: identical floats on every run
        weight = weights.get(signal, 1.0)
        if weight < 0:
            raise ValueError(f"weight of {signal!r} must be non-negative")
        values = scores[signal]
        if weight == 0 or not values:
            continue
        if bounds and signal in bounds:
            low, high = bounds[signal]
        else:
            low, high = min(values.values()), max(values.values())
        span = high - low
        for item in ids:
            raw = values.get(item, low)
            share = min(1.0, max(0.0, (raw - low) / span)) if span > 0 else (1.0 if raw > low else 0.0)
            fused[item] += weight * share / total
    return fused


def with_context(
    scores: Mapping[str, float],
    neighbours: Mapping[str, Sequence[str]],
    weight: float,
    own_weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Each id's own score (times its ``own_weights`` entry, default 1) plus ``weight`` times the best
    own score among its ``neighbours`` (ids without a score count 0):
    ``w(x) * s(x) + weight * max(s(n) for n in neighbours[x])``."""
    factors = own_weights or {}
    return {
        item: factors.get(item, 1.0) * value
        + weight * max((scores.get(n, 0.0) for n in neighbours.get(item, ())), default=0.0)
        for item, value in scores.items()
    }


def _said_by_assistant(record: MemoryRecord) -> bool:
    """True for a raw turn the assistant said (`memagent._turns.turn_record` keeps the role)."""
    return record.kind is MemoryKind.TURN and record.attributes.get("role") == Role.ASSISTANT.value


def _tied_ranks(values: Mapping[str, float]) -> dict[str, int]:
    """Competition ranks (1, 1, 3, ...) of ids by descending value: equal values share a rank."""
    ordered = sorted(values.items(), key=lambda pair: (-pair[1], pair[0]))
    ranks: dict[str, int] = {}
    for position, (item, value) in enumerate(ordered, start=1):
        previous = ordered[position - 2] if position > 1 else None
        ranks[item] = ranks[previous[0]] if previous is not None and previous[1] == value else position
    return ranks


def mmr(
    ids: Sequence[str],
    relevance: Mapping[str, float],
    similarity: Callable[[str, str], float],
    *,
    k: int,
    diversity: float = 0.3,
) -> list[str]:
    """Maximal-marginal-relevance re-rank: trade relevance against similarity to what is already picked.

    Args:
        ids: Candidates (ties in the objective go to the earlier one).
        relevance: Relevance per id (missing ids count 0).
        similarity: Similarity of two ids, e.g. cosine of their embeddings.
        k: How many ids to pick.
        diversity: 0 keeps pure relevance order, 1 only avoids redundancy.

    Returns:
        Up to ``k`` ids in pick order.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError("diversity must be in [0, 1]")
    remaining = list(dict.fromkeys(ids))
    picked: list[str] = []
    while remaining and len(picked) < k:
        best, best_value = remaining[0], float("-inf")
        for item in remaining:
            redundancy = max((similarity(item, other) for other in picked), default=0.0)
            value = (1.0 - diversity) * relevance.get(item, 0.0) - diversity * redundancy
            if value > best_value:
                best, best_value = item, value
        picked.append(best)
        remaining.remove(best)
    return picked


def _effective_filter(filter: RecordFilter | None, include_turns: bool) -> RecordFilter | None:
    """The caller's filter (default: current records), minus TURN records unless they are included.

    Returns None when nothing can pass (the caller asked only for turns while turns are excluded).
    """
    effective = filter if filter is not None else RecordFilter()
    if include_turns:
        return effective
    kinds = effective.kinds if effective.kinds is not None else tuple(MemoryKind)
    kinds = tuple(kind for kind in kinds if kind is not MemoryKind.TURN)
    return effective.model_copy(update={"kinds": kinds}) if kinds else None


def _recency_ranking(records: Mapping[str, MemoryRecord], recency: Mapping[str, float]) -> list[str]:
    """Ids newest first (by decay value, then event time, then id)."""
    return sorted(records, key=lambda rid: (-recency[rid], -records[rid].event_time.timestamp(), rid))


def _turns_around(
    store: MemoryStore,
    user_id: str,
    candidates: dict[str, MemoryRecord],
    effective: RecordFilter,
    admissible: Callable[[MemoryRecord], bool],
) -> dict[str, list[str]]:
    """Who neighbours whom among the candidate turns and the turns just before and after them (both
    ways); the neighbours that were not candidates are fetched and added to ``candidates``. Their BM25
    is not looked up: they were not among its best matches, and they rank through their neighbour."""
    turns = [rid for rid, record in candidates.items() if record.kind is MemoryKind.TURN]
    around = store.adjacent(user_id, turns, effective) if turns else {}
    fresh = sorted({rid for found in around.values() for rid in found} - set(candidates))
    candidates.update((r.id, r) for r in store.get(user_id, fresh) if admissible(r))
    neighbours: dict[str, list[str]] = {}
    for anchor, found in around.items():
        for rid in found:
            if anchor in candidates and rid in candidates:
                neighbours.setdefault(anchor, []).append(rid)
                neighbours.setdefault(rid, []).append(anchor)
    return neighbours


def _score_dense(
    store: MemoryStore,
    user_id: str,
    query_embedding: Sequence[float] | None,
    ids: Sequence[str],
    cosines: dict[str, float],
    signals: dict[str, dict[str, float]],
) -> None:
    """Add the dense signal of candidates the dense search did not nominate (from their stored vectors)."""
    if query_embedding is None or not ids:
        return
    for rid, cosine in store.similarity(user_id, query_embedding, ids).items():
        cosines[rid] = float(cosine)
        signals[rid][DENSE] = float(cosine)


def retrieve(
    store: MemoryStore,
    user_id: str,
    query: str,
    query_embedding: Sequence[float] | None,
    *,
    config: RetrievalConfig,
    top_k: int,
    filter: RecordFilter | None = None,
    now: datetime,
    exclude_turn_ids: Collection[str] = (),
) -> list[ScoredRecord]:
    """The ``top_k`` records of ``user_id`` for ``query``, fused from dense, BM25 and recency rankings.

    Dense candidates are the store's ``candidate_pool`` nearest records; lexical candidates are its
    ``candidate_pool`` best BM25 matches; each signal is then computed for the other's candidates too
    (`MemoryStore.similarity`, ``score_ids``), and recency for all. With ``context_weight`` on, the turns
    around each candidate turn join the candidates (`MemoryStore.adjacent`; scored by dense and recency)
    and every turn adds a share of its best neighbour's score (`with_context`). A query without words
    (or with dense and lexical both switched off) falls back to the most recent records. Each result's
    ``signals`` holds the signals computed for it (``dense``, ``bm25`` when that signal is on and the
    record is one of its candidates or the other's, ``recency``) and the ``fused`` score, which is also
    its ``score``. Ties are broken by id.

    Args:
        store: Where the records live; every call is scoped to ``user_id``.
        user_id: Whose memory to search.
        query: The user's question or message.
        query_embedding: Embedding of ``query`` (None skips the dense signal).
        config: Weights, candidate pool, RRF offset, recency half-life, whether turns are included.
        top_k: How many records to return.
        filter: Which records may be returned; None means current records of every kind.
        now: Reference time of the recency signal.
        exclude_turn_ids: Raw turns to leave out altogether (the message being answered): they are
            neither returned nor lent as context to the turns around them.

    Returns:
        Scored records, best first.
    """
    if top_k <= 0:
        return []
    effective = _effective_filter(filter, config.include_turns)
    if effective is None:
        return []

    excluded = frozenset(exclude_turn_ids)

    def admissible(record: MemoryRecord) -> bool:  # belt and braces over the store's own scoping
        if record.kind is MemoryKind.TURN and not excluded.isdisjoint(record.source_turn_ids):
            return False
        return record.user_id == user_id and effective.matches(record)

    pool = config.candidate_pool
    has_words = _WORD.search(query) is not None
    use_dense = has_words and config.dense_weight > 0 and query_embedding is not None
    use_lexical = has_words and config.lexical_weight > 0

    candidates: dict[str, MemoryRecord] = {}
    signals: dict[str, dict[str, float]] = {}
    ranks: dict[str, dict[str, int]] = {}

    if not (use_dense or use_lexical):
        newest = store.find(user_id, effective, limit=top_k, order=RecordOrder.NEWEST)
        listed = {r.id: r for r in newest if admissible(r)}
        recency = recency_scores(list(listed.values()), now, config.recency_half_life_days)
        ranking = _recency_ranking(listed, recency)
        fused = rank_fusion({RECENCY: ranking}, {RECENCY: 1.0}, config.rrf_k)
        return [
            ScoredRecord(
                record=listed[rid], score=fused[rid], signals={RECENCY: recency[rid], FUSED: fused[rid]}
            )
            for rid in ranking[:top_k]
        ]

    cosines: dict[str, float] = {}
    if use_dense:
        assert query_embedding is not None
        for record, cosine in store.search(user_id, query_embedding, pool, effective):
            if admissible(record) and record.id not in cosines:
                cosines[record.id] = float(cosine)
                candidates[record.id] = record
                signals[record.id] = {DENSE: float(cosine)}
        ranks[DENSE] = _tied_ranks(cosines)

    if use_lexical:
        found = store.lexical_search(user_id, query, pool, effective, score_ids=list(candidates))
        lexical = {rid: value for rid, value in found.scores.items() if rid in candidates}
        matched: dict[str, float] = {}
        for record, value in found.hits:
            if admissible(record) and value > 0 and record.id not in matched:
                matched[record.id] = value
                lexical[record.id] = value
                candidates.setdefault(record.id, record)
                signals.setdefault(record.id, {})
        for rid in candidates:
            signals[rid][LEXICAL] = lexical.get(rid, 0.0)
        ranks[LEXICAL] = _tied_ranks(matched)

    neighbours: dict[str, list[str]] = {}
    if config.context_weight > 0:
        neighbours = _turns_around(store, user_id, candidates, effective, admissible)
        for rid in candidates:
            signals.setdefault(rid, {})
    if use_dense:  # the cosine of whatever the dense search did not nominate, from the stored vectors
        _score_dense(
            store, user_id, query_embedding, [r for r in candidates if r not in cosines], cosines, signals
        )

    recency = recency_scores(list(candidates.values()), now, config.recency_half_life_days)
    for rid, value in recency.items():
        signals[rid][RECENCY] = value

    weights = {DENSE: config.dense_weight, LEXICAL: config.lexical_weight}
    if config.fusion == "rrf":
        ranks[RECENCY] = _tied_ranks(recency)
        own = _fuse_ranks(ranks, {**weights, RECENCY: config.recency_weight}, config.rrf_k)
    else:
        raw = {DENSE: cosines} if use_dense else {}
        # dense: the share of the best cosine among the candidates; BM25 arrives as the share of a full match
        bounds: dict[str, tuple[float, float]] = {DENSE: (0.0, max(cosines.values(), default=0.0))}
        if use_lexical:
            raw[LEXICAL] = {rid: signals[rid].get(LEXICAL, 0.0) for rid in candidates}
            bounds[LEXICAL] = (0.0, 1.0)
        relevance = score_fusion(raw, weights, bounds)
        prior = config.recency_weight
        own = {rid: relevance.get(rid, 0.0) * (1.0 - prior + prior * recency[rid]) for rid in candidates}
    speaker_weights = {
        rid: config.assistant_weight for rid, record in candidates.items() if _said_by_assistant(record)
    }
    own = {rid: own.get(rid, 0.0) for rid in candidates}  # without recency, rrf scores only nominees
    fused = with_context(own, neighbours, config.context_weight, speaker_weights)
    ordered = sorted(candidates, key=lambda rid: (-fused.get(rid, 0.0), rid))
    return [
        ScoredRecord(
            record=candidates[rid],
            score=fused.get(rid, 0.0),
            signals={**signals[rid], FUSED: fused.get(rid, 0.0)},
        )
        for rid in ordered[:top_k]
    ]
