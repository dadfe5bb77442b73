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


async def test_a_file_that_takes_seconds_to_read_does_not_hold_up_other_members(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start()
    # 20,000 unknown keys: a second or more of pure-Python YAML parsing.
    slow = ("sessions:\n  - title: A\n" + "".join(f"    k{i}: v\n" for i in range(20_000))).encode()
    assert len(slow) < 1_000_000
    upload = fake_discord.attachment("slow.yaml", slow)
    importing = await fake_discord.slash("organiser", "organiser import-programme", file=upload)
    assert (await importing.response(timeout=5))["type"] == DEFERRED_CHANNEL_MESSAGE

    member = await fake_discord.slash("member", "programme", day="2026-09-14")
    await member.response(timeout=5)
    # Answered while the file is still being read (the parse runs in a worker thread).
    assert importing.original is None or not importing.original.get("embeds")

    refused = text_of(await importing.wait_original(lambda m: m.get("embeds"), timeout=60))
    assert "20002 problems" in refused and "Nothing was changed" in refused

    def answered() -> str:
        ids = dict.fromkeys([importing.original_id, *importing.followup_ids])
        return "\n".join(text_of(m) for m in map(fake_discord.message, ids) if m is not None)

    # Only the first 50 are listed, then how many more (the last page).
    await fake_discord.wait_for(lambda: "and 19,952 more problems not listed" in answered())
    assert answered().count("unknown key") == 50
