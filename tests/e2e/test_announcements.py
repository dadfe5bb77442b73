"""End to end: `/organiser announce` through the preview, the schedule, restarts and downtime.

The real bot runs against the fake Discord with a real SQLite file. Scheduled ones are made a
few seconds ahead by running the bot on a clock 57 s behind real time: `at: in 1m` is then due
3 s from now on the scheduler's real clock.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import utc_now
from bot.delivery.keys import announcement_dm_key as dm_key
from bot.delivery.keys import announcement_key as post_key
from bot.programme import load_programme
from bot.sandbox import FakeDiscord
from bot.store import Claim, Ledger, Store
from bot.store import announcements as ann
from bot.store.interest import add_interest
from bot.store.ledger import nonce_for
from bot.store.programme import replace_programme
from cogs.announcements import CANCEL_ID, MODAL_ID, SEND_ID
from tests.harness import SAMPLE_PROGRAMME, BotRunner, settled_row, wait_quiet

EPHEMERAL = 64
NOW_MINUS_57S = lambda: utc_now() - timedelta(seconds=57)  # noqa: E731


async def open_preview(
    fake: FakeDiscord, user: str = "organiser", **options: Any
) -> dict[str, Any]:
    """Run /organiser announce and return the ephemeral preview message (asserting it is one)."""
    it = await fake.slash(user, "organiser announce", **options)
    response = await it.response()
    assert response["type"] == 4, response
    assert it.ephemeral and it.elapsed is not None and it.elapsed < 3
    return await it.wait_original()


async def press(fake: FakeDiscord, preview: dict[str, Any], custom_id: str) -> dict[str, Any]:
    """Press a preview button and wait until the preview says what happened."""
    click = await fake.click("organiser", preview, custom_id)
    await click.response()
    return await fake.wait_for(
        lambda: (m := fake.message(preview["id"])) and "…" not in m["content"] and m,
        message="the preview to be edited with the outcome",
    )


async def wait_status(bot: Any, announcement_id: int, status: str) -> ann.Announcement:
    """The stored announcement once it has `status` (the post is seen before the row moves)."""
    for _ in range(500):
        found = await ann.get(bot.store, announcement_id)
        if found is not None and found.status == status:
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"announcement #{announcement_id} never became {status}: {found}")


async def refused(fake: FakeDiscord, **options: Any) -> str:
    it = await fake.slash("organiser", "organiser announce", **options)
    response = await it.response()
    assert response["type"] == 4 and it.ephemeral
    return response["data"]["content"]


async def test_announce_now_without_a_ping_pings_nobody(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    fake = fake_discord
    body = f"Doors open at 9 @everyone @here <@{fake.users['member']}>"
    preview = await open_preview(fake, message=body)
    assert fake.bot_messages("announcements") == []  # a preview sends nothing
    assert preview["embeds"][0]["description"] == body
    text = preview["content"]
    assert f"<#{fake.channels['announcements']}>" in text
    assert "nobody" in text and "DMs:** none" in text and "Send" in text
    ids = [c["custom_id"] for row in preview["components"] for c in row["components"]]
    assert ids == [SEND_ID, CANCEL_ID]

    done = await press(fake, preview, SEND_ID)
    assert "was posted" in done["content"] and done["components"] == []
    [posted] = fake.bot_messages("announcements")
    assert posted["allowed_mentions"] == {"parse": []}
    assert posted["mention_everyone"] is False and posted["mentions"] == []
    assert posted["embeds"][0]["description"] == body
    assert posted["nonce"]  # sent through the ledger with the key's nonce

    [stored] = await ann.recent(bot.store, fake.guild.id)
    assert stored.status == "sent" and stored.message_id == int(posted["id"])
    delivery = await bot.ledger.get(post_key(stored.id))
    assert delivery is not None and delivery.status == "sent"
    entries = await bot_audit(bot)
    assert entries[0][0] == "announce" and entries[0][1] == fake.users["organiser"]


async def bot_audit(bot: Any) -> list[tuple[str, int, str]]:
    from bot.store.audit import recent

    return [(e.action, e.user_id, e.detail) for e in await recent(bot.store, bot.guilds[0].id)]


async def test_announce_now_with_a_ping_allows_only_that_role(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    fake = fake_discord
    role = fake.roles["organiser"]
    other_role = fake.roles["admin"]
    preview = await open_preview(
        fake,
        message=f"Keynote in 10 minutes @everyone <@&{other_role}>",
        ping=role,
        slash_options={"channel": fake.channels["general"]},
    )
    assert (
        f"<@&{role}>" in preview["content"]
        and f"<#{fake.channels['general']}>" in (preview["content"])
    )
    assert preview["mention_roles"] == []  # the preview itself pings nobody
    await press(fake, preview, SEND_ID)
    [posted] = fake.bot_messages("general")
    assert posted["content"] == f"<@&{role}>"
    assert posted["allowed_mentions"] == {"parse": [], "roles": [role]}
    assert posted["mention_roles"] == [str(role)]
    assert posted["mention_everyone"] is False
    assert fake.bot_messages("announcements") == []
    # The audit trail is readable in /organiser stats: a channel and role mention, not raw ids.
    [(action, _, detail)] = await bot_audit(bot)
    assert action == "announce"
    assert f"in <#{fake.channels['general']}>, pinging <@&{role}>" in detail


async def test_announce_through_the_modal(runner: BotRunner, fake_discord: FakeDiscord) -> None:
    bot = await runner.start()
    fake = fake_discord
    it = await fake.slash("organiser", "organiser announce")
    modal = await it.response()
    assert modal["type"] == 9 and modal["data"]["custom_id"].startswith(f"{MODAL_ID}:")
    assert len(modal["data"]["custom_id"]) <= 100
    assert len(modal["data"]["title"]) <= 45
    body = "Room change:\nThe panel moves to **Room B2**.\n\n@everyone please pass it on."
    submitted = await fake.submit_modal(
        "organiser", modal["data"]["custom_id"], {"title": "Room change", "body": body}
    )
    await submitted.response()
    assert submitted.ephemeral
    preview = await submitted.wait_original()
    assert preview["embeds"][0]["title"] == "Room change"
    await press(fake, preview, SEND_ID)
    [posted] = fake.bot_messages("announcements")
    assert posted["embeds"][0]["title"] == "Room change"
    assert posted["embeds"][0]["description"] == body
    assert posted["allowed_mentions"] == {"parse": []} and not posted["mention_everyone"]
    [stored] = await ann.recent(bot.store, fake.guild.id)
    assert stored.title == "Room change" and stored.status == "sent"


async def open_modal(fake: FakeDiscord, user: str, **options: Any) -> str:
    """Run /organiser announce without a message; the custom_id of the form it opens."""
    it = await fake.slash(user, "organiser announce", **options)
    modal = await it.response()
    assert modal["type"] == 9, modal
    return modal["data"]["custom_id"]


async def submit_form(fake: FakeDiscord, user: str, custom_id: str, title: str, body: str) -> Any:
    submitted = await fake.submit_modal(user, custom_id, {"title": title, "body": body})
    response = await submitted.response()
    assert response["type"] == 4 and submitted.ephemeral, response
    return await submitted.wait_original()


@pytest.mark.parametrize("first", ["organiser", "admin"])
async def test_two_organisers_writing_at_once_each_get_their_own_draft(
    runner: BotRunner, fake_discord: FakeDiscord, first: str
) -> None:
    """Both forms open before either is submitted; each preview holds its own author's text."""
    bot = await runner.start()
    fake = fake_discord
    channels = {"organiser": "announcements", "admin": "general"}
    forms = {
        "organiser": await open_modal(fake, "organiser"),
        "admin": await open_modal(
            fake, "admin", slash_options={"channel": fake.channels["general"]}
        ),
    }
    assert forms["organiser"] != forms["admin"]
    order = [first, "admin" if first == "organiser" else "organiser"]
    previews = {
        user: await submit_form(fake, user, forms[user], f"From {user}", f"Body by {user}")
        for user in order
    }
    for user, preview in previews.items():
        assert preview["embeds"][0]["title"] == f"From {user}"
        assert preview["embeds"][0]["description"] == f"Body by {user}"
        assert f"<#{fake.channels[channels[user]]}>" in preview["content"]
    for user in order:
        click = await fake.click(user, previews[user], SEND_ID)
        await click.response()
        await fake.wait_for(
            lambda u=user: (
                "was posted" in (fake.message(previews[u]["id"]) or {}).get("content", "")
            ),
            message=f"{user}'s preview to say it was posted",
        )
    for user in order:
        [posted] = fake.bot_messages(channels[user])
        assert posted["embeds"][0]["title"] == f"From {user}"
        assert posted["embeds"][0]["description"] == f"Body by {user}"
    stored = {a.author_id: a for a in await ann.recent(bot.store, fake.guild.id)}
    assert {stored[fake.users[u]].body for u in order} == {"Body by organiser", "Body by admin"}
    for user in order:
        assert stored[fake.users[user]].body == f"Body by {user}"
        assert stored[fake.users[user]].channel_id == fake.channels[channels[user]]


async def test_cancel_button_and_other_users_cannot_press(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    fake = fake_discord
    preview = await open_preview(fake, message="Not yet")
    intruder = await fake.click("admin", preview, SEND_ID)
    answer = await intruder.response()
    assert intruder.ephemeral and "Only the organiser who wrote" in answer["data"]["content"]
    done = await press(fake, preview, CANCEL_ID)
    assert "nothing was sent" in done["content"] and done["embeds"] == []
    assert fake.bot_messages("announcements") == []
    assert await ann.recent(bot.store, fake.guild.id) == []


async def test_an_unanswered_preview_expires_and_sends_nothing(
    runner: BotRunner, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = await runner.start()
    # load_extension executes the cog module afresh: patch the copy the bot runs.
    monkeypatch.setattr(sys.modules["cogs.announcements"], "PREVIEW_TIMEOUT", 0.3)
    preview = await open_preview(fake_discord, message="Forgotten")
    expired = await fake_discord.wait_for(
        lambda: (
            "expired" in (fake_discord.message(preview["id"]) or {})["content"]
            and fake_discord.message(preview["id"])
        )
    )
    assert expired["components"] == []
    assert fake_discord.bot_messages("announcements") == []
    assert await ann.recent(bot.store, fake_discord.guild.id) == []


async def test_scheduled_announcement_is_posted_once_across_restarts(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(clock=NOW_MINUS_57S)
    preview = await open_preview(fake, message="Keynote in 10 minutes", at="in 1m")
    assert "<t:" in preview["content"]  # when, as a Discord timestamp
    done = await press(fake, preview, SEND_ID)
    assert "scheduled for" in done["content"]
    [pending] = await ann.pending(bot.store, fake.guild.id)
    assert any(job.startswith("announcements:") for job, _ in bot.schedule.jobs(fake.guild.id))
    [(_, _, detail)] = await bot_audit(bot)
    assert f"scheduled for <t:{int(pending.send_at.timestamp())}:f> in <#" in detail

    bot = await runner.restart(clock=NOW_MINUS_57S)  # before it is due
    await fake.wait_for(lambda: fake.bot_messages("announcements"), timeout=10)
    bot = await runner.restart(clock=NOW_MINUS_57S)  # after: nothing is sent again
    await wait_quiet(runner.bot)
    [posted] = fake.bot_messages("announcements")
    assert "delayed" not in (posted["content"] or "")
    final = await wait_status(bot, pending.id, "sent")
    assert final.message_id == int(posted["id"])
    assert not any(j.startswith("announcements:") for j, _ in bot.schedule.jobs(fake.guild.id))


async def test_list_and_cancel_a_scheduled_announcement(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start()
    preview = await open_preview(fake, message="Tomorrow's plenary moves online", at="in 2h")
    await press(fake, preview, SEND_ID)
    [pending] = await ann.pending(bot.store, fake.guild.id)

    listing = await fake.slash("organiser", "organiser announcements")
    text = (await listing.response())["data"]["content"]
    assert listing.ephemeral
    assert f"`#{pending.id}`" in text and "pending" in text and "<t:" in text
    assert f"<@{fake.users['organiser']}>" in text

    choices = await fake.autocomplete(
        "organiser", "organiser cancel-announcement", focused="announcement"
    )
    assert [c["value"] for c in choices] == [pending.id]
    assert choices[0]["name"].startswith(f"#{pending.id} · ")
    assert "plenary" in choices[0]["name"]
    hidden = await fake.autocomplete(
        "member", "organiser cancel-announcement", focused="announcement"
    )
    assert hidden == []  # members never see organisers' drafts

    it = await fake.slash("organiser", "organiser cancel-announcement", announcement=pending.id)
    assert "Cancelled announcement" in (await it.response())["data"]["content"]
    cancelled = await ann.get(bot.store, pending.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert not any(j.startswith("announcements:") for j, _ in bot.schedule.jobs(fake.guild.id))
    assert (await bot_audit(bot))[0][:2] == ("cancel", fake.users["organiser"])

    again = await fake.slash("organiser", "organiser cancel-announcement", announcement=pending.id)
    assert "already cancelled" in (await again.response())["data"]["content"]
    unknown = await fake.slash("organiser", "organiser cancel-announcement", announcement=99999)
    assert "no announcement #99999" in (await unknown.response())["data"]["content"]


async def test_bad_options_are_refused_and_nothing_is_stored(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start()
    assert "already passed" in await refused(fake, message="x", at="2020-01-01 09:00")
    unreadable = await refused(fake, message="x", at="soon")
    assert "HH:MM" in unreadable and "in 90m" in unreadable
    assert "60 days" in await refused(fake, message="x", at="in 2000h")
    assert "@everyone" in await refused(fake, message="x", ping=fake.roles["everyone"])
    assert "no session" in await refused(fake, message="x", session="no-such-session")
    assert await ann.recent(bot.store, fake.guild.id) == []
    assert await ann.pending(bot.store, fake.guild.id) == []
    assert fake.bot_messages("announcements") == []


async def test_no_announcements_channel_is_a_clear_error(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start(QIWEEK_ANNOUNCEMENTS_CHANNEL_ID="")
    text = await refused(fake_discord, message="hello")
    assert "No announcements channel is set" in text and "channel:" in text


async def test_missed_while_down_is_recorded_and_the_author_told(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    async with Store(runner.db_path) as store:
        missed = await ann.create(
            store,
            guild_id=fake.guild.id,
            author_id=fake.users["organiser"],
            channel_id=fake.channels["announcements"],
            title="Lunch break",
            body="Lunch is served",
            send_at=utc_now() - timedelta(minutes=20),
        )
        late = await ann.create(
            store,
            guild_id=fake.guild.id,
            author_id=fake.users["organiser"],
            channel_id=fake.channels["announcements"],
            title="Afternoon",
            body="Afternoon sessions start in 10 minutes",
            send_at=utc_now() - timedelta(minutes=5),
        )
    bot = await runner.start()
    [posted] = await fake.wait_for(lambda: fake.bot_messages("announcements"))
    assert "delayed" in posted["content"] and "<t:" in posted["content"]
    assert posted["embeds"][0]["title"] == "Afternoon"
    [dm] = await fake.wait_for(lambda: fake.dms("organiser"))
    assert f"#{missed.id}" in dm["content"] and "not sent" in dm["content"]
    assert dm["nonce"]  # the author's DM goes through the ledger too

    await wait_status(bot, missed.id, "missed")
    await wait_status(bot, late.id, "late")
    skipped = await settled_row(bot, post_key(missed.id))
    assert skipped is not None and skipped.status == "skipped"
    told = await settled_row(bot, f"announcement-missed:{missed.id}")
    assert told is not None and told.status == "sent"

    await runner.restart()
    await wait_quiet(runner.bot)
    assert len(fake.bot_messages("announcements")) == 1 and len(fake.dms("organiser")) == 1


async def register_for_welcome(runner: BotRunner, fake: FakeDiscord, *users: str) -> None:
    """Before start: the sample programme stored, and `users` registered for its opening."""
    async with Store(runner.db_path) as store:
        programme = load_programme(SAMPLE_PROGRAMME, "Europe/London")
        await replace_programme(store, fake.guild.id, programme, "seed")
        for user in users:
            await add_interest(store, fake.guild.id, "opening-welcome", fake.users[user])


async def test_session_announcement_is_dmed_to_registered_members(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await register_for_welcome(runner, fake, "member", "member2")
    bot = await runner.start()
    choices = await fake.autocomplete(
        "organiser", "organiser announce", focused="session", session="welcome"
    )
    assert "opening-welcome" in [c["value"] for c in choices]
    preview = await open_preview(
        fake, message="The welcome starts 5 minutes late", session="opening-welcome"
    )
    assert "2 members" in preview["content"] and "Welcome to QI Week" in preview["content"]
    done = await press(fake, preview, SEND_ID)
    assert "DMed to 2 members" in done["content"]
    for user in ("member", "member2"):
        [dm] = fake.dms(user)
        assert "Welcome to QI Week" in dm["content"]
        assert dm["embeds"][0]["description"] == "The welcome starts 5 minutes late"
        assert dm["allowed_mentions"] == {"parse": []}
    [stored] = await ann.recent(bot.store, fake.guild.id)
    for user in ("member", "member2"):
        delivery = await bot.ledger.get(dm_key(stored.id, fake.users[user]))
        assert delivery is not None and delivery.status == "sent"
    assert fake.dms("member") and fake.bot_messages("announcements")


async def test_members_with_reminders_off_get_no_announcement_dm(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await register_for_welcome(runner, fake, "member", "member2")
    bot = await runner.start()
    off = await fake.slash("member2", "reminders", setting="off")
    answer = await off.response()
    assert "Saved" in answer["data"]["content"]
    preview = await open_preview(
        fake, message="The welcome starts 5 minutes late", session="opening-welcome"
    )
    assert "1 member registered" in preview["content"]
    done = await press(fake, preview, SEND_ID)
    assert "DMed to 1 member." in done["content"]
    [dm] = fake.dms("member")
    assert dm["embeds"][0]["description"] == "The welcome starts 5 minutes late"
    assert fake.dms("member2") == []
    [stored] = await ann.recent(bot.store, fake.guild.id)
    assert await bot.ledger.get(dm_key(stored.id, fake.users["member2"])) is None
    assert len(fake.bot_messages("announcements")) == 1  # they still see it in the channel


async def test_a_refused_post_is_marked_failed_and_the_organiser_told(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start()
    channel = fake.channels["announcements"]
    fake.inject(
        "POST", rf"/channels/{channel}/messages$", 403, code=50013, message="Missing Access"
    )
    preview = await open_preview(fake, message="Will not get through")
    done = await press(fake, preview, SEND_ID)
    assert "could not be posted" in done["content"] and "not allowed" in done["content"]
    [stored] = await ann.recent(bot.store, fake.guild.id)
    assert stored.status == "failed"
    delivery = await bot.ledger.get(post_key(stored.id))
    assert delivery is not None and delivery.status == "failed"
    assert fake.dms("organiser") == []  # told in the preview, not by DM


async def test_a_channel_the_bot_cannot_post_in_is_refused_up_front(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.deny_bot("digest", 1 << 11)  # Send Messages
    await runner.start()
    text = await refused(fake, message="x", slash_options={"channel": fake.channels["digest"]})
    assert "can't post in" in text and "Send Messages" in text


async def seed_announcement(runner: BotRunner, fake: FakeDiscord, minutes_ago: int) -> int:
    """Store a pending announcement due `minutes_ago` minutes ago, while the bot is down."""
    async with Store(runner.db_path) as store:
        created = await ann.create(
            store,
            guild_id=fake.guild.id,
            author_id=fake.users["organiser"],
            channel_id=fake.channels["announcements"],
            body="Posted while the bot was down",
            send_at=utc_now() - timedelta(minutes=minutes_ago),
        )
        return created.id


async def test_a_send_interrupted_by_a_crash_is_resumed_with_its_nonce_never_skipped(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    announcement_id = await seed_announcement(runner, fake, minutes_ago=30)  # past the grace
    async with Store(runner.db_path) as store:  # an earlier run claimed it, then died
        claim = await Ledger(store).claim(post_key(announcement_id), kind="announcement")
        assert claim is Claim.NEW
    bot = await runner.start()
    [posted] = await fake.wait_for(lambda: fake.bot_messages("announcements"))
    assert posted["nonce"] == nonce_for(post_key(announcement_id))
    await wait_status(bot, announcement_id, "late")
    assert fake.dms("organiser") == []


async def test_a_scheduled_post_that_fails_is_told_to_its_author(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    announcement_id = await seed_announcement(runner, fake, minutes_ago=2)
    channel = fake.channels["announcements"]
    fake.inject("POST", rf"/channels/{channel}/messages$", 404, code=10003, message="Unknown")
    bot = await runner.start()
    [dm] = await fake.wait_for(lambda: fake.dms("organiser"))
    assert f"#{announcement_id}" in dm["content"] and "no longer exists" in dm["content"]
    await wait_status(bot, announcement_id, "failed")
