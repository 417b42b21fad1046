"""memagent: long-term, personalized memory for LLM assistants.

The public surface: `Memory` (remember, recall, profile, memories, history, forget), the data model
(`Turn`, `MemoryRecord`, `Profile`), the config (`MemoryConfig`), the seams (`MemoryStore`, `Embedder`,
`TokenCounter`, `Extractor`) and the errors. Stores live in `memagent.stores`, the LangGraph agent in
`memagent.agents`, benchmark loaders in `memagent.replay`, evaluation in `memagent.eval`, and test
doubles in `memagent.testing`.
"""

from memagent.config import MemoryConfig, RetrievalConfig
from memagent.embeddings import CachedEmbedder, FunctionEmbedder, SentenceTransformerEmbedder
from memagent.errors import (
    ConfigError,
    InputError,
    MemAgentError,
    StoreError,
    UnknownUserError,
)
from memagent.interfaces import Embedder, ExtractionResult, Extractor, MemoryStore, TokenCounter
from memagent.memory import IngestReport, Memory
from memagent.tokens import TiktokenCounter, WordCounter
from memagent.types import (
    Candidate,
    MemoryKind,
    MemoryRecord,
    Polarity,
    Profile,
    ProfileLine,
    RecordFilter,
    Role,
    ScoredRecord,
    Turn,
)

__version__ = "0.1.0"

__all__ = [
    "CachedEmbedder",
    "Candidate",
    "ConfigError",
    "Embedder",
    "ExtractionResult",
    "Extractor",
    "FunctionEmbedder",
    "IngestReport",
    "InputError",
    "MemAgentError",
    "Memory",
    "MemoryConfig",
    "MemoryKind",
    "MemoryRecord",
    "MemoryStore",
    "Polarity",
    "Profile",
    "ProfileLine",
    "RecordFilter",
    "RetrievalConfig",
    "Role",
    "ScoredRecord",
    "SentenceTransformerEmbedder",
    "StoreError",
    "TiktokenCounter",
    "TokenCounter",
    "Turn",
    "UnknownUserError",
    "WordCounter",
    "__version__",
]
