"""Storage backends of memagent: `InProcessStore`, `ChromaStore`, and `open_store` to pick one by URL.

Every backend implements `memagent.interfaces.MemoryStore` and passes `memagent.testing.conformance`.
chromadb itself is only imported when a `ChromaStore` is opened.
"""

from memagent.stores._factory import open_store
from memagent.stores.chroma import ChromaStore
from memagent.stores.memory import InProcessStore

__all__ = ["ChromaStore", "InProcessStore", "open_store"]
