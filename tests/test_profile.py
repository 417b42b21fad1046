"""Tests of `memagent.profile`: packing to a token budget and compiling provenance-tagged profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memagent.interfaces import TokenCounter
from memagent.profile import (
    MIN_LINE_TOKENS,
    TURN_MAX_TOKENS,
    ProfileSection,
    compile_profile,
    pack_to_budget,
    render_record,
)
from memagent.tokens import TiktokenCounter, WordCounter
from memagent.types import MemoryKind, MemoryRecord, stable_id

TIKTOKEN = TiktokenCounter()
WORDS = WordCounter()
DAY = datetime(2023, 1, 10, tzinfo=UTC)


class CharCounter:
    """One token per character: joins cost their separators, so counts are not additive."""

    def count(self, text: str) -> int:
        return len(text)


def make_record(
    name: str,
    content: str,
    kind: MemoryKind = MemoryKind.PREFERENCE,
    when: datetime = DAY,
    valid_until: datetime | None = None,
) -> MemoryRecord:
    return MemoryRecord(
        id=stable_id(name),
        user_id="u1",
        kind=kind,
        content=content,
        event_time=when,
        record_time=when,
        valid_from=when,
        valid_until=valid_until,
        source_turn_ids=[f"turn-{name}"],
    )


# --- pack_to_budget ------------------------------------------------------------------------------


def test_pack_skips_lines_that_do_not_fit_and_keeps_trying() -> None:
    lines = ["one two three", "a b c d e f g h i j", "four", "five six", "seven"]
    assert pack_to_budget(lines, 5, WORDS) == [0, 2, 4]  # the long line and "five six" do not fit
    assert pack_to_budget(lines, 0, WORDS) == []
    assert pack_to_budget([], 10, WORDS) == []
    with pytest.raises(ValueError):
        pack_to_budget(lines, -1, WORDS)


def test_pack_counts_the_joined_text_not_the_sum() -> None:
    lines = ["aaaa", "bbbb", "cc"]
    assert sum(len(line) for line in lines[:2]) == 8
    assert pack_to_budget(lines, 8, CharCounter()) == [0, 2]  # "aaaa\nbbbb" is 9 characters
    assert pack_to_budget(lines, 8, CharCounter(), separator="") == [0, 1]


_line_text = st.lists(
    st.sampled_from(list("abcXYZ019 .,!?'\"-_\n\t") + ["é", "中", "🙂", "  ", "\n\n", "://", "the", " cat"]),
    max_size=40,
).map("".join)


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(_line_text, max_size=25),
    budget=st.integers(min_value=0, max_value=120),
    separator=st.sampled_from(["\n", " ", "", ", "]),
)
def test_pack_to_budget_invariants(lines: list[str], budget: int, separator: str) -> None:
    chosen = pack_to_budget(lines, budget, TIKTOKEN, separator=separator)
    assert chosen == sorted(set(chosen))  # rank order, no repeats
    kept = [lines[i] for i in chosen]
    assert TIKTOKEN.count(separator.join(kept)) <= budget
    assert pack_to_budget(kept, budget, TIKTOKEN, separator=separator) == list(range(len(kept)))
    assert pack_to_budget(lines, budget, TIKTOKEN, separator=separator) == chosen
    for skipped in sorted(set(range(len(lines))) - set(chosen)):  # every skip was forced by the counts
        tried = [lines[i] for i in chosen if i < skipped] + [lines[skipped]]
        estimate = sum(TIKTOKEN.count(line + separator) for line in tried[:-1]) + TIKTOKEN.count(tried[-1])
        assert estimate > budget or TIKTOKEN.count(separator.join(tried)) > budget


# --- rendering -----------------------------------------------------------------------------------


def test_render_record_by_kind() -> None:
    pref = make_record("veg", "User is vegetarian")
    assert render_record(pref, WORDS) == f"- User is vegetarian (since 2023-01-10) [m:{pref.id[:6]}]"
    old = make_record("meat", "User eats meat", valid_until=DAY + timedelta(days=30))
    assert render_record(old, WORDS) == f"- User eats meat (2023-01-10 to 2023-02-09) [m:{old.id[:6]}]"
    event = make_record("sis", "User's sister\nvisited", MemoryKind.EVENT, datetime(2023, 5, 7, tzinfo=UTC))
    assert render_record(event, WORDS) == f"- 2023-05-07: User's sister visited [m:{event.id[:6]}]"
    turn = make_record("t1", "Alice: I love hiking", MemoryKind.TURN, datetime(2023, 5, 7, 22, tzinfo=UTC))
    assert render_record(turn, WORDS) == f"- (2023-05-07) Alice: I love hiking [m:{turn.id[:6]}]"


def test_long_turns_are_truncated_to_a_token_length() -> None:
    turn = make_record("long", "Alice: " + " ".join(f"word{i}" for i in range(300)), MemoryKind.TURN)
    line = render_record(turn, TIKTOKEN)
    quote = line.removeprefix("- (2023-01-10) ").removesuffix(f" [m:{turn.id[:6]}]")
    assert quote.startswith("Alice: word0 word1") and quote.endswith("…")
    assert TURN_MAX_TOKENS - 4 <= TIKTOKEN.count(quote) <= TURN_MAX_TOKENS


# --- compile_profile -----------------------------------------------------------------------------


def _sections() -> list[ProfileSection]:
    veg = make_record("veg", "User is vegetarian")
    job = make_record("job", "User works as a nurse", MemoryKind.FACT)
    trip = make_record("trip", "User went to Lisbon", MemoryKind.EVENT, datetime(2023, 5, 7, tzinfo=UTC))
    chat = make_record("chat", "Alice: I might try tofu tonight", MemoryKind.TURN)
    return [
        ProfileSection(name="relevant", records=[chat, veg]),
        ProfileSection(name="preferences", records=[veg]),
        ProfileSection(name="events", title="Recent events", records=[trip]),
        ProfileSection(name="facts", records=[job]),
    ]


def test_profile_renders_sections_in_stable_order_with_titles() -> None:
    sections = _sections()
    profile = compile_profile("u1", "what should I cook?", sections, 500, TIKTOKEN)
    veg, chat = sections[1].records[0], sections[0].records[0]
    job, trip = sections[3].records[0], sections[2].records[0]
    assert profile.text == "\n".join(
        [
            "Facts:",
            f"- User works as a nurse (since 2023-01-10) [m:{job.id[:6]}]",
            "Recent events:",
            f"- 2023-05-07: User went to Lisbon [m:{trip.id[:6]}]",
            "Relevant to this question:",
            f"- (2023-01-10) Alice: I might try tofu tonight [m:{chat.id[:6]}]",
            f"- User is vegetarian (since 2023-01-10) [m:{veg.id[:6]}]",
        ]
    )  # "veg" is shown once, in the higher-priority "relevant" section; "preferences" is then empty
    assert profile.tokens == TIKTOKEN.count(profile.text) <= 500
    assert [line.section for line in profile.lines] == ["facts", "events", "relevant", "relevant"]
    assert profile.lines[2].record_ids == [chat.id]
    assert profile.lines[2].turn_ids == ["turn-chat"]
    assert all(line.tokens == TIKTOKEN.count(line.text) for line in profile.lines)
    assert profile.dropped == 0
    assert (profile.user_id, profile.query, profile.budget) == ("u1", "what should I cook?", 500)


def test_priority_order_decides_what_fits_a_tight_budget() -> None:
    sections = _sections()
    full = compile_profile("u1", None, sections, 500, WORDS)
    relevant_only = "\n".join(full.text.split("\n")[-3:])
    budget = WORDS.count(relevant_only)
    tight = compile_profile("u1", None, sections, budget, WORDS)
    assert tight.text == relevant_only
    assert tight.dropped == 2  # events and facts came later in priority and did not fit
    reversed_priority = compile_profile("u1", None, sections[::-1], budget, WORDS)
    assert reversed_priority.text.startswith("Facts:\n")
    assert reversed_priority.tokens <= budget


def test_titles_count_against_the_budget() -> None:
    pref = make_record("veg", "User is vegetarian")
    section = ProfileSection(name="preferences", records=[pref])
    line = render_record(pref, TIKTOKEN)
    exact = TIKTOKEN.count("Preferences:\n" + line)
    assert compile_profile("u1", None, [section], exact, TIKTOKEN).text == "Preferences:\n" + line
    empty = compile_profile("u1", None, [section], exact - 1, TIKTOKEN)
    assert (empty.text, empty.tokens, empty.lines, empty.dropped) == ("", 0, [], 1)


def test_section_limit_caps_placed_lines() -> None:
    events = [
        make_record(f"e{i}", f"Event number {i}", MemoryKind.EVENT, DAY + timedelta(days=i)) for i in range(6)
    ]
    profile = compile_profile(
        "u1", None, [ProfileSection(name="events", records=events, limit=2)], 500, WORDS
    )
    assert [line.record_ids[0] for line in profile.lines] == [events[0].id, events[1].id]
    assert profile.dropped == 0
    none = compile_profile("u1", None, [ProfileSection(name="events", records=events, limit=0)], 500, WORDS)
    assert none.text == ""


def test_a_record_skipped_for_a_limit_can_still_show_in_a_later_section() -> None:
    first, second = (
        make_record("a", "Event A", MemoryKind.EVENT),
        make_record("b", "Event B", MemoryKind.EVENT),
    )
    sections = [
        ProfileSection(name="events", records=[first, second], limit=1),
        ProfileSection(name="relevant", records=[second, first, second]),
    ]
    profile = compile_profile("u1", None, sections, 500, WORDS)
    assert [(line.section, line.record_ids[0]) for line in profile.lines] == [
        ("events", first.id),
        ("relevant", second.id),
    ]
    assert profile.text.count(f"[m:{second.id[:6]}]") == 1


def test_empty_input_gives_an_empty_profile() -> None:
    profile = compile_profile("u1", "hi", [], 64, TIKTOKEN)
    assert (profile.text, profile.tokens, profile.lines) == ("", 0, [])
    with pytest.raises(ValueError):
        compile_profile("u1", "hi", [], -1, TIKTOKEN)


# --- the budget property -------------------------------------------------------------------------

_content = st.lists(
    st.sampled_from(
        list("abcdefghij XYZ0123456789.,;:!?'\"()-\n\t") + ["é", "ß", "中文", "🙂", "  ", " user"]
    ),
    min_size=1,
    max_size=120,
).map("".join)


@st.composite
def _records(draw: st.DrawFn) -> MemoryRecord:
    name = draw(st.text(alphabet="abcdef0123456789", min_size=1, max_size=12))
    kind = draw(st.sampled_from(list(MemoryKind)))
    when = DAY + timedelta(hours=draw(st.integers(min_value=-50_000, max_value=50_000)))
    until = draw(st.one_of(st.none(), st.just(when + timedelta(days=3))))
    return make_record(name, draw(_content), kind, when, until)


_section_names = ["preferences", "facts", "events", "relevant"]


@settings(max_examples=40, deadline=None)
@given(
    pools=st.lists(st.lists(_records(), max_size=10), min_size=1, max_size=4),
    budget=st.integers(min_value=16, max_value=400),
    limit=st.one_of(st.none(), st.integers(min_value=0, max_value=5)),
)
def test_profile_never_exceeds_the_budget(
    pools: list[list[MemoryRecord]], budget: int, limit: int | None
) -> None:
    sections = [
        ProfileSection(name=_section_names[i], records=records, limit=limit if i == 2 else None)
        for i, records in enumerate(pools)
    ]
    profile = compile_profile("u1", "q", sections, budget, TIKTOKEN)
    assert TIKTOKEN.count(profile.text) == profile.tokens <= budget
    assert (
        compile_profile("u1", "q", sections, budget, TIKTOKEN).model_dump_json() == profile.model_dump_json()
    )
    shown = [rid for line in profile.lines for rid in line.record_ids]
    assert len(shown) == len(set(shown))
    body = [row for row in profile.text.split("\n") if row.startswith("- ")] if profile.text else []
    assert body == [line.text for line in profile.lines]
    candidates = len({r.id for records in pools for r in records})
    assert len(profile.lines) + profile.dropped <= candidates
    if budget >= 64 and candidates and limit is None:
        assert profile.lines or profile.dropped  # something was at least tried


@settings(max_examples=25, deadline=None)
@given(
    records=st.lists(_records(), min_size=1, max_size=30), budget=st.integers(min_value=64, max_value=2048)
)
def test_profile_budget_property_for_large_budgets(records: list[MemoryRecord], budget: int) -> None:
    section = ProfileSection(name="relevant", records=records)
    profile = compile_profile("u1", None, [section], budget, TIKTOKEN)
    assert TIKTOKEN.count(profile.text) == profile.tokens <= budget
    first_alone = "Relevant to this question:\n" + render_record(records[0], TIKTOKEN)
    if TIKTOKEN.count(first_alone) <= budget:  # the first candidate is tried on an empty profile
        assert profile.lines[0].record_ids == [records[0].id]
    if records[0].kind is MemoryKind.TURN:  # turns are cut to TURN_MAX_TOKENS, so one always fits
        assert profile.lines


def test_pinned_sections_fill_before_the_round_robin() -> None:
    from memagent.profile import ProfileSection, compile_profile
    from memagent.tokens import WordCounter

    def rec(i: str, text: str) -> MemoryRecord:
        when = datetime(2023, 1, 1, tzinfo=UTC)
        return MemoryRecord(
            id=i,
            user_id="u",
            kind=MemoryKind.PREFERENCE,
            content=text,
            event_time=when,
            record_time=when,
            valid_from=when,
        )

    sections = [
        ProfileSection(
            name="constraints", records=[rec("c1", "allergic to peanuts"), rec("c2", "vegan")], pinned=True
        ),
        ProfileSection(name="preferences", records=[rec(f"p{i}", f"likes thing {i}") for i in range(20)]),
    ]
    profile = compile_profile("u", "q", sections, 80, WordCounter(), interleave=True)
    ids = [line.record_ids[0] for line in profile.lines]
    assert ids[:2] == ["c1", "c2"] and len(ids) > 2


@pytest.mark.parametrize("counter", [TIKTOKEN, WORDS], ids=["tiktoken", "words"])
def test_no_rendered_line_is_shorter_than_the_minimum(counter: TokenCounter) -> None:
    """`Memory.profile` fetches budget // MIN_LINE_TOKENS + 1 lines a section: no more can ever fit."""
    for kind in MemoryKind:
        line = render_record(make_record("r", "x", kind), counter)
        assert counter.count(line) >= MIN_LINE_TOKENS, line


def test_a_section_with_a_larger_share_places_that_many_lines_a_round() -> None:
    relevant = [make_record(f"r{i}", f"said thing {i}", MemoryKind.TURN) for i in range(6)]
    preferences = [make_record(f"p{i}", f"likes thing {i}", MemoryKind.PREFERENCE) for i in range(6)]
    sections = [
        ProfileSection(name="relevant", records=relevant, share=2),
        ProfileSection(name="preferences", records=preferences),
    ]
    expected = "\n".join(
        ["Preferences:", *(render_record(r, WORDS) for r in preferences[:2])]
        + ["Relevant to this question:", *(render_record(r, WORDS) for r in relevant[:4])]
    )
    profile = compile_profile("u", "q", sections, WORDS.count(expected), WORDS, interleave=True)
    assert profile.text == expected  # two rounds: r0 r1 p0, then r2 r3 p1
    everything = compile_profile("u", "q", sections, 10_000, WORDS, interleave=True)
    assert len(everything.lines) == 12  # a share changes the order, never what fits in the end
