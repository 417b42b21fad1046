"""Storage backends of memagent: `InProcessStore`, `ChromaStore`, and `open_store` to pick one by URL.

Both are `IndexedStore`s: a `SqliteCatalog` (records, lookups and the BM25 index; the source of truth)
beside a vector index (`NumpyVectors` in process, `ChromaVectors` for Chroma). Every backend implements
`memagent.interfaces.MemoryStore` and passes `memagent.testing.conformance`. chromadb itself is only
imported when a `ChromaStore` is opened.
"""

from memagent.stores._catalog import SqliteCatalog
from memagent.stores._factory import open_store
from memagent.stores._indexed import IndexedStore
from memagent.stores._vectors import NumpyVectors
from memagent.stores.chroma import ChromaStore, ChromaVectors
from memagent.stores.memory import InProcessStore

__all__ = [
    "ChromaStore",
    "ChromaVectors",
    "InProcessStore",
    "IndexedStore",
    "NumpyVectors",
    "SqliteCatalog",
    "open_store",
]
