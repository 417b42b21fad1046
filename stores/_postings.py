"""The catalog's BM25 inverted index: per-user postings in immutable segments, merged in tiers.

An inverted index grows at every term of every new document. Appending each batch's postings to every
term's own list would rewrite one scattered page per distinct term per write, a cost that grows with
the index. Instead, as in Lucene, each write adds a *segment*: one row per distinct term of the batch
(a `memagent.lexical.POSTING` array), written in key order next to each other. When `FANOUT` segments
share a level they are merged into one of the next level, so a user holds at most ``FANOUT - 1``
segments per level (a few dozen at 10^5 documents) and every posting is rewritten only a logarithmic
number of times, in sequential runs. A read looks its terms up in each segment.

Segments cover consecutive ranges of document numbers (a user's documents are numbered in insertion
order) and their levels never increase from older to newer, so the segments of one level are adjacent
and a merge keeps both properties. Removing a document (its text was replaced) rewrites the rows of its
terms. All of it runs inside the catalog's write transaction.

Tables (`SCHEMA`): ``segments (ukey, seg, level, first_doc, last_doc)`` and
``term_postings (ukey, seg, term, data)``.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from memagent.lexical import POSTING

__all__ = ["FANOUT", "SCHEMA", "append", "drop_user", "migrate_blocks", "read", "rebuild", "remove"]

FANOUT = 8
"""Segments of one level that are merged into one segment of the next level."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    ukey INTEGER NOT NULL,
    seg INTEGER NOT NULL,
    level INTEGER NOT NULL,
    first_doc INTEGER NOT NULL,
    last_doc INTEGER NOT NULL,
    PRIMARY KEY (ukey, seg)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS term_postings (
    ukey INTEGER NOT NULL,
    seg INTEGER NOT NULL,
    term TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (ukey, seg, term)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class _Segment:
    seg: int
    level: int
    first_doc: int
    last_doc: int


def _segments(db: sqlite3.Connection, ukey: int) -> list[_Segment]:
    """The user's segments, oldest documents first."""
    rows = db.execute(
        "SELECT seg, level, first_doc, last_doc FROM segments WHERE ukey = ? ORDER BY first_doc", (ukey,)
    )
    return [_Segment(*row) for row in rows]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _write_segment(db: sqlite3.Connection, ukey: int, level: int, postings: Mapping[str, np.ndarray]) -> None:
    """Store ``postings`` (term -> POSTING array, docs ascending) as a new segment of ``level``."""
    arrays = {term: array for term, array in postings.items() if array.size}
    if not arrays:
        return
    first = min(int(array["doc"][0]) for array in arrays.values())
    last = max(int(array["doc"][-1]) for array in arrays.values())
    (seg,) = db.execute("SELECT coalesce(max(seg), -1) + 1 FROM segments WHERE ukey = ?", (ukey,)).fetchone()
    db.execute(
        "INSERT INTO segments (ukey, seg, level, first_doc, last_doc) VALUES (?, ?, ?, ?, ?)",
        (ukey, seg, level, first, last),
    )
    db.executemany(
        "INSERT INTO term_postings (ukey, seg, term, data) VALUES (?, ?, ?, ?)",
        [(ukey, seg, term, arrays[term].tobytes()) for term in sorted(arrays)],
    )


def append(db: sqlite3.Connection, ukey: int, postings: Mapping[str, Sequence[tuple[int, int, int]]]) -> None:
    """Index new documents: ``postings`` maps a term to its (doc, tf, length) triples, every doc newer than
    any indexed before. Adds one segment, then merges full levels."""
    arrays = {
        term: np.sort(np.array(triples, dtype=POSTING), order="doc") for term, triples in postings.items()
    }
    _write_segment(db, ukey, 0, arrays)
    _merge_full_levels(db, ukey)


def _merge_full_levels(db: sqlite3.Connection, ukey: int) -> None:
    """Merge `FANOUT` adjacent segments of one level into one of the next, lowest level first, until no
    level is full."""
    while True:
        by_level: dict[int, list[_Segment]] = defaultdict(list)
        for segment in _segments(db, ukey):
            by_level[segment.level].append(segment)
        full = [level for level, group in by_level.items() if len(group) >= FANOUT]
        if not full:
            return
        level = min(full)
        _merge(db, ukey, by_level[level][:FANOUT], level + 1)


def _merge(db: sqlite3.Connection, ukey: int, group: Sequence[_Segment], level: int) -> None:
    """Replace the adjacent segments ``group`` by one segment of ``level`` holding all their postings."""
    ids = [segment.seg for segment in group]
    order = {seg: position for position, seg in enumerate(ids)}
    pieces: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
    rows = db.execute(
        f"SELECT seg, term, data FROM term_postings WHERE ukey = ? AND seg IN ({_marks(len(ids))})",
        (ukey, *ids),
    )
    for seg, term, data in rows:
        pieces[term].append((order[seg], bytes(data)))
    merged = {
        term: np.frombuffer(b"".join(data for _, data in sorted(parts)), dtype=POSTING)
        for term, parts in pieces.items()
    }
    db.execute(f"DELETE FROM term_postings WHERE ukey = ? AND seg IN ({_marks(len(ids))})", (ukey, *ids))
    db.execute(f"DELETE FROM segments WHERE ukey = ? AND seg IN ({_marks(len(ids))})", (ukey, *ids))
    _write_segment(db, ukey, level, merged)


def remove(db: sqlite3.Connection, ukey: int, docs_by_term: Mapping[str, Iterable[int]]) -> None:
    """Drop the postings of these documents (term -> docs that held it) from every segment."""
    segs = [segment.seg for segment in _segments(db, ukey)]
    for term, docs in docs_by_term.items():
        gone = np.fromiter(set(docs), dtype=np.uint32)
        rows = db.execute(
            f"SELECT seg, data FROM term_postings WHERE ukey = ? AND seg IN ({_marks(len(segs))}) "
            "AND term = ?",
            (ukey, *segs, term),
        ).fetchall()
        for seg, data in rows:
            array = np.frombuffer(data, dtype=POSTING)
            keep = array[~np.isin(array["doc"], gone)]
            if keep.size == 0:
                db.execute(
                    "DELETE FROM term_postings WHERE ukey = ? AND seg = ? AND term = ?", (ukey, seg, term)
                )
            elif keep.size < array.size:
                db.execute(
                    "UPDATE term_postings SET data = ? WHERE ukey = ? AND seg = ? AND term = ?",
                    (keep.tobytes(), ukey, seg, term),
                )


def read(db: sqlite3.Connection, ukey: int, terms: Sequence[str]) -> dict[str, np.ndarray]:
    """The POSTING array of each term that occurs (docs ascending), looked up in every segment."""
    segs = [segment.seg for segment in _segments(db, ukey)]
    if not segs or not terms:
        return {}
    pieces: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
    rows = db.execute(
        f"SELECT seg, term, data FROM term_postings WHERE ukey = ? AND seg IN ({_marks(len(segs))}) "
        f"AND term IN ({_marks(len(terms))})",
        (ukey, *segs, *terms),
    )
    position = {seg: i for i, seg in enumerate(segs)}
    for seg, term, data in rows:
        pieces[term].append((position[seg], bytes(data)))
    return {
        term: np.frombuffer(b"".join(data for _, data in sorted(parts)), dtype=POSTING)
        for term, parts in pieces.items()
    }


def drop_user(db: sqlite3.Connection, ukey: int) -> None:
    """Remove the user's whole index."""
    db.execute("DELETE FROM term_postings WHERE ukey = ?", (ukey,))
    db.execute("DELETE FROM segments WHERE ukey = ?", (ukey,))


def rebuild(
    db: sqlite3.Connection, ukey: int, postings: Mapping[str, Sequence[tuple[int, int, int]]]
) -> None:
    """Replace the user's whole index by ``postings`` (term -> (doc, tf, length) triples of every live
    document), written as one segment at the level its size would have reached."""
    drop_user(db, ukey)
    arrays = {
        term: np.sort(np.array(triples, dtype=POSTING), order="doc") for term, triples in postings.items()
    }
    docs = {doc for triples in postings.values() for doc, _, _ in triples}
    _write_segment(db, ukey, _level_of(len(docs)), arrays)


def _level_of(documents: int) -> int:
    """The level a segment of ``documents`` documents reaches by merging."""
    return int(math.log(max(documents, 1), FANOUT))


def migrate_blocks(db: sqlite3.Connection) -> None:
    """Move a schema-1 index (``postings (ukey, term, block, n, data)``) into one segment per user, at the
    level its size would have reached, and drop the old table."""
    exists = db.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'postings'").fetchone()
    if exists is None:
        return
    ukeys = [ukey for (ukey,) in db.execute("SELECT DISTINCT ukey FROM postings").fetchall()]
    for ukey in ukeys:
        pieces: dict[str, list[bytes]] = defaultdict(list)
        for term, data in db.execute(
            "SELECT term, data FROM postings WHERE ukey = ? ORDER BY term, block", (ukey,)
        ):
            pieces[term].append(bytes(data))
        arrays = {
            term: np.sort(np.frombuffer(b"".join(parts), dtype=POSTING), order="doc")
            for term, parts in pieces.items()
        }
        docs = {int(doc) for array in arrays.values() for doc in array["doc"]}
        _write_segment(db, ukey, _level_of(len(docs)), arrays)
    db.execute("DROP TABLE postings")
