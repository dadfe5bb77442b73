"""Hostile programme files through the fake Discord: refused clearly within the deferred answer,
while the bot keeps answering everyone else and its memory stays bounded."""

from __future__ import annotations

import asyncio
import resource
import sys

from bot.sandbox import FakeDiscord
from bot.store.programme import programme_source
from tests.harness import VTIMEZONE_BOMB, BotRunner, text_of, yaml_alias_bomb

DEFERRED_CHANNEL_MESSAGE = 5


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


async def test_alias_bomb_and_vtimezone_file_are_refused_while_others_are_answered(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    guild = fake_discord.guild.id
    before = await bot.services.programme.get_programme(guild)
    assert before is not None

    bomb, calendar = await asyncio.gather(
        fake_discord.slash(
            "organiser",
            "organiser import-programme",
            file=fake_discord.attachment("bomb.yaml", yaml_alias_bomb()),
        ),
        fake_discord.slash(
            "organiser",
            "organiser import-programme",
            file=fake_discord.attachment("hostile.ics", VTIMEZONE_BOMB, "text/calendar"),
        ),
    )
    # Another member, meanwhile: answered as usual.
    member = await fake_discord.slash("member", "programme", day="2026-09-14")

    for it in (bomb, calendar):
        first = await it.response(timeout=5)
        assert first["type"] == DEFERRED_CHANNEL_MESSAGE  # within Discord's 3 s
        assert it.ephemeral
    member_answer = await member.response(timeout=5)
    assert "embeds" in member_answer["data"] or member_answer["data"].get("content")

    bomb_text = text_of(await bomb.wait_original(lambda m: m.get("embeds"), timeout=10))
    assert "aliases (*name) are not accepted" in bomb_text
    assert "Nothing was changed" in bomb_text
    calendar_text = text_of(await calendar.wait_original(lambda m: m.get("embeds"), timeout=10))
    assert "unknown timezone 'Hostile Minutely' (TZID)" in calendar_text
    assert "Nothing was changed" in calendar_text

    assert await bot.services.programme.get_programme(guild) == before
    assert await programme_source(bot.store, guild) == "seed"
    assert not fake_discord.rejected
    # The whole test process (pytest, the fake Discord and the bot): the files took gigabytes.
    assert _peak_rss_mb() < 300, _peak_rss_mb()
