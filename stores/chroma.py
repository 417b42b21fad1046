"""`ChromaStore`: a `MemoryStore` over a Chroma collection (embedded, persistent or a server).

Each record is one Chroma item. Its metadata carries the whole `MemoryRecord` as JSON (key ``record``)
and the flat fields filters need: ``user_id``, ``kind``, ``current``, ``valid_from``, ``valid_until``
(``OPEN_UNTIL`` while current) and ``event_time`` (epoch seconds). A `RecordFilter` becomes a Chroma
``where`` that always pins ``user_id``, so users never mix. Item ids are namespaced by user, so two
users may hold records with the same id. Embeddings are always passed in: Chroma's own embedding
function is never used (it would download a model).

chromadb is an optional dependency (``pip install 'memagent[chroma]'``); it is imported on first use.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from memagent.errors import ConfigError, MemAgentError, StoreError
from memagent.interfaces import MemoryStore
from memagent.types import MemoryRecord, RecordFilter

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

__all__ = ["DEFAULT_COLLECTION", "OPEN_UNTIL", "ChromaStore", "record_where"]

DEFAULT_COLLECTION = "memagent_memories"
"""Collection used when none is named."""
OPEN_UNTIL = 1e13
"""``valid_until`` stored for a current record (epoch seconds far beyond any datetime)."""
_INSTALL_HINT = "ChromaStore needs chromadb: pip install 'memagent[chroma]'"


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


@contextmanager
def _failing(action: str) -> Iterator[None]:
    """Re-raise anything but memagent's own errors as `StoreError` saying what failed."""
    try:
        yield
    except MemAgentError:
        raise
    except Exception as exc:
        raise StoreError(f"Chroma failed to {action}: {type(exc).__name__}: {exc}") from exc


def _item_id(user_id: str, record_id: str) -> str:
    """The Chroma id of a record: unambiguous per (user, record id)."""
    return f"{len(user_id)}:{user_id}:{record_id}"


def _metadata(record: MemoryRecord) -> dict[str, str | float | bool]:
    """The Chroma metadata of ``record``: its JSON plus the flat fields filters use."""
    return {
        "record": record.model_dump_json(),
        "record_id": record.id,
        "user_id": record.user_id,
        "kind": record.kind.value,
        "current": record.valid_until is None,
        "valid_from": record.valid_from.timestamp(),
        "valid_until": OPEN_UNTIL if record.valid_until is None else record.valid_until.timestamp(),
        "event_time": record.event_time.timestamp(),
    }


def _record(metadata: Any) -> MemoryRecord:
    """Decode the record kept in a Chroma metadata dict."""
    try:
        return MemoryRecord.model_validate_json(metadata["record"])
    except (KeyError, TypeError, ValidationError) as exc:
        raise StoreError(f"Chroma item does not hold a valid memagent record: {exc}") from exc


def record_where(user_id: str, filter: RecordFilter | None = None) -> dict[str, Any] | None:
    """The Chroma ``where`` selecting the records of ``user_id`` that pass ``filter``.

    Returns None when the filter cannot match anything (an empty ``kinds``).
    """
    flt = filter or RecordFilter()
    clauses: list[dict[str, Any]] = [{"user_id": {"$eq": user_id}}]
    if flt.kinds is not None:
        if not flt.kinds:
            return None
        clauses.append({"kind": {"$in": [kind.value for kind in flt.kinds]}})
    if flt.as_of is not None:
        when = flt.as_of.timestamp()
        clauses.append({"valid_from": {"$lte": when}})
        clauses.append({"valid_until": {"$gt": when}})
    elif flt.current_only:
        clauses.append({"current": {"$eq": True}})
    if flt.since is not None:
        clauses.append({"event_time": {"$gte": flt.since.timestamp()}})
    if flt.until is not None:
        clauses.append({"event_time": {"$lt": flt.until.timestamp()}})
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaStore(MemoryStore):
    """Memory records in one Chroma collection (cosine space), shared by all users.

    Args:
        client: A chromadb client (``chromadb.PersistentClient``, ``HttpClient``, ...).
        collection_name: The collection to use; created with cosine space if missing.
        page_size: Items fetched per Chroma ``get`` when listing or deleting.
        owns_client: Close ``client`` in `close` (set by the constructors below).
        drop_on_close: Delete the collection in `close` (ephemeral stores).

    Raises:
        ConfigError: chromadb is missing, or the collection does not use cosine distance.
        StoreError: Chroma failed to open the collection.
    """

    def __init__(
        self,
        client: ClientAPI,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        page_size: int = 1000,
        owns_client: bool = False,
        drop_on_close: bool = False,
    ) -> None:
        _chromadb()
        if page_size < 1:
            raise ConfigError(f"page_size must be at least 1, got {page_size}")
        self._client = client
        self._name = collection_name
        self._page_size = page_size
        self._owns_client = owns_client
        self._drop_on_close = drop_on_close
        self._closed = False
        self._lock = threading.RLock()
        with _failing(f"open collection {collection_name!r}"):
            self._collection: Collection = client.get_or_create_collection(
                collection_name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
            )
            self._batch = max(1, min(client.get_max_batch_size(), 5000))
        space = self._space()
        if space not in (None, "cosine"):
            raise ConfigError(
                f"Chroma collection {collection_name!r} uses {space!r} distance; memagent needs 'cosine' "
                "(use another collection name)"
            )

    @classmethod
    def persistent(
        cls, path: str | Path, collection_name: str = DEFAULT_COLLECTION, *, page_size: int = 1000
    ) -> ChromaStore:
        """A store saved under directory ``path`` (created if missing)."""
        chromadb = _chromadb()
        with _failing(f"open a persistent client at {str(path)!r}"):
            client = chromadb.PersistentClient(path=str(Path(path).expanduser()), settings=_settings())
        return cls._owning(client, collection_name, page_size, drop_on_close=False)

    @classmethod
    def ephemeral(cls, *, page_size: int = 1000) -> ChromaStore:
        """An in-memory store for tests: each call gets its own collection, dropped on `close`."""
        chromadb = _chromadb()
        with _failing("open an in-memory client"):
            client = chromadb.EphemeralClient(settings=_settings())
        return cls._owning(client, f"memagent_{uuid.uuid4().hex}", page_size, drop_on_close=True)

    @classmethod
    def http(
        cls,
        host: str = "localhost",
        port: int = 8000,
        collection_name: str = DEFAULT_COLLECTION,
        *,
        ssl: bool = False,
        page_size: int = 1000,
    ) -> ChromaStore:
        """A client of a Chroma server (``chroma run --path DIR --port N``)."""
        chromadb = _chromadb()
        scheme = "https" if ssl else "http"
        with _failing(f"reach the Chroma server at {scheme}://{host}:{port}"):
            client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=_settings())
        return cls._owning(client, collection_name, page_size, drop_on_close=False)

    @classmethod
    def _owning(
        cls, client: ClientAPI, collection_name: str, page_size: int, *, drop_on_close: bool
    ) -> ChromaStore:
        """A store that closes ``client`` (or closes it right away if the store cannot open)."""
        try:
            return cls(
                client, collection_name, page_size=page_size, owns_client=True, drop_on_close=drop_on_close
            )
        except BaseException:
            _close_client(client)
            raise

    @property
    def client(self) -> ClientAPI:
        """The underlying chromadb client."""
        return self._client

    @property
    def collection_name(self) -> str:
        """Name of the Chroma collection holding the records."""
        return self._name

    def _space(self) -> str | None:
        """The distance space the collection was created with (None if Chroma does not say)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # "legacy embedding function config"
            try:
                config = self._collection.configuration
            except Exception:
                return None
        hnsw = config.get("hnsw") if isinstance(config, dict) else None
        return hnsw.get("space") if isinstance(hnsw, dict) else None

    def put(self, records: Sequence[MemoryRecord], embeddings: Sequence[Sequence[float]]) -> None:
        """Insert or replace ``records`` (by user and id), each with its embedding.

        A record id repeated within one call keeps its last occurrence.

        Raises:
            ConfigError: ``records`` and ``embeddings`` differ in length.
            StoreError: Chroma rejected the batch (for example an embedding of the wrong dimension).
        """
        if len(records) != len(embeddings):
            raise ConfigError(f"put got {len(records)} records but {len(embeddings)} embeddings")
        latest: dict[str, tuple[MemoryRecord, list[float]]] = {}
        for record, embedding in zip(records, embeddings, strict=True):
            key = _item_id(record.user_id, record.id)
            latest.pop(key, None)
            latest[key] = (record, [float(x) for x in embedding])
        items = list(latest.items())
        with self._lock, _failing(f"store {len(items)} records in {self._name!r}"):
            for start in range(0, len(items), self._batch):
                chunk = items[start : start + self._batch]
                self._collection.upsert(
                    ids=[key for key, _ in chunk],
                    embeddings=[vector for _, (_, vector) in chunk],
                    metadatas=[_metadata(record) for _, (record, _) in chunk],
                )

    def get(self, user_id: str, ids: Sequence[str]) -> list[MemoryRecord]:
        """The records of ``user_id`` with these ids, in the order given; unknown ids are left out."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, MemoryRecord] = {}
        with _failing(f"get {len(wanted)} records of user {user_id!r}"):
            for start in range(0, len(wanted), self._batch):
                chunk = [_item_id(user_id, i) for i in wanted[start : start + self._batch]]
                result = self._collection.get(ids=chunk, where={"user_id": user_id}, include=["metadatas"])
                for metadata in result["metadatas"] or []:
                    record = _record(metadata)
                    found[record.id] = record
        return [found[i] for i in ids if i in found]

    def _scan(self, where: dict[str, Any], include: list[str]) -> Iterator[tuple[str, Any]]:
        """Every (item id, metadata) matching ``where``, fetched ``page_size`` at a time."""
        offset = 0
        while True:
            page = self._collection.get(where=where, include=include, limit=self._page_size, offset=offset)
            ids = page["ids"]
            metadatas = page["metadatas"] or [None] * len(ids)
            yield from zip(ids, metadatas, strict=True)
            if len(ids) < self._page_size:
                return
            offset += len(ids)

    def list(self, user_id: str, filter: RecordFilter | None = None) -> list[MemoryRecord]:
        """All records of ``user_id`` passing ``filter`` (default `RecordFilter()`), oldest event first."""
        flt = filter or RecordFilter()
        where = record_where(user_id, flt)
        if where is None:
            return []
        with self._lock, _failing(f"list the records of user {user_id!r}"):
            records = [_record(metadata) for _, metadata in self._scan(where, ["metadatas"])]
        records = [r for r in records if r.user_id == user_id and flt.matches(r)]
        records.sort(key=lambda r: (r.event_time, r.id))
        return records

    def search(
        self, user_id: str, embedding: Sequence[float], k: int, filter: RecordFilter | None = None
    ) -> list[tuple[MemoryRecord, float]]:
        """The ``k`` records of ``user_id`` passing ``filter`` most similar to ``embedding``, best first.

        The filter runs inside Chroma's query, before the top-``k`` cut. Similarity is ``1 - distance``.
        """
        flt = filter or RecordFilter()
        where = record_where(user_id, flt)
        if k <= 0 or where is None:
            return []
        with _failing(f"search the records of user {user_id!r}"):
            result = self._collection.query(
                query_embeddings=[[float(x) for x in embedding]],
                n_results=k,
                where=where,
                include=["metadatas", "distances"],
            )
            metadatas = (result["metadatas"] or [[]])[0]
            distances = (result["distances"] or [[]])[0]
            hits = [(_record(m), 1.0 - float(d)) for m, d in zip(metadatas, distances, strict=True)]
        hits = [(r, s) for r, s in hits if r.user_id == user_id and flt.matches(r)]
        hits.sort(key=lambda pair: (-pair[1], pair[0].id))
        return hits

    def delete_user(self, user_id: str) -> int:
        """Remove everything stored for ``user_id``; returns the number of records removed."""
        with self._lock, _failing(f"delete the records of user {user_id!r}"):
            ids = [item_id for item_id, _ in self._scan({"user_id": user_id}, [])]
            for start in range(0, len(ids), self._batch):
                self._collection.delete(ids=ids[start : start + self._batch])
        return len(ids)

    def users(self) -> list[str]:
        """Ids of every user with at least one record, sorted (scans the collection)."""
        found: set[str] = set()
        with self._lock, _failing(f"list the users of {self._name!r}"):
            offset = 0
            while True:
                page = self._collection.get(include=["metadatas"], limit=self._page_size, offset=offset)
                found.update(str(m["user_id"]) for m in page["metadatas"] or [] if m and "user_id" in m)
                if len(page["ids"]) < self._page_size:
                    break
                offset += len(page["ids"])
        return sorted(found)

    def count(self) -> int:
        """Number of records of all users."""
        with _failing(f"count the items of {self._name!r}"):
            return int(self._collection.count())

    def close(self) -> None:
        """Drop an ephemeral collection and release a client this store opened (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._drop_on_close:
                    with _failing(f"drop collection {self._name!r}"):
                        self._client.delete_collection(self._name)
            finally:
                if self._owns_client:
                    _close_client(self._client)

    def __repr__(self) -> str:
        return f"ChromaStore(collection={self._name!r})"


def _close_client(client: Any) -> None:
    """Close a chromadb client if it can be closed (releases the SQLite files of a persistent one)."""
    close = getattr(client, "close", None)
    if callable(close):
        close()
