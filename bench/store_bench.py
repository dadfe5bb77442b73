"""Benchmark: the interest button's write, run on the event loop (`Store.write_row`) against
the same statement through aiosqlite's thread.

Fills a database with 500 sessions and 20,000 registrations, then toggles ``--runs``
registrations on (INSERT OR IGNORE) and off (DELETE) each way, and prints the median and p99
time of one write and the process CPU time it cost (the hand-off wakes two threads).

Run from the repository root:  .venv/bin/python bench/store_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.store import Store  # noqa: E402

GUILD = 1
SESSIONS, MEMBERS = 500, 40
INSERT = (
    "INSERT OR IGNORE INTO interests (guild_id, session_id, user_id, created_at)"
    " VALUES (?, ?, ?, '2026-09-14T09:00:00+00:00')"
)
DELETE = "DELETE FROM interests WHERE guild_id = ? AND session_id = ? AND user_id = ?"


async def fill(store: Store) -> None:
    async with store.transaction() as db:
        await db.executemany(
            "INSERT INTO sessions (guild_id, session_id, title, start_utc, end_utc, host, speakers,"
            " format, join_url, description, components, tags, cancelled)"
            " VALUES (?, ?, ?, '2026-09-14T09:00:00+00:00', '2026-09-14T10:00:00+00:00', '',"
            " '[]', '', '', '', '[]', '[]', 0)",
            [(GUILD, f"s{n:03d}", f"Session {n}") for n in range(SESSIONS)],
        )
        await db.executemany(
            INSERT,
            [(GUILD, f"s{n:03d}", 1000 + m) for n in range(SESSIONS) for m in range(MEMBERS)],
        )


async def through_thread(store: Store, sql: str, params: tuple[object, ...]) -> int:
    cursor = await store.db.execute(sql, params)
    return cursor.rowcount


async def measure(store: Store, runs: int, inline: bool) -> tuple[list[float], float]:
    times: list[float] = []
    cpu = time.process_time()
    for n in range(runs):
        params = (GUILD, f"s{n % SESSIONS:03d}", 1)
        for sql in (INSERT, DELETE):
            start = time.perf_counter()
            if inline:
                changed = await store.write_row(sql, params)
            else:
                changed = await through_thread(store, sql, params)
            times.append(time.perf_counter() - start)
            assert changed == 1, (sql, params)
    return times, (time.process_time() - cpu) / (2 * runs)


async def main_async(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        await store.open()
        try:
            await fill(store)
            print(f"{SESSIONS} sessions, {SESSIONS * MEMBERS:,} registrations; {runs} toggles")
            for label, inline in (("aiosqlite's thread", False), ("inline (write_row)", True)) * 2:
                times, cpu = await measure(store, runs, inline)
                ms = sorted(t * 1000 for t in times)
                p99 = ms[int(len(ms) * 0.99) - 1]
                print(
                    f"{label:20s} median {statistics.median(ms):.3f} ms  p99 {p99:.3f} ms  "
                    f"cpu {cpu * 1000:.3f} ms per write"
                )
        finally:
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main_async(args.runs))


if __name__ == "__main__":
    main()
