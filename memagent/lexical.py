"""BM25, the lexical signal: the tokenizer, the scoring of an inverted index's postings, and a reference.

Pure functions only. `score_postings` scores the postings that a store's lexical index keeps for a
user (`POSTING` arrays: document number, term frequency, document length) with the Lucene variant of
BM25, the one `bm25s` implements, so `bm25_scores` (built on `bm25s`, which indexes a corpus from
scratch) is its reference: both give the same scores for the same corpus (a property test checks it).

Text is analysed into lowercase word tokens, English stopwords dropped (NLTK's list of 179, which
`bm25s` ships, rather than Lucene's 33: "what", "did" and "how" match every question-shaped turn), and
each word reduced to its Snowball (Porter 2) stem, so that "painted", "paints" and "painting" meet.
`ANALYZER` names this chain: a stored index built by another one is rebuilt when its store opens.

Scores are also put on a fixed scale: `full_match_score` is the BM25 of an average-length document
holding every query term once, and a score divided by it is the share of the query's term weight a
document matches (1.0 or more: a full match), so a single incidental word in common stays small.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence

import bm25s
import numpy as np
import Stemmer  # PyStemmer ships no type information (see [tool.mypy] in pyproject.toml)
from bm25s.stopwords import STOPWORDS_EN_PLUS

__all__ = [
    "ANALYZER",
    "B",
    "K1",
    "MAX_TERM_CHARS",
    "POSTING",
    "bm25_scores",
    "bm25_upper_bound",
    "clip_u16",
    "full_match_score",
    "idf",
    "query_terms",
    "score_postings",
    "term_counts",
    "tokenize",
]

K1 = 1.5
"""Term-frequency saturation."""
B = 0.75
"""Length normalisation."""
MAX_TERM_CHARS = 64
"""Longer tokens are cut to this many characters (in documents and queries alike)."""
POSTING = np.dtype([("doc", "<u4"), ("tf", "<u2"), ("length", "<u2")])
"""One posting: a per-user document number, the term's frequency in it, and the document's length."""

ANALYZER = "words/stopwords-en-nltk/snowball-english"
"""Name of the text analysis chain of `tokenize`; stored with an index so that a change is noticed."""

_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS)
_U16 = 65_535
_stemmers = threading.local()  # a PyStemmer object must not be shared between threads


def _stem(words: list[str]) -> list[str]:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    stems: list[str] = stemmer.stemWords(words)
    return stems


def tokenize(text: str) -> list[str]:
    """The index terms of ``text``: lowercase words, English stopwords dropped, Snowball stems, each cut to
    `MAX_TERM_CHARS`."""
    words = [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]
    return [stem[:MAX_TERM_CHARS] for stem in _stem(words)] if words else []


def term_counts(text: str) -> Counter[str]:
    """How often each token of ``text`` occurs (the document's postings before numbering)."""
    return Counter(tokenize(text))


def query_terms(query: str) -> list[str]:
    """The distinct tokens of ``query``, in order: each counts once, as in `bm25s`."""
    return list(dict.fromkeys(tokenize(query)))


def idf(n_docs: int, df: int) -> float:
    """Lucene's inverse document frequency, ``ln(1 + (N - df + 0.5) / (df + 0.5))`` (always positive)."""
    return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))


def full_match_score(idfs: Sequence[float], *, k1: float = K1) -> float:
    """BM25 of an average-length document holding each term once: ``sum(idf) / (1 + k1)``."""
    return sum(idfs) / (1.0 + k1)


def clip_u16(value: int) -> int:
    """``value`` clipped to what a posting field holds."""
    return min(max(value, 0), _U16)


def score_postings(
    postings: Mapping[str, np.ndarray],
    *,
    n_docs: int,
    total_length: int,
    k1: float = K1,
    b: float = B,
) -> tuple[np.ndarray, np.ndarray, float]:
    """BM25 of every document in ``postings`` against the query whose terms are its keys.

    Args:
        postings: Per query term, its `POSTING` array over the user's live documents (an absent or
            empty array: the term occurs nowhere).
        n_docs: Live documents of the user.
        total_length: Sum of their lengths (tokens).
        k1: Term-frequency saturation.
        b: Length normalisation.

    Returns:
        ``(docs, scores, bound)``: the document numbers with a positive score (ascending), their BM25,
        and `full_match_score` of the terms that occur (0.0 when none does).
    """
    if n_docs <= 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(0), 0.0
    avg_length = total_length / n_docs if total_length > 0 else 1.0
    docs: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    idfs: list[float] = []
    for term in sorted(postings):  # a fixed summation order: identical floats on every run
        array = postings[term]
        if array.size == 0:
            continue
        term_idf = idf(n_docs, int(array.size))
        idfs.append(term_idf)
        tf = array["tf"].astype(np.float64)
        norm = k1 * ((1.0 - b) + b * array["length"].astype(np.float64) / avg_length)
        docs.append(array["doc"])
        weights.append(term_idf * tf / (tf + norm))
    if not docs:
        return np.zeros(0, dtype=np.uint32), np.zeros(0), 0.0
    all_docs = np.concatenate(docs).astype(np.int64)
    all_weights = np.concatenate(weights)
    low = int(all_docs.min())
    span = int(all_docs.max()) - low + 1
    if span <= 4 * all_docs.size + 4096:  # dense enough: one pass over an array of the span, no sort
        offsets = all_docs - low
        present = np.bincount(offsets, minlength=span) > 0
        unique = (np.flatnonzero(present) + low).astype(np.uint32)
        scores = np.bincount(offsets, weights=all_weights, minlength=span)[present]
    else:
        found, inverse = np.unique(all_docs, return_inverse=True)
        unique = found.astype(np.uint32)
        scores = np.bincount(inverse, weights=all_weights, minlength=found.size)
    return unique, scores, full_match_score(idfs, k1=k1)


def bm25_scores(
    query: str, docs: Sequence[tuple[str, str]], *, k1: float = K1, b: float = B
) -> dict[str, float]:
    """BM25 (Lucene variant, via ``bm25s``) of every document against ``query``, indexed from scratch.

    The reference for `score_postings`, and the BM25 baseline of the evaluation.

    Args:
        query: Free text; each distinct non-stopword token counts once.
        docs: ``(id, text)`` pairs; ids are expected to be unique (a repeated id keeps its last score).
        k1: Term-frequency saturation.
        b: Length normalisation.

    Returns:
        A score per document id (0.0 for documents sharing no term with the query). Empty corpora,
        empty documents and queries without indexable words all give zeros, never an error.
    """
    scores = {doc_id: 0.0 for doc_id, _ in docs}
    tokens = query_terms(query)
    if not docs or not tokens:
        return scores
    corpus = [tokenize(text) for _, text in docs]
    vocabulary = {token for document in corpus for token in document}
    tokens = [token for token in tokens if token in vocabulary]
    if not tokens:  # also covers a corpus of empty documents, which bm25s cannot index
        return scores
    index = bm25s.BM25(k1=k1, b=b)
    index.index(corpus, show_progress=False)
    values = index.get_scores(tokens)
    for (doc_id, _), value in zip(docs, values, strict=True):
        scores[doc_id] = float(value)
    return scores


def bm25_upper_bound(query: str, docs: Sequence[tuple[str, str]], *, k1: float = K1) -> float:
    """`full_match_score` of ``query`` over ``docs`` (0.0 if no query term occurs): the reference for the
    bound `score_postings` returns, computed from scratch."""
    terms = set(tokenize(query))
    if not docs or not terms:
        return 0.0
    document_frequency: dict[str, int] = dict.fromkeys(terms, 0)
    for _, text in docs:
        for term in terms.intersection(tokenize(text)):
            document_frequency[term] += 1
    return full_match_score([idf(len(docs), df) for df in document_frequency.values() if df > 0], k1=k1)
