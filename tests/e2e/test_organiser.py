"""End to end: who may use `/organiser`, `/organiser setup`, the figures and the exports."""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import to_db, utc_now
from bot.programme import load_programme
from bot.sandbox import FakeDiscord
from bot.store import Store, audit
from bot.store.guild_settings import get_config
from bot.store.interest import add_interest
from bot.store.programme import replace_programme
from cogs.announcements import SEND_ID
from tests.harness import SAMPLE_PROGRAMME, BotRunner

MANAGE_GUILD = 1 << 5
SUBCOMMAND, GROUP = 1, 2


def sample_value(fake: FakeDiscord, option: dict[str, Any]) -> Any:
    """A valid-looking value for a required option of any type."""
    if option.get("choices"):
        return option["choices"][0]["value"]
    return {
        3: "x",
        4: 1,
        5: True,
        6: "member2",
        7: fake.channels["general"],
        8: fake.roles["organiser"],
        9: "member2",
        10: 1.0,
        11: fake.attachment("programme.yaml", b"sessions: []\n", "text/yaml"),
    }[option["type"]]


def organiser_subcommands(fake: FakeDiscord) -> list[tuple[str, dict[str, Any]]]:
    """Every synced `/organiser ...` subcommand with values for its required options."""
    group = next(c for c in fake.synced_commands(fake.guild.id) if c["name"] == "organiser")
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(prefix: str, options: list[dict[str, Any]]) -> None:
        for option in options:
            name = f"{prefix} {option['name']}"
            if option["type"] == GROUP:
                walk(name, option.get("options") or [])
            elif option["type"] == SUBCOMMAND:
                required = {
                    o["name"]: sample_value(fake, o)
                    for o in option.get("options") or []
                    if o.get("required")
                }
                found.append((name, required))

    walk("organiser", group["options"])
    return found


async def test_a_member_is_refused_every_organiser_command(
    runner: BotRunner, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    bot = await runner.start()
    commands = organiser_subcommands(fake)
    names = {name for name, _ in commands}
    assert {
        "organiser announce",
        "organiser announcements",
        "organiser cancel-announcement",
        "organiser setup",
        "organiser stats",
        "organiser export",
    } <= names
    before = len(fake.requests_to("POST", r"/channels/\d+/messages$"))
    with caplog.at_level(logging.WARNING, logger="bot.client"):
        for name, options in commands:
            slash_options = {"channel": options.pop("channel")} if "channel" in options else {}
            it = await fake.slash("member", name, slash_options=slash_options, **options)
            response = await it.response()
            assert response["type"] == 4, name  # an answer, never a modal
            assert it.ephemeral, name
            text = response["data"]["content"]
            assert "Only organisers may do this" in text, (name, text)
            assert f"<@&{fake.roles['organiser']}>" in text and "Manage Server" in text
            assert any(f"refused /{name}" in r.getMessage() for r in caplog.records), name
    assert len(fake.requests_to("POST", r"/channels/\d+/messages$")) == before
    assert await audit.recent(bot.store, fake.guild.id) == []


async def test_setup_shows_the_settings_without_options(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await runner.start()
    it = await fake.slash("organiser", "organiser setup")
    response = await it.response()
    assert it.ephemeral
    [embed] = response["data"]["embeds"]
    assert embed["title"] == "Current settings"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert len(fields) == 11  # the settings (share and alert channels) and scheduled events
    assert fields["Organiser alerts channel"] == "not set · default"
    assert fields["Scheduled events"].startswith("on: ")
    assert fields["Announcements channel"].startswith(f"<#{fake.channels['announcements']}>")
    assert fields["Timezone"] == "Europe/London · default"
    assert fields["Daily programme post"].startswith("08:00")
    assert all(value.endswith("· default") for value in fields.values())


async def test_setup_validates_every_value_and_changes_nothing_when_any_is_wrong(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start()
    it = await fake.slash(
        "organiser",
        "organiser setup",
        timezone="Mars/Olympus",
        daily_post_time="25:00",
        digest_time="5pm",
        reminder_leads="soon",
        announcements_channel=fake.channels["general"],
    )
    text = (await it.response())["data"]["content"]
    assert it.ephemeral and text.startswith("Nothing was changed.")
    for name in ("timezone", "daily_post_time", "digest_time", "reminder_leads"):
        assert f"`{name}`" in text, name
    assert "HH:MM" in text and "IANA" in text
    config = await get_config(bot.store, bot.settings, fake.guild.id)
    assert config.overridden == frozenset()
    assert await audit.recent(bot.store, fake.guild.id) == []


async def test_setup_refuses_a_channel_the_bot_cannot_post_in(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.deny_bot("general", 1 << 11)  # Send Messages
    bot = await runner.start()
    it = await fake.slash(
        "organiser", "organiser setup", digest_channel=fake.channels["general"], digest_time="18:00"
    )
    text = (await it.response())["data"]["content"]
    assert it.ephemeral and text.startswith("Nothing was changed.")
    assert "`digest_channel`" in text and "can't post in" in text and "Send Messages" in text
    config = await get_config(bot.store, bot.settings, fake.guild.id)
    assert config.overridden == frozenset()
    assert await audit.recent(bot.store, fake.guild.id) == []


async def test_setup_stores_applies_and_audits_changes(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    helper = fake.add_user("helper", permissions=1 << 10)  # a role without Manage Server
    helper_role = fake.roles["helper-perms"]
    bot = await runner.start()
    it = await fake.slash(
        "admin",  # changing the organiser role needs Manage Server (issue 11)
        "organiser setup",
        announcements_channel=fake.channels["general"],
        organiser_role=helper_role,
        timezone="europe/paris",  # case-insensitive: stored as the IANA name
        daily_post_time="07:45",
        reminder_leads="15, 60",
    )
    [embed] = (await it.wait_original(lambda m: m.get("embeds")))["embeds"]
    assert it.ephemeral and it.callbacks[0]["type"] == 5  # deferred: re-planning may take time
    assert embed["title"] == "Settings saved and applied"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Announcements channel (changed)"] == (
        f"<#{fake.channels['general']}> · server setting"
    )
    assert fields["Reminders (minutes before) (changed)"].startswith("60, 15")
    assert fields["Daily programme post (changed)"].startswith("07:45 (Europe/Paris)")
    [entry] = await audit.recent(bot.store, fake.guild.id)
    assert entry.action == "setup" and entry.user_id == fake.users["admin"]
    assert "timezone=Europe/Paris" in entry.detail and "daily_post_time=07:45" in entry.detail
    # Mentions, so /organiser stats shows names rather than raw ids.
    assert f"announcements_channel_id=<#{fake.channels['general']}>" in entry.detail
    assert f"organiser_role_id=<@&{helper_role}>" in entry.detail

    # Applied at once: the default announcement channel is the new one...
    preview = await helper_announce(fake, helper.id)
    assert f"<#{fake.channels['general']}>" in preview["content"]
    # ...and the server's organiser role replaces the environment's.
    refused = await fake.slash("organiser", "organiser stats")
    text = (await refused.response())["data"]["content"]
    assert "Only organisers" in text and f"<@&{helper_role}>" in text
    allowed_admin = await fake.slash("admin", "organiser stats")  # Manage Server still may
    await allowed_admin.response()
    assert allowed_admin.callbacks[0]["type"] == 5

    # Stored: still in force after a restart.
    bot = await runner.restart()
    config = await get_config(bot.store, bot.settings, fake.guild.id)
    assert config.timezone == "Europe/Paris" and config.reminder_leads == (60, 15)
    assert config.announcements_channel_id == fake.channels["general"]
    shown = await fake.slash("admin", "organiser setup")
    [embed] = (await shown.response())["data"]["embeds"]
    assert "Europe/Paris · server setting" in [f["value"] for f in embed["fields"]]


async def helper_announce(fake: FakeDiscord, user_id: int) -> dict[str, Any]:
    it = await fake.slash(user_id, "organiser announce", message="Now in the general channel")
    response = await it.response()
    assert response["type"] == 4 and it.ephemeral, response
    return await it.wait_original()


async def seed_figures(runner: BotRunner, fake: FakeDiscord) -> None:
    """Before start: the sample programme, registrations and shares, written to the DB."""
    async with Store(runner.db_path) as store:
        programme = load_programme(SAMPLE_PROGRAMME, "Europe/London")
        await replace_programme(store, fake.guild.id, programme, "seed")
        for user in ("member", "member2", "organiser"):
            await add_interest(store, fake.guild.id, "opening-welcome", fake.users[user])
        await add_interest(store, fake.guild.id, programme.sessions[1].id, fake.users["member"])
        now = utc_now()
        for index, user in ((1, "member"), (2, "member"), (3, "member2")):
            # Real messages: the start-up backfill (issue 10) reads the channel's history.
            posted = await fake.post_message(user, "general", "Our #QIWeek poster")
            message_id = int(posted["id"])
            await store.db.execute(
                "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name,"
                " content, jump_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    fake.guild.id,
                    fake.channels["general"],
                    fake.users[user],
                    user,
                    "Our #QIWeek poster",
                    "https://discord.com/channels/1/2/3",
                    to_db(now - timedelta(minutes=index)),
                ),
            )
        await store.db.commit()


async def test_stats_hold_the_right_figures(runner: BotRunner, fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    await seed_figures(runner, fake)
    await runner.start()
    announce = await fake.slash("organiser", "organiser announce", message="Thanks all!")
    await announce.response()
    preview = await announce.wait_original()
    click = await fake.click("organiser", preview, SEND_ID)
    await click.response()
    await fake.wait_for(lambda: fake.bot_messages("announcements"))
    await fake.wait_for(lambda: "posted" in (fake.message(preview["id"]) or {})["content"])

    it = await fake.slash("organiser", "organiser stats")
    await it.response()
    assert it.ephemeral and it.elapsed is not None and it.elapsed < 3
    message = await it.wait_original(lambda m: m["embeds"])
    figures, actions = message["embeds"]
    fields = {f["name"]: f["value"] for f in figures["fields"]}
    assert fields["Registrations of interest"] == "4 registrations for 2 sessions by 3 members"
    top = fields["Top 2 sessions"].splitlines()
    assert top[0].startswith("3 · Welcome to QI Week") and top[1].startswith("1 · ")
    assert fields["#QIWeek shares"].startswith("3 shares by 2 contributors")
    assert "Channel reminders:" in fields["Reminders and DMs"]
    assert fields["Announcements"].startswith("1 sent (0 late)")
    assert "**announce**" in actions["description"]
    assert f"<@{fake.users['organiser']}>" in actions["description"]


async def test_interest_export_is_a_csv_of_registrations(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await seed_figures(runner, fake)
    bot = await runner.start()
    it = await fake.slash("organiser", "organiser export", what="interest")
    await it.response()
    assert it.ephemeral
    message = await it.wait_original(lambda m: m["attachments"])
    [attachment] = message["attachments"]
    assert attachment["filename"].startswith("qiweek-interest-")
    assert attachment["filename"].endswith(".csv")
    data: bytes = attachment["bytes"]
    assert data.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    programme = load_programme(SAMPLE_PROGRAMME, "Europe/London")
    assert len(rows) == len(programme.sessions)  # every session, registered or not
    by_id = {row["session_id"]: row for row in rows}
    assert by_id["opening-welcome"]["registrations"] == "3"
    assert by_id["opening-welcome"]["start_local"] == "2026-09-14 09:30"
    assert by_id["opening-welcome"]["status"] == "scheduled"
    assert sum(int(r["registrations"]) for r in rows) == 4
    [entry] = await audit.recent(bot.store, fake.guild.id)
    assert (entry.action, entry.detail, entry.user_id) == (
        "export",
        "interest",
        fake.users["organiser"],
    )


@pytest.mark.parametrize("what", ["shares", "digest"])
async def test_shares_and_digest_exports(
    runner: BotRunner, fake_discord: FakeDiscord, what: str
) -> None:
    fake = fake_discord
    await seed_figures(runner, fake)
    bot = await runner.start()
    it = await fake.slash("organiser", "organiser export", what=what)
    await it.response()
    assert it.ephemeral
    if bot.services.digest is None:
        assert "not available" in it.callbacks[0]["data"]["content"]
        return
    message = await it.wait_original(lambda m: m["attachments"])
    [attachment] = message["attachments"]
    assert attachment["filename"].endswith(".csv" if what == "shares" else ".md")
    assert attachment["bytes"]
    [entry] = await audit.recent(bot.store, fake.guild.id)
    assert (entry.action, entry.detail) == ("export", what)
