"""The report's queries on a real SQLite file: opted-out shares and which sends count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import bot.store as store_module
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


async def test_registrations_and_shares_read_in_pages_come_back_in_time_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of 2 rows (instead of 1,000): the order and the rows are those of one big query.
    monkeypatch.setattr(store_module, "PAGE_ROWS", 2)
    async with Store(tmp_path / "r.db") as store:
        times = [WHEN + timedelta(minutes=m) for m in (5, 0, 5, 3, 0)]
        await store.db.executemany(
            "INSERT INTO interests (guild_id, session_id, user_id, created_at) VALUES (?, ?, ?, ?)",
            [(GUILD, f"s{n % 2}", 100 + n, to_db(t)) for n, t in enumerate(times)]
            + [(GUILD + 1, "s0", 1, to_db(WHEN))],
        )
        await store.db.executemany(
            "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name,"
            " content, jump_url, created_at) VALUES (?, ?, 1, 10, 'n', 't', 'u', ?)",
            [(50 - n, GUILD, to_db(t)) for n, t in enumerate(times)],
        )
        regs = await queries.registrations(store, GUILD)
        assert [(r.created_at, r.session_id, r.user_id) for r in regs] == sorted(
            (t, f"s{n % 2}", 100 + n) for n, t in enumerate(times)
        )
        shares = await queries.shares(store, GUILD)
        assert [(s.created_at, s.message_id) for s in shares] == sorted(
            (t, 50 - n) for n, t in enumerate(times)
        )
