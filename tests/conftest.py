"""Shared fixtures. No test may reach the network: connections are allowed to loopback only."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family != socket.AF_UNIX and not str(host).startswith(_LOOPBACK):
        raise RuntimeError(f"network access in tests is forbidden: tried to connect to {address!r}")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]

from memagent.config import MemoryConfig  # noqa: E402
from memagent.memory import Memory  # noqa: E402
from memagent.stores import InProcessStore  # noqa: E402
from memagent.testing import FakeEmbedder  # noqa: E402
from memagent.tokens import TiktokenCounter  # noqa: E402


@pytest.fixture
def make_memory() -> Callable[..., Memory]:
    """Build a fast `Memory`: in-process store, deterministic fake embedder, real token counter."""

    def build(**kwargs: Any) -> Memory:
        kwargs.setdefault("counter", TiktokenCounter())
        store = kwargs.pop("store", None)
        embedder = kwargs.pop("embedder", None)
        return Memory(
            InProcessStore() if store is None else store,
            FakeEmbedder() if embedder is None else embedder,
            **kwargs,
        )

    return build


@pytest.fixture
def memory(make_memory: Callable[..., Memory]) -> Iterator[Memory]:
    mem = make_memory(config=MemoryConfig())
    yield mem
    mem.close()


@pytest.fixture(scope="session")
def real_embedder() -> Any:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    from memagent.embeddings import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    return embedder
