"""Metric math on hand-made cases."""

from __future__ import annotations

import math

import pytest

from memagent.eval.metrics import (
    MatchCounts,
    bootstrap_interval,
    cosine_matrix,
    currency,
    embedding_match,
    f1,
    hit_at_k,
    mean,
    ndcg_at_k,
    p50,
    p95,
    percentile,
    pool,
    recall_at_k,
    recall_within_budget,
)

RANKED = [("t9",), ("t1", "t2"), ("t5",), ("t3",)]


def test_recall_counts_every_turn_in_a_memory_provenance() -> None:
    assert recall_at_k({"t1", "t3"}, RANKED, 1) == 0.0
    assert recall_at_k({"t1", "t3"}, RANKED, 2) == 0.5
    assert recall_at_k({"t1", "t3"}, RANKED, 4) == 1.0
    assert recall_at_k({"t1", "t2"}, RANKED, 2) == 1.0  # one memory covers two evidence turns
    assert recall_at_k({"t1"}, RANKED, 100) == 1.0


def test_hit_at_k() -> None:
    assert hit_at_k({"t3"}, RANKED, 3) == 0.0
    assert hit_at_k({"t3"}, RANKED, 4) == 1.0
    assert hit_at_k({"zz"}, [], 5) == 0.0


def test_empty_evidence_or_bad_k_is_an_error() -> None:
    with pytest.raises(ValueError):
        recall_at_k(set(), RANKED, 5)
    with pytest.raises(ValueError):
        ndcg_at_k({"t1"}, RANKED, 0)


def test_ndcg_perfect_and_discounted() -> None:
    assert ndcg_at_k({"a", "b"}, [("a",), ("b",), ("c",)], 3) == pytest.approx(1.0)
    # one evidence turn at rank 2 of a single-evidence question: 1/log2(3)
    assert ndcg_at_k({"b"}, [("a",), ("b",)], 2) == pytest.approx(1 / math.log2(3))
    # the same evidence turn again gives no gain
    assert ndcg_at_k({"a", "b"}, [("a",), ("a",), ("b",)], 3) == pytest.approx(
        (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    )
    # one memory covering both evidence turns at rank 1 is perfect (clipped)
    assert ndcg_at_k({"a", "b"}, [("a", "b")], 5) == 1.0
    assert ndcg_at_k({"a"}, [("x",), ("y",)], 2) == 0.0


def test_recall_within_budget_skips_what_does_not_fit() -> None:
    ranked = [("a",), ("b",), ("c",)]
    assert recall_within_budget({"a", "c"}, ranked, [50, 80, 10], 60) == 1.0  # b skipped, c still fits
    assert recall_within_budget({"b"}, ranked, [50, 80, 10], 60) == 0.0
    assert recall_within_budget({"b"}, ranked, [50, 80, 10], 130) == 1.0
    with pytest.raises(ValueError):
        recall_within_budget({"a"}, ranked, [1, 2], 10)


def test_cosine_matrix_normalises() -> None:
    sims = cosine_matrix([[2.0, 0.0], [1.0, 1.0]], [[1.0, 0.0]])
    assert sims.shape == (2, 1)
    assert sims[0, 0] == pytest.approx(1.0)
    assert sims[1, 0] == pytest.approx(math.sqrt(0.5))
    assert cosine_matrix([], [[1.0]]).shape == (0, 1)


def _unit(deg: float) -> list[float]:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def test_embedding_match_at_several_thresholds() -> None:
    gold = [_unit(0), _unit(90)]
    pred = [_unit(10), _unit(50), _unit(200)]  # cos: 0.98 to gold0; 0.77 to gold1 (0.64 to gold0); far
    out = embedding_match(pred, gold, [0.5, 0.7, 0.9])
    assert out[0.5] == MatchCounts(threshold=0.5, n_pred=3, n_gold=2, pred_matched=2, gold_matched=2)
    assert out[0.7].gold_matched == 2 and out[0.7].pred_matched == 2
    assert out[0.9].gold_matched == 1 and out[0.9].pred_matched == 1
    assert out[0.9].precision == pytest.approx(1 / 3)
    assert out[0.9].recall == pytest.approx(0.5)
    assert out[0.9].f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))


def test_embedding_match_edge_cases() -> None:
    nothing = embedding_match([], [_unit(0)], [0.5])[0.5]
    assert nothing.recall == 0.0 and nothing.precision is None and nothing.f1 == 0.0
    no_gold = embedding_match([_unit(0)], [], [0.5])[0.5]
    assert no_gold.recall is None and no_gold.precision == 0.0


def test_pool_is_micro_average() -> None:
    a = MatchCounts(0.6, n_pred=10, n_gold=2, pred_matched=1, gold_matched=2)
    b = MatchCounts(0.6, n_pred=0, n_gold=3, pred_matched=0, gold_matched=0)
    pooled = pool([a, b])
    assert pooled.precision == pytest.approx(0.1)
    assert pooled.recall == pytest.approx(0.4)
    with pytest.raises(ValueError):
        pool([a, MatchCounts(0.5, 1, 1, 1, 1)])


def test_currency_attributes_a_line_to_the_nearer_value() -> None:
    old, new = _unit(0), _unit(40)  # cos(old, new) = 0.77
    assert currency([_unit(38)], old, new, 0.6).current  # nearer new: new present, old not
    stale = currency([_unit(2)], old, new, 0.6)
    assert stale.old_present and not stale.new_present and not stale.current
    both = currency([_unit(38), _unit(2)], old, new, 0.6)
    assert both.new_present and both.old_present and not both.current
    assert not currency([], old, new, 0.6).current
    assert not currency([_unit(120)], old, new, 0.6).new_present


def test_percentiles_and_mean() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert p50(values) == 3.0
    assert p95(values) == pytest.approx(4.8)
    assert percentile([7.0], 95) == 7.0
    assert p50([]) is None
    with pytest.raises(ValueError):
        percentile(values, 101)
    assert mean([1.0, None, 3.0]) == 2.0
    assert mean([None]) is None
    assert f1(0.0, 0.0) == 0.0 and f1(None, 1.0) is None


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_data() -> None:
    few = [1.0, 0.0] * 10
    many = [1.0, 0.0] * 1000
    low, high = bootstrap_interval(few)
    assert low < 0.5 < high and high - low > 0.3
    low_many, high_many = bootstrap_interval(many)
    assert low_many < 0.5 < high_many and high_many - low_many < 0.05
    assert bootstrap_interval(few) == (low, high)  # seeded: the same values give the same interval
    assert bootstrap_interval([0.7] * 5) == pytest.approx((0.7, 0.7))
    with pytest.raises(ValueError):
        bootstrap_interval([])
    with pytest.raises(ValueError):
        bootstrap_interval([1.0], level=1.0)
