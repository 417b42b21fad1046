"""Tests of `memagent.retrieval`: fusion math, signal switches, BM25, recency, filters and user scoping."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from memagent.config import RetrievalConfig
from memagent.interfaces import LexicalHits, MemoryStore
from memagent.lexical import bm25_scores, bm25_upper_bound, tokenize
from memagent.retrieval import mmr, rank_fusion, recency_scores, retrieve, with_context
from memagent.stores import InProcessStore
from memagent.testing.fakes import FakeEmbedder
from memagent.types import MemoryKind, MemoryRecord, RecordFilter, RecordOrder, Role

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def make_record(
    rid: str,
    content: str,
    *,
    user: str = "u1",
    kind: MemoryKind = MemoryKind.FACT,
    days_ago: float = 10.0,
    valid_until: datetime | None = None,
) -> MemoryRecord:
    when = NOW - timedelta(days=days_ago)
    return MemoryRecord(
        id=rid,
        user_id=user,
        kind=kind,
        content=content,
        event_time=when,
        record_time=when,
        valid_from=when,
        valid_until=valid_until,
        source_turn_ids=[f"t-{rid}"],
    )


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = (math.sqrt(sum(x * x for x in a)) or 1.0) * (math.sqrt(sum(x * x for x in b)) or 1.0)
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm


class ListStore(MemoryStore):
    """A minimal reference store (every read scans a list) that records the calls it gets."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[MemoryRecord, list[float]]] = {}
        self.calls: list[tuple[str, str, RecordFilter | None]] = []

    def put(
        self,
        records: Sequence[MemoryRecord],
        embeddings: Sequence[Sequence[float]],
        *,
        updated: Sequence[MemoryRecord] = (),
    ) -> None:
        for record in updated:
            self.rows[(record.user_id, record.id)] = (record, self.rows[(record.user_id, record.id)][1])
        for record, embedding in zip(records, embeddings, strict=True):
            self.rows[(record.user_id, record.id)] = (record, list(embedding))

    def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        return [self.rows[(user_id, i)][0] for i in ids if (user_id, i) in self.rows]

    def _users_rows(self, user_id: str) -> list[tuple[MemoryRecord, list[float]]]:
        return [(r, e) for (u, _), (r, e) in self.rows.items() if u == user_id]

    def _matching(self, user_id: str, filter: RecordFilter | None) -> list[tuple[MemoryRecord, list[float]]]:
        flt = filter or RecordFilter()
        return [(r, e) for r, e in self._users_rows(user_id) if flt.matches(r)]

    def find(
        self,
        user_id: str,
        filter: RecordFilter | None = None,
        *,
        limit: int,
        order: RecordOrder = RecordOrder.OLDEST,
        after: MemoryRecord | None = None,
    ) -> list[MemoryRecord]:
        self.calls.append(("find", user_id, filter))
        rows = [r for r, _ in self._matching(user_id, filter)]
        if order is RecordOrder.NEWEST:
            rows.sort(key=lambda r: (-r.event_time.timestamp(), r.id))
        else:
            rows.sort(key=lambda r: (r.event_time, r.id))
        if after is not None:
            rows = [r for r in rows if (r.event_time, r.id) > (after.event_time, after.id)]
        return rows[:limit]

    def count(self, user_id: str, filter: RecordFilter | None = None) -> int:
        return len(self._matching(user_id, filter))

    def adjacent(
        self, user_id: str, ids: Sequence[str], filter: RecordFilter | None = None
    ) -> dict[str, list[str]]:
        turns = sorted(
            (r for r, _ in self._matching(user_id, filter) if r.kind is MemoryKind.TURN),
            key=lambda r: r.event_time,
        )
        out: dict[str, list[str]] = {}
        for anchor in self.get(user_id, ids):
            if anchor.kind is not MemoryKind.TURN:
                continue
            before = [r for r in turns if r.event_time < anchor.event_time][-1:]
            after = [r for r in turns if r.event_time > anchor.event_time][:1]
            out[anchor.id] = [r.id for r in before + after if r.session_id == anchor.session_id]
        return out

    def search(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        self.calls.append(("search", user_id, filter))
        scored = [(record, _cosine(embedding, vector)) for record, vector in self._matching(user_id, filter)]
        scored.sort(key=lambda pair: (-pair[1], pair[0].id))
        return scored[:k]

    def similarity(self, user_id: str, embedding: Sequence[float], ids: Sequence[str]) -> dict[str, float]:
        self.calls.append(("similarity", user_id, None))
        return {i: _cosine(embedding, self.rows[(user_id, i)][1]) for i in ids if (user_id, i) in self.rows}

    def lexical_search(
        self,
        user_id: str,
        query: str,
        k: int,
        filter: RecordFilter | None = None,
        *,
        score_ids: Sequence[str] = (),
    ) -> LexicalHits:
        """BM25 over every record of the user (the index's statistics), then the filter."""
        self.calls.append(("lexical", user_id, filter))
        docs = [(r.id, r.content) for r, _ in self._users_rows(user_id)]
        bound = bm25_upper_bound(query, docs)
        scores = {i: v / bound for i, v in bm25_scores(query, docs).items()} if bound > 0 else {}
        hits = [(r, scores[r.id]) for r, _ in self._matching(user_id, filter) if scores.get(r.id, 0.0) > 0]
        hits.sort(key=lambda pair: (-pair[1], pair[0].id))
        return LexicalHits(hits=hits[:k], scores={i: scores.get(i, 0.0) for i in score_ids})

    def delete(self, user_id: str, ids: Sequence[str]) -> int:
        return sum(self.rows.pop((user_id, i), None) is not None for i in ids)

    def delete_user(self, user_id: str) -> int:
        raise NotImplementedError

    def users(self) -> list[str]:
        return sorted({u for u, _ in self.rows})


def embedded_store(
    records: Sequence[MemoryRecord], embedder: FakeEmbedder | None = None, store: MemoryStore | None = None
) -> ListStore:
    embedder = embedder or FakeEmbedder()
    store = store if store is not None else ListStore()
    store.put(records, embedder.embed([r.content for r in records]))
    return store  # type: ignore[return-value]


def _in_process_store() -> MemoryStore:
    stores = pytest.importorskip("memagent.stores")
    return stores.InProcessStore()


def ids(results) -> list[str]:
    return [r.record.id for r in results]


# --- rank_fusion ---------------------------------------------------------------------------------


def test_rank_fusion_is_weighted_reciprocal_rank() -> None:
    fused = rank_fusion({"a": ["x", "y"], "b": ["y", "z"]}, {"a": 1.0, "b": 2.0}, k=60)
    assert fused == pytest.approx({"x": 1 / 61, "y": 1 / 62 + 2 / 61, "z": 2 / 62})


def test_rank_fusion_zero_weight_switches_a_signal_off() -> None:
    rankings = {"a": ["x", "y"], "b": ["z", "x"]}
    fused = rank_fusion(rankings, {"a": 1.0, "b": 0.0}, k=10)
    assert fused == pytest.approx({"x": 1 / 11, "y": 1 / 12})
    assert "z" not in fused  # an off signal does not even nominate candidates
    assert fused == rank_fusion({"a": ["x", "y"]}, {"a": 1.0}, k=10)


def test_rank_fusion_defaults_duplicates_and_errors() -> None:
    assert rank_fusion({"a": ["x", "x", "y"]}, {}, k=0) == pytest.approx({"x": 1.0, "y": 1 / 2})
    assert rank_fusion({}, {}, k=60) == {}
    with pytest.raises(ValueError):
        rank_fusion({"a": ["x"]}, {"a": -1.0})
    with pytest.raises(ValueError):
        rank_fusion({"a": ["x"]}, {"a": 1.0}, k=-1)


# --- recency and BM25 ----------------------------------------------------------------------------


def test_recency_scores_decay_by_half_life() -> None:
    records = [
        make_record("old", "x", days_ago=60),
        make_record("mid", "x", days_ago=30),
        make_record("new", "x", days_ago=0),
        make_record("future", "x", days_ago=-5),
    ]
    scores = recency_scores(records, NOW, half_life_days=30)
    assert scores == pytest.approx({"old": 0.25, "mid": 0.5, "new": 1.0, "future": 1.0})
    naive = recency_scores(records, NOW.replace(tzinfo=None), half_life_days=30)
    assert naive == scores
    with pytest.raises(ValueError):
        recency_scores(records, NOW, half_life_days=0)


def test_tokenize_lowercases_drops_stopwords_and_stems() -> None:
    assert tokenize("The Sushi in TOKYO, and a ramen!") == ["sushi", "tokyo", "ramen"]
    assert tokenize("What did she paint? I've painted paintings") == ["paint", "paint", "paint"]
    assert tokenize("Caroline's hiking trips") == ["carolin", "hike", "trip"]


def test_bm25_scores_exact_words_and_idf() -> None:
    docs = [
        ("d1", "User loves sushi in Tokyo"),
        ("d2", "User has a dog"),
        ("d3", "User likes ramen in Tokyo"),
    ]
    scores = bm25_scores("sushi tokyo", docs)
    assert set(scores) == {"d1", "d2", "d3"}
    assert scores["d2"] == 0.0
    assert scores["d1"] > scores["d3"] > 0.0  # d1 also matches the rarer "sushi"
    assert bm25_scores("Sushi!!", docs)["d1"] == pytest.approx(bm25_scores("sushi sushi", docs)["d1"])


@pytest.mark.parametrize(
    ("query", "docs"),
    [
        ("sushi", []),
        ("", [("d1", "sushi")]),
        ("the and of", [("d1", "sushi")]),  # stopwords only
        ("sushi", [("d1", ""), ("d2", "the a")]),  # nothing indexable
        ("zebra", [("d1", "sushi")]),  # no shared term
    ],
)
def test_bm25_scores_degenerate_inputs_give_zeros(query: str, docs: list[tuple[str, str]]) -> None:
    assert bm25_scores(query, docs) == {doc_id: 0.0 for doc_id, _ in docs}


def test_mmr_trades_relevance_for_diversity() -> None:
    relevance = {"a": 1.0, "a2": 0.95, "b": 0.6}
    same = {frozenset({"a", "a2"})}

    def similarity(x: str, y: str) -> float:
        return 1.0 if frozenset({x, y}) in same else 0.0

    assert mmr(["a", "a2", "b"], relevance, similarity, k=2, diversity=0.0) == ["a", "a2"]
    assert mmr(["a", "a2", "b"], relevance, similarity, k=2, diversity=0.5) == ["a", "b"]


# --- retrieve ------------------------------------------------------------------------------------


def _unit(i: int, dim: int = 4) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(dim)]


def _lexical_scenario() -> tuple[ListStore, list[float]]:
    """Dense misses "zanzibar": its vector is orthogonal to the query, distractors are close."""
    store = ListStore()
    records = [
        make_record("near1", "User enjoys travelling"),
        make_record("near2", "User went on a holiday"),
        make_record("near3", "User likes beaches"),
        make_record("target", "User's honeymoon was in Zanzibar"),
    ]
    store.put(records, [[0.9, 0.1, 0, 0], [0.8, 0.2, 0, 0], [0.7, 0.3, 0, 0], _unit(3)])
    return store, _unit(0)


def test_bm25_finds_exact_word_matches_that_dense_misses() -> None:
    store, query_vec = _lexical_scenario()
    query = "Where was my honeymoon, Zanzibar?"
    dense_only = RetrievalConfig(lexical_weight=0.0, recency_weight=0.0, candidate_pool=2)
    hybrid = RetrievalConfig(recency_weight=0.0, candidate_pool=2)
    kwargs = {"top_k": 3, "now": NOW}
    assert "target" not in ids(retrieve(store, "u1", query, query_vec, config=dense_only, **kwargs))
    results = retrieve(store, "u1", query, query_vec, config=hybrid, **kwargs)
    by_id = {r.record.id: r for r in results}
    assert "target" in by_id
    assert by_id["target"].signals["bm25"] > 0
    assert by_id["target"].signals["dense"] == pytest.approx(0.0)  # scored though dense did not nominate it
    assert by_id["near1"].signals["dense"] == pytest.approx(store.search("u1", query_vec, 1)[0][1])
    for result in results:
        assert result.signals["fused"] == result.score


def test_dense_weight_zero_leaves_only_lexical_candidates() -> None:
    store, query_vec = _lexical_scenario()
    config = RetrievalConfig(dense_weight=0.0)
    results = retrieve(store, "u1", "zanzibar", query_vec, config=config, top_k=5, now=NOW)
    assert ids(results) == ["target"]
    assert set(results[0].signals) == {"bm25", "recency", "fused"}
    assert not any(call[0] == "search" for call in store.calls)


def test_fused_scores_follow_rank_fusion() -> None:
    store, query_vec = _lexical_scenario()
    config = RetrievalConfig(fusion="rrf", dense_weight=2.0, lexical_weight=0.5, recency_weight=0.0, rrf_k=5)
    results = retrieve(store, "u1", "zanzibar", query_vec, config=config, top_k=4, now=NOW)
    expected = {"near1": 2 / 6, "near2": 2 / 7, "near3": 2 / 8, "target": 2 / 9 + 0.5 / 6}
    assert {r.record.id: r.score for r in results} == pytest.approx(expected)
    assert ids(results) == sorted(expected, key=lambda i: -expected[i])


def test_recency_breaks_content_ties_and_weight_zero_falls_back_to_id() -> None:
    records = [
        make_record("a-old", "User plays chess", days_ago=300),
        make_record("b-new", "User plays chess", days_ago=1),
    ]
    store = embedded_store(records)
    query_vec = FakeEmbedder().embed(["chess"])[0]
    with_recency = retrieve(store, "u1", "chess", query_vec, config=RetrievalConfig(), top_k=2, now=NOW)
    assert ids(with_recency) == ["b-new", "a-old"]
    assert with_recency[0].signals["recency"] > with_recency[1].signals["recency"]
    no_recency = RetrievalConfig(recency_weight=0.0)
    tied = retrieve(store, "u1", "chess", query_vec, config=no_recency, top_k=2, now=NOW)
    assert tied[0].score == tied[1].score
    assert ids(tied) == ["a-old", "b-new"]


@pytest.mark.parametrize("query", ["", "   ", "?!"])
def test_empty_query_ranks_by_recency(query: str) -> None:
    records = [make_record(f"r{d}", f"memory {d}", days_ago=d) for d in (50, 5, 500, 20)]
    store = embedded_store(records)
    results = retrieve(store, "u1", query, [1.0] + [0.0] * 127, config=RetrievalConfig(), top_k=3, now=NOW)
    assert ids(results) == ["r5", "r20", "r50"]
    assert results[0].score > results[1].score > results[2].score
    assert set(results[0].signals) == {"recency", "fused"}


def test_turns_are_left_out_unless_included() -> None:
    records = [
        make_record("turn", "Alice: I adore sushi", kind=MemoryKind.TURN),
        make_record("pref", "User likes sushi", kind=MemoryKind.PREFERENCE),
    ]
    store = embedded_store(records)
    query_vec = FakeEmbedder().embed(["sushi"])[0]
    with_turns = retrieve(store, "u1", "sushi", query_vec, config=RetrievalConfig(), top_k=5, now=NOW)
    assert set(ids(with_turns)) == {"turn", "pref"}
    no_turns = RetrievalConfig(include_turns=False)
    assert ids(retrieve(store, "u1", "sushi", query_vec, config=no_turns, top_k=5, now=NOW)) == ["pref"]
    for _, _, flt in store.calls[-2:]:
        assert flt is not None and MemoryKind.TURN not in (flt.kinds or ())
    only_turns = RecordFilter(kinds=(MemoryKind.TURN,))
    store.calls.clear()
    assert (
        retrieve(store, "u1", "sushi", query_vec, config=no_turns, top_k=5, filter=only_turns, now=NOW) == []
    )
    assert store.calls == []


def test_filters_pass_through_to_the_store() -> None:
    old_until = NOW - timedelta(days=20)
    records = [
        make_record(
            "old-diet", "User eats meat", kind=MemoryKind.PREFERENCE, days_ago=100, valid_until=old_until
        ),
        make_record("diet", "User is vegetarian, no meat", kind=MemoryKind.PREFERENCE, days_ago=20),
        make_record("trip", "User visited a meat market", kind=MemoryKind.EVENT, days_ago=5),
    ]
    store = embedded_store(records)
    query_vec = FakeEmbedder().embed(["meat"])[0]
    config = RetrievalConfig()
    current = retrieve(store, "u1", "meat", query_vec, config=config, top_k=5, now=NOW)
    assert set(ids(current)) == {"diet", "trip"}  # default filter: current records only
    prefs = RecordFilter(kinds=(MemoryKind.PREFERENCE,))
    assert ids(retrieve(store, "u1", "meat", query_vec, config=config, top_k=5, filter=prefs, now=NOW)) == [
        "diet"
    ]
    assert {call[2] for call in store.calls[-2:]} == {prefs}
    history = RecordFilter(as_of=NOW - timedelta(days=50))
    assert ids(retrieve(store, "u1", "meat", query_vec, config=config, top_k=5, filter=history, now=NOW)) == [
        "old-diet"
    ]


@pytest.mark.parametrize("backend", ["list", "in-process"])
def test_user_isolation_holds_via_the_store(backend: str) -> None:
    records = [
        make_record("mine", "User owns a red bicycle", user="u1"),
        make_record("theirs", "User owns a red bicycle", user="u2"),
    ]
    store = embedded_store(records, store=ListStore() if backend == "list" else _in_process_store())
    query_vec = FakeEmbedder().embed(["red bicycle"])[0]
    for user, expected in (("u1", ["mine"]), ("u2", ["theirs"]), ("u3", [])):
        results = retrieve(store, user, "red bicycle", query_vec, config=RetrievalConfig(), top_k=5, now=NOW)
        assert ids(results) == expected
        assert all(r.record.user_id == user for r in results)
    if isinstance(store, ListStore):
        assert {call[1] for call in store.calls} == {"u1", "u2", "u3"}


def test_records_of_other_users_from_a_leaky_store_are_dropped() -> None:
    class LeakyStore(ListStore):
        def _matching(self, user_id, filter):  # ignores the user: a broken backend
            return [(r, e) for (r, e) in self.rows.values() if (filter or RecordFilter()).matches(r)]

    store = LeakyStore()
    records = [make_record("mine", "bicycle", user="u1"), make_record("theirs", "bicycle", user="u2")]
    store.put(records, FakeEmbedder().embed(["bicycle", "bicycle"]))
    query_vec = FakeEmbedder().embed(["bicycle"])[0]
    assert ids(retrieve(store, "u1", "bicycle", query_vec, config=RetrievalConfig(), top_k=5, now=NOW)) == [
        "mine"
    ]


def test_retrieve_is_deterministic_and_respects_top_k() -> None:
    embedder = FakeEmbedder()
    records = [
        make_record(f"r{i:02d}", f"User note number {i % 3} about cats", days_ago=i % 4) for i in range(30)
    ]
    store = embedded_store(records, embedder)
    query_vec = embedder.embed(["note about cats"])[0]
    config = RetrievalConfig(candidate_pool=10)
    first = retrieve(store, "u1", "note about cats", query_vec, config=config, top_k=7, now=NOW)
    second = retrieve(store, "u1", "note about cats", query_vec, config=config, top_k=7, now=NOW)
    assert len(first) == 7
    assert [r.model_dump() for r in first] == [r.model_dump() for r in second]
    assert [r.score for r in first] == sorted((r.score for r in first), reverse=True)
    assert retrieve(store, "u1", "cats", query_vec, config=config, top_k=0, now=NOW) == []


def test_score_fusion_normalises_each_signal_and_weights_them() -> None:
    from memagent.retrieval import score_fusion

    fused = score_fusion(
        {"dense": {"a": 0.9, "b": 0.5, "c": 0.1}, "bm25": {"b": 12.0, "c": 2.0}}, {"dense": 3, "bm25": 1}
    )
    # a: dense 1.0, bm25 missing -> its minimum (0); b: dense 0.5, bm25 1.0; c: 0 and 0
    assert fused == pytest.approx({"a": 0.75, "b": 0.625, "c": 0.0})
    assert score_fusion({"dense": {"a": 1.0}}, {"dense": 0}) == {"a": 0.0}


def test_a_strong_dense_match_is_not_outvoted_by_weak_double_nominations() -> None:
    """Under RRF two weak nominations beat the best dense match; under score fusion they do not."""
    from memagent.retrieval import score_fusion

    dense = {"pref": 0.62, **{f"filler{i}": 0.30 - 0.01 * i for i in range(10)}}
    lexical = {f"filler{i}": 5.0 - 0.1 * i for i in range(10)}  # incidental word overlap only
    fused = score_fusion({"dense": dense, "bm25": lexical}, {"dense": 1.0, "bm25": 0.4})
    assert max(fused, key=fused.__getitem__) == "pref"
    rrf = rank_fusion(
        {"dense": sorted(dense, key=lambda i: -dense[i]), "bm25": sorted(lexical, key=lambda i: -lexical[i])},
        {"dense": 1.0, "bm25": 0.4},
    )
    assert max(rrf, key=rrf.__getitem__) != "pref"


def test_recency_prior_reorders_ties_but_cannot_outvote_relevance() -> None:
    old, new = datetime(2020, 1, 1, tzinfo=UTC), NOW
    store = InProcessStore()
    embed = FakeEmbedder()
    texts = {"old-match": ("User loves sailing boats", old), "new-other": ("User went to a bakery", new)}
    recs = [
        MemoryRecord(
            id=i, user_id="u", kind=MemoryKind.FACT, content=t, event_time=w, record_time=w, valid_from=w
        )
        for i, (t, w) in texts.items()
    ]
    store.put(recs, embed.embed([r.content for r in recs]))
    results = retrieve(
        store,
        "u",
        "sailing boats",
        embed.embed(["sailing boats"])[0],
        config=RetrievalConfig(),
        top_k=2,
        now=NOW,
    )
    assert ids(results)[0] == "old-match"


def test_bm25_full_match_bound_scales_strong_matches_high_and_incidental_overlap_low() -> None:
    docs = [(f"d{i}", f"filler message number {i} about the weather and travel") for i in range(30)]
    docs.append(("hit", "Zanzibar ferry tickets for Zanzibar on 12 March, Zanzibar again"))
    query = "zanzibar ferry tickets march"
    scores = bm25_scores(query, docs)
    bound = bm25_upper_bound(query, docs)
    assert bound > 0
    assert scores["hit"] / bound > 0.7
    assert all(v / bound < 0.4 for k, v in scores.items() if k != "hit")
    incidental = bm25_scores("weather in zanzibar ferry schedule tickets", docs)["d3"]
    assert incidental / bm25_upper_bound("weather in zanzibar ferry schedule tickets", docs) < 0.15
    assert bm25_upper_bound("", docs) == 0.0 and bm25_upper_bound("unknownword", docs) == 0.0


def test_with_context_adds_a_share_of_the_best_neighbour() -> None:
    scores = {"a": 1.0, "b": 0.2, "c": 0.6, "lone": 0.4}
    neighbours = {"a": ["b"], "b": ["a", "c"], "c": ["b"], "lone": ["gone"]}
    assert with_context(scores, neighbours, 0.5) == pytest.approx(
        {"a": 1.1, "b": 0.7, "c": 0.7, "lone": 0.4}  # a neighbour without a score counts 0
    )
    assert with_context(scores, neighbours, 0.0) == scores


def _conversation_scenario() -> tuple[ListStore, list[float]]:
    """The answer turn shares nothing with the question; the turn before it matches it exactly."""

    def turn(rid: str, content: str, session: str, days_ago: float) -> MemoryRecord:
        record = make_record(rid, content, kind=MemoryKind.TURN, days_ago=days_ago)
        return record.model_copy(update={"session_id": session})

    store = ListStore()
    records = [
        turn("ask", "Caroline: did you visit the gallery?", "s1", 10.0),
        turn("answer", "Melanie: yes, last Saturday", "s1", 9.99),
        turn("other", "Caroline: I took a painting class", "s2", 5.0),
    ]
    store.put(records, [_unit(0), _unit(1), [0.6, 0.8, 0.0, 0.0]])
    return store, _unit(0)


def test_the_turn_around_a_match_is_fetched_and_ranked_as_its_context() -> None:
    store, query_vec = _conversation_scenario()
    query = "When was the gallery visit?"
    plain = RetrievalConfig(recency_weight=0.0, candidate_pool=2, context_weight=0.0)
    kwargs = {"top_k": 2, "now": NOW}
    assert ids(retrieve(store, "u1", query, query_vec, config=plain, **kwargs)) == ["ask", "other"]
    with_turns_around = plain.model_copy(update={"context_weight": 0.5})
    results = retrieve(store, "u1", query, query_vec, config=with_turns_around, **kwargs)
    assert ids(results) == ["ask", "answer"]
    ask, answer = results
    assert answer.signals["dense"] == pytest.approx(0.0)  # scored, though neither signal nominated it
    assert "bm25" not in answer.signals  # fetched as context only: its BM25 is not looked up
    assert answer.score == pytest.approx(0.5 * ask.score)  # its own score is 0; ask's neighbour adds none


def test_an_assistant_turn_keeps_a_share_of_its_score_and_lends_all_of_it_as_context() -> None:
    def said(rid: str, role: Role, days_ago: float) -> MemoryRecord:
        record = make_record(rid, "we talked about the gallery", kind=MemoryKind.TURN, days_ago=days_ago)
        return record.model_copy(update={"session_id": "s1", "attributes": {"role": role.value}})

    store = ListStore()
    store.put([said("assistant", Role.ASSISTANT, 10.0), said("user", Role.USER, 9.99)], [_unit(0), _unit(0)])
    config = RetrievalConfig(recency_weight=0.0, context_weight=0.0, assistant_weight=0.5)
    by_id = {
        r.record.id: r for r in retrieve(store, "u1", "gallery", _unit(0), config=config, top_k=2, now=NOW)
    }
    assert by_id["user"].score == pytest.approx(1.0)
    assert by_id["assistant"].score == pytest.approx(0.5)
    lent = config.model_copy(update={"context_weight": 0.25})
    by_id = {
        r.record.id: r for r in retrieve(store, "u1", "gallery", _unit(0), config=lent, top_k=2, now=NOW)
    }
    assert by_id["user"].score == pytest.approx(1.0 + 0.25 * 1.0)  # the assistant's full score as context
    assert by_id["assistant"].score == pytest.approx(0.5 + 0.25 * 1.0)
    alike = lent.model_copy(update={"assistant_weight": 1.0})
    scores = {
        r.record.id: r.score
        for r in retrieve(store, "u1", "gallery", _unit(0), config=alike, top_k=2, now=NOW)
    }
    assert scores["user"] == pytest.approx(scores["assistant"])


def test_dense_counts_as_the_share_of_the_best_cosine_among_the_candidates() -> None:
    store = ListStore()
    store.put(
        [make_record("best", "alpha"), make_record("half", "beta"), make_record("far", "gamma")],
        [[0.6, 0.8, 0.0, 0.0], [0.3, 0.0, 0.0, (1 - 0.3**2) ** 0.5], [0.0, 0.0, 1.0, 0.0]],
    )
    config = RetrievalConfig(lexical_weight=0.0, recency_weight=0.0, context_weight=0.0)
    scores = {
        r.record.id: r.score for r in retrieve(store, "u1", "q", _unit(0), config=config, top_k=3, now=NOW)
    }
    assert scores["best"] == pytest.approx(1.0)  # its cosine 0.6 is the best there is
    assert scores["half"] == pytest.approx(0.5)
    assert scores["far"] == pytest.approx(0.0)


def test_an_excluded_turn_is_neither_returned_nor_lent_as_context() -> None:
    store, query_vec = _conversation_scenario()
    config = RetrievalConfig(recency_weight=0.0, candidate_pool=2, context_weight=0.5)
    kwargs = {"top_k": 3, "now": NOW}
    results = retrieve(
        store, "u1", "the gallery visit", query_vec, config=config, exclude_turn_ids=["t-ask"], **kwargs
    )
    assert ids(results) == ["other"]  # "answer" came only as the context of "ask", which is left out


def test_reciprocal_rank_fusion_scores_turns_fetched_as_context() -> None:
    store, query_vec = _conversation_scenario()
    config = RetrievalConfig(fusion="rrf", recency_weight=0.0, candidate_pool=2, context_weight=0.5)
    results = retrieve(store, "u1", "When was the gallery visit?", query_vec, config=config, top_k=3, now=NOW)
    by_id = {r.record.id: r for r in results}
    assert by_id["answer"].score == pytest.approx(0.5 * by_id["ask"].score) and by_id["answer"].score > 0
