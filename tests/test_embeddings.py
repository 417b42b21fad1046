"""Embedders: the bundled model (real, offline), the cache, the fake, and errors for missing models."""

from __future__ import annotations

import math

import pytest

from memagent.embeddings import CachedEmbedder, FunctionEmbedder, SentenceTransformerEmbedder
from memagent.errors import ConfigError
from memagent.testing import FakeEmbedder


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.integration
def test_bundled_model_embeds_offline_and_preserves_meaning(real_embedder) -> None:
    texts = ["I do not drink alcohol", "I never drink beer or wine", "The train leaves at 9"]
    a, b, c = real_embedder.embed(texts)
    assert real_embedder.dimension == 384 and len(a) == 384
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)
    assert cosine(a, b) > cosine(a, c) + 0.2


@pytest.mark.integration
def test_a_missing_local_model_is_a_config_error_not_a_download(tmp_path) -> None:
    with pytest.raises(ConfigError, match="never downloads"):
        SentenceTransformerEmbedder(tmp_path / "no-such-model").embed(["hello"])


def test_cache_embeds_each_text_once() -> None:
    inner = FakeEmbedder()
    cached = CachedEmbedder(inner, max_entries=2)
    first = cached.embed(["a", "b", "a"])
    assert inner.calls == 1 and (cached.hits, cached.misses) == (1, 2)
    assert cached.embed(["a"]) == [first[0]] and inner.calls == 1
    cached.embed(["c"])  # evicts the least recently used ("b")
    cached.embed(["b"])
    assert inner.calls == 3


def test_function_embedder_normalises() -> None:
    embedder = FunctionEmbedder(lambda texts: [[3.0, 4.0] for _ in texts], dimension=2)
    assert embedder.embed(["x"]) == [[0.6, 0.8]]
