"""`SqliteCatalog`: the source of truth for records, with the indexes every read uses.

One SQLite database (a file, or in memory) holds, per user:

* ``records``: each record as JSON plus the columns lookups need (kind, slot, confidence, event time and
  validity in integer microseconds, so interval bounds are exact; a record's session), indexed by id, by
  event time, by kind and time (all records, and current ones only), by slot, by slot among current
  records (``records_current_slot``), and turns by session and time (``records_session``);
* ``sources``: which records each turn produced (provenance lookups, indexed both ways);
* ``segments`` and ``term_postings``: a BM25 inverted index (`memagent.stores._postings`), written in
  segments that are merged in tiers, so the cost of a write, merges amortised, does not grow with the
  history, and scored with numpy on read;
* ``vectors``: each record's embedding (`memagent.stores._stored_vectors`), for exact ranking of the few
  records a narrow filter passes;
* ``pending``: the vector groups (user, group) a write has begun to change and not finished
  (`mark_pending`, settled by the `put` that ends it): what to check after a crash;
* ``users``: per user, the record count and total token length (BM25's statistics) and the next
  document number;
* ``meta``: the schema version and the name of the text analysis that built the postings
  (`memagent.lexical.ANALYZER`): a catalog indexed by another analysis is re-indexed when it opens.

Every write is one transaction, so the records and their lexical index can never disagree, whatever the
moment of a crash. The database runs in WAL mode with a busy timeout, so several processes on one machine
may read and write it (a catalog shared across machines needs a server database). SQLite is in
Python's standard library; FTS5 was measured and rejected for this job (see the README: its ranking reads
every matching row through a per-row callback, 170 ms a query at 100k records, where these postings take
a few).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from memagent.errors import StoreError
from memagent.interfaces import LexicalHits
from memagent.lexical import ANALYZER, clip_u16, query_terms, score_postings, term_counts
from memagent.types import MemoryKind, MemoryRecord, RecordFilter, RecordOrder, as_utc

from . import _postings, _stored_vectors
from ._vectors import top_n

__all__ = ["NEAREST_TURNS", "SqliteCatalog", "best_documents", "microseconds"]

logger = logging.getLogger(__name__)

_SCHEMA_VERSION = "3"


def _from_schema_1(db: sqlite3.Connection) -> None:
    """Schema 1 had postings in per-term blocks and no vectors: move the postings into segments and
    note that the vectors must be copied in from the vector index (`SqliteCatalog.vectors_missing`)."""
    _postings.migrate_blocks(db)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('vectors', 'missing')")


def _from_schema_2(db: sqlite3.Connection) -> None:
    """Schema 2 had no session column, and postings of unstemmed words (indexed again on open by
    `_analyse_again_if_needed`): fill the column from the stored records."""
    db.execute("ALTER TABLE records ADD COLUMN session TEXT")
    db.execute("UPDATE records SET session = json_extract(body, '$.session_id')")


_MIGRATIONS = {"1": (_from_schema_1, "2"), "2": (_from_schema_2, "3")}
"""Older schema versions this catalog upgrades on open (in one transaction): what upgrades each one, to
which version."""
_CHUNK = 500  # ids per IN (...) list, well under SQLite's variable limit
NEAREST_TURNS = 8
"""Turns of its session on each side of a turn among which `SqliteCatalog.adjacent` looks for a neighbour."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    ukey INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    records INTEGER NOT NULL DEFAULT 0,
    length INTEGER NOT NULL DEFAULT 0,
    next_doc INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS records (
    ukey INTEGER NOT NULL,
    id TEXT NOT NULL,
    doc INTEGER NOT NULL,
    kind TEXT NOT NULL,
    slot TEXT,
    confidence REAL NOT NULL,
    event_us INTEGER NOT NULL,
    valid_from_us INTEGER NOT NULL,
    valid_until_us INTEGER,
    length INTEGER NOT NULL,
    content TEXT NOT NULL,
    body TEXT NOT NULL,
    session TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS records_id ON records (ukey, id);
CREATE UNIQUE INDEX IF NOT EXISTS records_doc ON records (ukey, doc);
CREATE INDEX IF NOT EXISTS records_event ON records (ukey, event_us, id);
CREATE INDEX IF NOT EXISTS records_kind ON records (ukey, kind, event_us);
CREATE INDEX IF NOT EXISTS records_slot ON records (ukey, slot) WHERE slot IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_current ON records (ukey, kind, event_us) WHERE valid_until_us IS NULL;
CREATE INDEX IF NOT EXISTS records_current_slot ON records (ukey, slot) WHERE valid_until_us IS NULL;
CREATE TABLE IF NOT EXISTS sources (
    ukey INTEGER NOT NULL,
    turn_id TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (ukey, turn_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sources_record ON sources (ukey, id);
CREATE TABLE IF NOT EXISTS pending (
    user_id TEXT NOT NULL,
    grp TEXT NOT NULL,
    PRIMARY KEY (user_id, grp)
) WITHOUT ROWID;
"""
_SESSION_INDEX = (
    "CREATE INDEX IF NOT EXISTS records_session ON records (ukey, session, event_us, doc) WHERE kind = 'turn'"
)
"""The turns of a session in the order they were stored; created once the migrations have added its column."""


_PLANNER_HINTS = (
    ("records", "records_id", "1000000 10000 1"),
    ("records", "records_doc", "1000000 10000 1"),
    ("records", "records_event", "1000000 10000 2 1"),
    ("records", "records_kind", "1000000 10000 3000 2"),
    ("records", "records_slot", "100000 1000 4"),
    ("records", "records_current", "300000 3000 1000 1"),
    ("records", "records_current_slot", "300000 3000 1"),
    ("records", "records_session", "1000000 10000 50 1 1"),
    ("sources", "sources", "1000000 10000 2 1"),
    ("sources", "sources_record", "1000000 10000 1"),
    ("segments", "segments", "100000 30 1"),
    ("term_postings", "term_postings", "10000000 300000 10000 1"),
)
"""Fixed statistics for SQLite's query planner (rows, then rows per key prefix of each index), the shape of a
catalog with many users and long histories: a slot or a turn is a handful of records and a kind
thousands. Without them the planner walks a user's records in time order to satisfy ORDER BY, however
selective the slot or provenance condition."""


def microseconds(value: datetime) -> int:
    """``value`` as integer microseconds since the Unix epoch (exact; naive is taken as UTC)."""
    return (as_utc(value) - _EPOCH) // _US


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _successor(prefix: str) -> str | None:
    """The smallest string above every string starting with ``prefix`` (None: there is none)."""
    for end in range(len(prefix) - 1, -1, -1):
        if ord(prefix[end]) < 0x10FFFF:
            return prefix[:end] + chr(ord(prefix[end]) + 1)
    return None


def where(flt: RecordFilter, ukey: int) -> tuple[str, list[Any]]:
    """The SQL condition over the ``records`` of user ``ukey`` (the user itself not included) equivalent
    to ``flt.matches``."""
    clauses: list[str] = []
    params: list[Any] = []
    if flt.kinds is not None:
        clauses.append(f"kind IN ({_marks(len(flt.kinds))})")
        params += [kind.value for kind in flt.kinds]
    if flt.as_of is not None:
        when = microseconds(flt.as_of)
        clauses.append("valid_from_us <= ? AND (valid_until_us IS NULL OR valid_until_us > ?)")
        params += [when, when]
    elif flt.current_only:
        clauses.append("valid_until_us IS NULL")
    if flt.since is not None:
        clauses.append("event_us >= ?")
        params.append(microseconds(flt.since))
    if flt.until is not None:
        clauses.append("event_us < ?")
        params.append(microseconds(flt.until))
    if flt.slots is not None:
        clauses.append(f"slot IN ({_marks(len(flt.slots))})")
        params += list(flt.slots)
    if flt.slot_prefixes is not None:
        ranges = []
        for prefix in flt.slot_prefixes:
            # The range lets SQLite use the slot index; substr() is the exact test (no LIKE wildcards).
            upper = _successor(prefix)
            ranges.append(
                "(slot >= ? AND slot < ? AND substr(slot, 1, ?) = ?)"
                if upper
                else "(slot >= ? AND substr(slot, 1, ?) = ?)"
            )
            params += [prefix, *([upper] if upper else []), len(prefix), prefix]
        clauses.append("(" + " OR ".join(ranges) + ")" if ranges else "0")
    if flt.turn_ids is not None:
        # Not correlated, so SQLite starts from the provenance index instead of scanning the user.
        clauses.append(
            f"id IN (SELECT id FROM sources WHERE ukey = ? AND turn_id IN ({_marks(len(flt.turn_ids))}))"
        )
        params += [ukey, *flt.turn_ids]
    return (" AND ".join(clauses) or "1"), params


_INSERT_RECORD = (
    "INSERT INTO records (ukey, doc, length, id, kind, slot, confidence, event_us, valid_from_us, "
    "valid_until_us, content, body, session) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ORDER_SQL = {
    RecordOrder.OLDEST: "event_us ASC, id ASC",
    RecordOrder.NEWEST: "event_us DESC, id ASC",
    RecordOrder.MOST_CONFIDENT: "confidence DESC, event_us DESC, id ASC",
}


def best_documents(docs: np.ndarray, scores: np.ndarray, count: int) -> np.ndarray:
    """Positions of the ``count`` best documents: highest score first, and of equal scores the newer
    (higher document number) first. Only the best are sorted, so a common term's long postings cost
    one partition."""
    if count < docs.size:
        candidates = np.argpartition(-scores, count - 1)[:count]
        candidates = np.flatnonzero(scores >= scores[candidates].min())  # every tie at the cut
    else:
        candidates = np.arange(docs.size)
    order = np.lexsort((-docs[candidates].astype(np.int64), -scores[candidates]))
    return candidates[order][:count]


def _index_text(postings: dict[str, list[tuple[int, int, int]]], doc: int, text: str) -> int:
    """Add document ``doc``'s (doc, tf, length) triple to the postings of each of its terms; returns its
    length in terms."""
    counts = term_counts(text)
    size = sum(counts.values())
    for term, tf in counts.items():
        postings[term].append((doc, clip_u16(tf), clip_u16(size)))
    return size


def _analyse_again_if_needed(db: sqlite3.Connection, location: str) -> None:
    """Rebuild every user's lexical index (postings, document lengths, BM25 statistics) from the stored
    texts if it was built by another text analysis than `ANALYZER` (a catalog without the note predates
    it), then note the analysis. Runs inside the opening transaction: all of it happens, or none."""
    row = db.execute("SELECT value FROM meta WHERE key = 'analyzer'").fetchone()
    if row is not None and row[0] == ANALYZER:
        return
    ukeys = [ukey for (ukey,) in db.execute("SELECT ukey FROM users").fetchall()]
    if ukeys:
        logger.info("re-indexing the text of %d users in %s for analyzer %s", len(ukeys), location, ANALYZER)
    for ukey in ukeys:
        postings: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        lengths: list[tuple[int, int, int]] = []
        for doc, content in db.execute(
            "SELECT doc, content FROM records WHERE ukey = ? ORDER BY doc", (ukey,)
        ):
            lengths.append((_index_text(postings, doc, content), ukey, doc))
        db.executemany("UPDATE records SET length = ? WHERE ukey = ? AND doc = ?", lengths)
        db.execute(
            "UPDATE users SET records = ?, length = ? WHERE ukey = ?",
            (len(lengths), sum(size for size, _, _ in lengths), ukey),
        )
        _postings.rebuild(db, ukey, postings)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('analyzer', ?)", (ANALYZER,))


def _cosines(rows: Sequence[tuple[str, bytes]], vector: np.ndarray) -> np.ndarray:
    """Cosine of ``vector`` (unit length) to each row's stored vector (``(id, float32 bytes)``).

    Raises:
        StoreError: The stored vectors are of another dimension than ``vector``.
    """
    matrix = np.stack([np.frombuffer(data, dtype=np.float32) for _, data in rows])
    if matrix.shape[1] != vector.shape[0]:
        raise StoreError(
            f"query embedding has dimension {vector.shape[0]}, the store holds dimension {matrix.shape[1]}"
        )
    result: np.ndarray = matrix @ vector
    return result


def _decode(body: str) -> MemoryRecord:
    try:
        return MemoryRecord.model_validate_json(body)
    except ValidationError as exc:
        raise StoreError(f"the catalog holds a record that is not valid: {exc}") from exc


class SqliteCatalog:
    """Records and their indexes in one SQLite database.

    Args:
        path: The database file (created with its directory if missing); None keeps it in memory.

    Raises:
        StoreError: The file cannot be opened, or holds a schema of another version.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = None if path is None else Path(path).expanduser()
        self._lock = threading.RLock()
        self._warned_vectors_missing = False
        try:
            if self._path is not None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                ":memory:" if self._path is None else str(self._path),
                check_same_thread=False,
                isolation_level=None,
                timeout=30.0,
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint every 32 MiB of log rather than 4 MiB: pages rewritten by successive writes (index
            # pages, the newest segments) reach the database file once, not once per write.
            self._db.execute("PRAGMA wal_autocheckpoint=8192")
            self._db.execute("PRAGMA busy_timeout=30000")
            # Deleted rows are overwritten with zeros, not left in free pages: `delete_user` erases.
            self._db.execute("PRAGMA secure_delete=ON")
            # Reads through a memory map, not a system call per page: a tenth less time a query at 100k
            # records. Pages are mapped as they are read, from the operating system's cache.
            self._db.execute("PRAGMA mmap_size=1073741824")
            self._db.executescript(_SCHEMA + _postings.SCHEMA + _stored_vectors.SCHEMA)  # idempotent
            with self._write() as db:
                row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if row is None:
                    db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (_SCHEMA_VERSION,))
                elif row[0] != _SCHEMA_VERSION:
                    version = row[0]
                    while version in _MIGRATIONS:
                        migrate, version = _MIGRATIONS[version]
                        migrate(db)
                    if version != _SCHEMA_VERSION:
                        raise StoreError(
                            f"catalog {self.location} has schema version {row[0]}, this memagent reads "
                            f"version {_SCHEMA_VERSION}"
                        )
                    db.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (_SCHEMA_VERSION,))
                db.execute(_SESSION_INDEX)
                _analyse_again_if_needed(db, self.location)
            self._install_planner_hints()  # once every index exists, so that each one has its statistics
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the catalog {self.location}: {exc}") from exc

    def _install_planner_hints(self) -> None:
        """Write `_PLANNER_HINTS` into ``sqlite_stat1`` (once per database) and load them."""
        self._db.execute("ANALYZE sqlite_schema")  # creates sqlite_stat1 if missing
        with self._write() as db:
            if set(db.execute("SELECT tbl, idx, stat FROM sqlite_stat1")) != set(_PLANNER_HINTS):
                db.execute("DELETE FROM sqlite_stat1")
                db.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES (?, ?, ?)", _PLANNER_HINTS)
        self._db.execute("ANALYZE sqlite_schema")  # reloads the statistics

    @property
    def location(self) -> str:
        """The database file, or ``:memory:``."""
        return ":memory:" if self._path is None else str(self._path)

    # ------------------------------------------------------------------------------------ plumbing
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it lands, or none of it."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"the catalog {self.location} refused a write: {exc}") from exc
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # also after a COMMIT that failed (disk full, I/O error)
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise StoreError(f"the catalog {self.location} failed a read: {exc}") from exc

    def _ukey(self, db: sqlite3.Connection, user_id: str) -> int | None:
        row = db.execute("SELECT ukey FROM users WHERE user_id = ?", (user_id,)).fetchone()
        return None if row is None else int(row[0])

    def _rows_by_id(
        self, user_id: str, ids: Sequence[str], columns: str, flt: RecordFilter | None = None
    ) -> list[tuple[Any, ...]]:
        """``columns`` of the records of ``user_id`` among ``ids`` (passing ``flt``), read in chunks."""
        with self._read() as db:
            ukey = self._ukey(db, user_id)
            if ukey is None:
                return []
            condition, params = where(flt, ukey) if flt is not None else ("1", [])
            rows: list[tuple[Any, ...]] = []
            for chunk in _chunks(list(dict.fromkeys(ids))):
                rows += db.execute(
                    f"SELECT {columns} FROM records "
                    f"WHERE ukey = ? AND id IN ({_marks(len(chunk))}) AND {condition}",
                    (ukey, *chunk, *params),
                ).fetchall()
            return rows

    # --------------------------------------------------------------------------------------- write
    def put(
        self,
        records: Sequence[MemoryRecord],
        vectors: np.ndarray | None = None,
        *,
        updated: Sequence[MemoryRecord] = (),
        settled: Sequence[tuple[str, str]] = (),
    ) -> None:
        """Insert or replace ``records`` (a repeated id keeps its last occurrence), each with its vector
        (row ``i`` of ``vectors``, unit length), and replace the stored ``updated`` ones (same content and
        kind, other fields changed; their vectors stay), all in one transaction, which also clears the
        ``settled`` (user, group) pairs of `mark_pending`.

        Raises:
            StoreError: ``vectors`` does not hold one row per record, an updated record is not stored or
                changed its content or kind, or SQLite failed.
        """
        if records and (vectors is None or len(vectors) != len(records)):
            raise StoreError(
                f"the catalog needs one vector per record, got {len(records)} records and "
                f"{'no' if vectors is None else len(vectors)} vectors"
            )
        by_user: dict[str, dict[str, tuple[MemoryRecord, np.ndarray]]] = defaultdict(dict)
        for index, record in enumerate(records):
            assert vectors is not None
            by_user[record.user_id].pop(record.id, None)
            by_user[record.user_id][record.id] = (record, vectors[index])
        changed: dict[str, list[MemoryRecord]] = defaultdict(list)
        for record in updated:
            changed[record.user_id].append(record)
        if not by_user and not changed and not settled:
            return
        try:
            with self._write() as db:
                db.executemany("DELETE FROM pending WHERE user_id = ? AND grp = ?", list(settled))
                for user_id, batch in changed.items():
                    self._update_user(db, user_id, batch)
                for user_id, latest in by_user.items():
                    self._put_user(db, user_id, list(latest.values()))
        except sqlite3.Error as exc:
            raise StoreError(
                f"the catalog {self.location} failed to store {len(records)} records: {exc}"
            ) from exc

    def _put_user(
        self, db: sqlite3.Connection, user_id: str, batch: list[tuple[MemoryRecord, np.ndarray]]
    ) -> None:
        records = [record for record, _ in batch]
        db.execute("INSERT OR IGNORE INTO users (user_id) VALUES (?)", (user_id,))
        ukey, count, length, next_doc = db.execute(
            "SELECT ukey, records, length, next_doc FROM users WHERE user_id = ?", (user_id,)
        ).fetchone()
        existing: dict[str, tuple[int, int, str]] = {}
        for chunk in _chunks([r.id for r in records]):
            rows = db.execute(
                "SELECT id, doc, length, content FROM records "
                f"WHERE ukey = ? AND id IN ({_marks(len(chunk))})",
                (ukey, *chunk),
            )
            existing.update((rid, (doc, size, content)) for rid, doc, size, content in rows)
        added: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        removed: dict[str, list[int]] = defaultdict(list)
        gone_docs: list[int] = []
        rows_out: list[tuple[Any, ...]] = []
        docs: list[int] = []
        for record in records:
            old = existing.get(record.id)
            if old is not None and old[2] == record.content:
                doc, size = old[0], old[1]
            else:
                if old is not None:  # new text: the old document leaves the index
                    for term in term_counts(old[2]):
                        removed[term].append(old[0])
                    gone_docs.append(old[0])
                    count -= 1
                    length -= old[1]
                doc, size = next_doc, _index_text(added, next_doc, record.content)
                next_doc += 1
                count += 1
                length += size
            rows_out.append(self._row(ukey, doc, size, record))
            docs.append(doc)
        for chunk in _chunks(list(existing)):  # replaced records leave; new ones have nothing to remove
            db.execute(f"DELETE FROM records WHERE ukey = ? AND id IN ({_marks(len(chunk))})", (ukey, *chunk))
            db.execute(f"DELETE FROM sources WHERE ukey = ? AND id IN ({_marks(len(chunk))})", (ukey, *chunk))
        db.executemany(_INSERT_RECORD, rows_out)
        db.executemany(
            "INSERT OR IGNORE INTO sources (ukey, turn_id, id) VALUES (?, ?, ?)",
            [(ukey, turn, r.id) for r in records for turn in r.source_turn_ids],
        )
        _postings.remove(db, ukey, removed)
        _postings.append(db, ukey, added)
        _stored_vectors.drop_docs(db, ukey, gone_docs)
        _stored_vectors.write(db, ukey, docs, np.stack([vector for _, vector in batch]))
        db.execute(
            "UPDATE users SET records = ?, length = ?, next_doc = ? WHERE ukey = ?",
            (count, length, next_doc, ukey),
        )

    @staticmethod
    def _row(ukey: int, doc: int, size: int, record: MemoryRecord) -> tuple[Any, ...]:
        until = None if record.valid_until is None else microseconds(record.valid_until)
        return (
            ukey,
            doc,
            size,
            record.id,
            record.kind.value,
            record.slot,
            record.confidence,
            microseconds(record.event_time),
            microseconds(record.valid_from),
            until,
            record.content,
            record.model_dump_json(),
            record.session_id,
        )

    def _update_user(self, db: sqlite3.Connection, user_id: str, records: list[MemoryRecord]) -> None:
        ukey = self._ukey(db, user_id)
        stored: dict[str, tuple[int, int, str, str]] = {}
        if ukey is not None:
            for chunk in _chunks([r.id for r in records]):
                rows = db.execute(
                    f"SELECT id, doc, length, content, kind FROM records WHERE ukey = ? "
                    f"AND id IN ({_marks(len(chunk))})",
                    (ukey, *chunk),
                )
                stored.update((rid, (doc, size, text, kind)) for rid, doc, size, text, kind in rows)
        for record in records:
            old = stored.get(record.id)
            if ukey is None or old is None:
                raise StoreError(f"cannot update record {record.id!r} of user {user_id!r}: it is not stored")
            if old[2] != record.content or old[3] != record.kind.value:
                raise StoreError(f"cannot update record {record.id!r}: its content or kind changed (put it)")
            # In place: only the indexes over the changed columns move (a supersession changes validity).
            row = self._row(ukey, old[0], old[1], record)
            db.execute(
                "UPDATE records SET slot = ?, confidence = ?, event_us = ?, valid_from_us = ?, "
                "valid_until_us = ?, body = ?, session = ? WHERE ukey = ? AND id = ?",
                (*row[5:10], *row[11:13], ukey, record.id),
            )
            before = {
                t
                for (t,) in db.execute(
                    "SELECT turn_id FROM sources WHERE ukey = ? AND id = ?", (ukey, record.id)
                )
            }
            after = set(record.source_turn_ids)
            db.executemany(
                "DELETE FROM sources WHERE ukey = ? AND turn_id = ? AND id = ?",
                [(ukey, turn, record.id) for turn in sorted(before - after)],
            )
            db.executemany(
                "INSERT INTO sources (ukey, turn_id, id) VALUES (?, ?, ?)",
                [(ukey, turn, record.id) for turn in sorted(after - before)],
            )

    def delete_user(self, user_id: str) -> int:
        """Remove every record of ``user_id`` and its index entries; returns how many records there were."""
        count = 0
        try:
            with self._write() as db:
                db.execute("DELETE FROM pending WHERE user_id = ?", (user_id,))
                ukey = self._ukey(db, user_id)
                if ukey is not None:
                    (count,) = db.execute("SELECT count(*) FROM records WHERE ukey = ?", (ukey,)).fetchone()
                    for table in ("records", "sources", "users"):
                        db.execute(f"DELETE FROM {table} WHERE ukey = ?", (ukey,))
                    _postings.drop_user(db, ukey)
                    _stored_vectors.drop_user(db, ukey)
            self._truncate_log()  # also when the rows were gone: an interrupted delete ends here
            return int(count)
        except sqlite3.Error as exc:
            raise StoreError(f"the catalog {self.location} failed to delete user {user_id!r}: {exc}") from exc

    def delete(self, user_id: str, ids: Sequence[str]) -> int:
        """Remove these records of ``user_id`` and their index entries, leaving no copy in the file;
        returns how many there were (unknown ids are ignored)."""
        try:
            with self._write() as db:
                ukey = self._ukey(db, user_id)
                if ukey is None:
                    return 0
                rows: list[tuple[str, int, int, str]] = []
                for chunk in _chunks(list(dict.fromkeys(ids))):
                    rows += db.execute(
                        "SELECT id, doc, length, content FROM records "
                        f"WHERE ukey = ? AND id IN ({_marks(len(chunk))})",
                        (ukey, *chunk),
                    ).fetchall()
                if not rows:
                    return 0
                removed: dict[str, list[int]] = defaultdict(list)
                for _, doc, _, content in rows:
                    for term in term_counts(content):
                        removed[term].append(doc)
                for chunk in _chunks([rid for rid, *_ in rows]):
                    for table in ("records", "sources"):
                        db.execute(
                            f"DELETE FROM {table} WHERE ukey = ? AND id IN ({_marks(len(chunk))})",
                            (ukey, *chunk),
                        )
                _postings.remove(db, ukey, removed)
                _stored_vectors.drop_docs(db, ukey, [doc for _, doc, _, _ in rows])
                db.execute(
                    "UPDATE users SET records = records - ?, length = length - ? WHERE ukey = ?",
                    (len(rows), sum(size for _, _, size, _ in rows), ukey),
                )
            self._truncate_log()
            return len(rows)
        except sqlite3.Error as exc:
            raise StoreError(
                f"the catalog {self.location} failed to delete records of {user_id!r}: {exc}"
            ) from exc

    def mark_pending(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Note that a write is about to change these (user, group) vector groups; the `put` that ends the
        write settles them. Pairs still noted when a store opens were being written when a process died."""
        try:
            with self._write() as db:
                db.executemany("INSERT OR IGNORE INTO pending (user_id, grp) VALUES (?, ?)", list(pairs))
        except sqlite3.Error as exc:
            raise StoreError(f"the catalog {self.location} failed to note a write: {exc}") from exc

    def pending(self) -> list[tuple[str, str]]:
        """The (user, group) pairs of writes begun and never finished, sorted."""
        with self._read() as db:
            rows = db.execute("SELECT user_id, grp FROM pending ORDER BY user_id, grp").fetchall()
        return [(str(user), str(group)) for user, group in rows]

    def stored_vectors(
        self, user_id: str, *, page: int = 512
    ) -> Iterator[tuple[list[str], list[MemoryKind], np.ndarray]]:
        """Every record of ``user_id`` that has a stored vector: pages of (ids, kinds, unit rows)."""
        after = -1
        while True:
            with self._read() as db:
                ukey = self._ukey(db, user_id)
                if ukey is None:
                    return
                rows = db.execute(
                    "SELECT r.doc, r.id, r.kind, v.data FROM records AS r JOIN vectors AS v "
                    "ON v.ukey = r.ukey AND v.doc = r.doc WHERE r.ukey = ? AND r.doc > ? "
                    "ORDER BY r.doc LIMIT ?",
                    (ukey, after, page),
                ).fetchall()
            if not rows:
                return
            after = int(rows[-1][0])
            matrix = np.stack([np.frombuffer(data, dtype=np.float32) for *_, data in rows])
            yield [str(r[1]) for r in rows], [MemoryKind(r[2]) for r in rows], matrix

    def _truncate_log(self) -> None:
        """Copy the write-ahead log into the database and empty it: the log keeps earlier images of every
        page written, deleted rows included, until it is checkpointed."""
        if self._path is None:
            return
        with self._lock:
            busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            logger.warning(
                "the catalog %s is being read by another connection: its log keeps deleted rows until "
                "that connection closes",
                self.location,
            )

    # ---------------------------------------------------------------------------------------- read
    def get(self, user_id: str, ids: Sequence[str], flt: RecordFilter | None = None) -> list[MemoryRecord]:
        """The records of ``user_id`` with these ids (passing ``flt``, if given), in the order given, each
        once."""
        wanted = list(dict.fromkeys(ids))
        if not wanted or (flt is not None and flt.is_empty):
            return []
        found: dict[str, MemoryRecord] = {}
        with self._read() as db:
            ukey = self._ukey(db, user_id)
            if ukey is None:
                return []
            condition, params = where(flt, ukey) if flt is not None else ("1", [])
            for chunk in _chunks(wanted):
                rows = db.execute(
                    f"SELECT body FROM records "
                    f"WHERE ukey = ? AND id IN ({_marks(len(chunk))}) AND {condition}",
                    (ukey, *chunk, *params),
                )
                for (body,) in rows:
                    record = _decode(body)
                    found[record.id] = record
        return [found[i] for i in wanted if i in found and (flt is None or flt.matches(found[i]))]

    def passing(self, user_id: str, ids: Sequence[str], flt: RecordFilter) -> set[str]:
        """Which of these ids are records of ``user_id`` passing ``flt`` (nothing is decoded)."""
        if flt.is_empty:
            return set()
        return {rid for (rid,) in self._rows_by_id(user_id, ids, "id", flt)}

    def kinds(self, user_id: str, ids: Sequence[str]) -> dict[str, MemoryKind]:
        """The stored kind of each of these ids (unknown ids are left out)."""
        return {rid: MemoryKind(kind) for rid, kind in self._rows_by_id(user_id, ids, "id, kind")}

    def adjacent(self, user_id: str, ids: Sequence[str], flt: RecordFilter) -> dict[str, list[str]]:
        """For each raw turn among ``ids``, the ids of the turns just before and after it in its session
        that pass ``flt``: of the `NEAREST_TURNS` turns of its session on each side (in the order they were
        stored: event time, then insertion), the nearest that passes ``flt`` (a turn without a session has
        no neighbours). An indexed lookup, bounded whatever the filter; nothing is decoded."""
        out: dict[str, list[str]] = {}
        if flt.is_empty or (flt.kinds is not None and MemoryKind.TURN not in flt.kinds):
            return out
        with self._read() as db:
            ukey = self._ukey(db, user_id)
            if ukey is None:
                return out
            condition, params = where(flt, ukey)
            # The literal kind lets SQLite use the partial session index.
            side = (
                "SELECT id FROM (SELECT id, doc, kind, slot, confidence, event_us, valid_from_us, "
                "valid_until_us FROM records WHERE ukey = o.ukey AND kind = 'turn' AND session = o.session "
                "AND event_us {op}= o.event_us AND (event_us, doc) {op} (o.event_us, o.doc) "
                f"ORDER BY event_us {{order}}, doc {{order}} LIMIT {NEAREST_TURNS}) "
                f"WHERE {condition} ORDER BY event_us {{order}}, doc {{order}} LIMIT 1"
            )
            before, after = side.format(op="<", order="DESC"), side.format(op=">", order="ASC")
            for chunk in _chunks(list(dict.fromkeys(ids))):
                rows = db.execute(
                    f"SELECT o.id, ({before}), ({after}) FROM records AS o "
                    f"WHERE o.ukey = ? AND o.kind = 'turn' AND o.id IN ({_marks(len(chunk))})",
                    (*params, *params, ukey, *chunk),
                ).fetchall()
                for anchor, previous, following in rows:
                    out[anchor] = [rid for rid in (previous, following) if rid is not None]
        return out

    def find(
        self,
        user_id: str,
        flt: RecordFilter,
        *,
        limit: int,
        order: RecordOrder = RecordOrder.OLDEST,
        after: MemoryRecord | None = None,
    ) -> list[MemoryRecord]:
        """At most ``limit`` records of ``user_id`` passing ``flt``, in ``order``, after ``after``."""
        if limit <= 0 or flt.is_empty:
            return []
        if after is not None and order is not RecordOrder.OLDEST:
            raise StoreError("paging with 'after' needs the OLDEST order")
        with self._read() as db:
            ukey = self._ukey(db, user_id)
            if ukey is None:
                return []
            condition, params = where(flt, ukey)
            if after is not None:
                condition += " AND (event_us, id) > (?, ?)"
                params += [microseconds(after.event_time), after.id]
            rows = db.execute(
                f"SELECT body FROM records WHERE ukey = ? AND {condition} "
                f"ORDER BY {_ORDER_SQL[order]} LIMIT ?",
                (ukey, *params, limit),
            ).fetchall()
        records = [_decode(body) for (body,) in rows]
        return [r for r in records if flt.matches(r)]

    def nearest(
        self, user_id: str, flt: RecordFilter, vector: np.ndarray, k: int, *, limit: int
    ) -> list[tuple[str, float]] | None:
        """The ``k`` records of ``user_id`` passing ``flt`` with the highest cosine to ``vector`` (unit
        length), ranked exactly from their stored vectors, best first, ties by id; None when more than
        ``limit`` records pass, or when one of them has no stored vector (the caller then asks the vector
        index).

        Raises:
            StoreError: The stored vectors are of another dimension than ``vector``.
        """
        if k <= 0 or flt.is_empty:
            return []
        if self.count(user_id, flt, at_most=limit + 1) > limit:
            return None
        with self._read() as db:
            ukey = self._ukey(db, user_id)
            if ukey is None:
                return []
            condition, params = where(flt, ukey)
            rows = db.execute(
                f"SELECT id, ({_stored_vectors.OF_RECORD}) FROM records "
                f"WHERE ukey = ? AND {condition} LIMIT ?",
                (ukey, *params, limit),
            ).fetchall()
        if not rows:
            return []
        if any(data is None for _, data in rows):
            self._warn_vectors_missing(user_id)
            return None
        return top_n([rid for rid, _ in rows], _cosines(rows, vector), k)

    def similarity(self, user_id: str, ids: Sequence[str], vector: np.ndarray) -> dict[str, float]:
        """Cosine of ``vector`` (unit length) to the stored vector of each of ``ids``; ids that are
        unknown or have no stored vector are left out.

        Raises:
            StoreError: The stored vectors are of another dimension than ``vector``.
        """
        rows = self._rows_by_id(user_id, ids, f"id, ({_stored_vectors.OF_RECORD})")
        stored = [(rid, data) for rid, data in rows if data is not None]
        if len(stored) < len(rows):
            self._warn_vectors_missing(user_id)
        if not stored:
            return {}
        return dict(zip((rid for rid, _ in stored), _cosines(stored, vector).tolist(), strict=True))

    def _warn_vectors_missing(self, user_id: str) -> None:
        """Say once per catalog that some records have no stored vector (exact ranking is then skipped)."""
        if not self._warned_vectors_missing:
            self._warned_vectors_missing = True
            logger.warning(
                "the catalog %s has no stored vector for some records of user %r (and perhaps others); "
                "their searches use the vector index alone",
                self.location,
                user_id,
            )

    @property
    def vectors_missing(self) -> bool:
        """True when the catalog was upgraded from a schema without vectors and they are not copied in yet
        (`store_vectors`, then `vectors_copied`)."""
        with self._read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'vectors'").fetchone()
        return row is not None and row[0] == "missing"

    def store_vectors(self, user_id: str, ids: Sequence[str], matrix: np.ndarray) -> None:
        """Store the vectors of records already in the catalog (row ``i`` is ``ids[i]``'s); unknown ids are
        skipped."""
        try:
            with self._write() as db:
                ukey = self._ukey(db, user_id)
                if ukey is None:
                    return
                doc_of: dict[str, int] = {}
                for chunk in _chunks(list(ids)):
                    rows = db.execute(
                        f"SELECT id, doc FROM records WHERE ukey = ? AND id IN ({_marks(len(chunk))})",
                        (ukey, *chunk),
                    )
                    doc_of.update((rid, int(doc)) for rid, doc in rows)
                known = [i for i, rid in enumerate(ids) if rid in doc_of]
                _stored_vectors.write(db, ukey, [doc_of[ids[i]] for i in known], matrix[known])
        except sqlite3.Error as exc:
            raise StoreError(f"the catalog {self.location} failed to store vectors: {exc}") from exc

    def vectors_copied(self) -> None:
        """Note that every record's vector is stored (after an upgrade from schema 1)."""
        with self._write() as db:
            db.execute("DELETE FROM meta WHERE key = 'vectors'")

    def count(self, user_id: str, flt: RecordFilter | None = None, *, at_most: int | None = None) -> int:
        """How many records of ``user_id`` pass ``flt`` (all of them when None), counting no further than
        ``at_most`` (a bounded count reads at most that many index entries)."""
        with self._read() as db:
            ukey = self._ukey(db, user_id)
            if ukey is None or (flt is not None and flt.is_empty):
                return 0
            if flt is None:
                (count,) = db.execute("SELECT records FROM users WHERE ukey = ?", (ukey,)).fetchone()
                return int(count) if at_most is None else min(int(count), at_most)
            condition, params = where(flt, ukey)
            if at_most is None:
                sql, args = f"SELECT count(*) FROM records WHERE ukey = ? AND {condition}", (ukey, *params)
            else:
                sql = f"SELECT count(*) FROM (SELECT 1 FROM records WHERE ukey = ? AND {condition} LIMIT ?)"
                args = (ukey, *params, at_most)
            (count,) = db.execute(sql, args).fetchone()
        return int(count)

    def users(self) -> list[str]:
        """Every user with at least one record, sorted."""
        with self._read() as db:
            rows = db.execute("SELECT user_id FROM users WHERE records > 0").fetchall()
        return sorted(user for (user,) in rows)

    def lexical(
        self, user_id: str, query: str, k: int, flt: RecordFilter, score_ids: Sequence[str] = ()
    ) -> LexicalHits:
        """The ``k`` records of ``user_id`` passing ``flt`` with the best BM25 for ``query``, best first,
        and the score of every id in ``score_ids``.

        Scores are divided by `memagent.lexical.full_match_score` (1.0: an average-length record holding
        every query term once); records sharing no term with the query are never returned.
        """
        wanted = list(dict.fromkeys(score_ids))
        nothing = LexicalHits(hits=[], scores=dict.fromkeys(wanted, 0.0))
        terms = query_terms(query)
        if not terms or flt.is_empty:
            return nothing
        with self._read() as db:
            row = db.execute(
                "SELECT ukey, records, length FROM users WHERE user_id = ?", (user_id,)
            ).fetchone()
            if row is None:
                return nothing
            ukey, n_docs, total_length = (int(v) for v in row)
            postings = _postings.read(db, ukey, terms)
            docs, scores, bound = score_postings(postings, n_docs=n_docs, total_length=total_length)
            if docs.size == 0 or bound <= 0:
                return nothing
            normalised = scores / bound
            hits = self._best_passing(db, ukey, docs, normalised, k, flt) if k > 0 else []
            return LexicalHits(hits=hits, scores=self._scores_of(db, ukey, wanted, docs, normalised))

    @staticmethod
    def _scores_of(
        db: sqlite3.Connection, ukey: int, ids: list[str], docs: np.ndarray, scores: np.ndarray
    ) -> dict[str, float]:
        """The score of each id (0.0 when it matched no term); ``docs`` is sorted."""
        out = dict.fromkeys(ids, 0.0)
        for chunk in _chunks(ids):
            rows = db.execute(
                f"SELECT id, doc FROM records WHERE ukey = ? AND id IN ({_marks(len(chunk))})", (ukey, *chunk)
            ).fetchall()
            for rid, doc in rows:
                at = int(np.searchsorted(docs, doc))
                if at < docs.size and int(docs[at]) == doc:
                    out[rid] = float(scores[at])
        return out

    def _best_passing(
        self,
        db: sqlite3.Connection,
        ukey: int,
        docs: np.ndarray,
        scores: np.ndarray,
        k: int,
        flt: RecordFilter,
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` best-scored documents whose records pass ``flt``; equal scores put the newer document
        first.

        Only the best few documents are put in order (`best_documents`); their records are checked
        against ``flt`` by id in SQL, widening the window until ``k`` pass, and only the ``k`` winners are
        decoded.
        """
        condition, params = where(flt, ukey)
        passing: list[tuple[int, float]] = []
        checked = 0
        width = k + max(8, k // 4)
        while len(passing) < k and checked < docs.size:
            window = best_documents(docs, scores, checked + width)[checked:]
            checked += window.size
            width *= 4
            score_of = {int(docs[i]): float(scores[i]) for i in window}
            found: set[int] = set()
            for chunk in _chunks(list(score_of)):
                rows = db.execute(
                    f"SELECT doc FROM records WHERE ukey = ? AND doc IN ({_marks(len(chunk))}) "
                    f"AND {condition}",
                    (ukey, *chunk, *params),
                )
                found.update(int(doc) for (doc,) in rows)
            passing += [(doc, score) for doc, score in score_of.items() if doc in found]
        winners = passing[:k]
        decoded: dict[int, MemoryRecord] = {}
        for chunk in _chunks([doc for doc, _ in winners]):
            rows = db.execute(
                f"SELECT doc, body FROM records WHERE ukey = ? AND doc IN ({_marks(len(chunk))})",
                (ukey, *chunk),
            )
            decoded.update((int(doc), _decode(body)) for doc, body in rows)
        return [
            (decoded[doc], score) for doc, score in winners if doc in decoded and flt.matches(decoded[doc])
        ]

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:  # pragma: no cover - closing twice or a broken connection
                pass
