"""The profile compiler: ranked memories in, a token-budgeted, provenance-tagged profile out.

Pure and deterministic: the same sections, budget and counter give the same text byte for byte. The
budget is a hard limit on the *rendered text as a whole*. Each line (and each separator) is counted
once, and packing adds those counts up; tokenisers are not additive across joins, so the final text is
counted once more and, in the rare case that the join tokenised longer than its parts, the last lines
placed are taken back until it fits. The text returned is exactly the last text that was counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from memagent.interfaces import TokenCounter
from memagent.types import MemoryKind, MemoryRecord, Profile, ProfileLine

__all__ = [
    "CONSTRAINT_SLOTS",
    "is_constraint",
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

    @property
    def heading(self) -> str:
        """The title line as rendered."""
        return f"{self.title or SECTION_TITLES.get(self.name) or self.name.capitalize()}:"


def _fit(
    costs: Sequence[int],
    join_cost: int,
    budget: int,
    render: Callable[[list[int]], str],
    counter: TokenCounter,
) -> tuple[list[int], str, int]:
    """Accept items in order while the sum of their counts (plus one join per item after the first) fits
    ``budget``; then count the rendered text once and take back the last items while it does not fit.

    Returns the accepted indices, their rendered text and its token count (at most ``budget``).
    """
    if budget < 0:
        raise ValueError("budget must be non-negative")
    chosen: list[int] = []
    used = 0
    for index, cost in enumerate(costs):
        extra = cost + (join_cost if chosen else 0)
        if used + extra <= budget:
            chosen.append(index)
            used += extra
    text = render(chosen)
    tokens = counter.count(text)
    while tokens > budget:  # the join tokenised longer than its parts
        chosen.pop()
        text = render(chosen)
        tokens = counter.count(text)
    return chosen, text, tokens


def pack_to_budget(
    lines: Sequence[str], budget: int, counter: TokenCounter, *, separator: str = "\n"
) -> list[int]:
    """Indices of the lines to keep, in rank order, so that their join counts at most ``budget`` tokens.

    Greedy in rank order: a line that does not fit is skipped and later (shorter) lines are still tried.
    Each line is counted once; the joined text is counted at the end, so the result is exact for
    non-additive tokenisers, and packing the kept lines again keeps them all (idempotent).

    Args:
        lines: Candidate lines, best first.
        budget: Most tokens the joined text may count.
        counter: Token counter of the responding model.
        separator: What the lines are joined with.

    Returns:
        Increasing indices into ``lines``.
    """
    costs = [counter.count(line) for line in lines]
    chosen, _, _ = _fit(
        costs,
        counter.count(separator),
        budget,
        lambda picked: separator.join(lines[i] for i in picked),
        counter,
    )
    return chosen


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
    longest = max((len(section.records) for _, section in rest), default=0)
    return pinned + [
        (i, section.records[depth])
        for depth in range(longest)
        for i, section in rest
        if depth < len(section.records)
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

    rendered: dict[str, tuple[str, int]] = {}
    candidates: list[tuple[int, MemoryRecord, str, int]] = []  # (section, record, line, tokens), fill order
    for s_index, record in _fill_order(sections, interleave):
        if record.id not in rendered:
            line = render_record(record, counter)
            rendered[record.id] = (line, counter.count(line))
        candidates.append((s_index, record, *rendered[record.id]))
    heading_cost = [counter.count(section.heading + "\n") for section in sections]  # with its join
    join_cost = counter.count("\n")

    def render_order(picked: list[int]) -> list[int]:
        return sorted(
            picked, key=lambda i: (render_rank[sections[candidates[i][0]].name], candidates[i][0], i)
        )

    def render(picked: list[int]) -> str:
        out: list[str] = []
        previous = -1
        for index in render_order(picked):
            s_index, _, line, _ = candidates[index]
            if s_index != previous:
                out.append(sections[s_index].heading)
                previous = s_index
            out.append(line)
        return "\n".join(out)

    # Costs in fill order: a line opening its section pays for the heading (and the join after it) too.
    placed_per_section = [0] * len(sections)
    placed: set[str] = set()
    tried: set[str] = set()
    eligible: list[int] = []
    costs: list[int] = []
    used = 0
    for index, (s_index, record, _, tokens) in enumerate(candidates):
        limit = sections[s_index].limit
        if record.id in placed or (limit is not None and placed_per_section[s_index] >= limit):
            continue
        tried.add(record.id)
        cost = tokens + (heading_cost[s_index] if placed_per_section[s_index] == 0 else 0)
        extra = cost + (join_cost if used else 0)
        if used + extra > budget:
            continue
        used += extra
        eligible.append(index)
        costs.append(cost)
        placed.add(record.id)
        placed_per_section[s_index] += 1
    picked, text, tokens = _fit(
        costs, join_cost, budget, lambda chosen: render([eligible[i] for i in chosen]), counter
    )
    chosen = [eligible[i] for i in picked]
    dropped = len(tried - {candidates[i][1].id for i in chosen})

    lines = [
        ProfileLine(
            section=sections[s_index].name,
            text=line,
            record_ids=[record.id],
            turn_ids=list(record.source_turn_ids),
            tokens=line_tokens,
        )
        for s_index, record, line, line_tokens in (candidates[i] for i in render_order(chosen))
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
