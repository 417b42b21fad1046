"""`MemoryConfig`: the one frozen configuration object. Every ablation switch lives here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from memagent.limits import InputLimits

__all__ = ["InputLimits", "MemoryConfig", "RetrievalConfig"]


class RetrievalConfig(BaseModel):
    """How retrieval fuses its signals. A weight of 0 switches a signal off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fusion: Literal["score", "rrf"] = "score"
    """How relevance signals combine: "score" (weighted sum of each signal's share of its best match: a
    cosine over the best cosine among the candidates, BM25 over a full match) or "rrf" (weighted
    reciprocal-rank fusion)."""
    dense_weight: float = Field(default=1.0, ge=0.0)
    """Weight of embedding similarity in the fusion."""
    lexical_weight: float = Field(default=1.0, ge=0.0)
    """Weight of BM25 over memory text (exact names, dates and rare words). BM25 arrives as the share of
    the query's term weight a record matches, so a word in common by chance stays small."""
    recency_weight: float = Field(default=0.1, ge=0.0, le=1.0)
    """Share of a memory's score that fades with age (exponential decay in event time): a prior that can
    reorder near ties but never outvote relevance. 0 switches it off."""
    recency_half_life_days: float = Field(default=90.0, gt=0.0)
    """Event-time age at which the recency signal halves."""
    candidate_pool: int = Field(default=30, ge=1)
    """How many candidates each signal nominates before fusion."""
    context_weight: float = Field(default=0.25, ge=0.0)
    """Share of the best neighbouring turn's score (the turn just before or after, same session) that a
    raw turn adds to its own: evidence is often the reply to, or the lead-in of, the turn that matches
    the query. 0 switches it off (neighbours are then neither fetched nor scored)."""
    assistant_weight: float = Field(default=0.5, ge=0.0, le=1.0)
    """Share of its own score that a turn said by the assistant keeps (it still lends its full score to
    its neighbours as context): the memory is the user's, and what the assistant said is mostly
    context for it. 1 treats both sides alike."""
    rrf_k: int = Field(default=60, ge=1)
    """Rank offset of reciprocal-rank fusion (``fusion="rrf"`` only)."""
    include_turns: bool = True
    """Also retrieve raw conversation turns (episodic memory), not only extracted memories."""


class MemoryConfig(BaseModel):
    """Configuration of a `Memory` and of the agent graph built on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    extraction: Literal["rules", "llm", "none"] = "rules"
    """Which extractor runs on new turns: offline rules, an LLM (needs a chat model), or none."""
    consolidation: bool = True
    """Supersede and deduplicate (True) or append every candidate as it comes (False)."""
    dedupe_threshold: float = Field(default=0.92, ge=0.0, le=1.0)
    """Cosine similarity at which two current memories of one kind count as near duplicates."""
    turn_context: bool = True
    """Embed each raw turn after the turn before it in its session (the one it answers), so that its
    vector says what the exchange was about; its text, BM25 terms and profile line stay its own."""
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    """Signals and their weights."""
    top_k: int = Field(default=8, ge=1)
    """Memories retrieved for a query."""
    profile: bool = True
    """Compile a profile for the responder (False: give it the retrieved memories only)."""
    budget: int = Field(default=512, ge=16)
    """Hard token budget of the compiled profile."""
    recent_events: int = Field(default=5, ge=0)
    """Most recent events the profile tries to include."""
    llm_batch_turns: int = Field(default=20, ge=1)
    """Turns of one session sent to the LLM extractor in one call."""
    limits: InputLimits = Field(default_factory=InputLimits)
    """The largest turn, id and metadata accepted (`memagent.limits`)."""
