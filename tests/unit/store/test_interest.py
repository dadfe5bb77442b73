"""Registrations and reminder preferences in SQLite, and the pure reminder core: settings,
which reminders exist, when they start, change keys, and the channel messages' limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import discord
import pytest

from bot.programme import ProgrammeDiff, Session
from bot.render import interest as render
from bot.render import limits
from bot.services.interest import (
    Change,
    alarm_minutes,
    change_dm_key,
    changes_to_notify,
    dm_key,
    leads_for,
    parse_reminder_setting,
    reminder_key,
    reminder_units,
    start_times,
)
from bot.store import Store, prefs
from bot.store import interest as interest_store
from bot.store.interest import Registration

GUILD = 42
T0 = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "interest.db") as s:
        yield s


def session(session_id: str = "cafe", start: datetime = T0, minutes: int = 45) -> Session:
    return Session(
        id=session_id,
        title=f"Session {session_id}",
        start=start,
        end=start + timedelta(minutes=minutes),
        join_url=f"https://example.org/{session_id}",
    )


# --------------------------------------------------------------------------- store


async def test_registrations_are_idempotent_and_listed(store: Store) -> None:
    assert await interest_store.add_interest(store, GUILD, "cafe", 1)
    assert not await interest_store.add_interest(store, GUILD, "cafe", 1)
    assert await interest_store.add_interests(store, GUILD, ["pdsa", "cafe", "pdsa"], 1) == ["pdsa"]
    await interest_store.add_interest(store, GUILD, "cafe", 2)
    await interest_store.add_interest(store, GUILD + 1, "cafe", 3)  # another server
    assert await interest_store.count_interested(store, GUILD, "cafe") == 2
    assert await interest_store.interest_counts(store, GUILD) == {"cafe": 2, "pdsa": 1}
    assert sorted(await interest_store.sessions_of(store, GUILD, 1)) == ["cafe", "pdsa"]
    assert await interest_store.interested_users(store, GUILD, "cafe") == [1, 2]
    assert await interest_store.remove_interest(store, GUILD, "cafe", 1)
    assert not await interest_store.remove_interest(store, GUILD, "cafe", 1)
    assert not await interest_store.is_interested(store, GUILD, "cafe", 1)


async def test_registrations_carry_the_reminder_setting(store: Store) -> None:
    for user in (1, 2, 3):
        await interest_store.add_interest(store, GUILD, "cafe", user)
    await prefs.set_reminder_setting(store, GUILD, 2, "off")
    await prefs.set_reminder_setting(store, GUILD, 3, "30")
    regs = await interest_store.registrations(store, GUILD, "cafe")
    assert regs == [
        Registration("cafe", 1, "default"),
        Registration("cafe", 2, "off"),
        Registration("cafe", 3, "30"),
    ]
    assert len(await interest_store.registrations(store, GUILD)) == 3


async def test_prefs_upserts_touch_only_their_own_columns(store: Store) -> None:
    assert await prefs.get_prefs(store, GUILD, 1) == prefs.ReminderPrefs(1)
    # The digest feature's columns, set by another feature's upsert, must survive ours.
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, digest_opt_out, share_notice_sent,"
        " updated_at) VALUES (?, 1, 1, 1, '2026-09-01T00:00:00+00:00')",
        (GUILD,),
    )
    await store.db.commit()
    await prefs.set_reminder_setting(store, GUILD, 1, "45")
    await prefs.set_dm_closed(store, GUILD, 1)
    await prefs.set_dm_closed(store, GUILD, 2)
    assert await prefs.get_prefs(store, GUILD, 1) == prefs.ReminderPrefs(1, "45", True)
    rows = await store.db.execute_fetchall(
        "SELECT digest_opt_out, share_notice_sent FROM member_prefs WHERE user_id = 1"
    )
    assert tuple(rows[0]) == (1, 1)
    assert await prefs.dm_closed_users(store, GUILD) == {1, 2}
    assert await prefs.clear_dm_closed(store, GUILD, [2, 3, 2]) == 1
    assert await prefs.clear_dm_closed(store, GUILD, []) == 0
    assert await prefs.dm_closed_users(store, GUILD) == {1}
    # A transaction can start afterwards: nothing was left open.
    async with store.transaction() as db:
        await db.execute("SELECT 1")


# --------------------------------------------------------------------------- settings


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


# --------------------------------------------------------------------------- planning


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


def test_keys_follow_the_conventions() -> None:
    assert reminder_key(GUILD, "cafe", 15, T0) == "reminder:42:cafe:15:2026-09-14T08:30:00+00:00"
    assert dm_key(GUILD, "cafe", 15, T0, 7) == "dm:42:cafe:15:2026-09-14T08:30:00+00:00:7"
    moved = Change(session("cafe"), session("cafe", T0 + timedelta(hours=1)))
    assert change_dm_key(GUILD, moved, 7).startswith("change-dm:42:cafe:")
    same = Change(session("cafe"), session("cafe", T0 + timedelta(hours=1)))
    other = Change(session("cafe"), session("cafe", T0 + timedelta(hours=2)))
    assert moved.digest == same.digest != other.digest
    assert Change(session("cafe"), None).digest != moved.digest


def test_only_changes_that_still_matter_are_notified() -> None:
    now = T0 + timedelta(hours=2)
    past = session("past")
    future = session("future", T0 + timedelta(hours=3))
    later = session("renamed", T0 + timedelta(hours=3))
    renamed = Session(id=later.id, title="New name", start=later.start, end=later.end)
    diff = ProgrammeDiff(
        changed=(
            (past, session("past", T0 + timedelta(minutes=5))),  # both over: nobody cares
            (future, session("future", T0 + timedelta(hours=4))),
            (later, renamed),  # same time, new title: not a schedule change
        ),
        removed=(past, session("gone", T0 + timedelta(hours=5))),
    )
    changes = changes_to_notify(diff, now)
    assert [(c.session_id, c.new is None) for c in changes] == [("future", False), ("gone", True)]


# --------------------------------------------------------------------------- render


def test_mentions_split_at_100_users_and_2000_characters() -> None:
    users = [10**18 + i for i in range(250)]
    chunks = render.mention_chunks(users, suffix=render.CLOSED_SUFFIX)
    assert [u for _, ids in chunks for u in ids] == users
    for text, ids in chunks:
        assert len(ids) <= limits.MENTIONS_PER_LIST and len(text) <= limits.CONTENT
        assert text.count("<@") == len(ids)
    assert render.mention_chunks([]) == []


async def test_reminder_messages_allow_exactly_the_closed_members() -> None:
    cafe = session("cafe")
    closed = [10**18 + i for i in range(120)]
    messages = render.reminder_messages(cafe, 15, 300, closed, with_post=True)
    assert messages[0].embed is not None and "300 interested" in str(messages[0].embed.description)
    assert not limits.check_embed(messages[0].embed)
    mentioned = [u for m in messages for u in m.mention_ids]
    assert mentioned == closed
    first = messages[0].kwargs()["allowed_mentions"].to_dict()
    assert first["parse"] == [] and len(first["users"]) == len(messages[0].mention_ids)
    quiet = render.reminder_messages(cafe, 15, 3, [], with_post=True)
    assert len(quiet) == 1 and quiet[0].kwargs()["allowed_mentions"].to_dict() == {"parse": []}
    assert render.reminder_messages(cafe, 30, 3, [], with_post=False) == []
    own = render.reminder_messages(cafe, 30, 3, closed[:2], with_post=False)
    assert len(own) == 1 and own[0].embed is None and "Session cafe" in str(own[0].content)


async def test_texts_stay_within_limits_and_use_timestamps() -> None:
    long = Session(
        id="long",
        title="T" * 400,
        start=T0,
        end=T0 + timedelta(hours=1),
        host="H" * 900,
        format="F" * 900,
        join_url="https://example.org/" + "x" * 1500,
    )
    assert len(render.reminder_dm(long, 15)) <= limits.CONTENT
    assert f"<t:{int(T0.timestamp())}:t>" in render.reminder_dm(session(), 15)
    assert render.join_view(long) is None  # too long for a link button; the text has it
    view = render.join_view(session())
    assert isinstance(view, discord.ui.View) and view.is_finished()
    assert len(render.change_dm(long, None)) <= limits.CONTENT
    assert "cancelled" in render.change_dm(session(), None)
    moved = render.change_dm(session(), session("cafe", T0 + timedelta(hours=1)))
    assert "has moved" in moved and f"<t:{int((T0 + timedelta(hours=1)).timestamp())}:f>" in moved
    pages = render.my_sessions_pages(
        [session(f"s{i}", T0 + timedelta(hours=i)) for i in range(60)],
        [session("gone")],
        setting="default",
        guild_leads=(15,),
    )
    assert len(pages) >= 1 and all(not limits.check_embed(e) for p in pages for e in p.embeds)
    text = " ".join(str(e.description) for p in pages for e in p.embeds)
    assert text.index("Session s1**") < text.index("Session s2**") and "~~Session gone~~" in text
    assert render.minutes_text(60) == "1 hour" and render.minutes_text(90) == "90 minutes"
    assert render.leads_text((15, 60)) == "1 hour and 15 minutes"
