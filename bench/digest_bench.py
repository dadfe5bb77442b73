"""Benchmark: how fast the real bot ingests a busy server's messages for the #QIWeek digest.

Feeds 10,000 guild messages (10% carrying a configured hashtag) through the fake Discord's
gateway into the real bot (real discord.py client, real SQLite file), then prints:

- messages per second ingested, end to end (gateway frame -> discord.py -> our listener ->
  SQLite), with the fake server running in the same event loop, so it is a lower bound;
- shares stored, which must equal the tagged messages sent (exit status 1 otherwise);
- the median handling cost of an untagged message: our listener path (the service's
  ``handle_message``) timed with ``time.perf_counter``, and the same for tagged ones.

Run from the repository root:  .venv/bin/python bench/digest_bench.py [--messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import discord

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.sandbox import FakeDiscord  # noqa: E402
from bot.store import shares as store_shares  # noqa: E402
from tests.harness import BotRunner  # noqa: E402

AUTHORS = 25
PACED = 200
UNTAGGED = (
    "Great session this morning, thanks all",
    "Does anyone have the slides from the QI café? #NHS",
    "Loving the #QIWeekly newsletter idea",
    "Link: https://example.org/qi#QIWeek for the full agenda",
    "See `#QIWeek` in the style guide",
    "Run chart update: 12 weeks above the median now",
)
TAGGED = (
    "Our huddle board went live today #QIWeek",
    "(#qiweek) we tested a new discharge checklist",
    "#QIWEEK! PDSA cycle 3 done",
    "Patient partner session was brilliant #QIWeek #NHS",
)


def content_for(n: int, tagged_every: int) -> tuple[str, bool]:
    if n % tagged_every == 0:
        return f"{TAGGED[n % len(TAGGED)]} ({n})", True
    return f"{UNTAGGED[n % len(UNTAGGED)]} ({n})", False


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


async def run(total: int, tagged_every: int) -> int:
    async with FakeDiscord() as fake:
        for n in range(AUTHORS):
            fake.add_user(f"author{n}", global_name=f"Author {n}")
        with tempfile.TemporaryDirectory() as tmp:
            runner = BotRunner(fake, Path(tmp))
            await runner.start(QIWEEK_DIGEST_TIME="23:59")
            try:
                return await feed(fake, runner, total, tagged_every)
            finally:
                await runner.stop()


async def feed(fake: FakeDiscord, runner: BotRunner, total: int, tagged_every: int) -> int:
    bot = runner.bot
    assert bot is not None
    service = bot.services.digest
    original = service.handle_message
    costs: dict[bool, list[float]] = {True: [], False: []}
    handled = 0
    all_handled = asyncio.Event()
    one_handled = asyncio.Event()
    tagged_texts: set[str] = set()

    async def timed(message: discord.Message) -> None:
        nonlocal handled
        start = time.perf_counter()
        await original(message)
        cost = time.perf_counter() - start
        costs[message.content in tagged_texts].append(cost)
        handled += 1
        one_handled.set()
        if handled >= total:
            all_handled.set()

    service.handle_message = timed  # type: ignore[method-assign]
    channels = ("general", "programme", "announcements")
    sent_tagged = 0
    started = time.perf_counter()
    for n in range(total):
        text, tagged = content_for(n, tagged_every)
        if tagged:
            sent_tagged += 1
            tagged_texts.add(text)
        await fake.post_message(f"author{n % AUTHORS}", channels[n % len(channels)], text)
    await asyncio.wait_for(all_handled.wait(), 120)
    guild = fake.guild.id
    deadline = time.perf_counter() + 60
    stored = await store_shares.count_shares(bot.store, guild)
    while stored < sent_tagged and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
        stored = await store_shares.count_shares(bot.store, guild)
    elapsed = time.perf_counter() - started
    flood_tagged = costs[True]

    # Paced: one tagged message at a time, so the figure is the work, not the queue behind it.
    paced: list[float] = []
    costs[True] = paced
    for n in range(PACED):
        text = f"Paced share {n} #QIWeek"
        tagged_texts.add(text)
        one_handled.clear()
        await fake.post_message(f"author{n % AUTHORS}", "general", text)
        await asyncio.wait_for(one_handled.wait(), 10)

    untagged, flood = costs[False], flood_tagged
    final = await store_shares.count_shares(bot.store, guild)
    print(f"messages sent:             {total:,} ({sent_tagged:,} tagged, {AUTHORS} authors)")
    print(f"ingested:                  {total / elapsed:,.0f} messages/s ({elapsed:.2f} s wall)")
    ok = stored == sent_tagged and final == sent_tagged + PACED
    verdict = "OK" if ok else "MISMATCH"
    print(f"shares stored:             {stored:,} (expected {sent_tagged:,}) {verdict}")
    print(
        f"untagged message handling: median {fmt_us(statistics.median(untagged))}, "
        f"p95 {fmt_us(statistics.quantiles(untagged, n=20)[-1])} ({len(untagged):,} messages)"
    )
    print(
        f"tagged message handling:   median {fmt_us(statistics.median(paced))}, "
        f"p95 {fmt_us(statistics.quantiles(paced, n=20)[-1])} "
        f"(one at a time, SQLite upsert included; {len(paced)} messages)"
    )
    print(
        f"tagged, during the flood:  median {statistics.median(flood) * 1e3:,.0f} ms "
        "(queued behind the backlog of events and writes)"
    )
    print(f"share notices sent:        {sum(1 for n in range(AUTHORS) if fake.dms(f'author{n}'))}")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--tagged-every", type=int, default=10, help="1 in N messages is tagged")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.messages, args.tagged_every)))


if __name__ == "__main__":
    main()
