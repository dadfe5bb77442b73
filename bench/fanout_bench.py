"""Reminder fan-out at scale: 2,000 members registered for one session, against the fake
Discord enforcing Discord's global limit of 50 requests per second.

Members are registered in advance, as on the real server (issue 10): each got their sign-up
confirmation DM then, so their DM channel id is stored and a reminder DM is one request
(`--cold`: no stored channels, the old two-request path, with the new-DM budget raised to the
member count so every one may be opened).

Runs the real bot (real SQLite, real scheduler, the real reminder job) and prints:
- DMs delivered, and requests per DM (1.0 with stored DM channels);
- the requests per second achieved during the fan-out, as a share of the limit, and total time;
- how many 429s the fake had to answer;
- when the last DM went out relative to the lead time (session start - lead): negative is
  early, i.e. on time.

    .venv/bin/python bench/fanout_bench.py [--members 2000] [--limit 50] [--cold]

Takes about (members / 45) seconds plus ~15 s of set-up: ~60 s for 2,000 members.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.delivery.context import TARGET_RATE  # noqa: E402
from bot.delivery.fanout import REQUESTS_PER_NEW_DM, fanout_seconds  # noqa: E402
from bot.sandbox import FakeDiscord  # noqa: E402
from bot.store import Store  # noqa: E402
from bot.store import dm_channels as dm_store  # noqa: E402
from bot.store import interest as interest_store  # noqa: E402
from tests.harness import BotRunner  # noqa: E402

LEAD_MINUTES = 15
SET_UP_SECONDS = 12  # start-up and registrations, before the fan-out is due to begin


def programme_yaml(start: datetime) -> str:
    end = start + timedelta(minutes=45)
    return (
        "event:\n  name: Fan-out bench\n  timezone: Europe/London\nsessions:\n"
        "  - id: big-webinar\n    title: A very popular webinar\n"
        f"    start: {start.isoformat(timespec='seconds')}\n"
        f"    end: {end.isoformat(timespec='seconds')}\n"
        "    join_url: https://example.org/join/big-webinar\n"
    )


async def bench(members: int, limit: int, cold: bool = False) -> dict[str, float]:
    fake = FakeDiscord()
    await fake.start()
    names = [f"member{i:05d}" for i in range(members)]
    for name in names:
        fake.add_user(name)
    requests = (REQUESTS_PER_NEW_DM if cold else 1) * members + 1
    early = fanout_seconds(requests)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now + timedelta(minutes=LEAD_MINUTES, seconds=early + SET_UP_SECONDS)
    due = start - timedelta(minutes=LEAD_MINUTES)
    due_mono = time.monotonic() + (due - datetime.now(UTC)).total_seconds()

    with tempfile.TemporaryDirectory() as tmp:
        runner = BotRunner(fake, Path(tmp))
        path = Path(tmp) / "programme.yaml"
        path.write_text(programme_yaml(start), encoding="utf-8")
        async with Store(runner.db_path) as store:
            ids = [fake.users[name] for name in names]
            for user_id in ids:
                await interest_store.add_interest(store, fake.guild.id, "big-webinar", user_id)
                if not cold:  # their sign-up DM opened the channel (and reached them)
                    await dm_store.save_channel(store, user_id, fake.dm_channel_id(user_id))
            if not cold:
                await dm_store.mark_messaged(store, ids)
                fake.messaged_users.update(ids)
        print(
            f"{members} members registered; session starts {start:%H:%M:%S} UTC, "
            f"lead {LEAD_MINUTES} min; fan-out planned {early} s early "
            f"({requests} requests at {TARGET_RATE:.0f}/s); fake limit {limit}/s"
        )
        bot = await runner.start(
            QIWEEK_PROGRAMME=path,
            QIWEEK_REMINDER_LEADS=LEAD_MINUTES,
            QIWEEK_NEW_DMS_PER_MINUTE=max(members, 1) if cold else 20,
        )
        fake.set_global_rate_limit(limit)
        fake.count_429 = 0
        planned = [run for job, run in bot.schedule.jobs(fake.guild.id) if "big-webinar" in job]
        print(f"reminder job runs at {planned[0]:%H:%M:%S} UTC; waiting...")

        def reminder_posted() -> bool:
            return any(
                "Starting in" in str(m.get("embeds")) for m in fake.bot_messages("programme")
            )

        timeout = early + SET_UP_SECONDS + 120
        await fake.wait_for(reminder_posted, timeout=timeout, message="the channel reminder")
        await runner.stop()

        dm_channels = {str(c) for c in fake._dm_by_user.values()}

        def is_fanout(path: str) -> bool:
            parts = path.split("/")
            return path == "/users/@me/channels" or (
                len(parts) == 4 and parts[1] == "channels" and parts[2] in dm_channels
            )

        fanout = [r for r in fake.requests if r.method == "POST" and is_fanout(r.path)]
        sends = [r.at for r in fanout if r.path != "/users/@me/channels" and r.status == 200]
        channel_post = next(
            r.at
            for r in fake.requests
            if r.method == "POST"
            and r.path == f"/channels/{fake.channels['programme']}/messages"
            and "Starting in" in str(r.json)
        )
        first, last = min(r.at for r in fanout), max(r.at for r in fanout)
        window = max(last - first, 1e-9)
        rate = (len(fanout) - 1) / window
        delivered = sum(1 for name in names if fake.dms(name))
        duplicates = sum(max(0, len(fake.dms(name)) - 1) for name in names)
        opened = sum(1 for r in fanout if r.path == "/users/@me/channels")
        print()
        print(f"DMs delivered:       {delivered}/{members} (duplicates: {duplicates})")
        print(
            f"requests per DM:     {len(fanout) / max(delivered, 1):.2f} "
            f"({opened} DM channels opened)"
        )
        print(
            f"requests:            {len(fanout)} in {window:.1f} s = {rate:.1f} req/s "
            f"= {rate / limit:.0%} of the {limit}/s limit"
        )
        print(f"429 responses:       {fake.count_429}")
        print(f"fan-out began:       {relative(first - due_mono)}")
        print(f"last DM went out:    {relative(max(sends) - due_mono)}")
        print(f"channel reminder:    {relative(channel_post - due_mono)}")
        print(f"(lead time = session start - {LEAD_MINUTES} min)")
        result = {
            "members": members,
            "delivered": delivered,
            "duplicates": duplicates,
            "requests": len(fanout),
            "requests_per_dm": len(fanout) / max(delivered, 1),
            "dm_channels_opened": opened,
            "last_dm_vs_lead_time": max(sends) - due_mono,
            "seconds": window,
            "count_429": fake.count_429,
        }
    await fake.stop()
    return result


def relative(seconds: float) -> str:
    """'3.2 s before the lead time' (on time) or '1.5 s AFTER the lead time' (late)."""
    side = "before" if seconds <= 0 else "AFTER"
    return f"{abs(seconds):.1f} s {side} the lead time"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=50, help="the fake's global limit per second")
    parser.add_argument("--cold", action="store_true", help="no stored DM channels")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Bot and fake share one process: the fake's instant heartbeat ACK can beat discord.py's
    # keep-alive thread to recording the send time, which it then reports as a bogus
    # "Can't keep up ... 41s behind" (the interval). Over a network that cannot happen.
    logging.getLogger("discord.gateway").setLevel(logging.ERROR)
    result = asyncio.run(bench(args.members, args.limit, args.cold))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
