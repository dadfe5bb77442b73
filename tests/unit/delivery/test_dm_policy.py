"""The new-DM budget, the 40003 cool-down and quarantine (pure)."""

from __future__ import annotations

import pytest

from bot.delivery.dm_policy import (
    COOLDOWN,
    MAX_BUDGET_LEAD,
    DmGuard,
    DmState,
    budget_seconds,
)


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def guard(per_minute: int = 3) -> tuple[DmGuard, Tick]:
    tick = Tick()
    return DmGuard(per_minute=per_minute, clock=tick), tick


def test_budget_allows_per_minute_in_any_rolling_minute() -> None:
    g, tick = guard(3)
    assert [g.take() for _ in range(4)] == [True, True, True, False]
    assert g.next_slot() == pytest.approx(1060.0)
    tick.now = 1059.9
    assert not g.take()
    tick.now = 1060.0
    assert g.take()


def test_can_open_now_asks_without_using_the_budget() -> None:
    g, tick = guard(2)
    assert g.can_open_now() and g.can_open_now()  # asking twice uses nothing
    assert g.take() and g.can_open_now() and g.take()
    assert not g.can_open_now()
    tick.now += 60
    assert g.can_open_now()
    g.on_too_fast()  # a 40003: no new channel during the cool-down
    assert not g.can_open_now()
    tick.now += COOLDOWN
    assert g.can_open_now()


def test_room_now_counts_what_is_left_of_the_budget_without_using_it() -> None:
    g, tick = guard(3)
    assert g.room_now() == 3 and g.room_now() == 3  # asking uses nothing
    assert g.take() and g.take()
    assert g.room_now() == 1
    assert g.take() and g.room_now() == 0
    tick.now += 60
    assert g.room_now() == 3
    g.on_too_fast()
    assert g.room_now() == 0  # a cool-down
    tick.now += COOLDOWN
    assert g.take()
    g.on_too_fast()  # the second within an hour: quarantine, then one probe
    tick.now = g.cooldown_until
    assert g.room_now() == 1
    assert g.take() and g.room_now() == 0


def test_40003_cools_down_ten_minutes_then_doubles() -> None:
    g, tick = guard(3)
    assert g.take()
    assert g.on_too_fast() is False  # one 40003 is a cool-down, not yet quarantine
    assert g.state is DmState.COOLDOWN
    assert not g.take()
    assert g.next_slot() == pytest.approx(1000.0 + COOLDOWN)
    tick.now += COOLDOWN
    assert g.state is DmState.OK and g.take()
    g.on_opened()
    tick.now += 2 * 3600  # outside the strike window: a cool-down again, twice as long
    assert g.on_too_fast() is False
    assert g.cooldown_until == pytest.approx(tick.now + 2 * COOLDOWN)


def test_repeated_40003_means_quarantine_and_a_probe_lifts_it() -> None:
    g, tick = guard(3)
    g.on_too_fast()
    tick.now += COOLDOWN
    assert g.take()
    assert g.on_too_fast() is True  # the second within an hour
    assert g.state is DmState.QUARANTINE
    assert not g.may_message(messaged_before=False)
    assert g.may_message(messaged_before=True)
    assert not g.take()
    tick.now = g.cooldown_until
    assert g.take()  # the probe
    assert g.next_slot() is None and not g.take()  # only one probe at a time
    g.on_opened()
    assert g.state is DmState.OK and g.may_message(messaged_before=False)


def test_closed_dms_from_members_dmed_before_suggest_quarantine() -> None:
    g, _ = guard(3)
    assert g.on_closed(messaged_before=False) is False
    assert g.on_closed(messaged_before=False) is False
    assert g.state is DmState.OK  # members closing their DMs is normal
    assert g.on_closed(messaged_before=True) is False
    assert g.on_closed(messaged_before=True) is True
    assert g.state is DmState.QUARANTINE


def test_budget_seconds_is_capped() -> None:
    assert budget_seconds(0, 20) == 0 and budget_seconds(20, 20) == 0
    assert budget_seconds(21, 20) == 60
    assert budget_seconds(60, 20) == 120
    assert budget_seconds(2000, 20) == MAX_BUDGET_LEAD
    with pytest.raises(ValueError):
        DmGuard(per_minute=0)
