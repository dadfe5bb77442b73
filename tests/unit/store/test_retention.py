"""Retention beyond shares: old ledger rows and registrations go, their counts stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import to_db
from bot.store import Ledger, Store, retention, stats

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
CUTOFF = T0 + timedelta(days=90)


async def add_session(store: Store, guild: int, sid: str, start: datetime) -> None:
    await store.db.execute(
        "INSERT INTO sessions (guild_id, session_id, title, start_utc, end_utc)"
        " VALUES (?, ?, ?, ?, ?)",
        (guild, sid, sid.title(), to_db(start), to_db(start + timedelta(hours=1))),
    )


async def add_interest(store: Store, guild: int, sid: str, user: int, at: datetime) -> None:
    await store.db.execute(
        "INSERT INTO interests (guild_id, session_id, user_id, created_at) VALUES (?, ?, ?, ?)",
        (guild, sid, user, to_db(at)),
    )


async def test_every_guild_includes_servers_not_served_now(tmp_path: Path) -> None:
    async with Store(tmp_path / "r.db") as store:
        await add_interest(store, 7, "x", 1, T0)
        await Ledger(store).claim("k", kind="daily", guild_id=8)
        assert await retention.every_guild(store) == [7, 8]


async def test_old_rows_are_retired_and_still_counted(tmp_path: Path) -> None:
    async with Store(tmp_path / "r.db", clock=lambda: CUTOFF + timedelta(days=1)) as store:
        await add_session(store, 1, "old", T0)
        await add_session(store, 1, "new", CUTOFF + timedelta(days=1))
        for user in (1, 2, 3):
            await add_interest(store, 1, "old", user, T0 - timedelta(days=30))
        await add_interest(store, 1, "new", 1, T0 - timedelta(days=30))  # registered early
        await add_interest(store, 1, "gone", 4, T0)  # session no longer in the programme
        await add_interest(store, 1, "gone-recent", 4, CUTOFF + timedelta(days=1))
        ledger = Ledger(store)
        await ledger.claim("old-dm", kind="dm", guild_id=1)
        await ledger.mark_sent("old-dm", 5)
        await store.db.execute("UPDATE deliveries SET updated_at = ?", (to_db(T0),))
        await ledger.claim("new-dm", kind="dm", guild_id=1)  # touched now, after the cutoff

        before = await stats.registrations_per_session(store, 1)
        assert await retention.retire_interests(store, 1, CUTOFF) == 4
        assert await retention.retire_deliveries(store, 1, CUTOFF) == 1
        rows = await store.fetch_all("SELECT session_id FROM interests ORDER BY 1")
        assert [r[0] for r in rows] == ["gone-recent", "new"]
        assert await ledger.get("old-dm") is None and await ledger.get("new-dm") is not None
        # The figures organisers see are unchanged.
        after = await stats.registrations_per_session(store, 1)
        assert {(r.session_id, r.registrations) for r in after} == {
            (r.session_id, r.registrations) for r in before
        }
        counts = await stats.delivery_counts(store, 1)
        assert counts["dm"] == {"sent": 1, "claimed": 1}
        # Retiring again adds nothing (the rows are gone), and counts accumulate per key.
        assert await retention.retire_interests(store, 1, CUTOFF) == 0
        assert await retention.retired(store, 1, "interests") == {
            "old": {"registrations": 3},
            "gone": {"registrations": 1},
        }
