"""End to end: the real bot logs in to the fake Discord, syncs, answers /help, handles errors."""

from __future__ import annotations

import logging

import discord
import pytest
from discord import app_commands

from bot.client import GENERIC_ERROR, discover_extensions
from bot.errors import UserFacingError
from bot.sandbox import FakeDiscord
from tests.harness import BotRunner

EPHEMERAL = 64


async def test_logs_in_and_syncs_every_command_to_the_guild(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    assert bot.user is not None and bot.user.id == fake_discord.bot_user.id
    assert bot.get_guild(fake_discord.guild.id) is not None
    synced = fake_discord.synced_commands(fake_discord.guild.id)
    names = {c["name"] for c in synced}
    local = {c.name for c in bot.tree.get_commands(guild=discord.Object(fake_discord.guild.id))}
    assert "help" in names and "organiser" in names
    assert names == local
    organiser = next(c for c in synced if c["name"] == "organiser")
    assert int(organiser["default_member_permissions"]) == 1 << 5  # Manage Server
    assert fake_discord.gateway_queries[0].get("compress") in ("zlib-stream", "zstd-stream")


async def test_help_is_ephemeral_fast_and_lists_every_command(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    it = await fake_discord.slash("member", "help")
    response = await it.response(timeout=3)
    assert response["type"] == 4
    assert response["data"]["flags"] & EPHEMERAL
    assert it.elapsed is not None and it.elapsed < 3
    text = str(response["data"]["embeds"])
    for command in bot.tree.walk_commands(guild=discord.Object(fake_discord.guild.id)):
        if isinstance(command, app_commands.Command):
            assert f"/{command.qualified_name}" in text, command.qualified_name


async def test_a_failing_command_gets_a_short_ephemeral_apology_and_a_log_line(
    runner: BotRunner, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    @app_commands.command(name="explode", description="always fails")
    async def explode(interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom")

    @app_commands.command(name="picky", description="refuses bad input")
    async def picky(interaction: discord.Interaction) -> None:
        raise UserFacingError("Say `today`, `tomorrow` or a date like 2026-09-14.")

    def add(bot: discord.Client) -> None:
        bot.tree.add_command(explode)  # type: ignore[attr-defined]
        bot.tree.add_command(picky)  # type: ignore[attr-defined]

    await runner.start(before_login=add)
    with caplog.at_level(logging.INFO, logger="bot.client"):
        it = await fake_discord.slash("member", "explode")
        response = await it.response()
        picky_it = await fake_discord.slash("member", "picky")
        picky_response = await picky_it.response()
    assert response["data"]["content"] == GENERIC_ERROR
    assert response["data"]["flags"] & EPHEMERAL
    assert "kaboom" not in response["data"]["content"]
    assert picky_response["data"]["content"].startswith("Say `today`")
    assert picky_response["data"]["flags"] & EPHEMERAL
    failure = [r for r in caplog.records if "command failed" in r.getMessage()]
    assert failure and "/explode" in failure[0].getMessage()
    assert str(fake_discord.guild.id) in failure[0].getMessage()
    assert str(fake_discord.users["member"]) in failure[0].getMessage()
    assert failure[0].exc_info is not None


async def test_organiser_commands_refuse_members(
    runner: BotRunner, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    await runner.start()
    with caplog.at_level(logging.WARNING, logger="bot.client"):
        it = await fake_discord.slash("member", "organiser setup")
        response = await it.response()
    assert response["data"]["flags"] & EPHEMERAL
    assert "Only organisers" in response["data"]["content"]
    assert any("refused /organiser setup" in r.getMessage() for r in caplog.records)
    ok = await fake_discord.slash("organiser", "organiser setup", daily_post_time="07:30")
    assert "Settings saved" in str((await ok.wait_original(lambda m: m.get("embeds")))["embeds"])
    bad = await fake_discord.slash("admin", "organiser setup", timezone="Mars/Base")
    bad_response = await bad.response()
    assert "Nothing was changed" in bad_response["data"]["content"]
    assert "IANA" in bad_response["data"]["content"]


async def test_restart_and_clean_shutdown(runner: BotRunner, fake_discord: FakeDiscord) -> None:
    await runner.start()
    bot = await runner.restart()
    assert not bot.is_closed()
    await runner.stop()
    assert bot.is_closed()
    assert not bot.store.is_open
    assert not bot.schedule.running


def test_every_extension_loads_and_command_names_do_not_clash() -> None:
    """Import every cog; no two define the same top-level command."""
    names = discover_extensions()
    assert "cogs.help" in names and "cogs.organiser" in names
    import importlib

    seen: dict[str, str] = {}
    for name in names:
        module = importlib.import_module(name)
        for value in vars(module).values():
            commands = getattr(value, "__cog_app_commands__", None)
            if not commands or getattr(value, "__module__", None) != name:
                continue
            for command in commands:
                key = command.name
                if getattr(value, "__cog_is_app_commands_group__", False):
                    key = value.__cog_group_name__
                assert key not in seen or seen[key] == name, f"{key} in {seen.get(key)} and {name}"
                seen[key] = name


async def test_survives_gateway_reconnects_and_server_errors(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    await fake_discord.reconnect_gateway("reconnect")
    it = await fake_discord.slash("member", "help")
    assert (await it.response())["data"]["flags"] & EPHEMERAL
    assert fake_discord.resumes >= 1
    await fake_discord.reconnect_gateway("close")
    it = await fake_discord.slash("member2", "help")
    assert (await it.response())["data"]["flags"] & EPHEMERAL
    assert not bot.is_closed()
    # A 500 then a 429 on a channel send: discord.py retries both and the message goes out once.
    channel = bot.get_channel(fake_discord.channels["general"])
    assert isinstance(channel, discord.TextChannel)
    fake_discord.inject("POST", r"/channels/\d+/messages", 500, times=1)
    fake_discord.inject("POST", r"/channels/\d+/messages", 429, times=1, retry_after=0.2)
    await channel.send("hello")
    assert [m["content"] for m in fake_discord.bot_messages("general")] == ["hello"]
