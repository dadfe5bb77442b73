"""Stopping the bot (issue 15): handlers already running finish before the store closes, and
the one-off share notice is sent off the ingest path."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
import pytest

from bot.sandbox import FakeDiscord
from bot.store import shares as store_shares
from tests.harness import BotRunner


async def _until(probe: Any, check: Any, within: float = 10.0) -> Any:
    """Poll an async store query until ``check`` holds (state, not time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check(value := await probe()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out; last value {value!r}")
        await asyncio.sleep(0.02)
    return value


async def test_close_lets_a_running_message_handler_finish_before_the_store_closes(
    runner: BotRunner, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await runner.start()
    guild = fake_discord.guild.id
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[int] = []

    async def slow_handler(message: discord.Message) -> None:
        if "#QIWeek" not in message.content:
            return
        started.set()
        await release.wait()  # still running when close() begins
        finished.append(len(await store_shares.all_shares(bot.store, guild)))

    bot.add_listener(slow_handler, "on_message")
    await fake_discord.post_message("member", "general", "Our huddle board #QIWeek")
    await asyncio.wait_for(started.wait(), 10)
    with caplog.at_level(logging.ERROR):
        stopping = asyncio.create_task(runner.stop())
        await fake_discord.wait_for(lambda: bot._closing is not None)
        assert bot.store.is_open  # waiting for the handler
        release.set()
        await asyncio.wait_for(stopping, 20)
    assert finished == [1]  # it ran to the end on an open store, and the share was stored
    assert not bot.store.is_open
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_drain_is_bounded(runner: BotRunner, fake_discord: FakeDiscord) -> None:
    bot = await runner.start()
    never = asyncio.Event()

    async def stuck(message: discord.Message) -> None:
        await never.wait()

    bot.add_listener(stuck, "on_message")
    await fake_discord.post_message("member", "general", "hello")
    await fake_discord.wait_for(lambda: bot._running_handlers())
    assert await bot.drain_handlers(within=0.05) == 1
    never.set()
    assert await bot.drain_handlers(within=10) == 0


async def test_the_share_notice_is_queued_off_the_ingest_path(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    guild = fake_discord.guild.id
    shares = bot.services.shares
    for n in range(5):
        await fake_discord.post_message("member", "general", f"Share {n} #QIWeek")
    await fake_discord.post_message("member2", "general", "Mine too #QIWeek")
    await fake_discord.wait_for(
        lambda: len(fake_discord.dms("member")) == 1 and len(fake_discord.dms("member2")) == 1,
        message="one notice for each author",
    )
    await fake_discord.wait_for(lambda: shares.notices_pending == 0)
    assert len(await store_shares.all_shares(bot.store, guild)) == 6
    for user in ("member", "member2"):
        assert await store_shares.notice_sent(bot.store, guild, fake_discord.users[user])
    assert len(fake_discord.dms("member")) == 1  # once, ever


async def test_a_notice_left_claimed_by_a_killed_run_is_resumed_at_the_next_start(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start()
    guild = fake.guild.id
    member = fake.users["member"]
    # The process dies (kill -9) while the notice is being sent: the ledger keeps the claim.
    fake.delay("POST", r"/users/@me/channels$", 1.0, times=1)
    await fake.post_message("member", "general", "Our board #QIWeek")
    key = f"share-notice:{guild}:{member}"
    await _until(lambda: bot.ledger.get(key), lambda row: row is not None)
    worker = bot.services.shares._notice_task
    assert worker is not None
    worker.cancel()  # as a kill would: nothing more of this run happens
    await asyncio.gather(worker, return_exceptions=True)
    row = await bot.ledger.get(key)
    assert row is not None and row.status == "claimed"

    bot = await runner.restart()
    await _until(lambda: bot.ledger.get(key), lambda row: row is not None and row.status == "sent")
    await fake.wait_for(lambda: fake.dms("member"))
    assert len(fake.dms("member")) == 1  # Discord kept the first copy (same nonce)
    # The member's "told once" mark is written just after the ledger row: wait on it too.
    await _until(lambda: store_shares.notice_sent(bot.store, guild, member), bool)
