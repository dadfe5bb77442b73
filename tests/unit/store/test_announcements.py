"""Announcements and organiser figures on a real SQLite file, and their pure renderers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import discord
import pytest

from bot.clock import to_db
from bot.render.announcements import (
    announcement_list,
    announcement_message,
    choice_label,
    interest_csv,
    mentions_for,
    stats_embeds,
)
from bot.render.limits import CHOICE_NAME, CONTENT, EMBED_TOTAL, check_embed
from bot.services.announcements import GRACE, Timing, timing
from bot.store import Store, audit, stats
from bot.store import announcements as ann
from bot.store.interest import add_interest
from tests.harness import GUILD, LONDON, T0, add_session, add_share

OTHER = 2002


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "qiweek.db", clock=lambda: T0) as s:
        yield s


async def make(store: Store, **kwargs: object) -> ann.Announcement:
    values: dict[str, object] = {
        "guild_id": GUILD,
        "author_id": 7,
        "channel_id": 70,
        "body": "Keynote starts soon",
        "send_at": T0 + timedelta(hours=1),
    }
    values.update(kwargs)
    return await ann.create(store, **values)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- announcements


async def test_create_and_read_back(store: Store) -> None:
    created = await make(store, title="Keynote", ping_role_id=5, session_id="keynote")
    assert created.id > 0 and created.status == "pending"
    assert created.send_at == T0 + timedelta(hours=1) and created.created_at == T0
    assert created.label == "Keynote"
    assert await ann.get(store, created.id) == created
    assert await ann.get(store, created.id, guild_id=OTHER) is None
    untitled = await make(store, body="  Room   change:\nnow in B2 ")
    assert untitled.label == "Room change: now in B2"


async def test_pending_is_soonest_first_and_per_guild(store: Store) -> None:
    later = await make(store, send_at=T0 + timedelta(hours=3))
    sooner = await make(store, send_at=T0 + timedelta(hours=1))
    await make(store, guild_id=OTHER)
    assert [a.id for a in await ann.pending(store, GUILD)] == [sooner.id, later.id]


async def test_status_moves_only_from_pending(store: Store) -> None:
    first = await make(store)
    await ann.set_message(store, first.id, 999)
    assert await ann.finish(store, first.id, "sent", sent_at=T0 + timedelta(hours=1))
    assert not await ann.finish(store, first.id, "late")
    assert not await ann.cancel(store, GUILD, first.id)
    done = await ann.get(store, first.id)
    assert done is not None and done.status == "sent" and done.message_id == 999
    assert done.sent_at == T0 + timedelta(hours=1)
    with pytest.raises(ValueError):
        await ann.finish(store, first.id, "pending")

    second = await make(store)
    assert not await ann.cancel(store, OTHER, second.id)  # another guild's cannot be touched
    assert await ann.cancel(store, GUILD, second.id)
    assert not await ann.finish(store, second.id, "sent")  # a cancel beats a late send
    assert await ann.pending(store, GUILD) == []
    assert [a.id for a in await ann.recent(store, GUILD)] == [second.id, first.id]  # newest
    assert await ann.count_by_status(store, GUILD) == {"sent": 1, "cancelled": 1}


def test_timing_windows() -> None:
    due = T0
    assert timing(due, due - timedelta(seconds=30)) is Timing.ON_TIME
    assert timing(due, due + timedelta(seconds=59)) is Timing.ON_TIME
    assert timing(due, due + timedelta(minutes=5)) is Timing.LATE
    assert timing(due, due + GRACE) is Timing.LATE
    assert timing(due, due + GRACE + timedelta(seconds=1)) is Timing.MISSED


# --------------------------------------------------------------------------- figures


async def test_registrations_per_session(store: Store) -> None:
    await add_session(store, "keynote", "Keynote", T0)
    await add_session(store, "panel", "Panel", T0 + timedelta(hours=2))
    await add_session(store, "gone", "Cancelled talk", T0 + timedelta(hours=3), cancelled=True)
    await add_session(store, "empty", "Nobody yet", T0 + timedelta(hours=4))
    for user in (1, 2, 3):
        await add_interest(store, GUILD, "panel", user)
    await add_interest(store, GUILD, "keynote", 1)
    await add_interest(store, GUILD, "gone", 2)
    await add_interest(store, GUILD, "removed", 4)  # no longer in the programme at all
    await add_interest(store, OTHER, "panel", 9)

    rows = await stats.registrations_per_session(store, GUILD)
    assert [(r.session_id, r.registrations) for r in rows] == [
        ("panel", 3),
        ("keynote", 1),
        ("gone", 1),
        ("removed", 1),
    ]
    assert rows[2].cancelled and not rows[3].in_programme
    everything = await stats.registrations_per_session(store, GUILD, include_empty=True)
    assert ("empty", 0) in [(r.session_id, r.registrations) for r in everything]
    assert await stats.members_registered(store, GUILD) == 4


async def test_gather_counts_everything(store: Store) -> None:
    await add_session(store, "keynote", "Keynote", T0)
    await add_interest(store, GUILD, "keynote", 1)
    await add_interest(store, GUILD, "keynote", 2)
    # 23:30 UTC on the 14th is 00:30 BST on the 15th: grouped by local day.
    await add_share(store, 1, 10, datetime(2026, 9, 14, 12, 0, tzinfo=UTC))
    await add_share(store, 2, 11, datetime(2026, 9, 14, 23, 30, tzinfo=UTC))
    await add_share(store, 3, 10, datetime(2026, 9, 15, 9, 0, tzinfo=UTC))
    for key, kind, status in [
        ("r1", "reminder", "sent"),
        ("d1", "dm", "sent"),
        ("d2", "dm", "failed"),
        ("a1", "announcement-dm", "sent"),
    ]:
        await store.db.execute(
            "INSERT INTO deliveries (key, guild_id, kind, status, owner, claimed_at, updated_at)"
            " VALUES (?, ?, ?, ?, 'x', ?, ?)",
            (key, GUILD, kind, status, to_db(T0), to_db(T0)),
        )
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, dm_closed, updated_at) VALUES (?, 3, 1, ?)",
        (GUILD, to_db(T0)),
    )
    await store.db.commit()
    sent = await make(store)
    await ann.finish(store, sent.id, "sent")
    await audit.record(store, GUILD, 7, "setup", "timezone=Europe/London")

    figures = await stats.gather(store, GUILD, LONDON)
    assert figures.total_registrations == 2 and figures.members_registered == 2
    assert figures.top_sessions[0].title == "Keynote"
    assert figures.shares_per_day == [(date(2026, 9, 14), 1), (date(2026, 9, 15), 2)]
    assert figures.total_shares == 3 and figures.share_contributors == 2
    assert figures.deliveries["reminder"] == {"sent": 1}
    assert figures.delivered("dm", "announcement-dm") == {"sent": 2, "failed": 1}
    assert figures.dm_closed_members == 1
    assert figures.announcements == {"sent": 1}
    assert [e.action for e in figures.recent_actions] == ["setup"]


# --------------------------------------------------------------------------- renderers


def test_only_the_chosen_role_may_be_mentioned() -> None:
    assert mentions_for(None).to_dict() == {"parse": []}
    allowed = mentions_for(42).to_dict()
    assert allowed["roles"] == [42] and allowed["parse"] == []
    message = announcement_message(title="", body="@everyone hello", ping_role_id=42)
    assert message.content == "<@&42>"
    assert message.embed.title is None and message.embed.description == "@everyone hello"
    late = announcement_message(title="T", body="b", ping_role_id=None, planned_for=T0)
    assert late.content is not None and "delayed" in late.content
    assert late.allowed_mentions.to_dict() == {"parse": []}
    biggest = announcement_message(title="T" * 256, body="b" * 4000, ping_role_id=1)
    assert check_embed(biggest.embed) == []


async def test_list_is_split_within_content_limits(store: Store) -> None:
    items = [await make(store, title=f"Announcement number {i} " + "x" * 80) for i in range(60)]
    pages = announcement_list(items, [])
    assert len(pages) > 1 and all(len(p) <= CONTENT for p in pages)
    joined = "\n".join(pages)
    assert all(f"`#{a.id}`" in joined for a in items)
    assert "None yet." in joined  # the empty recent section says so


async def test_choice_labels_fit(store: Store) -> None:
    item = await make(
        store, title="Very long title " * 20, send_at=datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
    )
    label = choice_label(item, LONDON)
    assert label.startswith(f"#{item.id} · 14 Sep 09:00 · Very long")
    assert len(label) <= CHOICE_NAME and label.endswith("…")


async def test_stats_embeds_stay_within_limits(store: Store) -> None:
    for i in range(40):
        await add_session(store, f"s{i}", "Session " + "y" * 200, T0 + timedelta(hours=i))
        await add_interest(store, GUILD, f"s{i}", i)
    for day in range(90):
        await add_share(store, 1000 + day, day, T0 - timedelta(days=day))
    for _ in range(12):
        await audit.record(store, GUILD, 7, "import", "z" * 1000)
    figures = await stats.gather(store, GUILD, LONDON)
    embeds = stats_embeds(figures, LONDON)
    assert all(check_embed(e) == [] for e in embeds)
    assert sum(len(e) for e in embeds) <= EMBED_TOTAL
    shares_field = next(f for f in embeds[0].fields if f.name == "#QIWeek shares")
    assert "more" in (shares_field.value or "")  # 90 days do not fit: said, not cut silently
    assert len(embeds[1].description.splitlines()) == 10  # type: ignore[union-attr]


def test_interest_csv_has_a_bom_local_times_and_statuses() -> None:
    rows = [
        stats.SessionRegistrations("keynote", "Keynote: “Café”, 2026", T0, False, 3),
        stats.SessionRegistrations("gone", "Old", T0, True, 1),
        stats.SessionRegistrations("removed", "", None, False, 2, in_programme=False),
    ]
    data = interest_csv(rows, LONDON)
    assert data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0] == ["session_id", "title", "start_local", "registrations", "status"]
    assert table[1] == ["keynote", "Keynote: “Café”, 2026", "2026-09-14 09:00", "3", "scheduled"]
    assert table[2][-1] == "cancelled"
    assert table[3] == ["removed", "", "", "2", "removed from programme"]


def test_a_role_ping_is_the_only_mention_in_the_payload() -> None:
    message = announcement_message(title="t", body="<@123> <@&999> @here", ping_role_id=42)
    payload = message.allowed_mentions.to_dict()
    assert payload == {"parse": [], "roles": [42]}
    assert isinstance(message.embed, discord.Embed)
