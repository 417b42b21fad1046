"""The offline rule extractor: preferences, changes, facts, events, pre-filter."""

from datetime import UTC, datetime

import pytest

from memagent.extraction import RuleExtractor, is_personal
from memagent.extraction.rules import find_memories, slot_key
from memagent.interfaces import Extractor
from memagent.types import Candidate, MemoryKind, Polarity, Role, Turn

WHEN = datetime(2023, 5, 8, 14, tzinfo=UTC)


def _turn(text: str, when: datetime = WHEN, role: Role = Role.USER, turn_id: str = "t1") -> Turn:
    return Turn(user_id="u", session_id="s1", turn_id=turn_id, role=role, text=text, event_time=when)


def _one(text: str, when: datetime = WHEN) -> Candidate:
    found = RuleExtractor().extract([_turn(text, when)]).candidates
    assert len(found) == 1, [c.content for c in found]
    return found[0]


def test_is_an_extractor() -> None:
    assert isinstance(RuleExtractor(), Extractor)
    assert RuleExtractor.name == "rules"


def test_vegetarian_then_fish_share_the_diet_slot() -> None:
    january = _one("I've been vegetarian for years.", datetime(2023, 1, 10, tzinfo=UTC))
    march = _one("Good news: I started eating fish again!", datetime(2023, 3, 2, tzinfo=UTC))
    assert (january.kind, january.slot, january.value) == (MemoryKind.PREFERENCE, "diet", "vegetarian")
    assert january.content == "User is vegetarian"
    assert march.slot == "diet" and march.value != january.value
    assert "eats fish" in march.content and "fish" in (march.value or "")
    assert march.event_time == datetime(2023, 3, 2, tzinfo=UTC)


def test_sister_visited_yesterday_is_dated_event() -> None:
    c = _one("My sister visited yesterday.", datetime(2023, 5, 8, 10, tzinfo=UTC))
    assert c.kind is MemoryKind.EVENT and c.slot is None
    assert c.content == "User's sister visited"
    assert c.event_time.date().isoformat() == "2023-05-07"


def test_event_without_time_phrase_uses_turn_time() -> None:
    c = [
        x
        for x in RuleExtractor().extract([_turn("I adopted a puppy")]).candidates
        if x.kind is MemoryKind.EVENT
    ]
    assert len(c) == 1 and c[0].event_time == WHEN and c[0].content == "User adopted a puppy"


def test_like_then_hate_share_slot_with_opposite_polarity() -> None:
    like, hate = _one("I love sushi"), _one("Honestly I hate sushi now.")
    assert like.slot == hate.slot == "pref:sushi"
    assert (like.polarity, hate.polarity) == (Polarity.POSITIVE, Polarity.NEGATIVE)


@pytest.mark.parametrize(
    "text",
    [
        "I don't like spicy food",
        "I can't stand spicy food",
        "I'm not a fan of spicy food",
        "I avoid spicy food",
        "Spicy food isn't for me",
        "I strongly dislike spicy food",
    ],
)
def test_negation_is_negative(text: str) -> None:
    c = _one(text)
    assert c.polarity is Polarity.NEGATIVE and c.slot == slot_key("spicy food").join(("pref:", ""))
    assert "like" not in c.content or "not" in c.content or "dislike" in c.content


def test_dont_like_is_not_read_as_like() -> None:
    c = _one("I don't like olives")
    assert c.content == "User does not like olives" and c.value == "dislike"


def test_used_to_but_now() -> None:
    c = _one("I used to drink coffee but now I drink tea.")
    assert "tea" in c.content and "used to drink coffee" in c.content
    d = _one("I used to hate olives, but now I love them")
    assert d.slot == "pref:" + slot_key("olives") and d.polarity is Polarity.POSITIVE


def test_no_longer_and_quit() -> None:
    meat = _one("I no longer eat meat")
    assert (meat.slot, meat.polarity, meat.content) == ("diet", Polarity.NEGATIVE, "User no longer eats meat")
    smoke = _one("I quit smoking last year")
    assert smoke.slot == "habit:" + slot_key("smoking") and smoke.polarity is Polarity.NEGATIVE
    vegan = _one("I'm not vegan anymore")
    assert vegan.slot == "diet" and vegan.ends_slot and vegan.value is None


def test_switched_from_to() -> None:
    found = RuleExtractor().extract([_turn("I switched from coffee to green tea")]).candidates
    assert {(c.slot, c.polarity) for c in found} == {
        ("pref:" + slot_key("green tea"), Polarity.POSITIVE),
        ("pref:coffee", Polarity.NEGATIVE),
    }


def test_constraints() -> None:
    allergy = RuleExtractor().extract([_turn("I'm allergic to peanuts and shellfish.")]).candidates
    assert [c.slot for c in allergy] == ["allergy:peanut", "allergy:shellfish"]
    assert _one("I can't eat gluten").polarity is Polarity.NEGATIVE
    assert _one("i only eat kosher .").slot == "diet:kosher"
    assert _one("I'm on a tight budget").slot == "budget"


@pytest.mark.parametrize(
    ("text", "slot", "value"),
    [
        ("My name is sarah", "name", "Sarah"),
        ("I am 34 years old", "age", "34"),
        ("I work as a nurse", "job", "nurse"),
        ("I live in Berlin with my wife", "home", "Berlin"),
        ("I have two kids", "family:kid", "two"),
        ("I have two dogs", "pet:dog", "two"),
        ("My favorite color is blue", "favorite:color", "blue"),
    ],
)
def test_facts(text: str, slot: str, value: str) -> None:
    c = _one(text)
    assert (c.slot, c.value) == (slot, value)
    assert c.content.startswith("User")


def test_habit() -> None:
    c = _one("I usually go running in the morning")
    assert c.content == "User usually goes running in the morning" and c.slot.startswith("habit:")


def test_moved_gives_event_and_home() -> None:
    found = RuleExtractor().extract([_turn("I moved to Lisbon last month")]).candidates
    kinds = {c.kind: c for c in found}
    assert kinds[MemoryKind.EVENT].content == "User moved to Lisbon"
    assert kinds[MemoryKind.FACT].slot == "home" and kinds[MemoryKind.FACT].value == "Lisbon"
    assert kinds[MemoryKind.EVENT].event_time.date().isoformat() == "2023-04-01"


def test_questions_and_chit_chat_yield_nothing() -> None:
    for text in [
        "What do you think I should cook tonight?",
        "Can you recommend a movie for me?",
        "I see, thanks!",
    ]:
        assert find_memories(text, WHEN) == [], text


def test_skips_non_personal_and_assistant_turns() -> None:
    turns = [
        _turn("The weather is nice.", turn_id="a"),
        _turn("I love hiking", turn_id="b"),
        _turn("I love telling jokes, I'm vegan", role=Role.ASSISTANT, turn_id="c"),
        _turn("Is it going to rain?", turn_id="d"),
    ]
    result = RuleExtractor().extract(turns)
    assert result.turns_seen == 4 and result.turns_skipped == 3 and result.llm_calls == 0
    assert [c.source_turn_ids for c in result.candidates] == [["b"]]


def test_provenance_fields() -> None:
    c = _one("I love jazz")
    assert c.source_turn_ids == ["t1"] and c.session_id == "s1" and c.extractor == "rules"
    assert c.event_time == WHEN


def test_prefilter() -> None:
    assert is_personal("my dog is sick") and is_personal("I'm fine") and is_personal("we went out")
    assert not is_personal("The sky is blue.") and not is_personal("Did you see it?")
