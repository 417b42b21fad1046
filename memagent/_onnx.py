"""Run a sentence-transformers model with ONNX Runtime: the same vectors as torch, without torch.

A sentence-transformers model directory holds a Hugging Face transformer (weights, ``config.json``,
``tokenizer.json``), a pooling module (``1_Pooling/config.json``) and often a normalisation module;
``modules.json`` lists them. `OnnxModel` tokenises with the model's own fast tokenizer (``tokenizers``),
runs the transformer as an ONNX graph and pools in numpy, so a query costs one small forward pass and no
torch import.

The graph comes from the model directory (``onnx/model.onnx``, as some models ship it) or from a cache
directory, where `export_onnx` writes it once from the model's own weights with ``torch.onnx`` (torch and
``onnx`` are needed for that step only). The cache key is the weights file's path, size and modification
time; the graph is written under a temporary name and renamed, so a concurrent process never reads half
of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memagent.errors import ConfigError

__all__ = ["OnnxModel", "Pooling", "cached_graph", "export_onnx", "read_pooling"]

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
_OPSET = 17


@dataclass(frozen=True)
class Pooling:
    """How token vectors become one sentence vector (the model's pooling module)."""

    mode: str
    """"mean" (over the attended tokens) or "cls" (the first token)."""
    dimension: int
    """Length of the sentence vector."""
    max_length: int
    """Tokens kept per text (the model's ``max_seq_length``)."""


def read_pooling(model_dir: Path) -> Pooling:
    """The pooling of the sentence-transformers model in ``model_dir``.

    Raises:
        ConfigError: The directory is not a sentence-transformers model of the shape this runner handles
            (a transformer, mean or CLS pooling, optionally normalisation).
    """
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [module["type"] for module in modules]
        pooling_path = next(module["path"] for module in modules if module["type"] == _POOLING)
        config = json.loads((model_dir / pooling_path / "config.json").read_text())
        settings_file = model_dir / "sentence_bert_config.json"
        settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as exc:
        raise ConfigError(f"{model_dir} is not a sentence-transformers model directory ({exc})") from exc
    if kinds[:2] != [_TRANSFORMER, _POOLING] or any(kind != _NORMALIZE for kind in kinds[2:]):
        raise ConfigError(f"{model_dir}: modules {kinds} are not a transformer, pooling and normalisation")
    active = [key for key, value in config.items() if key.startswith("pooling_mode_") and value]
    if len(active) != 1 or active[0] not in _MODES:
        raise ConfigError(f"{model_dir}: pooling {active} is neither mean nor CLS pooling alone")
    return Pooling(
        mode=_MODES[active[0]],
        dimension=int(config["word_embedding_dimension"]),
        max_length=int(settings.get("max_seq_length") or 512),
    )


def _weights(model_dir: Path) -> Path:
    for name in _WEIGHTS:
        if (model_dir / name).exists():
            return model_dir / name
    raise ConfigError(f"{model_dir} holds no transformer weights ({' or '.join(_WEIGHTS)})")


def cached_graph(model_dir: Path, cache_dir: Path) -> Path:
    """Where the ONNX graph of ``model_dir`` lives: shipped with the model, or in ``cache_dir``."""
    shipped = model_dir / "onnx" / "model.onnx"
    if shipped.exists():
        return shipped
    weights = _weights(model_dir)
    stat = weights.stat()
    key = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|opset{_OPSET}"
    return cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.onnx"


def export_onnx(model_dir: Path, target: Path) -> None:
    """Write the transformer of ``model_dir`` as an ONNX graph to ``target`` (its last hidden state, with
    dynamic batch and sequence axes).

    Raises:
        ConfigError: torch, transformers or onnx is missing, or the export failed.
    """
    try:
        import torch
        from transformers import AutoModel
    except ImportError as exc:
        raise ConfigError(f"exporting {model_dir} to ONNX needs torch and transformers ({exc})") from exc

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    example = {name: torch.ones((2, 8), dtype=torch.long) for name in _INPUTS}
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".onnx.tmp")
    os.close(handle)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the exporter's notes on operators it rewrites
            torch.onnx.export(
                LastHiddenState(model),
                tuple(example[name] for name in _INPUTS),
                temporary,
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=_OPSET,
                dynamo=False,
            )
        os.replace(temporary, target)
    except Exception as exc:
        raise ConfigError(f"exporting {model_dir} to ONNX failed: {type(exc).__name__}: {exc}") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)


class OnnxModel:
    """A sentence-transformers model run by ONNX Runtime.

    Args:
        model_dir: The sentence-transformers model directory (tokenizer, pooling).
        graph: Its transformer as an ONNX graph (`cached_graph`, written by `export_onnx`).
        batch_size: Texts per forward pass (texts are sorted by length first, to pad little).

    Raises:
        ConfigError: onnxruntime or tokenizers is missing, or a file cannot be read.
    """

    def __init__(self, model_dir: Path, graph: Path, *, batch_size: int = 64) -> None:
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ConfigError(f"the ONNX backend needs onnxruntime and tokenizers ({exc})") from exc
        self.pooling = read_pooling(model_dir)
        self.batch_size = batch_size
        try:
            tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # errors only
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
            self._session = onnxruntime.InferenceSession(
                str(graph), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ConfigError(f"cannot load the ONNX model {graph} for {model_dir}: {exc}") from exc
        tokenizer.enable_truncation(max_length=self.pooling.max_length)
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._feeds = [node.name for node in self._session.get_inputs()]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors of ``texts``, one row each, in order (float32)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        out = np.zeros((len(texts), self.pooling.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            batch = {name: np.zeros((len(rows), width), dtype=np.int64) for name in _INPUTS}
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                batch["input_ids"][r, :n] = encodings[i].ids
                batch["attention_mask"][r, :n] = encodings[i].attention_mask
                batch["token_type_ids"][r, :n] = encodings[i].type_ids
            (hidden,) = self._session.run(None, {name: batch[name] for name in self._feeds})
            out[rows] = self._pool(hidden, batch["attention_mask"])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: np.ndarray = out / np.maximum(norms, 1e-12)
        return unit

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.pooling.mode == "cls":
            return hidden[:, 0, :]
        weights = mask[:, :, None].astype(np.float32)
        mean: np.ndarray = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return mean
