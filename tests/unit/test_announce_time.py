"""The `at` option of `/organiser announce`: every accepted form, DST, and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.announce_time import MAX_AHEAD, AtError, local_instant, parse_at

LONDON = ZoneInfo("Europe/London")
# Monday 14 September 2026, 10:00 BST (09:00 UTC).
NOW = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)


def at(text: str, now: datetime = NOW, tz: str = "Europe/London") -> datetime:
    return parse_at(text, now=now, tz=tz)


def test_clock_time_later_today_is_today_in_the_server_timezone() -> None:
    assert at("11:30") == datetime(2026, 9, 14, 10, 30, tzinfo=UTC)  # 11:30 BST
    assert at("9:05") == datetime(2026, 9, 15, 8, 5, tzinfo=UTC)  # one digit hour, tomorrow


def test_clock_time_already_past_today_is_tomorrow() -> None:
    assert at("09:30") == datetime(2026, 9, 15, 8, 30, tzinfo=UTC)
    assert at("10:00") == datetime(2026, 9, 15, 9, 0, tzinfo=UTC)  # "now" counts as past


def test_date_and_time_in_the_server_timezone() -> None:
    assert at("2026-09-16 08:00") == datetime(2026, 9, 16, 7, 0, tzinfo=UTC)
    assert at("2026-09-16T08:00") == datetime(2026, 9, 16, 7, 0, tzinfo=UTC)
    assert at("2026-09-16 08:00", tz="America/New_York") == datetime(2026, 9, 16, 12, 0, tzinfo=UTC)


def test_dst_is_respected_on_either_side_of_the_change() -> None:
    now = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
    # BST until 25 October 2026, GMT after: the same wall-clock time is a different UTC hour.
    assert at("2026-10-24 09:00", now) == datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
    assert at("2026-10-26 09:00", now) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    # The repeated hour in autumn is read as the first one (still BST).
    assert at("2026-10-25 01:30", now) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_hh_mm_tomorrow_across_a_dst_change_keeps_the_wall_clock_time() -> None:
    now = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)  # Saturday 21:00 BST
    assert at("09:00", now) == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)  # Sunday 09:00 GMT


def test_a_time_the_clocks_skip_is_refused() -> None:
    now = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
    with pytest.raises(AtError, match="does not exist"):
        at("2026-03-29 01:30", now)
    with pytest.raises(AtError):
        local_instant(datetime(2026, 3, 29).date(), datetime(2026, 1, 1, 1, 30).time(), LONDON)


@pytest.mark.parametrize(
    ("text", "delay"),
    [
        ("in 90m", timedelta(minutes=90)),
        ("in 2h", timedelta(hours=2)),
        ("in 1h30m", timedelta(minutes=90)),
        ("in 1h 30m", timedelta(minutes=90)),
        ("IN 10 min", timedelta(minutes=10)),
        ("in 3 hours", timedelta(hours=3)),
        ("in1m", timedelta(minutes=1)),
    ],
)
def test_relative_times(text: str, delay: timedelta) -> None:
    assert at(text) == NOW + delay


def test_now_may_be_in_any_timezone_and_the_result_is_utc() -> None:
    local_now = NOW.astimezone(LONDON)
    result = at("in 5m", local_now)
    assert result == NOW + timedelta(minutes=5)
    assert result.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-09-14 09:59", "already passed"),
        ("2020-01-01 09:00", "already passed"),
        ("2026-11-14 10:00", "more than 60 days"),
        ("in 1500h", "more than 60 days"),
        ("in 0m", "at least 1 minute"),
        ("in 30s", "can't read"),
        ("tomorrow", "can't read"),
        ("25:00", "can't read"),
        ("12:60", "can't read"),
        ("2026-02-30 09:00", "not a real date"),
        ("in", "can't read"),
        ("   ", "empty"),
    ],
)
def test_refusals_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(AtError, match=message) as info:
        at(text)
    text_of_error = str(info.value)
    if "can't read" in message or "real date" in message or "empty" in message:
        assert "HH:MM" in text_of_error and "in 90m" in text_of_error
        assert "Europe/London" in text_of_error


def test_exactly_sixty_days_is_allowed() -> None:
    assert at(f"in {MAX_AHEAD.days * 24}h") == NOW + MAX_AHEAD


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_at("10:00", now=datetime(2026, 9, 14, 9, 0), tz="Europe/London")


@pytest.mark.parametrize("tz", ["America/New_York", "Pacific/Honolulu", "Asia/Tokyo"])
def test_the_end_of_the_calendar_is_too_far_not_an_overflow(tz: str) -> None:
    now = datetime(2026, 9, 1, tzinfo=UTC)
    with pytest.raises(AtError) as caught:
        parse_at("9999-12-31 23:00", now=now, tz=tz)
    assert "days ahead" in str(caught.value)
