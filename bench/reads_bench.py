"""Benchmark: trips to SQLite's thread (aiosqlite) and time of the store's larger reads.

Every aiosqlite call (an execute, a fetch, a cursor close) is one trip through the queue of the
connection's thread, each a hand-off between the event loop and that thread. Fills a database
(40 sessions, 3,000 registrations, 2,500 shares), then runs each read ``--runs`` times and
prints its trips (counted by wrapping ``aiosqlite.Connection._execute``) and median time.

Run from the repository root:  .venv/bin/python bench/reads_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiosqlite

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.store import Store, native, report, stats  # noqa: E402
from bot.store import programme as programme_store  # noqa: E402
from bot.store import shares as shares_store  # noqa: E402

GUILD = 1
SESSIONS, REGISTRATIONS, SHARES = 40, 3000, 2500


class Trips:
    """Counts calls queued to any aiosqlite connection's thread."""

    def __init__(self) -> None:
        self.count = 0
        real = aiosqlite.Connection._execute
        trips = self

        async def counted(conn: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
            trips.count += 1
            return await real(conn, fn, *args, **kwargs)

        aiosqlite.Connection._execute = counted  # type: ignore[method-assign]


async def fill(store: Store) -> None:
    start = datetime(2026, 9, 14, 9, tzinfo=UTC)
    async with store.transaction() as db:
        await db.executemany(
            "INSERT INTO sessions (guild_id, session_id, title, start_utc, end_utc, host, speakers,"
            " format, join_url, description, components, tags, cancelled)"
            " VALUES (?, ?, ?, ?, ?, '', '[]', '', '', '', '[]', '[]', 0)",
            [
                (
                    GUILD,
                    f"s{n}",
                    f"Session {n}",
                    (start + timedelta(hours=n)).isoformat(),
                    (start + timedelta(hours=n, minutes=45)).isoformat(),
                )
                for n in range(SESSIONS)
            ],
        )
        await db.executemany(
            "INSERT INTO interests (guild_id, session_id, user_id, created_at, source)"
            " VALUES (?, ?, ?, ?, 'command')",
            [
                (GUILD, f"s{u % SESSIONS}", u, (start - timedelta(minutes=u)).isoformat())
                for u in range(REGISTRATIONS)
            ],
        )
        await db.executemany(
            "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name, content,"
            " jump_url, attachment_count, image_url, created_at, reaction_count)"
            " VALUES (?, ?, 5, ?, 'A member', 'Our run chart #QIWeek', 'https://x', 0, NULL, ?, 0)",
            [
                (10_000 + m, GUILD, m % 300, (start + timedelta(minutes=m)).isoformat())
                for m in range(SHARES)
            ],
        )


async def main(runs: int) -> None:
    trips = Trips()
    tz = ZoneInfo("Europe/London")
    reads: list[tuple[str, Callable[[Store], Awaitable[object]]]] = [
        ("programme.get_session (a point read)", lambda s: programme_store.get_session(s, 1, "s3")),
        ("stats.gather (/organiser stats)", lambda s: stats.gather(s, GUILD, tz)),
        ("native.session_figures", lambda s: native.session_figures(s, GUILD)),
        (
            "report: sessions, registrations, shares",
            lambda s: asyncio.gather(
                report.sessions(s, GUILD), report.registrations(s, GUILD), report.shares(s, GUILD)
            ),
        ),
        (
            f"shares.all_shares (the export, {SHARES:,})",
            lambda s: shares_store.all_shares(s, GUILD),
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        async with Store(Path(tmp) / "bench.db") as store:
            await fill(store)
            print(f"{'read':45} {'trips':>6} {'median ms':>10}")
            for name, read in reads:
                times = []
                for _ in range(runs):
                    trips.count = 0
                    started = time.perf_counter()
                    await read(store)
                    times.append(time.perf_counter() - started)
                    count = trips.count
                print(f"{name:45} {count:>6} {statistics.median(times) * 1000:>10.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))
