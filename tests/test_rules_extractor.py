"""The offline rule extractor: preferences, changes, facts, events, pre-filter."""

from datetime import UTC, datetime

import pytest

from memagent.extraction import RuleExtractor, is_personal
from memagent.extraction.rules import find_memories, first_person, slot_key
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


# --- the fallback: first-person statements no specific rule reads ---


@pytest.mark.parametrize(
    ("text", "content"),
    [
        ("i've two older mustangs .", "User has two older mustangs"),
        ("i stunt double", "User stunts double"),
        ("i am very strong for my age", "User is very strong for their age"),
        ("my friends are all skateboarders", "User's friends are all skateboarders"),
        ("I learn best through personalized, one-on-one instruction.",
         "User learns best through personalized, one-on-one instruction"),
        ("everyday i walk three miles", "User walks three miles everyday"),
        ("i just got off work", "User just got off work"),
    ],
)  # fmt: skip
def test_fallback_keeps_a_self_description_whole(text: str, content: str) -> None:
    c = _one(text)
    assert c.content == content
    assert (c.kind, c.slot) == (MemoryKind.FACT, None) and c.confidence < 0.5


def test_fallback_splits_sentences_and_drops_questions() -> None:
    found = find_memories("do you like vintage cars ? i've two older mustangs . what about you ?", WHEN)
    assert [f.content for f in found] == ["User has two older mustangs"]
    both = find_memories("i am good , i just got off work and tired , i have two jobs .", WHEN)
    assert "User has two jobs" in [f.content for f in both] and len(both) == 2


def test_fallback_strips_a_tag_question() -> None:
    assert _one("i have read about 20 books this year , have you ?").content == (
        "User has read about 20 books this year"
    )


def test_fallback_preference_carries_polarity() -> None:
    c = _one('"I find water sports uncomfortable and avoid them whenever possible."')
    assert c.kind is MemoryKind.PREFERENCE and c.polarity is Polarity.NEGATIVE and c.slot is None


@pytest.mark.parametrize(
    "text",
    [
        "I want you to act as a travel guide.",
        "Can you write me a poem about my cat?",
        "Please tell me a joke, I am bored",
        "write a story where I am a pirate",
        "I need help with my essay",
        "I was wondering if you could help",
        "I bet you can get hurt",
        "I think that is great",
        "i am doing well , thanks",
        "I love it",
        "Make this grammatically correct: I like my watch.",
        "I have this error: TypeError in self.run() when x = 3",
        "in typescript how do i throw a new error",
        "Summarize this. I was born in 1990 and I have two cats named Tom and Jerry.",
    ],
)
def test_fallback_skips_requests_questions_and_filler(text: str) -> None:
    fallback = [f for f in find_memories(text, WHEN) if f.slot is None and f.confidence < 0.5]
    assert fallback == [], text


def test_pronoun_object_gets_no_slot() -> None:
    c = _one("i love working on them")
    assert c.content == "User loves working on them" and c.slot is None
    assert c.polarity is Polarity.POSITIVE
    hate = _one("I hate doing them on weekends")  # no "pref:them" slot to supersede the love above
    assert hate.slot is None and hate.polarity is Polarity.NEGATIVE


@pytest.mark.parametrize(
    "text",
    [
        "I don't think I like horror movies",
        "I'm not sure I like horror movies",
        "I never really liked horror movies",
    ],
)
def test_negation_raising_reads_as_dislike(text: str) -> None:
    c = _one(text)
    assert c.polarity is Polarity.NEGATIVE and c.slot == "pref:" + slot_key("horror movies"), c.content


def test_used_to_but_not_now() -> None:
    c = _one("i used to play tennis but now not so much")
    assert c.content == "User used to play tennis" and c.polarity is Polarity.NEGATIVE


def test_third_person_verbs() -> None:
    assert _one("I need to avoid gluten").content.startswith("User needs to avoid")
    assert _one("i've been there 6 times").content == "User has been there 6 times"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("User has two older mustangs", "I have two older mustangs"),
        ("User is very strong for their age", "I am very strong for my age"),
        ("User's friends are all skateboarders", "My friends are all skateboarders"),
        ("User dances on the weekends", "I dance on the weekends"),
        ("User and their wife have three girls", "My wife and I have three girls"),
        ("i love it", "i love it"),
    ],
)
def test_first_person(content: str, expected: str) -> None:
    assert first_person(content) == expected


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("Please forget that I hate mushrooms.", "I hate mushrooms"),
        ("Can you forget about my ex?", "my ex"),
        ("Don't remember that I live in Lyon", "I live in Lyon"),
        ("I forget my keys all the time", None),
        ("Never forget that I'm allergic to nuts", None),
        ("Forget it, I'll just go hiking", None),
        ("Please forget what I said about my job.", "my job"),
    ],
)
def test_a_request_to_forget_is_recognised_and_extracts_nothing(text: str, what: str | None) -> None:
    from memagent.extraction.rules import carries_memories, forget_request

    assert forget_request(text) == what
    said = Turn(
        user_id="u", session_id="s", turn_id="t", text=text, event_time=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert carries_memories(said) is (what is None)
    if what is not None:
        assert RuleExtractor().extract([said]).candidates == []
