"""The one exception tree of memagent.

```
MemAgentError
├── ConfigError              a usage mistake by the application developer (bad config, missing extra)
├── InputError               bad user input: names the file, line and field at fault
│   └── UnknownUserError     an operation named a user the store has never seen
└── StoreError               the backing store failed (Chroma, the file system, a server)
```

An LLM extractor's invalid output is not an error: it is counted, repaired or replaced by the rules
(`memagent.interfaces.ExtractionResult`).
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "MemAgentError",
    "StoreError",
    "UnknownUserError",
]


class MemAgentError(Exception):
    """Base class of every error memagent raises on purpose."""


class ConfigError(MemAgentError):
    """A usage mistake by the developer: invalid configuration or a missing optional dependency."""


class InputError(MemAgentError):
    """Input that cannot be accepted, located as precisely as possible.

    Attributes:
        source: The file (or other source) the bad input came from.
        line: 1-based line number within ``source``, when known.
        field: The field at fault, when known.
    """

    def __init__(
        self, message: str, *, source: str | None = None, line: int | None = None, field: str | None = None
    ):
        self.source = source
        self.line = line
        self.field = field
        self.reason = message
        where = ":".join(str(p) for p in (source, line) if p is not None)
        parts = [where] if where else []
        if field:
            parts.append(f"field '{field}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class UnknownUserError(InputError):
    """The named user has nothing stored."""


class StoreError(MemAgentError):
    """The backing store failed."""
