"""The review fixes of the interest feature, unit-tested: overlapping fan-outs planned backwards,
change notices stored and resumed, caught-up reminders labelled with the real time left, and
every message within Discord's limits (nothing cut silently)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.programme import Session
from bot.render import interest as render
from bot.render import limits
from bot.services.fanout import fanout_seconds
from bot.services.interest import (
    Change,
    change_dm_key,
    change_key,
    change_of,
    notice_of,
    plan_backwards,
    reminder_units,
    start_times,
)
from bot.store import Ledger, Store
from bot.store import changes as changes_store
from bot.store.interest import Registration
from bot.store.migrations import MIGRATIONS

GUILD = 42
T0 = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)
LONG_URL = "https://example.org/join?" + "x" * 1500


def session(session_id: str = "cafe", start: datetime = T0, **extra: object) -> Session:
    values: dict[str, object] = {
        "title": f"Session {session_id}",
        "end": start + timedelta(minutes=45),
        "join_url": f"https://example.org/{session_id}",
    }
    values.update(extra)
    return Session(id=session_id, start=start, **values)  # type: ignore[arg-type]


def long_session(session_id: str = "long", start: datetime = T0) -> Session:
    return session(
        session_id,
        start,
        title="A very long title about *quality* improvement _" * 30,
        host="H" * 900,
        format="F" * 900,
        join_url=LONG_URL,
    )


# --------------------------------------------------------------------------- planning


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
    # 20 sessions x 1,000 members, each with their own lead: was ~3 s of blocked event loop
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


# --------------------------------------------------------------------------- change notices


async def test_change_notices_are_stored_once_and_done_when_settled(tmp_path: Path) -> None:
    moved = Change(session("cafe"), session("cafe", T0 + timedelta(hours=1), title="New name"))
    gone = Change(session("pdsa"), None)
    async with Store(tmp_path / "changes.db") as store:
        assert await store.schema_version() == len(MIGRATIONS)
        notices = [notice_of(GUILD, moved), notice_of(GUILD, gone)]
        assert await changes_store.add_notices(store, notices) == 2
        assert await changes_store.add_notices(store, notices) == 0  # the same change: once
        pending = await changes_store.pending_notices(store, GUILD)
        assert [(n.session_id, n.kind) for n in pending] == [
            ("cafe", "moved"),
            ("pdsa", "cancelled"),
        ]
        assert await changes_store.pending_notices(store, GUILD + 1) == []
        # Back to the same change: same digest, so the same ledger keys.
        back = change_of(pending[0])
        assert back.digest == moved.digest and back.new is not None
        assert back.new.title == "New name" and back.new.start == T0 + timedelta(hours=1)
        assert change_of(pending[1]).new is None and change_of(pending[1]).digest == gone.digest

        ledger = Ledger(store)
        await ledger.claim(change_dm_key(GUILD, moved, 7), kind="change-dm", guild_id=GUILD)
        await ledger.claim(change_key(GUILD, moved), kind="change", guild_id=GUILD)
        await ledger.mark_sent(change_key(GUILD, moved), 99)
        prefix = f"change-dm:{GUILD}:cafe:{moved.digest}:"
        assert await changes_store.unsettled_keys(store, prefix) == [f"{prefix}7"]
        assert await changes_store.unsettled_keys(store, f"change:{GUILD}:cafe:") == []

        assert await changes_store.mark_done(store, GUILD, "cafe", moved.digest)
        assert not await changes_store.mark_done(store, GUILD, "cafe", moved.digest)
        assert [n.session_id for n in await changes_store.pending_notices(store, GUILD)] == ["pdsa"]
        done = await changes_store.get_notice(store, GUILD, "cafe", moved.digest)
        assert done is not None and done.done_at is not None


# --------------------------------------------------------------------------- labels


def test_a_caught_up_reminder_says_the_real_time_left() -> None:
    cafe = session("cafe")
    on_time = render.reminder_embed(cafe, 60, 3, now=T0 - timedelta(minutes=60, seconds=2))
    assert on_time.title is not None and on_time.title.startswith("Starting in 1 hour:")
    late = render.reminder_embed(cafe, 60, 3, now=T0 - timedelta(minutes=7, seconds=30))
    assert late.title is not None and late.title.startswith("Starting in 8 minutes:")
    assert f"<t:{int(T0.timestamp())}:R>" in str(late.description)
    assert render.minutes_left(cafe, 15, T0 - timedelta(seconds=5)) == 1
    assert render.minutes_left(cafe, 15, None) == 15


# --------------------------------------------------------------------------- limits


def test_mentions_of_250_members_split_within_limits_each_exactly_once() -> None:
    users = [10**18 + i for i in range(250)]
    for messages in (
        render.reminder_messages(long_session(), 15, 300, users, with_post=True),
        render.reminder_messages(long_session(), 30, 300, users, with_post=False),
        render.change_messages(long_session(), None, interested=300, closed=users),
    ):
        mentioned = [u for m in messages for u in m.mention_ids]
        assert sorted(mentioned) == users and len(set(mentioned)) == len(users)
        for message in messages:
            allowed = message.kwargs()["allowed_mentions"].to_dict()
            assert len(allowed.get("users", [])) <= limits.MENTIONS_PER_LIST
            assert allowed["parse"] == []
            assert sorted(int(u) for u in allowed.get("users", [])) == sorted(message.mention_ids)
            assert len(message.content or "") <= limits.CONTENT
            in_text = [int(u) for u in re.findall(r"<@(\d+)>", message.content or "")]
            assert sorted(in_text) == sorted(message.mention_ids)


def test_a_long_pick_answer_is_split_not_cut() -> None:
    picked = [long_session(f"s{i:02d}", T0 + timedelta(hours=i)) for i in range(25)]
    messages = render.pick_text(
        added=picked, already=[], started=[], unknown=[], setting="default", guild_leads=(15,)
    )
    assert len(messages) > 1 and all(len(m) <= limits.CONTENT for m in messages)
    text = "\n".join(messages)
    assert text.count("• ") == 25 and "`/my-sessions`" in messages[-1]
    assert (
        render.pick_text(
            added=[], already=[], started=[], unknown=[], setting="default", guild_leads=(15,)
        )
        == []
    )


def test_a_reminder_with_a_huge_title_and_a_1500_character_link_stays_within_limits() -> None:
    long = long_session()
    messages = render.reminder_messages(long, 15, 3, [], with_post=True)
    embed = messages[0].embed
    assert embed is not None and limits.check_embed(embed) == []
    assert embed.title is not None and len(embed.title) <= limits.EMBED_TITLE
    assert embed.description is not None and len(embed.description) <= limits.EMBED_DESCRIPTION
    assert LONG_URL in embed.description  # the whole link, not a cut one
    assert embed.url is None  # too long for the embed's title link
    view = messages[0].view
    assert view is not None
    for item in view.children:
        url = getattr(item, "url", None)
        assert url is None or len(url) <= 512  # the link button is left out
    # Much too long to show: named, never cut into a broken link.
    huge = session("huge", join_url="https://example.org/" + "y" * 5000)
    embed = render.reminder_embed(huge, 15, 1)
    assert limits.check_embed(embed) == [] and "too long" in str(embed.description)


def test_a_change_notice_and_dms_with_long_titles_and_links_stay_within_limits() -> None:
    old, new = long_session("long"), long_session("long", T0 + timedelta(hours=2))
    for messages in (
        render.change_messages(old, new, interested=5, closed=[]),
        render.change_messages(old, None, interested=5, closed=[]),
    ):
        assert len(messages) == 1 and len(messages[0].content or "") <= limits.CONTENT
    for dm in (render.change_dm_message(old, new), render.reminder_dm_message(new)):
        assert len(dm.content) <= limits.CONTENT
        assert dm.view is None  # a 1,500-character link fits no button
        # The whole link, in the text when it fits, else in an embed: never cut.
        if dm.embed is None:
            assert LONG_URL in dm.content
        else:
            assert limits.check_embed(dm.embed) == [] and "link is below" in dm.content
            assert LONG_URL in str(dm.embed.description)
    assert render.reminder_dm_message(new).embed is not None  # title, meta and link: too long
    short = render.reminder_dm_message(session("cafe"))
    assert "Join: https://example.org/cafe" in short.content and short.embed is None
    assert short.view is not None


@pytest.mark.parametrize("lead", [15, 60])
def test_the_reminder_dm_text_is_the_message_text(lead: int) -> None:
    assert (
        render.reminder_dm(long_session(), lead)
        == render.reminder_dm_message(long_session()).content
    )
