"""`open_store`: a `MemoryStore` from a URL or a directory path.

| Location                         | Store                                             |
|----------------------------------|---------------------------------------------------|
| ``memory://``                    | `InProcessStore` (nothing persisted)              |
| ``chroma:///abs/path``           | `ChromaStore.persistent` at ``/abs/path``         |
| ``/a/dir``, ``./dir``, ``dir``   | `ChromaStore.persistent` at that directory        |
| ``chroma+ephemeral://``          | `ChromaStore.ephemeral` (in memory, isolated)     |
| ``http://host:port``, ``https:`` | `ChromaStore.http`, a client of a Chroma server   |

Chroma URLs take an optional ``?collection=NAME`` query.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import SplitResult, parse_qs, urlsplit

from memagent.errors import ConfigError
from memagent.interfaces import MemoryStore

__all__ = ["open_store"]

_FORMS = "memory://, chroma:///abs/path, a directory path, chroma+ephemeral://, http://host:port"
_DEFAULT_PORT = 8000


def open_store(url: str) -> MemoryStore:
    """Open the store named by ``url`` (see the module docstring for the accepted forms).

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
    collection = _collection(text, parts)
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
        from memagent.stores.chroma import ChromaStore

        return ChromaStore.http(
            parts.hostname, port or _DEFAULT_PORT, _or_default(collection), ssl=scheme == "https"
        )
    raise ConfigError(f"unknown store URL {text!r}; use one of: {_FORMS}")


def _persistent(url: str, path: Path, collection: str | None) -> MemoryStore:
    """A persistent Chroma store at ``path`` (which must not be a file)."""
    path = path.expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"store location {url!r} is a file, not a directory")
    from memagent.stores.chroma import ChromaStore

    return ChromaStore.persistent(path, _or_default(collection))


def _collection(url: str, parts: SplitResult) -> str | None:
    """The ``collection`` query parameter of ``url`` (None when absent); other parameters are errors."""
    if not parts.query:
        return None
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"collection"})
    if unknown:
        raise ConfigError(
            f"store URL {url!r} has unknown parameters {unknown}; only 'collection' is accepted"
        )
    values = query["collection"]
    if len(values) != 1 or not values[0]:
        raise ConfigError(f"store URL {url!r} must give exactly one non-empty collection name")
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
