"""The profile compiler: ranked memories in, a token-budgeted, provenance-tagged profile out.

Pure and deterministic: the same sections, budget and counter give the same text byte for byte. The
budget is a hard limit on the *rendered text as a whole*. Each line is counted once with the separator
after it (so a separator the tokeniser merges into the line's last token costs nothing), and packing
adds those counts up; tokenisers are not additive across joins, so the final text is counted once more
and, in the rare case that the join tokenised longer than its parts, the first line that breaks the
budget is skipped and the rest picked again. The text returned is exactly the last text that was
counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from memagent.interfaces import TokenCounter
from memagent.types import MemoryKind, MemoryRecord, Profile, ProfileLine

__all__ = [
    "CONSTRAINT_SLOTS",
    "ProfileSources",
    "is_constraint",
    "section_depth",
    "user_profile",
    "ID_PREFIX",
    "MIN_LINE_TOKENS",
    "SECTION_ORDER",
    "SECTION_TITLES",
    "TURN_MAX_TOKENS",
    "ProfileSection",
    "compile_profile",
    "pack_to_budget",
    "render_record",
]

SECTION_ORDER: tuple[str, ...] = ("constraints", "preferences", "facts", "events", "relevant")
"""Render order of the known sections (others follow, in the order given)."""
SECTION_TITLES: dict[str, str] = {
    "constraints": "Constraints",
    "preferences": "Preferences",
    "facts": "Facts",
    "events": "Events",
    "relevant": "Relevant to this question",
}
"""Default titles of the known sections."""
ID_PREFIX = 6
"""Characters of a record id shown in a provenance tag."""
TURN_MAX_TOKENS = 32
"""Longest quote of a raw turn, in tokens of the profile's counter."""
MIN_LINE_TOKENS = 12
"""The fewest tokens a rendered line costs (every line carries a date and a provenance tag: 13 or more
with the bundled counters, which a test checks): no section can place more than
``budget // MIN_LINE_TOKENS`` lines."""
_ELLIPSIS = "…"


def section_depth(budget: int, top_k: int) -> int:
    """Most lines one profile section can place within ``budget`` (each line costs at least
    `MIN_LINE_TOKENS`): how many records a section's lookup needs."""
    return max(top_k, budget // MIN_LINE_TOKENS + 1)


class ProfileSection(BaseModel):
    """One section of a profile: records already ranked by the caller, best first."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    """"preferences", "facts", "events" or "relevant" (other names render after these)."""
    title: str | None = None
    """Heading line; None uses `SECTION_TITLES` (or the capitalised name)."""
    records: list[MemoryRecord] = Field(default_factory=list)
    """Candidates, best first."""
    limit: int | None = Field(default=None, ge=0)
    """Most lines this section may place (None: as many as fit)."""
    pinned: bool = False
    """Fill this section completely before any other (with ``interleave``, before the round-robin)."""
    share: int = Field(default=1, ge=1)
    """Records this section offers in each round of the round-robin (``interleave``)."""

    @property
    def heading(self) -> str:
        """The title line as rendered."""
        return f"{self.title or SECTION_TITLES.get(self.name) or self.name.capitalize()}:"


def _verified(
    select: Callable[[set[int]], list[int]],
    budget: int,
    render: Callable[[list[int]], str],
    counter: TokenCounter,
) -> tuple[list[int], str, int]:
    """Count the text rendered from ``select(banned)`` (a greedy pick on summed counts that skips the
    ``banned`` items) once; while it exceeds ``budget`` (a join tokenised longer than its parts), ban the
    first item whose text with the ones picked before it exceeds the budget, and pick again. Items
    picked before a banned one are picked again, so every skip stays forced by the counts and a second
    packing of the result keeps it whole.

    Returns the picked indices, their rendered text and its token count (at most ``budget``).
    """
    banned: set[int] = set()
    while True:
        chosen = select(banned)
        text = render(chosen)
        tokens = counter.count(text)
        if tokens <= budget or not chosen:
            return chosen, text, tokens
        first_over = next(m for m in range(1, len(chosen) + 1) if counter.count(render(chosen[:m])) > budget)
        banned.add(chosen[first_over - 1])


def pack_to_budget(
    lines: Sequence[str], budget: int, counter: TokenCounter, *, separator: str = "\n"
) -> list[int]:
    """Indices of the lines to keep, in rank order, so that their join counts at most ``budget`` tokens.

    Greedy in rank order: a line that does not fit is skipped and later (shorter) lines are still tried.
    Each line is counted once, with the separator after it; the joined text is counted at the end, so
    the result is exact for non-additive tokenisers, and packing the kept lines again keeps them all
    (idempotent).

    Args:
        lines: Candidate lines, best first.
        budget: Most tokens the joined text may count.
        counter: Token counter of the responding model.
        separator: What the lines are joined with.

    Returns:
        Increasing indices into ``lines``.
    """
    if budget < 0:
        raise ValueError("budget must be non-negative")
    alone = [counter.count(line) for line in lines]
    joined = [counter.count(line + separator) for line in lines]

    def select(banned: set[int]) -> list[int]:
        chosen: list[int] = []
        used = 0  # tokens of the chosen lines, each with the separator after it
        for index in range(len(lines)):
            if index not in banned and used + alone[index] <= budget:
                chosen.append(index)
                used += joined[index]
        return chosen

    kept, _, _ = _verified(select, budget, lambda picked: separator.join(lines[i] for i in picked), counter)
    return kept


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _longest_fit(pieces: Sequence[str], joiner: str, max_tokens: int, counter: TokenCounter) -> int:
    """The largest n such that ``joiner.join(pieces[:n]) + "…"`` counts at most ``max_tokens``."""
    low, high = 0, len(pieces)
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(joiner.join(pieces[:middle]) + _ELLIPSIS) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return low


def _truncate(text: str, max_tokens: int, counter: TokenCounter) -> str:
    """``text`` cut so it counts at most ``max_tokens``, with an ellipsis if cut.

    Cuts at a word boundary, or inside the first word when even that one is too long.
    """
    if counter.count(text) <= max_tokens:
        return text
    words = text.split(" ")
    n_words = _longest_fit(words, " ", max_tokens, counter)
    if n_words:
        return " ".join(words[:n_words]) + _ELLIPSIS
    return words[0][: _longest_fit(words[0], "", max_tokens, counter)] + _ELLIPSIS


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def render_record(
    record: MemoryRecord, counter: TokenCounter, *, turn_max_tokens: int = TURN_MAX_TOKENS
) -> str:
    """One profile line for ``record``, ending in its provenance tag ``[m:<id prefix>]``.

    Preferences and facts show since when they hold (and until when, if superseded); events lead with
    their event date; raw turns lead with their date and quote the turn, cut to ``turn_max_tokens``.
    """
    tag = f"[m:{record.id[:ID_PREFIX]}]"
    content = _one_line(record.content)
    if record.kind is MemoryKind.TURN:
        return f"- ({_day(record.event_time)}) {_truncate(content, turn_max_tokens, counter)} {tag}"
    if record.kind is MemoryKind.EVENT:
        return f"- {_day(record.event_time)}: {content} {tag}"
    if record.valid_until is not None:
        return f"- {content} ({_day(record.valid_from)} to {_day(record.valid_until)}) {tag}"
    return f"- {content} (since {_day(record.valid_from)}) {tag}"


def _fill_order(sections: Sequence[ProfileSection], interleave: bool) -> list[tuple[int, MemoryRecord]]:
    """(section index, record) pairs in the order the packer tries them."""
    pinned = [(i, r) for i, section in enumerate(sections) if section.pinned for r in section.records]
    rest = [(i, section) for i, section in enumerate(sections) if not section.pinned]
    if not interleave:
        return pinned + [(i, r) for i, section in rest for r in section.records]
    rounds = max((-(-len(section.records) // section.share) for _, section in rest), default=0)
    return pinned + [
        (i, record)
        for round_ in range(rounds)
        for i, section in rest
        for record in section.records[round_ * section.share : (round_ + 1) * section.share]
    ]


def compile_profile(
    user_id: str,
    query: str | None,
    sections: Sequence[ProfileSection],
    budget: int,
    counter: TokenCounter,
    *,
    interleave: bool = False,
) -> Profile:
    """Compile ranked sections into a profile whose text counts at most ``budget`` tokens.

    Sections are filled in the order given (their priority), each record in its section's order (with
    ``interleave``, round-robin instead: the first record of every section, then the second of every
    section, and so on, so that no section can starve the others under a small budget), and
    rendered in `SECTION_ORDER` with one title line per section that placed at least one line (titles
    count against the budget). A record is shown once, in the first section that places it (a later
    section may still place a record an earlier one skipped for its ``limit``). A line that does not fit
    is skipped, and later, shorter lines are still tried; ``dropped`` counts the distinct records that
    were tried and never placed. If nothing fits the text is empty.

    Args:
        user_id: Whose profile it is.
        query: The query it was compiled for, if any.
        sections: Sections in priority order; names are expected to be unique.
        budget: Hard limit on the tokens of the text.
        counter: Token counter of the responding model.

    Returns:
        The profile; ``tokens == counter.count(text) <= budget``.
    """
    if budget < 0:
        raise ValueError("budget must be non-negative")
    render_rank = {name: i for i, name in enumerate(SECTION_ORDER)}
    for position, section in enumerate(sections):
        render_rank.setdefault(section.name, len(SECTION_ORDER) + position)

    rendered: dict[str, tuple[str, int, int]] = {}
    # (section, record, line, its tokens, its tokens with the newline after it), in fill order
    candidates: list[tuple[int, MemoryRecord, str, int, int]] = []
    for s_index, record in _fill_order(sections, interleave):
        if record.id not in rendered:
            line = render_record(record, counter)
            rendered[record.id] = (line, counter.count(line), counter.count(line + "\n"))
        candidates.append((s_index, record, *rendered[record.id]))
    heading_cost = [counter.count(section.heading + "\n") for section in sections]  # with its join

    def render_key(index: int) -> tuple[int, int, int]:
        return (render_rank[sections[candidates[index][0]].name], candidates[index][0], index)

    def render_order(picked: list[int]) -> list[int]:
        return sorted(picked, key=render_key)

    def render(picked: list[int]) -> str:
        out: list[str] = []
        previous = -1
        for index in render_order(picked):
            s_index, _, line, _, _ = candidates[index]
            if s_index != previous:
                out.append(sections[s_index].heading)
                previous = s_index
            out.append(line)
        return "\n".join(out)

    # In fill order, every placed line costs its tokens with the newline after it (a tokeniser may merge
    # the two: "]\n" is one token in tiktoken's encodings), except the line rendered last, which has no
    # newline after it; a line opening its section pays for the heading (with its newline) too.
    tried: set[str] = set()

    def select(banned: set[int]) -> list[int]:
        placed_per_section = [0] * len(sections)
        placed: set[str] = set()
        eligible: list[int] = []
        used = 0
        last: int | None = None  # the placed line rendered last
        for index, (s_index, record, _, _, joined) in enumerate(candidates):
            limit = sections[s_index].limit
            if record.id in placed or (limit is not None and placed_per_section[s_index] >= limit):
                continue
            tried.add(record.id)
            cost = joined + (heading_cost[s_index] if placed_per_section[s_index] == 0 else 0)
            tail = index if last is None or render_key(index) > render_key(last) else last
            if index in banned or used + cost - (candidates[tail][4] - candidates[tail][3]) > budget:
                continue
            used += cost
            last = tail
            eligible.append(index)
            placed.add(record.id)
            placed_per_section[s_index] += 1
        return eligible

    chosen, text, tokens = _verified(select, budget, render, counter)
    dropped = len(tried - {candidates[i][1].id for i in chosen})

    lines = [
        ProfileLine(
            section=sections[s_index].name,
            text=line,
            record_ids=[record.id],
            turn_ids=list(record.source_turn_ids),
            tokens=line_tokens,
        )
        for s_index, record, line, line_tokens, _ in (candidates[i] for i in render_order(chosen))
    ]
    return Profile(
        user_id=user_id, query=query, budget=budget, lines=lines, tokens=tokens, text=text, dropped=dropped
    )


CONSTRAINT_SLOTS = ("diet", "allergy:", "condition:")
"""Slot prefixes of hard constraints (diets, allergies, health conditions)."""


def is_constraint(record: MemoryRecord) -> bool:
    """True for hard constraints (diets, allergies, health conditions), which a profile always puts first.

    A profile squeezed into a small budget must still say that the user is allergic to peanuts, however
    unrelated the query looks.
    """
    return bool(record.slot and record.slot.startswith(CONSTRAINT_SLOTS))


class ProfileSources(BaseModel):
    """What `Memory.profile` fetched for one user and query, each list ranked best first: the records a
    user profile (`user_profile`) is made of."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    constraints: list[MemoryRecord] = Field(default_factory=list)
    """Current hard constraints (diet, allergies, health: `is_constraint`)."""
    relevant: list[MemoryRecord] = Field(default_factory=list)
    """The memories and raw turns retrieved for the query."""
    preferences: list[MemoryRecord] = Field(default_factory=list)
    facts: list[MemoryRecord] = Field(default_factory=list)
    events: list[MemoryRecord] = Field(default_factory=list)
    """The most recent events."""


def user_profile(
    user_id: str, query: str | None, sources: ProfileSources, budget: int, counter: TokenCounter
) -> Profile:
    """The profile memagent gives a responder: hard constraints pinned first; then, taking turns so that
    none can starve the others, the memories retrieved for the query (two lines a round, since they are
    ranked for this very query), preferences, facts, and recent events. Constraints are not repeated
    among preferences and facts. A larger budget places more of each."""
    sections = [
        ProfileSection(name="constraints", records=sources.constraints, pinned=True),
        ProfileSection(name="relevant", title="Relevant memories", records=sources.relevant, share=2),
        ProfileSection(name="preferences", records=[r for r in sources.preferences if not is_constraint(r)]),
        ProfileSection(
            name="facts", title="About the user", records=[r for r in sources.facts if not is_constraint(r)]
        ),
        ProfileSection(name="events", title="Recent events", records=sources.events),
    ]
    return compile_profile(user_id, query, sections, budget, counter, interleave=True)
