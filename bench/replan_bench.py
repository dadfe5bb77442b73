"""Benchmark: how long re-planning reminders blocks the event loop on a busy server.

20 sessions x 1,000 registered members, each member with their own reminder lead (`/reminders
<minutes>`, 1 to 120): the worst case for the reminders planner. Runs the real bot against the
fake Discord with a real SQLite file, then times ``schedule.replan(guild, only="reminders")``:
the first plan, an unchanged re-plan (what every interest toggle and `/reminders` triggers,
coalesced), and a re-plan after one member changed their lead.

Run from the repository root:  .venv/bin/python bench/replan_bench.py [--members N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.sandbox import FakeDiscord  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store import interest as interest_store  # noqa: E402
from bot.store import prefs as prefs_store  # noqa: E402
from tests.harness import BotRunner, write_programme  # noqa: E402

SESSIONS = 20


async def timed(label: str, coro) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    count = await coro
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds * 1000:9.1f} ms  ({count} jobs)")
    return seconds


async def bench(members: int) -> None:
    fake = FakeDiscord()
    await fake.start()
    with tempfile.TemporaryDirectory() as tmp:
        runner = BotRunner(fake, Path(tmp))
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        sessions = [
            {"id": f"s{n:02d}", "start": start + timedelta(hours=n)} for n in range(SESSIONS)
        ]
        path = write_programme(Path(tmp) / "programme.yaml", sessions)
        guild = fake.guild.id
        async with Store(runner.db_path) as store:
            for user in range(1, members + 1):
                await interest_store.add_interests(store, guild, [s["id"] for s in sessions], user)
                await prefs_store.set_reminder_setting(store, guild, user, str(1 + user % 120))
        print(f"{SESSIONS} sessions x {members} members, each with their own lead (1-120 min)")
        bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS="15")
        await timed("re-plan, nothing changed", bot.schedule.replan(guild, only="reminders"))
        await prefs_store.set_reminder_setting(bot.store, guild, 1, "119")
        await timed(
            "re-plan after one member's /reminders", bot.schedule.replan(guild, only="reminders")
        )
        await runner.stop()
    await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    asyncio.run(bench(parser.parse_args().members))


if __name__ == "__main__":
    main()
