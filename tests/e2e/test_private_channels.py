"""End to end (issue 11): nothing from a channel @everyone cannot view reaches the digest.

The fake models Discord's channel permission overwrites and sends CHANNEL_CREATE/UPDATE, so the
real discord.py client computes visibility exactly as it would against Discord.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.client import QIWeekBot
from bot.sandbox import FakeDiscord
from bot.store import shares as store_shares
from tests.harness import EPHEMERAL, BotRunner, eventually, text_of

QUIET = "23:59"


def share_of(bot: QIWeekBot, message: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    return lambda: store_shares.get_share(bot.store, int(message["id"]))


async def settle(bot: QIWeekBot, fake: FakeDiscord) -> None:
    """A marker share in #general, waited for: every earlier gateway event has been handled."""
    marker = await fake.post_message("member2", "general", "marker #QIWeek")
    await eventually(share_of(bot, marker), lambda s: s is not None)
    await store_shares.delete_share(bot.store, int(marker["id"]))


async def refusal(fake: FakeDiscord, user: str, message: dict[str, Any]) -> str:
    it = await fake.context_menu(user, "Add to QI Week digest", message)
    response = await it.response()
    assert response["data"]["flags"] & EPHEMERAL
    return str(response["data"]["content"])


async def private_in_cache(bot: QIWeekBot, fake: FakeDiscord, name: str) -> None:
    """Wait until the bot's cache shows ``name`` as hidden from @everyone (CHANNEL_UPDATE)."""

    async def hidden() -> bool:
        channel = bot.get_channel(fake.channels[name])
        assert isinstance(channel, discord.TextChannel)
        return not channel.permissions_for(channel.guild.default_role).view_channel

    await eventually(hidden)


async def test_a_private_channel_is_never_collected_and_the_member_is_told_why(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    await fake.add_channel("staff-room", private_to=("organiser",))
    tagged = await fake.post_message("organiser", "staff-room", "Rota problems on ward 4 #QIWeek")
    plain = await fake.post_message("organiser", "staff-room", "Patient in bed 3 is worse")
    await settle(bot, fake)
    assert await store_shares.get_share(bot.store, int(tagged["id"])) is None

    for message in (tagged, plain):
        text = await refusal(fake, "organiser", message)
        assert "not every member can see" in text and "channels every member can read" in text
        assert await store_shares.get_share(bot.store, int(message["id"])) is None
    assert await store_shares.count_shares(bot.store, fake.guild.id) == 0
    # An edit that adds the tag does not collect it either.
    await fake.edit_message(plain, "Patient in bed 3 is worse #QIWeek")
    await settle(bot, fake)
    assert await store_shares.get_share(bot.store, int(plain["id"])) is None
    # Nothing was ever DMed about it (the notice is only for collected shares).
    assert fake.dms("organiser") == []


async def test_shares_from_a_channel_made_private_later_leave_the_digest_and_exports(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    hidden = await fake.post_message("member", "programme", "Our sepsis audit results #QIWeek")
    shown = await fake.post_message("member2", "general", "Huddle boards everywhere #QIWeek")
    for message in (hidden, shown):
        await eventually(share_of(bot, message))

    await fake.make_private("programme", "organiser")
    await private_in_cache(bot, fake, "programme")

    it = await fake.slash("member2", "digest")
    pages = await it.followups(1)
    text = "\n".join(text_of(page) for page in pages)
    assert "Huddle boards everywhere" in text
    assert "sepsis audit" not in text
    service = bot.services.digest
    csv_text = (await service.export_shares_csv(fake.guild.id)).decode("utf-8-sig")
    assert "Huddle boards everywhere" in csv_text and "sepsis audit" not in csv_text
    markdown = await service.export_digest_markdown(fake.guild.id, None)
    assert "sepsis audit" not in markdown
    _, page = await bot.services.report.html(fake.guild.id)  # the impact report, too
    assert b"Huddle boards everywhere" in page and b"sepsis audit" not in page
    # Left out, not lost: made public again, it is back.
    assert await store_shares.get_share(bot.store, int(hidden["id"])) is not None
    await fake.set_overwrites("programme", [])

    async def public_again() -> bool:
        channel = bot.get_channel(fake.channels["programme"])
        assert isinstance(channel, discord.TextChannel)
        return not channel.overwrites

    await eventually(public_again)
    again = await fake.slash("member2", "digest")
    assert "sepsis audit" in "\n".join(text_of(p) for p in await again.followups(1))


async def test_share_channels_limit_collection_and_say_where(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    general = fake.channels["general"]
    setup = await fake.slash("admin", "organiser setup", share_channels=f"<#{general}>")
    saved = await setup.wait_original(lambda m: m.get("embeds"))
    fields = {f["name"]: f["value"] for f in saved["embeds"][0]["fields"]}
    assert fields["Share channels (changed)"].startswith(f"<#{general}>")

    elsewhere = await fake.post_message("member", "announcements", "Wrong place #QIWeek")
    await settle(bot, fake)
    assert await store_shares.get_share(bot.store, int(elsewhere["id"])) is None
    text = await refusal(fake, "member2", elsewhere)
    assert f"only takes messages posted in <#{general}>" in text

    bad = await fake.slash("admin", "organiser setup", share_channels="#general, sometimes")
    answer = (await bad.response())["data"]["content"]
    assert "Nothing was changed" in answer and "share_channels" in answer

    cleared = await fake.slash("admin", "organiser setup", share_channels="none")
    await cleared.wait_original(lambda m: m.get("embeds"))
    back = await fake.post_message("member", "announcements", "Any public channel #QIWeek")
    await eventually(share_of(bot, back))


async def test_the_environment_list_of_share_channels(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    digest_channel = fake.channels["digest"]
    bot = await runner.start(
        QIWEEK_DIGEST_TIME=QUIET,
        QIWEEK_SHARE_CHANNEL_IDS=f"{fake.channels['general']},{digest_channel}",
    )
    outside = await fake.post_message("member", "programme", "Not listed #QIWeek")
    inside = await fake.post_message("member", "digest", "Listed #QIWeek")
    await eventually(share_of(bot, inside))
    await settle(bot, fake)
    assert await store_shares.get_share(bot.store, int(outside["id"])) is None


async def test_threads_follow_their_parent_and_private_threads_never_count(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    await fake.add_channel("staff-room", private_to=("organiser",))
    await fake.add_thread("general", "ideas")
    await fake.add_thread("staff-room", "rota")
    await fake.add_thread("general", "one-to-one", private=True)
    public = await fake.post_message("member", "ideas", "A thread share #QIWeek")
    await eventually(share_of(bot, public))
    hidden = await fake.post_message("organiser", "rota", "Staff thread #QIWeek")
    secret = await fake.post_message("member", "one-to-one", "Private thread #QIWeek")
    await settle(bot, fake)
    for message in (hidden, secret):
        assert await store_shares.get_share(bot.store, int(message["id"])) is None
    assert "not every member can see" in await refusal(fake, "organiser", hidden)
    assert "private thread" in await refusal(fake, "member", secret)
