"""Test doubles shipped for users: `FakeEmbedder`, `scripted_chat_model`.

`FakeEmbedder` is deterministic and preserves similarity (texts sharing words and character trigrams
get close vectors), so ranking can be tested without loading a model.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["FakeEmbedder", "scripted_chat_model"]

_WORD = re.compile(r"\w+")


def _bucket(token: str, dimension: int) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "big") % dimension


class FakeEmbedder:
    """Hashes words and character trigrams into a fixed-size, L2-normalised vector."""

    def __init__(self, dimension: int = 128):
        self._dimension = dimension
        self.calls = 0
        """Number of `embed` calls made (to check batching)."""

    @property
    def dimension(self) -> int:
        """Length of every vector."""
        return self._dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` deterministically."""
        self.calls += 1
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self._dimension
        for word in _WORD.findall(text.lower()):
            vector[_bucket("w:" + word, self._dimension)] += 2.0
            padded = f"#{word}#"
            for i in range(len(padded) - 2):
                vector[_bucket("c:" + padded[i : i + 3], self._dimension)] += 0.5
        norm = math.sqrt(sum(x * x for x in vector))
        if norm == 0.0:
            vector[0] = 1.0
            return vector
        return [x / norm for x in vector]


def scripted_chat_model(responses: Iterable[str]) -> Any:
    """A LangChain chat model that answers with ``responses`` in order, cycling when they run out.

    The model records every prompt it receives in ``.prompts`` (a list of message lists), so tests can
    check what the model was shown. Use it to test extraction and responding with scripted, possibly
    malformed, output.
    """
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from langchain_core.messages import BaseMessage

    class ScriptedChatModel(FakeListChatModel):
        prompts: list[list[BaseMessage]] = []

        def _call(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> str:
            self.prompts.append(list(messages))
            return super()._call(messages, *args, **kwargs)

    return ScriptedChatModel(responses=list(responses), prompts=[])
