"""Store: shares and the digest's member preferences, on a real SQLite file."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.digest import Share, day_bounds, parse_digest_day
from bot.store import Store
from bot.store import shares as s

GUILD = 1
T0 = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)


def share(message_id: int, *, author: int = 7, at: datetime = T0, **changes: object) -> Share:
    base = Share(
        guild_id=GUILD,
        channel_id=10,
        message_id=message_id,
        author_id=author,
        author_name=f"Member {author}",
        content="Our huddle board went live #QIWeek",
        jump_url=f"https://discord.com/channels/1/10/{message_id}",
        attachment_count=0,
        image_url=None,
        created_at=at,
        reaction_count=0,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "qiweek.db") as opened:
        yield opened


async def count(store: Store) -> int:
    return await s.count_shares(store, GUILD)


async def test_upsert_is_idempotent_and_keeps_first_time_and_reactions(store: Store) -> None:
    first = share(100)
    assert await s.upsert_share(store, first)
    assert await s.set_reaction_count(store, 100, 3)
    edited = share(100, content="Edited #QIWeek", at=T0 + timedelta(hours=1), attachment_count=2)
    for _ in range(3):  # repeated events converge on one row
        assert await s.upsert_share(store, edited)
    assert await count(store) == 1
    stored = await s.get_share(store, 100)
    assert stored is not None
    assert stored.content == "Edited #QIWeek"
    assert stored.attachment_count == 2
    assert stored.created_at == T0  # the first-seen time stays
    assert stored.reaction_count == 3  # reactions are kept by their own events
    assert await s.upsert_share(store, replace(edited, reaction_count=5), refresh_reactions=True)
    assert (await s.get_share(store, 100)).reaction_count == 5  # type: ignore[union-attr]


async def test_concurrent_duplicate_events_store_one_share(store: Store) -> None:
    await asyncio.gather(*(s.upsert_share(store, share(200)) for _ in range(20)))
    assert await count(store) == 1


async def test_reaction_count_never_negative(store: Store) -> None:
    await s.upsert_share(store, share(300))
    assert await s.set_reaction_count(store, 300, -4)
    assert (await s.get_share(store, 300)).reaction_count == 0  # type: ignore[union-attr]
    assert not await s.set_reaction_count(store, 999, 2)  # not a share: nothing written


async def test_untag_removes_unless_added_by_hand(store: Store) -> None:
    await s.upsert_share(store, share(400))
    await s.upsert_share(store, share(401, content="no tag"), manual=True)
    fields = {"author_name": "M", "content": "no tag now", "attachment_count": 0, "image_url": None}
    assert await s.untag_share(store, 400, **fields) is s.Untagged.REMOVED
    assert await s.untag_share(store, 401, **fields) is s.Untagged.KEPT
    assert await s.untag_share(store, 402, **fields) is s.Untagged.ABSENT
    kept = await s.get_share(store, 401)
    assert kept is not None and kept.content == "no tag now"
    assert await s.is_manual(store, 401)
    # An automatic upsert later never clears the manual flag.
    await s.upsert_share(store, share(401))
    assert await s.is_manual(store, 401)


async def test_delete_one_and_bulk(store: Store) -> None:
    for mid in range(500, 510):
        await s.upsert_share(store, share(mid))
    assert await s.delete_share(store, 500)
    assert not await s.delete_share(store, 500)
    assert await s.delete_shares(store, [501, 502, 502, 9999]) == 2
    assert await s.delete_shares(store, []) == 0
    assert await count(store) == 7


async def test_opt_out_erases_counts_and_blocks_collection(store: Store) -> None:
    await s.upsert_share(store, share(600, author=7))
    await s.upsert_share(store, share(601, author=7))
    await s.upsert_share(store, share(602, author=8))
    await s.upsert_share(store, replace(share(603, author=7), guild_id=2))  # another server
    assert await s.opt_out(store, GUILD, 7) == 2
    assert await s.is_opted_out(store, GUILD, 7)
    assert not await s.is_opted_out(store, 2, 7)
    assert await count(store) == 1
    assert not await s.upsert_share(store, share(604, author=7))
    assert not await s.upsert_share(store, share(604, author=7), manual=True)
    assert await s.get_share(store, 604) is None
    assert await s.opt_out(store, GUILD, 7) == 0  # nothing left to erase
    assert await s.opt_in(store, GUILD, 7)
    assert not await s.opt_in(store, GUILD, 7)
    assert await s.upsert_share(store, share(605, author=7))


async def test_prefs_touch_only_the_digest_columns(store: Store) -> None:
    await store.db.execute(
        "INSERT INTO member_prefs (guild_id, user_id, reminder_setting, dm_closed, updated_at)"
        " VALUES (?, ?, '30', 1, '2026-09-01T00:00:00+00:00')",
        (GUILD, 7),
    )
    await store.db.commit()
    await s.opt_out(store, GUILD, 7)
    assert not await s.notice_sent(store, GUILD, 7)
    await s.mark_notice_sent(store, GUILD, 7)
    assert await s.notice_sent(store, GUILD, 7)
    row = await store.fetch_one(
        "SELECT reminder_setting, dm_closed, digest_opt_out, share_notice_sent FROM member_prefs"
    )
    assert row is not None and tuple(row) == ("30", 1, 1, 1)


async def test_retention_deletes_only_old_shares_of_the_guild(store: Store) -> None:
    await s.upsert_share(store, share(700, at=T0 - timedelta(days=91)))
    await s.upsert_share(store, share(701, at=T0 - timedelta(days=89)))
    await s.upsert_share(store, replace(share(702, at=T0 - timedelta(days=200)), guild_id=2))
    assert await s.delete_older_than(store, GUILD, T0 - timedelta(days=90)) == 1
    assert await s.get_share(store, 700) is None
    assert await s.get_share(store, 701) is not None
    assert await s.get_share(store, 702) is not None


async def test_shares_between_a_local_day(store: Store) -> None:
    london = ZoneInfo("Europe/London")
    # 23:30 UTC on the 13th is 00:30 BST on the 14th; 23:30 UTC on the 14th is the 15th.
    times = [
        datetime(2026, 9, 13, 22, 59, tzinfo=UTC),
        datetime(2026, 9, 13, 23, 30, tzinfo=UTC),
        datetime(2026, 9, 14, 22, 59, tzinfo=UTC),
        datetime(2026, 9, 14, 23, 0, tzinfo=UTC),
    ]
    for n, at in enumerate(times):
        await s.upsert_share(store, share(800 + n, at=at))
    start, end = day_bounds(date(2026, 9, 14), london)
    found = await s.shares_between(store, GUILD, start, end)
    assert [x.message_id for x in found] == [801, 802]
    assert [x.message_id for x in await s.all_shares(store, GUILD)] == [800, 801, 802, 803]


def test_parse_digest_day() -> None:
    today = date(2026, 11, 26)  # a Thursday
    week = (date(2026, 9, 14), date(2026, 9, 18))
    assert parse_digest_day(None, today=today) == today
    assert parse_digest_day(" Today ", today=today) == today
    assert parse_digest_day("yesterday", today=today) == date(2026, 11, 25)
    assert parse_digest_day("thursday", today=today) == today
    assert parse_digest_day("Mon", today=today) == date(2026, 11, 23)
    assert parse_digest_day("fri", today=today) == date(2026, 11, 20)
    assert parse_digest_day("wed", today=today, event_week=week) == date(2026, 9, 16)
    assert parse_digest_day("sunday", today=today, event_week=week) == date(2026, 11, 22)
    assert parse_digest_day("2026-09-14", today=today) == date(2026, 9, 14)
    for bad in ("someday", "2026-02-30", "14/09/2026", "mo"):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_digest_day(bad, today=today)


async def test_an_older_edit_never_overwrites_a_newer_one(store: Store) -> None:
    assert await s.upsert_share(store, share(900))
    newer = share(900, content="Newer text #QIWeek")
    older = share(900, content="Older text #QIWeek")
    assert await s.upsert_share(store, newer, edited_at=T0 + timedelta(minutes=5))
    assert not await s.upsert_share(store, older, edited_at=T0 + timedelta(minutes=2))
    assert (await s.get_share(store, 900)).content == "Newer text #QIWeek"  # type: ignore[union-attr]
    # Sub-second order counts too, and a repeat of the same edit still applies.
    same_second = T0 + timedelta(minutes=5, microseconds=-1)
    assert not await s.upsert_share(store, older, edited_at=same_second)
    assert await s.upsert_share(store, newer, edited_at=T0 + timedelta(minutes=5))
    # An older edit that dropped the tag neither deletes nor rewrites the share.
    fields = {"author_name": "M", "content": "stale", "attachment_count": 0, "image_url": None}
    stale = await s.untag_share(store, 900, edited_at=T0 + timedelta(minutes=1), **fields)
    assert stale is s.Untagged.ABSENT
    assert (await s.get_share(store, 900)).content == "Newer text #QIWeek"  # type: ignore[union-attr]
    # A manual add of an older copy keeps the newer text but marks the share as added by hand.
    assert await s.upsert_share(store, older, manual=True, edited_at=T0)
    assert await s.is_manual(store, 900)
    assert (await s.get_share(store, 900)).content == "Newer text #QIWeek"  # type: ignore[union-attr]
    newest = T0 + timedelta(minutes=9)
    assert await s.untag_share(store, 900, edited_at=newest, **fields) is s.Untagged.KEPT
    assert (await s.get_share(store, 900)).content == "stale"  # type: ignore[union-attr]


async def removal_rows(store: Store) -> list[tuple[int, int, int]]:
    rows = await store.fetch_all(
        "SELECT message_id, guild_id, author_id FROM share_removals ORDER BY message_id"
    )
    return [tuple(row) for row in rows]


async def test_a_removal_is_permanent_until_restored_by_hand(store: Store) -> None:
    await s.upsert_share(store, share(950))
    assert await s.remove_share(store, GUILD, 7, 950)
    assert await s.is_removed(store, 950)
    assert await s.get_share(store, 950) is None
    later = T0 + timedelta(hours=1)
    # Later edits, repeated events and a manual add by anyone else never bring it back.
    assert not await s.upsert_share(store, share(950, content="Edited #QIWeek"), edited_at=later)
    assert not await s.upsert_share(store, share(950), manual=True, edited_at=later)
    assert not await s.set_reaction_count(store, 950, 4)
    assert await s.get_share(store, 950) is None
    assert not await s.remove_share(store, GUILD, 7, 950)  # again: nothing stored, still removed
    assert await removal_rows(store) == [(950, GUILD, 7)]
    # The author's (or an organiser's) explicit add brings it back and clears the removal.
    assert await s.restore_share(store, share(950, content="Back #QIWeek"), edited_at=later)
    assert not await s.is_removed(store, 950)
    assert await s.is_manual(store, 950)
    assert (await s.get_share(store, 950)).content == "Back #QIWeek"  # type: ignore[union-attr]
    # An opted-out author's message is neither restored nor recorded as removed.
    await s.opt_out(store, GUILD, 8)
    assert not await s.restore_share(store, share(951, author=8))
    assert not await s.remove_share(store, GUILD, 8, 951)
    assert await removal_rows(store) == []


async def test_removals_are_erased_by_opt_out_retention_and_deletion(store: Store) -> None:
    for mid, author in ((960, 7), (961, 8), (962, 8), (963, 7)):
        await s.upsert_share(store, share(mid, author=author))
        await s.remove_share(store, GUILD, author, mid)
    await s.remove_share(store, 2, 7, 964)  # another server
    assert await s.opt_out(store, GUILD, 7) == 0
    assert await removal_rows(store) == [(961, GUILD, 8), (962, GUILD, 8), (964, 2, 7)]
    assert await s.delete_shares(store, [961]) == 0  # a deleted message: its record goes too
    assert await removal_rows(store) == [(962, GUILD, 8), (964, 2, 7)]
    # Retention: records made before the cutoff go (this guild only).
    assert await s.delete_older_than(store, GUILD, store.clock() - timedelta(days=1)) == 0
    assert await removal_rows(store) == [(962, GUILD, 8), (964, 2, 7)]
    await s.delete_older_than(store, GUILD, store.clock() + timedelta(days=1))
    assert await removal_rows(store) == [(964, 2, 7)]


async def test_a_batch_of_new_shares_is_stored_in_one_go_with_the_same_rules(
    store: Store,
) -> None:
    await s.opt_out(store, GUILD, 8)  # member 8 opted out: nothing of theirs is stored
    await s.upsert_share(store, share(3))
    assert await s.remove_share(store, GUILD, 7, 3)  # removed from the digest: stays out
    batch = [(share(1), None), (share(2, author=8), None), (share(3), None), (share(4), None)]
    stored = await s.upsert_shares(store, [*batch, (share(1), None)])  # a replayed event too
    assert stored == {1, 4}
    assert sorted(x.message_id for x in await s.all_shares(store, GUILD)) == [1, 4]
    assert await s.upsert_shares(store, []) == set()
    many = [(share(1000 + n, author=20 + n % 7), None) for n in range(200)]  # several statements
    assert await s.upsert_shares(store, many) == {1000 + n for n in range(200)}
    assert await s.count_shares(store, GUILD) == 202
