"""The catalog's copy of each record's vector, by document number: exact ranking of a few records.

A search whose filter few records pass (a slot's history, the current preferences, one day's events)
ranks exactly those records. Asking the vector index for them is slow (a Chroma query restricted to a
list of ids took 3.7-6.7 ms at 100k records, fetching their vectors 8-12 ms); reading them here takes a
few hundred microseconds. The vectors are written in the catalog's write transaction, so they always
agree with the records.

Table (`SCHEMA`): ``vectors (ukey, doc, data)``, unit-length float32 rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["OF_RECORD", "SCHEMA", "drop_docs", "drop_user", "write"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    ukey INTEGER NOT NULL,
    doc INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS vectors_doc ON vectors (ukey, doc);
"""

# A correlated subquery, usable in any SELECT over ``records``: the record's vector, or NULL.
OF_RECORD = "SELECT data FROM vectors WHERE vectors.ukey = records.ukey AND vectors.doc = records.doc"

_CHUNK = 500


def write(db: sqlite3.Connection, ukey: int, docs: Sequence[int], matrix: np.ndarray) -> None:
    """Store (or replace) the vector of each document: row ``i`` of ``matrix`` is ``docs[i]``'s."""
    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    db.executemany(
        "INSERT OR REPLACE INTO vectors (ukey, doc, data) VALUES (?, ?, ?)",
        [(ukey, doc, rows[i].tobytes()) for i, doc in enumerate(docs)],
    )


def drop_docs(db: sqlite3.Connection, ukey: int, docs: Iterable[int]) -> None:
    """Remove the vectors of these documents."""
    gone = list(docs)
    for start in range(0, len(gone), _CHUNK):
        chunk = gone[start : start + _CHUNK]
        db.execute(
            f"DELETE FROM vectors WHERE ukey = ? AND doc IN ({','.join('?' * len(chunk))})", (ukey, *chunk)
        )


def drop_user(db: sqlite3.Connection, ukey: int) -> None:
    """Remove every vector of the user."""
    db.execute("DELETE FROM vectors WHERE ukey = ?", (ukey,))
