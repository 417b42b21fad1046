"""`open_store`: a `MemoryStore` from a URL or a directory path.

| Location                         | Store                                             |
|----------------------------------|---------------------------------------------------|
| ``memory://``                    | `InProcessStore` (nothing persisted)              |
| ``chroma:///abs/path``           | `ChromaStore.persistent` at ``/abs/path``         |
| ``/a/dir``, ``./dir``, ``dir``   | `ChromaStore.persistent` at that directory        |
| ``chroma+ephemeral://``          | `ChromaStore.ephemeral` (in memory, isolated)     |
| ``http://host:port``, ``https:`` | `ChromaStore.http`, a client of a Chroma server   |

Chroma URLs take an optional ``?collection=NAME`` query (the prefix of the per-user collections). A Chroma
server keeps the vectors; the records and their indexes live in a local SQLite catalog, named by a
``?catalog=PATH`` query or by the ``catalog`` argument.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, parse_qs, urlsplit

from memagent.errors import ConfigError
from memagent.interfaces import MemoryStore

__all__ = ["open_store"]

_FORMS = "memory://, chroma:///abs/path, a directory path, chroma+ephemeral://, http://host:port"
_DEFAULT_PORT = 8000


def open_store(url: str, *, catalog: str | Path | None = None) -> MemoryStore:
    """Open the store named by ``url`` (see the module docstring for the accepted forms).

    ``catalog`` is the catalog file of a Chroma server store whose URL names none.

    Raises:
        ConfigError: ``url`` is empty, malformed or of an unknown scheme (the message names it).
        StoreError: The store could not be opened (an unreachable server, an unusable directory).
    """
    text = str(url).strip()
    if not text:
        raise ConfigError(f"empty store URL {text!r}; use one of: {_FORMS}")
    if "://" not in text:
        return _persistent(text, Path(text), None)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"malformed store URL {text!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme == "memory":
        _expect_empty(text, parts, netloc=True, path=True, query=True)
        from memagent.stores.memory import InProcessStore

        return InProcessStore()
    collection = _query_value(text, parts, "collection")
    catalog_path = _query_value(text, parts, "catalog")
    if catalog_path is not None and scheme not in ("http", "https"):
        raise ConfigError(f"store URL {text!r}: only a Chroma server URL takes a catalog")
    if scheme == "chroma":
        _expect_empty(text, parts, netloc=True, path=False, query=False)
        if not parts.path.startswith("/"):
            raise ConfigError(f"store URL {text!r} needs an absolute path: chroma:///abs/path")
        return _persistent(text, Path(parts.path), collection)
    if scheme == "chroma+ephemeral":
        _expect_empty(text, parts, netloc=True, path=True, query=False)
        if collection is not None:
            raise ConfigError(f"store URL {text!r}: an ephemeral store always uses a fresh collection")
        from memagent.stores.chroma import ChromaStore

        return ChromaStore.ephemeral()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ConfigError(f"store URL {text!r} names no host: use http://host:port")
        if parts.path not in ("", "/"):
            raise ConfigError(f"store URL {text!r} has a path; a Chroma server URL is http://host:port")
        chosen = catalog_path or catalog
        if chosen is None:
            raise ConfigError(
                f"store URL {text!r}: a Chroma server keeps the vectors, the records live in a local "
                "catalog file; add ?catalog=PATH"
            )
        from memagent.stores.chroma import ChromaStore

        return ChromaStore.http(
            parts.hostname,
            port or _DEFAULT_PORT,
            _or_default(collection),
            catalog=Path(chosen).expanduser(),
            ssl=scheme == "https",
        )
    raise ConfigError(f"unknown store URL {text!r}; use one of: {_FORMS}")


def _persistent(url: str, path: Path, collection: str | None) -> MemoryStore:
    """A persistent Chroma store at ``path`` (which must not be a file)."""
    path = path.expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"store location {url!r} is a file, not a directory")
    from memagent.stores.chroma import ChromaStore

    return ChromaStore.persistent(path, _or_default(collection))


def _query_value(url: str, parts: SplitResult, name: str) -> str | None:
    """The ``name`` query parameter of ``url`` (None when absent); unknown parameters are errors."""
    if not parts.query:
        return None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"collection", "catalog"})
    if unknown:
        raise ConfigError(
            f"store URL {url!r} has unknown parameters {unknown}; "
            "only 'collection' and 'catalog' are accepted"
        )
    if name not in query:
        return None
    values = query[name]
    if len(values) != 1 or not values[0]:
        raise ConfigError(f"store URL {url!r} must give exactly one non-empty {name}")
    return values[0]


def _or_default(collection: str | None) -> str:
    from memagent.stores.chroma import DEFAULT_COLLECTION

    return collection or DEFAULT_COLLECTION


def _expect_empty(url: str, parts: SplitResult, *, netloc: bool, path: bool, query: bool) -> None:
    """Reject URL parts a scheme does not use."""
    extra = [
        name
        for name, check, value in (
            ("host", netloc, parts.netloc),
            ("path", path, parts.path),
            ("query", query, parts.query),
            ("fragment", True, parts.fragment),
        )
        if check and value
    ]
    if extra:
        raise ConfigError(f"store URL {url!r} has an unexpected {', '.join(extra)}; use one of: {_FORMS}")
