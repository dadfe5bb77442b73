"""End to end (issue 11): with QIWEEK_GUILD_ID set, another server that has the bot gets nothing:
no programme seeded, no shares collected, no jobs planned; QIWEEK_LEAVE_OTHER_GUILDS=on leaves it.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot import ids
from bot.sandbox import FakeDiscord
from bot.store import shares as store_shares
from bot.store.guild_settings import known_guilds
from tests.harness import BotRunner


async def wait_for(predicate, within: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Poll state (no fixed sleep) until ``predicate()``; fail after ``within`` seconds."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_another_server_gets_nothing(
    runner: BotRunner, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    other = fake.create_guild("Elsewhere", members=("stranger",))
    caplog.set_level(logging.WARNING, logger="bot.client")
    bot = await runner.start(QIWEEK_DIGEST_TIME="23:59")
    assert bot.get_guild(other.guild.id) is not None  # Discord did send it

    tagged = await fake.post_message("stranger", other.channels["general"], "Hello #QIWeek")
    later = await fake.add_guild("Later", members=("visitor",))
    await wait_for(lambda: bot.get_guild(later.guild.id) is not None)
    visited = await fake.post_message("visitor", later.channels["general"], "Hi #QIWeek")
    # Every earlier event is handled once a share in the real server is in.
    marker = await fake.post_message("member", "general", "marker #QIWeek")
    for _ in range(250):
        if await store_shares.get_share(bot.store, int(marker["id"])):
            break
        await asyncio.sleep(0.02)
    assert await store_shares.get_share(bot.store, int(marker["id"])) is not None
    for message in (tagged, visited):
        assert await store_shares.get_share(bot.store, int(message["id"])) is None
    assert await known_guilds(bot.store) == [fake.guild.id]  # nothing seeded elsewhere
    for guild_id in (other.guild.id, later.guild.id):
        assert bot.schedule.jobs(guild_id) == []
        assert fake.bot_messages(fake.extra_guilds[guild_id].channels["general"]) == []
    assert bot.schedule.jobs(fake.guild.id)  # the real server is planned as usual
    assert fake.left_guilds == []  # only ignored by default
    ignored = [r.getMessage() for r in caplog.records if "ignoring server" in r.getMessage()]
    assert len(ignored) == 2 and str(other.guild.id) in ignored[0]

    # A reconnect makes the servers available again: still ignored, and logged only once.
    bot = await runner.restart(QIWEEK_DIGEST_TIME="23:59")
    again = [r.getMessage() for r in caplog.records if "ignoring server" in r.getMessage()]
    assert len(again) == 4  # a new process logs once more per server, no more


async def test_leave_other_guilds_on_leaves_them(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    other = fake.create_guild("Elsewhere")
    bot = await runner.start(QIWEEK_DIGEST_TIME="23:59", QIWEEK_LEAVE_OTHER_GUILDS="on")
    await wait_for(lambda: other.guild.id in fake.left_guilds)
    await wait_for(lambda: bot.get_guild(other.guild.id) is None)
    later = await fake.add_guild("Later")
    await wait_for(lambda: later.guild.id in fake.left_guilds)
    assert fake.guild.id not in fake.left_guilds
    assert bot.get_guild(fake.guild.id) is not None


async def test_stale_global_commands_in_another_server_do_nothing(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    other = fake.create_guild("Elsewhere", members=("stranger",))
    bot = await runner.start(QIWEEK_DIGEST_TIME="23:59")
    # Commands synced globally by an earlier run without QIWEEK_GUILD_ID are still visible there.
    fake.commands[None] = dict(fake.commands[fake.guild.id])
    where = other.channels["general"]
    it = await fake.slash("stranger", "programme", channel=where)
    answer = await it.response()
    assert it.ephemeral and "one server only" in answer["data"]["content"]
    message = await fake.post_message("stranger", where, "Look at this #QIWeek")
    menu = await fake.context_menu("stranger", "Add to QI Week digest", message)
    assert "one server only" in (await menu.response())["data"]["content"]
    assert await store_shares.get_share(bot.store, int(message["id"])) is None
    assert await known_guilds(bot.store) == [fake.guild.id]


async def test_persistent_buttons_in_another_server_do_nothing(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    # Buttons and menus bypass the command tree's check: each persistent one checks itself.
    fake = fake_discord
    other = fake.create_guild("Elsewhere", members=("stranger",))
    bot = await runner.start(QIWEEK_DIGEST_TIME="23:59")
    rows = [
        {"type": 1, "components": [{"type": 2, "style": 1, "label": label, "custom_id": cid}]}
        for label, cid in (
            ("I'm interested", ids.interest_button_id("qi-cafe")),
            ("Next", ids.programme_page_id("2026-09-14", 2)),
        )
    ]
    where = other.channels["general"]
    message = fake._new_message(where, {"content": "copied", "components": rows}, [], fake.bot_user)
    for row in rows:
        it = await fake.click("stranger", message, row["components"][0]["custom_id"])
        answer = await it.response()
        assert it.ephemeral and "one server only" in answer["data"]["content"]
    rows_in_db = await bot.store.fetch_all("SELECT * FROM interests")
    assert rows_in_db == []
    assert await known_guilds(bot.store) == [fake.guild.id]
