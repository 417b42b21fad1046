"""`ChromaStore`: the default persistent store: vectors in Chroma, records in a SQLite catalog beside them.

Each user's vectors live in two Chroma collections of their own (raw turns, extracted memories), named
``<prefix>-<hash of the user id>-<t|m>``, so a query never filters other users out: Chroma's local
``where`` filtering scans every item of a collection (400-800 ms at 200k items on this hardware), while an
unfiltered query of a user's own collection takes a few milliseconds. Records, their lookups and the
BM25 index live in the `SqliteCatalog` (``<prefix>.sqlite3`` in the data directory). Embeddings are
always passed in: Chroma's own embedding function is never used (it would download a model).

An embedded store keeps the indexes of the most recently used collections loaded, about
`LOADED_COLLECTIONS` of them (``loaded_collections``), so its memory does not grow with the number of
users; each collection writes its index to disk at every write, so an unloaded one reloads whole.

Stores written by memagent 0.1 (one shared collection holding each record as JSON metadata) are
migrated on open: the records move to the catalog and the vectors to the per-user collections, then the
old collection is dropped. An interrupted migration resumes on the next open.

chromadb is imported on first use, so that importing `memagent.stores` stays cheap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from pydantic import ValidationError

from memagent.errors import ConfigError, MemAgentError, StoreError
from memagent.stores._catalog import SqliteCatalog
from memagent.stores._indexed import GROUPS, IndexedStore
from memagent.stores._lock import ProcessLock
from memagent.types import MemoryRecord

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = ["DEFAULT_COLLECTION", "LOADED_COLLECTIONS", "ChromaStore", "ChromaVectors", "catalog_file"]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "memagent_memories"
"""Prefix of the collections used when none is named."""


LOCK_FILE = "memagent.lock"
"""The file of a persistent store's directory that its process holds locked (`ProcessLock`)."""


def catalog_file(collection_name: str) -> str:
    """The file name of the catalog of ``collection_name`` inside a persistent store's directory."""
    return f"{collection_name}.sqlite3"


LOADED_COLLECTIONS = 256
"""Default number of collections an embedded Chroma store keeps loaded (a small one takes about 1.3 MB)."""

_INSTALL_HINT = "ChromaStore needs chromadb, a dependency of memagent: pip install memagent"
_ON_DISK = {"sync_threshold": 1, "batch_size": 1}
"""Write every collection's index to disk at every write: chromadb 1.5 cannot reload a collection it
unloaded from its cache before the index reached the disk ("Nothing found on disk", or the last writes
missing from searches). Measured: 2% slower writes at 100k vectors."""
_HNSW = {"hnsw": {"space": "cosine", **_ON_DISK}}
_FILE_HEADROOM = 64
_SEGMENTS_INDEX = "memagent_segments_by_collection"
_EVERY_COLLECTION = 1 << 18
_MIGRATION_PAGE = 1000
_BUSY_WAIT_S = 30.0
T = TypeVar("T")


def _chromadb() -> Any:
    """The chromadb module, or a `ConfigError` with the install hint."""
    try:
        import chromadb
    except ImportError as exc:
        raise ConfigError(_INSTALL_HINT) from exc
    return chromadb


def _settings() -> Any:
    """Chroma client settings with telemetry off."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def _not_found(exc: Exception) -> bool:
    from chromadb.errors import NotFoundError

    return isinstance(exc, NotFoundError)


def _patiently(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call Chroma again while its SQLite database is locked, for up to `_BUSY_WAIT_S` seconds: an
    embedded Chroma that opens after a crash applies its log in the background while this process
    works, and a call meeting that work fails at once with ``database is locked``."""
    deadline = time.monotonic() + _BUSY_WAIT_S
    pause = 0.02
    while True:
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(2 * pause, 0.5)


@contextmanager
def _failing(action: str) -> Iterator[None]:
    """Re-raise anything but memagent's own errors as `StoreError` saying what failed."""
    try:
        yield
    except MemAgentError:
        raise
    except Exception as exc:
        raise StoreError(f"Chroma failed to {action}: {type(exc).__name__}: {exc}") from exc


@contextmanager
def _index_cache(collections: int) -> Iterator[None]:
    """Size the cache of loaded vector indexes of the Chroma clients started inside this block.

    An embedded chromadb 1.5 client keeps at most a fifth of the process's soft open-file limit of
    vector indexes loaded (read once, when the client starts) and unloads the least recently used. So
    the soft limit is set to five times ``collections`` (plus room for the files already open) while
    the client starts, then put back (or left higher, when the index files need it). Every collection
    is written to disk at each write (`_HNSW`), so an unloaded one reloads whole.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows: Chroma reads the C runtime's limit instead
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max(5 * max(1, collections), _open_files() + _FILE_HEADROOM)
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError):  # pragma: no cover - platform-dependent
        yield
        return
    try:
        yield
    finally:
        keep = soft == resource.RLIM_INFINITY or soft >= wanted
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft if keep else wanted, hard))


def _open_files() -> int:
    """How many files this process has open (0 where the system does not say)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # pragma: no cover - not Linux
        return 0


def _index_segment_lookups(database: Path) -> None:
    """Index Chroma's segments by collection in an embedded database (idempotent).

    chromadb 1.5 looks up a collection's segments by collection id on every query and write, and its
    ``segments`` table has no index on that column: with a collection per user and group, each query
    scanned every collection's segments (0.7-1.1 ms of CPU a query at 2,000 collections, measured). An
    index changes no result. Failing to add it only costs that time, so it is logged, not raised.
    """
    try:
        with closing(sqlite3.connect(database, timeout=30.0)) as db, db:
            db.execute(f"CREATE INDEX IF NOT EXISTS {_SEGMENTS_INDEX} ON segments (collection)")
    except sqlite3.Error as exc:  # pragma: no cover - a read-only or locked database
        logger.warning("could not index Chroma's segments by collection in %s: %s", database, exc)


def _erase_deleted(directory: Path, *, vacuum: bool) -> None:
    """Erase what an embedded Chroma keeps of deleted collections: their index directories (which
    chromadb 1.5 leaves on disk, and may write again when its client closes) and, with ``vacuum``, the
    rows its SQLite database only marks free (``VACUUM`` rewrites the file without them). The segments of
    a collection that still exists are never touched.

    Raises:
        StoreError: The database could not be rewritten (another process holds it).
    """
    database = directory / "chroma.sqlite3"
    try:
        # Directories first, then the segments: Chroma records a segment before it creates its
        # directory, so a collection created meanwhile is never taken for a deleted one.
        found = [entry for entry in directory.iterdir() if entry.is_dir() and _is_uuid(entry.name)]
        with closing(sqlite3.connect(database, timeout=30.0)) as db:
            live = {row[0] for row in db.execute("SELECT id FROM segments")}
            for entry in found:
                if entry.name not in live:
                    try:
                        shutil.rmtree(entry)
                    except OSError as exc:  # pragma: no cover - a file still open on Windows
                        logger.warning("could not remove %s, which holds deleted vectors: %s", entry, exc)
            (free,) = db.execute("PRAGMA freelist_count").fetchone()
            if vacuum and free:  # also those of an earlier delete that was interrupted
                db.execute("VACUUM")
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"could not erase deleted vectors from {directory}: {exc}") from exc


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def _keep_on_disk(collection: Collection) -> None:
    """Make a collection created by an earlier memagent (Chroma's default: written to disk every 1,000
    items) write its index at every write, and write it now by storing one of its vectors again."""
    configuration: dict[str, Any] = dict(collection.configuration)
    hnsw = configuration.get("hnsw") or {}
    # chromadb 1.5 reports ``sync_threshold`` but not ``batch_size``: compare what it reports.
    if all(hnsw.get(key) == value for key, value in _ON_DISK.items() if key in hnsw):
        return
    _patiently(collection.modify, configuration={"hnsw": dict(_ON_DISK)})
    sample = collection.get(limit=1, include=["embeddings"])
    if sample["ids"]:
        _patiently(collection.upsert, ids=sample["ids"], embeddings=sample["embeddings"])


def _close_client(client: Any) -> None:
    """Close a chromadb client if it can be closed (releases the SQLite files of a persistent one)."""
    close = getattr(client, "close", None)
    if callable(close):
        close()


class ChromaVectors:
    """A `VectorIndex` over Chroma: one collection per user and group, cosine space.

    Args:
        client: A chromadb client (``PersistentClient``, ``HttpClient``, ``EphemeralClient``).
        prefix: Start of every collection name (a valid Chroma name, at most 480 characters).
    """

    def __init__(self, client: ClientAPI, prefix: str = DEFAULT_COLLECTION) -> None:
        _chromadb()
        if not prefix or len(prefix) > 480:
            raise ConfigError(f"collection prefix must be 1-480 characters, got {len(prefix)}")
        self.client = client
        self.prefix = prefix
        self._lock = threading.RLock()
        self._collections: dict[str, Collection] = {}
        self._on_disk: set[str] = set()  # collections known to write their index at every write
        with _failing("read its batch size"):
            self._persistent = bool(client.get_settings().is_persistent)
            self._batch = max(1, min(client.get_max_batch_size(), 5000))

    def name(self, user_id: str, group: str) -> str:
        """The collection holding ``group`` of ``user_id``."""
        digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()[:24]
        return f"{self.prefix}-{digest}-{group[0]}"

    def _collection(self, user_id: str, group: str, *, create: bool) -> Collection | None:
        name = self.name(user_id, group)
        with self._lock:
            found = self._collections.get(name)
            if found is not None:
                return found
            with _failing(f"open collection {name!r}"):
                if create:
                    found = _patiently(
                        self.client.get_or_create_collection,
                        name,
                        embedding_function=None,
                        configuration=_HNSW,
                    )
                else:
                    try:
                        found = _patiently(self.client.get_collection, name, embedding_function=None)
                    except Exception as exc:
                        if _not_found(exc):
                            return None
                        raise
            self._collections[name] = found
            return found

    def _before_write(self, collection: Collection) -> None:
        """In an embedded persistent client, make a collection created by an earlier memagent write its
        index at every write (`_keep_on_disk`) before it is written to."""
        if self._persistent and collection.name not in self._on_disk:
            with self._lock, _failing(f"configure collection {collection.name!r}"):
                _keep_on_disk(collection)
                self._on_disk.add(collection.name)

    def upsert(self, user_id: str, group: str, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of ``ids``."""
        collection = self._collection(user_id, group, create=True)
        assert collection is not None
        self._before_write(collection)
        with _failing(f"store {len(ids)} vectors"):
            for start in range(0, len(ids), self._batch):
                _patiently(
                    collection.upsert,
                    ids=list(ids[start : start + self._batch]),
                    embeddings=vectors[start : start + self._batch],
                )

    def delete(self, user_id: str, group: str, ids: Sequence[str]) -> None:
        """Remove the vectors of ``ids``."""
        collection = self._collection(user_id, group, create=False)
        if collection is not None and ids:
            self._before_write(collection)
            with _failing(f"delete {len(ids)} vectors"):
                _patiently(collection.delete, ids=list(ids))

    def query(self, user_id: str, group: str, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The ``n`` nearest ids; similarity is ``1 - cosine distance``."""
        return self.query_many(user_id, group, vector[np.newaxis, :], n)[0]

    def query_many(
        self, user_id: str, group: str, vectors: np.ndarray, n: int
    ) -> list[list[tuple[str, float]]]:
        """`query` for each row of ``vectors``, in one request."""
        collection = self._collection(user_id, group, create=False)
        if collection is None or n <= 0:
            return [[] for _ in vectors]
        with _failing("query the vectors"):
            result = _patiently(
                collection.query, query_embeddings=list(vectors), n_results=n, include=["distances"]
            )
        found = []
        for ids, distances in zip(result["ids"], result["distances"] or [], strict=True):
            pairs = [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]
            pairs.sort(key=lambda pair: (-pair[1], pair[0]))
            found.append(pairs)
        return found

    def vectors(
        self, user_id: str, group: str, *, page: int = 1000
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """Every vector of the group, a page of (ids, rows) at a time."""
        collection = self._collection(user_id, group, create=False)
        offset = 0
        while collection is not None:
            with _failing("read the vectors"):
                got = _patiently(collection.get, include=["embeddings"], limit=page, offset=offset)
            if not got["ids"]:
                return
            yield list(got["ids"]), np.asarray(got["embeddings"], dtype=np.float32)
            offset += len(got["ids"])

    def drop_user(self, user_id: str) -> None:
        """Delete the user's collections (idempotent) and, in an embedded persistent client, erase them
        from disk (`_erase_deleted`)."""
        with self._lock:
            for group in GROUPS:
                name = self.name(user_id, group)
                self._collections.pop(name, None)
                self._on_disk.discard(name)
                with _failing(f"delete collection {name!r}"):
                    try:
                        _patiently(self.client.delete_collection, name)
                    except Exception as exc:
                        if not _not_found(exc):
                            raise
            if self._persistent:  # also when none was left: a forget interrupted after Chroma's delete
                _erase_deleted(self.directory, vacuum=True)

    @property
    def directory(self) -> Path:
        """The directory of an embedded persistent client."""
        return Path(self.client.get_settings().persist_directory)

    def drop_all(self) -> None:
        """Delete every collection of this prefix (an ephemeral store's teardown)."""
        with self._lock, _failing("drop the store's collections"):
            self._collections.clear()
            for collection in self.client.list_collections():
                if collection.name.startswith(f"{self.prefix}-"):
                    _patiently(self.client.delete_collection, collection.name)

    def close(self) -> None:
        """Forget the cached collection handles (the client is closed by its owner)."""
        with self._lock:
            self._collections.clear()


class ChromaStore(IndexedStore):
    """Vectors in Chroma (embedded, persistent or a server), records in a SQLite catalog.

    Args:
        client: A chromadb client (``chromadb.PersistentClient``, ``HttpClient``, ...).
        catalog: Where the records and their indexes live (None: in memory, lost on close).
        collection_name: Prefix of the per-user collections (also the name of a 0.1 store to migrate).
        owns_client: Close ``client`` in `close` (set by the constructors below).
        drop_on_close: Delete the collections in `close` (ephemeral stores).
        recover: Check and repair the users whose writes a dead process left unfinished
            (`IndexedStore.finish_interrupted_writes`); off when another store of this process has the
            same files open.

    Raises:
        ConfigError: chromadb is missing, or the prefix is unusable.
        StoreError: Chroma or the catalog failed to open.
    """

    def __init__(
        self,
        client: ClientAPI,
        *,
        catalog: SqliteCatalog | str | Path | None = None,
        collection_name: str = DEFAULT_COLLECTION,
        owns_client: bool = False,
        drop_on_close: bool = False,
        recover: bool = True,
    ) -> None:
        vectors = ChromaVectors(client, collection_name)
        records = catalog if isinstance(catalog, SqliteCatalog) else SqliteCatalog(catalog)
        self._records = records  # the catalog as itself: the schema-1 upgrade below needs its own methods
        super().__init__(records, vectors)
        self._chroma = vectors
        self._client = client
        self._name = collection_name
        self._owns_client = owns_client
        self._drop_on_close = drop_on_close
        self._closed = False
        self._process_lock: ProcessLock | None = None  # held by the stores that open local files
        try:
            self._migrate_legacy()
            self._copy_vectors_into_catalog()
            if recover:
                self.finish_interrupted_writes()
        except BaseException:
            if not isinstance(catalog, SqliteCatalog):  # the catalog this store opened
                records.close()
            raise

    @classmethod
    def persistent(
        cls,
        path: str | Path,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        loaded_collections: int = LOADED_COLLECTIONS,
    ) -> ChromaStore:
        """A store saved under directory ``path`` (created if missing): Chroma's files and the catalog.

        At most about ``loaded_collections`` collections (two per user) stay loaded in memory; the least
        recently used are unloaded and read from disk again when needed. The first store opened on a
        directory in a process sets this for every later one.
        """
        chromadb = _chromadb()
        directory = Path(path).expanduser()
        lock = ProcessLock(directory / LOCK_FILE, f"data directory {str(directory)!r}")
        try:
            with _failing(f"open a persistent client at {str(path)!r}"), _index_cache(loaded_collections):
                client = chromadb.PersistentClient(path=str(directory), settings=_settings())
            _index_segment_lookups(directory / "chroma.sqlite3")
        except BaseException:
            lock.release()
            raise
        return cls._owning(
            client, directory / catalog_file(collection_name), collection_name, drop_on_close=False, lock=lock
        )

    @classmethod
    def ephemeral(cls) -> ChromaStore:
        """An in-memory store for tests: its own collections, dropped on `close`, and an in-memory catalog."""
        chromadb = _chromadb()
        # An in-memory collection that Chroma unloads is lost: keep as many loaded as the system allows.
        with _failing("open an in-memory client"), _index_cache(_EVERY_COLLECTION):
            client = chromadb.EphemeralClient(settings=_settings())
        return cls._owning(client, None, f"memagent_{uuid.uuid4().hex}", drop_on_close=True)

    @classmethod
    def http(
        cls,
        host: str = "localhost",
        port: int = 8000,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        catalog: str | Path,
        ssl: bool = False,
    ) -> ChromaStore:
        """A client of a Chroma server (``chroma run --path DIR --port N``); records in ``catalog``."""
        chromadb = _chromadb()
        scheme = "https" if ssl else "http"
        records = Path(catalog).expanduser()
        lock = ProcessLock(records.with_name(f"{records.name}.lock"), f"catalog {str(records)!r}")
        try:
            with _failing(f"reach the Chroma server at {scheme}://{host}:{port}"):
                client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_settings())
        except BaseException:
            lock.release()
            raise
        return cls._owning(client, records, collection_name, drop_on_close=False, lock=lock)

    @classmethod
    def _owning(
        cls,
        client: ClientAPI,
        catalog: Path | None,
        collection_name: str,
        *,
        drop_on_close: bool,
        lock: ProcessLock | None = None,
    ) -> ChromaStore:
        """A store that closes ``client`` and releases ``lock`` (right away if the store cannot open)."""
        try:
            store = cls(
                client,
                catalog=catalog,
                collection_name=collection_name,
                owns_client=True,
                drop_on_close=drop_on_close,
                recover=lock is None or lock.first,
            )
        except BaseException:
            try:
                _close_client(client)
            finally:
                if lock is not None:
                    lock.release()
            raise
        store._process_lock = lock
        return store

    @property
    def client(self) -> ClientAPI:
        """The underlying chromadb client."""
        return self._client

    @property
    def collection_name(self) -> str:
        """Prefix of the per-user Chroma collections."""
        return self._name

    def _migrate_legacy(self) -> None:
        """Move a 0.1 store (one collection, records as JSON metadata) into the catalog and per-user
        collections."""
        with _failing(f"look for a 0.1 collection named {self._name!r}"):
            try:
                legacy = self._client.get_collection(self._name, embedding_function=None)
            except Exception as exc:
                if _not_found(exc):
                    return
                raise
        if self.catalog_location == ":memory:":
            raise StoreError(
                f"collection {self._name!r} is a memagent 0.1 store; open it with a catalog file "
                "(ChromaStore.persistent, or catalog=PATH) so that its records are kept when migrated"
            )
        with _failing(f"migrate collection {self._name!r}"):
            while True:
                page = legacy.get(include=["metadatas", "embeddings"], limit=_MIGRATION_PAGE)
                if not page["ids"]:
                    break
                records = []
                for metadata in page["metadatas"] or []:
                    try:
                        records.append(MemoryRecord.model_validate_json(str((metadata or {})["record"])))
                    except (KeyError, ValidationError) as exc:
                        raise StoreError(
                            f"collection {self._name!r} holds an item that is not a memagent 0.1 "
                            f"record: {exc}"
                        ) from exc
                embeddings = page["embeddings"]
                if embeddings is None:
                    raise StoreError(f"collection {self._name!r} returned no embeddings to migrate")
                self.put(records, [list(map(float, e)) for e in embeddings])
                legacy.delete(ids=page["ids"])
            self._client.delete_collection(self._name)

    def _copy_vectors_into_catalog(self) -> None:
        """Copy every record's vector from Chroma into a catalog upgraded from schema 1 (which kept none).
        Interrupted, it starts again on the next open. A record Chroma does not hold stays without a
        stored vector; exact ranking then skips its searches (`SqliteCatalog.nearest`)."""
        if not self._records.vectors_missing:
            return
        for user_id in self._records.users():
            for group in GROUPS:
                for ids, matrix in self._chroma.vectors(user_id, group):
                    self._records.store_vectors(user_id, ids, matrix)
        self._records.vectors_copied()

    def close(self) -> None:
        """Drop an ephemeral store's collections, release the catalog and a client this store opened."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._drop_on_close:
                self._chroma.drop_all()
        finally:
            try:
                super().close()
            finally:
                try:
                    if self._owns_client:
                        directory = self._chroma.directory if self._chroma._persistent else None
                        _close_client(self._client)
                        if directory is not None:  # index files a closing client wrote for deleted ones
                            _erase_deleted(directory, vacuum=False)
                finally:
                    if self._process_lock is not None:
                        self._process_lock.release()

    def __repr__(self) -> str:
        return f"ChromaStore(prefix={self._name!r}, catalog={self.catalog_location!r})"

    @property
    def catalog_location(self) -> str:
        """Where the catalog lives (a file, or ``:memory:``)."""
        catalog = self.catalog
        return catalog.location if isinstance(catalog, SqliteCatalog) else repr(catalog)
