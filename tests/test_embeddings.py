"""Embedders: the bundled model (real, offline), the cache, the fake, and errors for missing models."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from memagent._onnx import read_pooling
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


# -- the ONNX backend --------------------------------------------------------------------------------

_TRICKY = [
    "What did I say about my sister's trip to the mountains last spring?",
    "",
    "ok",
    "Émilie moved to Zürich 🚀 and now only drinks oat-milk flat whites",
    "I'm allergic to peanuts and I really can't stand cilantro. " * 40,  # past the 256-token limit
] + [f"turn {i}: we talked about {'hiking ' * (i % 9)}and dinner plans" for i in range(70)]  # > one batch


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory holding the bundled model's exported ONNX graph."""
    cache = tmp_path_factory.mktemp("onnx")
    SentenceTransformerEmbedder(backend="onnx", cache_dir=cache).embed(["export"])
    return cache


@pytest.mark.integration
def test_onnx_backend_gives_the_vectors_of_torch(onnx_cache: Path) -> None:
    onnx = SentenceTransformerEmbedder(backend="onnx", cache_dir=onnx_cache)
    torch = SentenceTransformerEmbedder(backend="torch")
    assert (onnx.active_backend, torch.active_backend) == ("onnx", "torch")
    assert onnx.dimension == torch.dimension == 384
    got, expected = np.array(onnx.embed(_TRICKY)), np.array(torch.embed(_TRICKY))
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-5


_WITHOUT_TORCH = """
import sys
from memagent.embeddings import SentenceTransformerEmbedder
embedder = SentenceTransformerEmbedder(cache_dir=sys.argv[1])
print(embedder.active_backend, len(embedder.embed(["hello"])[0]), "torch" in sys.modules)
"""


@pytest.mark.integration
def test_a_cached_graph_embeds_without_torch(onnx_cache: Path) -> None:
    before = sorted(p.stat().st_mtime_ns for p in onnx_cache.iterdir())
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_TORCH, str(onnx_cache)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["onnx", "384", "False"]
    assert sorted(p.stat().st_mtime_ns for p in onnx_cache.iterdir()) == before  # not exported again


@pytest.mark.integration
def test_an_unwritable_cache_fails_onnx_and_falls_back_to_torch(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    with pytest.raises(ConfigError, match="a-file"):
        SentenceTransformerEmbedder(backend="onnx", cache_dir=blocked / "onnx").embed(["hello"])
    auto = SentenceTransformerEmbedder(cache_dir=blocked / "onnx")
    assert auto.active_backend == "torch" and len(auto.embed(["hello"])[0]) == 384


def test_a_directory_that_is_not_a_sentence_transformers_model(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a sentence-transformers model"):
        read_pooling(tmp_path)
    (tmp_path / "modules.json").write_text(
        '[{"type": "sentence_transformers.models.Transformer", "path": ""}]'
    )
    with pytest.raises(ConfigError, match="not a sentence-transformers model"):
        read_pooling(tmp_path)
    with pytest.raises(ConfigError, match="unknown embedding backend"):
        SentenceTransformerEmbedder(backend="gpu")  # type: ignore[arg-type]
