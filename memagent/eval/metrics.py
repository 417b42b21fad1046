"""Pure scoring functions of the evaluation harness.

Evidence metrics compare gold evidence turn ids with a ranked list of *turn-id sets*: a retrieved memory
counts for every turn in its provenance. Embedding-match metrics compare two lists of vectors (predicted
items, gold items) by cosine similarity at several thresholds, never one tuned threshold. Nothing here
does I/O or reads a clock; `bootstrap_interval` draws its resamples from a seeded generator, so it too
gives the same answer for the same input.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MatchCounts",
    "bootstrap_interval",
    "CurrencyResult",
    "cosine_matrix",
    "currency",
    "embedding_match",
    "f1",
    "hit_at_k",
    "mean",
    "ndcg_at_k",
    "p50",
    "p95",
    "percentile",
    "pool",
    "recall_at_k",
    "recall_within_budget",
    "safe_div",
]

Vectors = Sequence[Sequence[float]]


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError("k must be at least 1")


def _evidence(evidence: Collection[str]) -> set[str]:
    gold = set(evidence)
    if not gold:
        raise ValueError("no evidence turn ids: the metric is undefined")
    return gold


def _covered(ranked: Iterable[Collection[str]], gold: set[str]) -> set[str]:
    found: set[str] = set()
    for turn_ids in ranked:
        found.update(gold.intersection(turn_ids))
    return found


def recall_at_k(evidence: Collection[str], ranked: Sequence[Collection[str]], k: int) -> float:
    """Fraction of the evidence turns covered by the provenance of the first ``k`` retrieved items.

    Raises:
        ValueError: ``evidence`` is empty or ``k < 1``.
    """
    _check_k(k)
    gold = _evidence(evidence)
    return len(_covered(ranked[:k], gold)) / len(gold)


def hit_at_k(evidence: Collection[str], ranked: Sequence[Collection[str]], k: int) -> float:
    """1.0 if any of the first ``k`` items covers an evidence turn, else 0.0."""
    _check_k(k)
    gold = _evidence(evidence)
    return 1.0 if _covered(ranked[:k], gold) else 0.0


def ndcg_at_k(evidence: Collection[str], ranked: Sequence[Collection[str]], k: int) -> float:
    """nDCG@k where an item's gain is the number of evidence turns it covers first.

    The ideal ranking places one evidence turn per item at the top (``min(k, |evidence|)`` gains of 1);
    an item covering several evidence turns at once can reach that ideal earlier, so the value is
    clipped to 1.0. Evidence turns already covered by a better-ranked item give no gain again.
    """
    _check_k(k)
    gold = _evidence(evidence)
    seen: set[str] = set()
    dcg = 0.0
    for rank, turn_ids in enumerate(ranked[:k]):
        new = gold.intersection(turn_ids) - seen
        seen |= new
        dcg += len(new) / math.log2(rank + 2)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(gold))))
    return min(1.0, dcg / ideal)


def recall_within_budget(
    evidence: Collection[str], ranked: Sequence[Collection[str]], costs: Sequence[int], budget: int
) -> float:
    """Evidence recall of the items that fit ``budget`` tokens, taken greedily in rank order.

    An item that does not fit is skipped and later (cheaper) items are still tried, as
    `memagent.profile.pack_to_budget` does; so short extracted memories and long raw turns are
    compared at equal cost rather than at equal ``k``.
    """
    if len(costs) != len(ranked):
        raise ValueError("one cost per ranked item is required")
    gold = _evidence(evidence)
    used = 0
    kept: list[Collection[str]] = []
    for turn_ids, cost in zip(ranked, costs, strict=True):
        if used + cost <= budget:
            used += cost
            kept.append(turn_ids)
    return len(_covered(kept, gold)) / len(gold)


def bootstrap_interval(
    values: Sequence[float], *, level: float = 0.95, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (resampled with replacement,
    ``resamples`` times, from a generator seeded with ``seed``).

    Raises:
        ValueError: ``values`` is empty, ``level`` is not in (0, 1) or ``resamples < 1``.
    """
    if not values:
        raise ValueError("no values: the interval is undefined")
    if not 0.0 < level < 1.0:
        raise ValueError("level must be in (0, 1)")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    data = np.asarray(values, dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, data.size, size=(resamples, data.size))
    means = data[picks].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def safe_div(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when the denominator is 0 (an undefined rate)."""
    return None if denominator == 0 else numerator / denominator


def f1(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean of precision and recall (None if either is undefined, 0.0 if both are 0)."""
    if precision is None or recall is None:
        return None
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def cosine_matrix(a: Vectors, b: Vectors) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (shape ``len(a) x len(b)``)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=np.float64)
    left = np.asarray(a, dtype=np.float64)
    right = np.asarray(b, dtype=np.float64)
    left = left / np.maximum(np.linalg.norm(left, axis=1, keepdims=True), 1e-12)
    right = right / np.maximum(np.linalg.norm(right, axis=1, keepdims=True), 1e-12)
    cosines: np.ndarray = left @ right.T
    return cosines


@dataclass(frozen=True)
class MatchCounts:
    """Embedding-match counts of one comparison at one threshold (poolable across items)."""

    threshold: float
    n_pred: int
    n_gold: int
    pred_matched: int
    """Predicted items with cosine >= threshold to some gold item."""
    gold_matched: int
    """Gold items with cosine >= threshold to some predicted item."""

    @property
    def precision(self) -> float | None:
        """Share of predicted items that match some gold item (None without predictions)."""
        return safe_div(self.pred_matched, self.n_pred)

    @property
    def recall(self) -> float | None:
        """Share of gold items matched by some predicted item (None without gold)."""
        return safe_div(self.gold_matched, self.n_gold)

    @property
    def f1(self) -> float | None:
        """Harmonic mean of precision and recall; 0.0 when there is gold but no prediction."""
        if self.n_gold and not self.n_pred:
            return 0.0
        return f1(self.precision, self.recall)


def embedding_match(pred: Vectors, gold: Vectors, thresholds: Sequence[float]) -> dict[float, MatchCounts]:
    """Precision/recall counts of ``pred`` against ``gold`` at each threshold.

    A gold item is recalled if some predicted vector has cosine >= t with it; a predicted item is
    precise if it matches some gold item at the same threshold.
    """
    sims = cosine_matrix(pred, gold)
    best_for_gold = sims.max(axis=0) if sims.size else np.zeros(len(gold))
    best_for_pred = sims.max(axis=1) if sims.size else np.zeros(len(pred))
    out: dict[float, MatchCounts] = {}
    for t in thresholds:
        out[t] = MatchCounts(
            threshold=t,
            n_pred=len(pred),
            n_gold=len(gold),
            pred_matched=int((best_for_pred >= t).sum()) if len(gold) else 0,
            gold_matched=int((best_for_gold >= t).sum()) if len(pred) else 0,
        )
    return out


def pool(counts: Iterable[MatchCounts]) -> MatchCounts:
    """Micro-average: the sum of several comparisons' counts (all at one threshold)."""
    items = list(counts)
    thresholds = {c.threshold for c in items}
    if len(thresholds) > 1:
        raise ValueError(f"cannot pool counts of different thresholds: {sorted(thresholds)}")
    return MatchCounts(
        threshold=thresholds.pop() if thresholds else float("nan"),
        n_pred=sum(c.n_pred for c in items),
        n_gold=sum(c.n_gold for c in items),
        pred_matched=sum(c.pred_matched for c in items),
        gold_matched=sum(c.gold_matched for c in items),
    )


@dataclass(frozen=True)
class CurrencyResult:
    """Whether a context holds the new value of a changed preference and not the old one."""

    new_present: bool
    old_present: bool

    @property
    def current(self) -> bool:
        """New value present and old value absent."""
        return self.new_present and not self.old_present


def currency(lines: Vectors, old: Sequence[float], new: Sequence[float], threshold: float) -> CurrencyResult:
    """Currency of one (old, new) preference pair in a context, by embedding match.

    A line *holds* a value when its cosine with that value is >= ``threshold`` and strictly greater than
    its cosine with the other value (old and new statements are usually close to each other, so a line
    is attributed to the nearer one). The context is current when some line holds the new value and no
    line holds the old one.
    """
    if len(lines) == 0:
        return CurrencyResult(new_present=False, old_present=False)
    sims = cosine_matrix(lines, [old, new])
    to_old, to_new = sims[:, 0], sims[:, 1]
    new_present = bool(((to_new >= threshold) & (to_new > to_old)).any())
    old_present = bool(((to_old >= threshold) & (to_old > to_new)).any())
    return CurrencyResult(new_present=new_present, old_present=old_present)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; None for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be within [0, 100]")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def p50(values: Sequence[float]) -> float | None:
    """Median (None for no values)."""
    return percentile(values, 50)


def p95(values: Sequence[float]) -> float | None:
    """95th percentile (None for no values)."""
    return percentile(values, 95)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values (None if there are none)."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None
