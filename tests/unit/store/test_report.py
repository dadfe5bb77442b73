"""The report's queries on a real SQLite file: opted-out shares and which sends count."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.clock import to_db
from bot.store import Ledger, Store
from bot.store import report as queries

GUILD = 1001
WHEN = datetime(2026, 9, 14, 9, tzinfo=UTC)


async def test_shares_never_include_an_opted_out_member(tmp_path: Path) -> None:
    async with Store(tmp_path / "r.db") as store:
        for message_id, author in ((1, 10), (2, 11), (3, 10)):
            await store.db.execute(
                "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name,"
                " content, jump_url, created_at) VALUES (?, ?, 1, ?, 'n', 't', 'u', ?)",
                (message_id, GUILD, author, to_db(WHEN)),
            )
        await store.db.execute(
            "INSERT INTO member_prefs (guild_id, user_id, digest_opt_out, updated_at)"
            " VALUES (?, 10, 1, ?)",
            (GUILD, to_db(WHEN)),
        )
        assert [s.message_id for s in await queries.shares(store, GUILD)] == [2]
        assert await queries.shares(store, GUILD + 1) == []


async def test_reminders_delivered_counts_sent_reminders_and_reminder_dms(tmp_path: Path) -> None:
    async with Store(tmp_path / "r.db") as store:
        ledger = Ledger(store)
        for key, kind in (("a", "reminder"), ("b", "dm"), ("c", "digest"), ("d", "reminder")):
            await ledger.claim(key, kind=kind, guild_id=GUILD)
            if key != "d":
                await ledger.mark_sent(key)
        assert await queries.reminders_delivered(store, GUILD) == 2
        assert await queries.announcements_sent(store, GUILD) == 0
