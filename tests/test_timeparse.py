"""Relative time resolves against the turn's own time, never the wall clock."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from memagent.timeparse import find_times, resolve_when, tense_of

MONDAY = datetime(2023, 5, 8, 14, 30, tzinfo=UTC)  # a Monday


def _day(text: str, anchor: datetime = MONDAY) -> str:
    found = resolve_when(text, anchor)
    assert found is not None, text
    return found.when.date().isoformat()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My sister visited yesterday", "2023-05-07"),
        ("today was long", "2023-05-08"),
        ("see you tomorrow", "2023-05-09"),
        ("the day before yesterday", "2023-05-06"),
        ("three days ago", "2023-05-05"),
        ("2 weeks ago", "2023-04-24"),
        ("a couple of months ago", "2023-03-08"),
        ("five years ago", "2018-05-08"),
        ("last week", "2023-05-01"),
        ("next week", "2023-05-15"),
        ("last month", "2023-04-01"),
        ("next year", "2024-01-01"),
        ("last weekend", "2023-05-06"),
        ("next weekend", "2023-05-13"),
        ("last Friday", "2023-05-05"),
        ("next Tuesday", "2023-05-09"),
        ("this Friday", "2023-05-12"),
        ("in 3 days", "2023-05-11"),
        ("in two weeks", "2023-05-22"),
        ("on 2023-04-01 we met", "2023-04-01"),
        ("7 May 2021", "2021-05-07"),
        ("May 7th, 2020", "2020-05-07"),
        ("last Christmas", "2022-12-25"),
        ("back in 2019", "2019-01-01"),
    ],
)
def test_phrases_resolve_against_anchor(text: str, expected: str) -> None:
    assert _day(text) == expected


def test_weekday_follows_tense() -> None:
    assert _day("I saw him on Friday") == "2023-05-05"
    assert _day("I will see him on Friday") == "2023-05-12"
    assert _day("I'm flying to Rome on Friday") == "2023-05-12"
    assert _day("last Monday") == "2023-05-01"  # same weekday as the anchor: a week back


def test_month_day_without_year_uses_tense() -> None:
    assert _day("I graduated on June 3") == "2022-06-03"
    assert _day("I will graduate on June 3") == "2023-06-03"


def test_parts_of_day_have_times() -> None:
    morning = resolve_when("this morning I ran", MONDAY)
    tonight = resolve_when("tonight", MONDAY)
    last_night = resolve_when("last night was fun", MONDAY)
    assert morning and morning.when == datetime(2023, 5, 8, 9, tzinfo=UTC) and morning.granularity == "time"
    assert tonight and tonight.when.hour == 20
    assert last_night and last_night.when == datetime(2023, 5, 7, 21, tzinfo=UTC)


def test_timezone_is_kept_and_naive_is_utc() -> None:
    tz = timezone(timedelta(hours=-5))
    anchor = datetime(2023, 5, 8, 23, 0, tzinfo=tz)
    found = resolve_when("yesterday", anchor)
    assert (
        found
        and found.when == datetime(2023, 5, 7, tzinfo=tz)
        and found.when.utcoffset() == timedelta(hours=-5)
    )
    naive = resolve_when("yesterday", datetime(2023, 5, 8, 12))
    assert naive and naive.when.tzinfo is UTC


def test_longest_match_and_phrase() -> None:
    found = resolve_when("We met the day before yesterday at noon", MONDAY)
    assert found and found.phrase == "the day before yesterday"
    assert (found.start, found.end) == (7, 31)


def test_no_time_phrase_and_impossible_dates() -> None:
    assert resolve_when("I love sushi", MONDAY) is None
    assert resolve_when("may I ask something", MONDAY) is None
    assert resolve_when("on 2023-02-30", MONDAY) is None


def test_find_times_lists_all_in_order() -> None:
    found = find_times("Yesterday I booked a trip for next month", MONDAY)
    assert [f.phrase for f in found] == ["Yesterday", "next month"]


def test_anchor_not_wall_clock() -> None:
    old = datetime(1999, 12, 31, tzinfo=UTC)
    assert _day("two days ago", old) == "1999-12-29"


def test_tense_cues() -> None:
    assert tense_of("I will go") == "future"
    assert tense_of("I visited her") == "past"
    assert tense_of("I like tea") is None
