"""End to end (issue 11): who is an organiser, and organisers post and ping only where they
could themselves."""

from __future__ import annotations

from typing import Any

from bot.sandbox import FakeDiscord
from bot.sandbox.realms import SEND_MESSAGES, VIEW_CHANNEL
from bot.store import announcements as ann
from bot.store import audit
from bot.store.guild_settings import get_config
from tests.harness import BotRunner

MENTION_EVERYONE = 1 << 17


async def answer(fake: FakeDiscord, user: str, command: str, **options: Any) -> str:
    it = await fake.slash(user, command, **options)
    response = await it.response()
    assert it.ephemeral, response
    return str(response["data"].get("content") or "")


async def test_the_organiser_role_cannot_be_everyone_managed_or_changed_by_an_organiser(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    helper = fake.add_user("helper", permissions=VIEW_CHANNEL)
    bot = await runner.start()
    before = await get_config(bot.store, bot.settings, fake.guild.id)

    everyone = await answer(fake, "admin", "organiser setup", organiser_role=fake.roles["everyone"])
    assert "Nothing was changed" in everyone and "@everyone can't be the organiser role" in everyone
    managed = await answer(
        fake, "admin", "organiser setup", organiser_role=fake.roles["QI Week Bot"]
    )
    assert "managed by an integration" in managed
    # An organiser without Manage Server may not hand the role to others (nor change it).
    by_organiser = await answer(
        fake, "organiser", "organiser setup", organiser_role=fake.roles["helper-perms"]
    )
    assert "Manage Server" in by_organiser and "Nothing was changed" in by_organiser
    after = await get_config(bot.store, bot.settings, fake.guild.id)
    assert after.organiser_role_id == before.organiser_role_id
    assert await audit.recent(bot.store, fake.guild.id) == []
    refused = await answer(fake, helper.username, "organiser stats")
    assert "Only organisers" in refused


async def test_a_server_id_as_organiser_role_never_makes_everyone_an_organiser(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    # Without QIWEEK_GUILD_ID the environment check cannot see the clash: the bot ignores it.
    await runner.start(QIWEEK_GUILD_ID="", QIWEEK_ORGANISER_ROLE_ID=fake.guild.id)
    assert "Only organisers" in await answer(fake, "member", "organiser stats")


async def test_announce_and_setup_need_the_organiser_to_be_able_to_post_there(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    # #announcements: read-only for everyone but admins; the bot may still post there.
    fake.channel("announcements")["permission_overwrites"] = [
        fake.overwrite("everyone", deny=SEND_MESSAGES),
        fake.overwrite("admin", allow=SEND_MESSAGES),
        fake.overwrite("QI Week Bot", allow=SEND_MESSAGES),
    ]
    bot = await runner.start()
    channel = fake.channels["announcements"]
    text = await answer(
        fake,
        "organiser",
        "organiser announce",
        message="x",
        slash_options={"channel": channel},
    )
    assert f"You can't post in <#{channel}> yourself" in text
    assert await ann.recent(bot.store, fake.guild.id) == []
    setup = await answer(fake, "organiser", "organiser setup", digest_channel=channel)
    assert "Nothing was changed" in setup and "You can't post in" in setup
    # An admin may post there, so the bot posts for them.
    it = await fake.slash(
        "admin", "organiser announce", message="x", slash_options={"channel": channel}
    )
    preview = await it.wait_original()
    assert f"<#{channel}>" in preview["content"]


async def test_ping_only_a_role_the_organiser_could_mention(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    quiet = fake.roles["admin"]
    fake._roles[quiet]["mentionable"] = False
    fake.add_user("comms", permissions=MENTION_EVERYONE | (1 << 5))
    await runner.start()
    general = {"channel": fake.channels["general"]}
    text = await answer(
        fake, "organiser", "organiser announce", message="x", ping=quiet, slash_options=general
    )
    assert "not mentionable" in text and "Mention Everyone" in text
    # Mentionable roles are fine; so is any role for someone with Mention Everyone.
    for user, role in (("organiser", fake.roles["organiser"]), ("comms", quiet)):
        it = await fake.slash(
            user, "organiser announce", message="x", ping=role, slash_options=general
        )
        preview = await it.wait_original()
        assert f"<@&{role}>" in preview["content"], user
