"""The reminder rules: settings, which reminders exist, and when each fan-out must start."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.fanout import fanout_seconds
from bot.programme import Session
from bot.services.reminders import (
    alarm_minutes,
    leads_for,
    parse_reminder_setting,
    plan_backwards,
    reminder_units,
    start_times,
)
from bot.store.interest import Registration

T0 = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


def session(
    session_id: str = "cafe", start: datetime = T0, minutes: int = 45, **extra: object
) -> Session:
    values: dict[str, object] = {
        "title": f"Session {session_id}",
        "end": start + timedelta(minutes=minutes),
        "join_url": f"https://example.org/{session_id}",
    }
    values.update(extra)
    return Session(id=session_id, start=start, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("default", "default"),
        (" Default ", "default"),
        ("off", "off"),
        ("OFF", "off"),
        ("5", "5"),
        ("30m", "30"),
        ("45 minutes", "45"),
        ("1440", "1440"),
        ("060", "60"),
    ],
)
def test_reminder_settings_accepted(text: str, stored: str) -> None:
    assert parse_reminder_setting(text) == stored


@pytest.mark.parametrize("text", ["", "4", "1441", "-5", "soon", "1.5", "15,30", "1h"])
def test_reminder_settings_refused_with_what_is_accepted(text: str) -> None:
    with pytest.raises(ValueError, match=r"`default`.*`off`.*from 5 to 1440"):
        parse_reminder_setting(text)


def test_leads_and_calendar_alarms_follow_the_setting() -> None:
    assert leads_for("default", (60, 15)) == (60, 15)
    assert leads_for("30", (60, 15)) == (30,)
    assert leads_for("off", (60, 15)) == ()
    assert alarm_minutes("default", (60, 15)) == 15
    assert alarm_minutes("30", (60, 15)) == 30
    assert alarm_minutes("off", (60, 15)) is None


def test_reminder_units_cover_server_leads_and_members_own_leads() -> None:
    cafe, pdsa = session("cafe"), session("pdsa", T0 + timedelta(hours=1))
    regs = [
        Registration("cafe", 1, "default"),
        Registration("cafe", 2, "30"),
        Registration("cafe", 3, "off"),
        Registration("pdsa", 1, "default"),
    ]
    units = reminder_units([cafe, pdsa], regs, (60, 15))
    shape = [(u.session.id, u.lead, u.recipients, u.channel_post) for u in units]
    assert shape == [
        ("cafe", 60, (1,), True),
        ("cafe", 30, (2,), False),  # only member 2's own lead: DMs (and closed-DM mentions)
        ("cafe", 15, (1,), True),
        ("pdsa", 60, (1,), True),
        ("pdsa", 15, (1,), True),
    ]
    assert units[0].due == T0 - timedelta(minutes=60)


def test_fanouts_due_together_start_early_by_their_summed_cost() -> None:
    a, b = session("a"), session("b")
    big = [Registration("a", u, "default") for u in range(1000)]
    small = [Registration("b", u, "default") for u in range(10)]
    units = reminder_units([a, b], big + small, (15,))
    runs = start_times(units)
    # 2 * 1000 + 1 = 2,001 requests at 45/s -> 45 s; 2 * 10 + 1 = 21 -> 1 s. They share the
    # pacer, so one runs after the other: "b" starts 1 s early, "a" 45 s before that.
    due = T0 - timedelta(minutes=15)
    assert runs[("b", 15)] == due - timedelta(seconds=1)
    assert runs[("a", 15)] == due - timedelta(seconds=46)
    alone = start_times(reminder_units([b], small, (15,)))
    assert alone[("b", 15)] == due - timedelta(seconds=1)


def test_plan_backwards_makes_overlapping_fanouts_finish_by_their_due_times() -> None:
    # "a" is due a minute before "b", but "b" takes 100 s: on one pacer, "a" must end before
    # "b" starts, so "a" starts 100 + 30 s before b's due (not just 30 s before its own).
    due_a, due_b = T0, T0 + timedelta(minutes=1)
    starts = plan_backwards([("a", due_a, 30), ("b", due_b, 100)])
    assert starts["b"] == due_b - timedelta(seconds=100)
    assert starts["a"] == due_b - timedelta(seconds=130)
    assert starts["a"] + timedelta(seconds=30) <= starts["b"] and starts["a"] < due_a
    # Far apart, each just starts early by its own cost.
    apart = plan_backwards([("a", due_a, 30), ("b", due_a + timedelta(hours=1), 100)])
    assert apart["a"] == due_a - timedelta(seconds=30)


def test_overlapping_reminder_units_share_the_pacer() -> None:
    a = session("a", T0)
    b = session("b", T0 + timedelta(minutes=1))
    regs = [Registration("a", u, "default") for u in range(100)]
    regs += [Registration("b", u, "default") for u in range(3000)]
    units = reminder_units([a, b], regs, (15,))
    runs = start_times(units)
    cost_a = fanout_seconds(2 * 100 + 1)  # 5 s
    cost_b = fanout_seconds(2 * 3000 + 1)  # 134 s: b's fan-out begins before a is due
    due_b = b.start - timedelta(minutes=15)
    assert runs[("b", 15)] == due_b - timedelta(seconds=cost_b)
    assert runs[("a", 15)] == runs[("b", 15)] - timedelta(seconds=cost_a)


def test_reminder_units_group_members_by_lead_in_one_pass() -> None:
    # 20 sessions x 1,000 members, each with their own lead: was ~2 s of blocked event loop
    # (every registration scanned once per distinct lead); a linear pass takes milliseconds.
    sessions = [session(f"s{n}", T0 + timedelta(hours=n)) for n in range(20)]
    regs = [
        Registration(s.id, u, str(1 + u % 1000) if u % 3 else "default")
        for s in sessions
        for u in range(1000)
    ]
    started = time.perf_counter()
    units = reminder_units(sessions, regs, (60, 15))
    assert time.perf_counter() - started < 1.0  # generous: a shared, slow machine
    first = [u for u in units if u.session.id == "s0"]
    by_lead = {u.lead: u for u in first}
    assert by_lead[60].channel_post and by_lead[15].channel_post
    assert not by_lead[8].channel_post
    assert len(by_lead[15].recipients) == 334 + 1  # the default members, and the one with 15
    assert sum(len(u.recipients) for u in first) == 1000 + 334  # default members get two
    assert [u.lead for u in first] == sorted(by_lead, reverse=True)
