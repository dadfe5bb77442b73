"""End to end: the #QIWeek digest through the fake Discord, with the real bot and real SQLite.

Digest times are chosen relative to the real clock (the scheduler runs on real time): the
current local minute for a catch-up on start, a couple of minutes ahead for "not yet"; a planned
job is then fired through APScheduler itself rather than waiting for the minute to come round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.client import QIWeekBot
from bot.programme import combine_local
from bot.sandbox import FakeDiscord
from bot.store import audit
from bot.store import shares as store_shares
from tests.harness import BotRunner, eventually, wait_quiet

EPHEMERAL = 64
LONDON = ZoneInfo("Europe/London")
QUIET = "23:59"  # a digest time that does not come round during a test (except at 23:59)


def local_now() -> datetime:
    return datetime.now(UTC).astimezone(LONDON)


def this_minute() -> str:
    """A digest time that has just passed (or is now): the job catches up on start."""
    return f"{local_now():%H:%M}"


def share_of(bot: QIWeekBot, message: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    return lambda: store_shares.get_share(bot.store, int(message["id"]))


def gone(bot: QIWeekBot, message: dict[str, Any]) -> Awaitable[Any]:
    return eventually(share_of(bot, message), lambda s: s is None)


def embed_text(message: dict[str, Any]) -> str:
    """Titles, descriptions and footers of a message's embeds, as the reader sees the source."""
    parts = []
    for embed in message.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


async def settle(bot: QIWeekBot, fake: FakeDiscord, who: str = "member2") -> None:
    """Post a marker share and wait for it: every earlier gateway event has been handled."""
    marker = await fake.post_message(who, "general", "marker #QIWeek")
    await eventually(share_of(bot, marker), lambda s: s is not None)
    await store_shares.delete_share(bot.store, int(marker["id"]))


# ------------------------------------------------------------------------------ collecting


async def test_a_share_is_collected_edited_reacted_to_and_deleted(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    photo = fake.attachment("ward-board.png", b"\x89PNG fake", "image/png")
    msg = await fake.post_message(
        "member", "general", "Our huddle board went live (#qiweek)!", attachments=[photo]
    )
    await fake.post_message("member", "general", "Nothing to see #QIWeekly")
    await fake.post_message("member", "general", "`#QIWeek` in code and https://x.org/#QIWeek")
    await fake.post_message("other_bot", "general", "A bot says #QIWeek")
    await fake.dm_bot("member", "A DM says #QIWeek")
    share = await eventually(share_of(bot, msg))
    assert share.author_id == fake.users["member"]
    assert share.author_name == "Member One"
    assert share.channel_id == fake.channels["general"]
    assert share.content == "Our huddle board went live (#qiweek)!"
    assert share.jump_url.endswith(f"/{fake.guild.id}/{fake.channels['general']}/{msg['id']}")
    assert share.attachment_count == 1
    assert share.image_url is not None and share.image_url.endswith("ward-board.png")
    assert abs((share.created_at - datetime.now(UTC)).total_seconds()) < 60
    await settle(bot, fake)
    assert await store_shares.count_shares(bot.store, fake.guild.id) == 1  # only the real share

    await fake.edit_message(msg, "Our huddle board went live, 3 wards now #QIWeek")
    await eventually(share_of(bot, msg), lambda s: s.content.endswith("3 wards now #QIWeek"))

    await fake.react("member2", msg, "👏")
    await fake.react("organiser", msg, "🎉")
    await fake.react("organiser", msg, "👏")
    await eventually(share_of(bot, msg), lambda s: s.reaction_count == 3)
    await fake.unreact("organiser", msg, "👏")
    await eventually(share_of(bot, msg), lambda s: s.reaction_count == 2)

    await fake.edit_message(msg, "Our huddle board went live, no tag any more")
    await gone(bot, msg)
    await fake.edit_message(msg, "Tag is back #QIWeek")  # an edit can make a share, too
    back = await eventually(share_of(bot, msg))
    assert back.content == "Tag is back #QIWeek"

    await fake.delete_message(msg)
    await gone(bot, msg)
    # A moderator's bulk delete (MESSAGE_DELETE_BULK) removes every share in it.
    bulk = [await fake.post_message("member", "general", f"{n} #QIWeek") for n in range(3)]
    for message in bulk:
        await eventually(share_of(bot, message))
    await fake.dispatch(
        "MESSAGE_DELETE_BULK",
        {
            "ids": [m["id"] for m in bulk[:2]],
            "channel_id": str(fake.channels["general"]),
            "guild_id": str(fake.guild.id),
        },
    )
    await gone(bot, bulk[0])
    await gone(bot, bulk[1])
    await fake.delete_message(bulk[2])
    await gone(bot, bulk[2])
    # Replayed or out-of-order events never bring it back twice.
    await fake.delete_message(await fake.post_message("member", "general", "x #QIWeek"))
    await settle(bot, fake)
    assert await store_shares.count_shares(bot.store, fake.guild.id) == 0


async def test_uncached_messages_after_a_restart_still_update(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    kept = await fake.post_message("member", "general", "Kept #QIWeek")
    dropped = await fake.post_message("member", "general", "Dropped #QIWeek")
    await eventually(share_of(bot, dropped))
    bot = await runner.restart(QIWEEK_DIGEST_TIME=QUIET)
    assert not bot.cached_messages  # nothing cached: the raw payloads carry the work
    await fake.react("member2", kept, "👏")
    await eventually(share_of(bot, kept), lambda s: s.reaction_count == 1)
    assert fake.requests_to("GET", rf"/channels/\d+/messages/{kept['id']}$")  # fetched
    await fake.edit_message(dropped, "No tag now")
    await gone(bot, dropped)
    await fake.edit_message(kept, "Still #QIWeek, edited")
    await eventually(share_of(bot, kept), lambda s: s.content == "Still #QIWeek, edited")


async def test_opt_out_erases_and_stops_collection_and_opt_in_resumes(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    first = await fake.post_message("member", "general", "One #QIWeek")
    second = await fake.post_message("member", "programme", "Two #QIWeek")
    other = await fake.post_message("member2", "general", "Theirs #QIWeek")
    for message in (first, second, other):
        await eventually(share_of(bot, message))

    it = await fake.slash("member", "digest-opt-out")
    response = await it.response()
    assert response["data"]["flags"] & EPHEMERAL
    assert "Erased 2 stored shares of yours" in response["data"]["content"]
    assert await store_shares.get_share(bot.store, int(first["id"])) is None
    assert await store_shares.get_share(bot.store, int(second["id"])) is None
    assert await store_shares.get_share(bot.store, int(other["id"])) is not None

    ignored = await fake.post_message("member", "general", "Three #QIWeek")
    await settle(bot, fake)
    assert await store_shares.get_share(bot.store, int(ignored["id"])) is None
    # The author's opt-out wins over the context menu too.
    menu = await fake.context_menu("member2", "Add to QI Week digest", ignored)
    refused = await menu.response()
    assert refused["data"]["flags"] & EPHEMERAL
    assert "opted out" in refused["data"]["content"]
    assert await store_shares.get_share(bot.store, int(ignored["id"])) is None

    again = await fake.slash("member", "digest-opt-out")
    assert (await again.response())["data"]["content"].startswith(
        "You're already opted out; nothing stored."
    )

    back = await fake.slash("member", "digest-opt-in")
    welcome = (await back.response())["data"]["content"]
    assert "Welcome back" in welcome and "/digest-opt-out" in welcome
    resumed = await fake.post_message("member", "general", "Four #QIWeek")
    await eventually(share_of(bot, resumed))


# ----------------------------------------------------------------------------- context menus


async def test_context_menus_add_without_the_hashtag_and_remove_with_permission(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    # Posted while the bot was away: never seen on the gateway, so the menu's resolved target
    # is all the bot has (as without the Message Content intent).
    plain = await fake.post_message("member", "general", "We cut discharge delays by a day")
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)

    it = await fake.context_menu("member2", "Add to QI Week digest", plain)
    response = await it.response()
    assert response["data"]["flags"] & EPHEMERAL
    assert "Added" in response["data"]["content"]
    assert "Only its author or an organiser can remove it" in response["data"]["content"]
    assert "Remove from digest" in response["data"]["content"]
    share = await store_shares.get_share(bot.store, int(plain["id"]))
    assert share is not None and share.content == "We cut discharge delays by a day"
    assert await store_shares.is_manual(bot.store, int(plain["id"]))
    # The author hears about it once, after the menu was answered.
    notice = await fake.wait_for(lambda: fake.dms("member"), message="the author's notice")
    assert "patient-identifiable" in notice[0]["content"]
    # A manually added share survives edits without the hashtag.
    await fake.edit_message(plain, "We cut discharge delays by a day and a half")
    await eventually(share_of(bot, plain), lambda s: s.content.endswith("a half"))

    again = await fake.context_menu("member2", "Add to QI Week digest", plain)
    assert "already" in (await again.response())["data"]["content"]

    refused = await fake.context_menu("member2", "Remove from digest", plain)
    answer = await refused.response()
    assert answer["data"]["flags"] & EPHEMERAL
    assert "Only the message's author or an organiser" in answer["data"]["content"]
    assert await store_shares.get_share(bot.store, int(plain["id"])) is not None

    removed = await fake.context_menu("organiser", "Remove from digest", plain)
    assert "Removed" in (await removed.response())["data"]["content"]
    assert await store_shares.get_share(bot.store, int(plain["id"])) is None
    entries = await audit.recent(bot.store, fake.guild.id)
    assert entries[0].action == "remove-share" and entries[0].detail == plain["id"]

    own = await fake.post_message("member2", "general", "Mine #QIWeek")
    await eventually(share_of(bot, own))
    by_author = await fake.context_menu("member2", "Remove from digest", own)
    assert "Removed" in (await by_author.response())["data"]["content"]
    nothing = await fake.context_menu("member2", "Remove from digest", own)
    assert "isn't in the digest" in (await nothing.response())["data"]["content"]

    readded = await fake.context_menu("member2", "Add to QI Week digest", own)
    assert (
        "You can remove it with **Remove from digest**"
        in (await readded.response())["data"]["content"]
    )

    bot_post = await fake.post_message("other_bot", "general", "Beep")
    refused_bot = await fake.context_menu("member", "Add to QI Week digest", bot_post)
    assert "members' own messages" in (await refused_bot.response())["data"]["content"]


async def test_a_removed_share_stays_out_until_its_author_or_an_organiser_adds_it(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    msg = await fake.post_message("member", "general", "Our huddle board #QIWeek")
    await eventually(share_of(bot, msg))
    removed = await fake.context_menu("member", "Remove from digest", msg)
    assert "Removed" in (await removed.response())["data"]["content"]
    assert await store_shares.get_share(bot.store, int(msg["id"])) is None

    # An edit that keeps the hashtag, and a reaction, do not collect it again.
    await fake.edit_message(msg, "Our huddle board, now on 3 wards #QIWeek")
    await fake.react("member2", msg, "👏")
    await settle(bot, fake)
    assert await store_shares.get_share(bot.store, int(msg["id"])) is None

    # Another member's "Add to QI Week digest" is refused; the author's brings it back.
    refused = await fake.context_menu("member2", "Add to QI Week digest", msg)
    answer = (await refused.response())["data"]
    assert answer["flags"] & EPHEMERAL
    assert "only its author or an organiser can add it back" in answer["content"]
    assert await store_shares.get_share(bot.store, int(msg["id"])) is None
    back = await fake.context_menu("member", "Add to QI Week digest", msg)
    assert "Added" in (await back.response())["data"]["content"]
    share = await store_shares.get_share(bot.store, int(msg["id"]))
    assert share is not None and share.content == "Our huddle board, now on 3 wards #QIWeek"
    assert not await store_shares.is_removed(bot.store, int(msg["id"]))

    # An organiser may restore a share they removed, too.
    by_organiser = await fake.context_menu("organiser", "Remove from digest", msg)
    assert "Removed" in (await by_organiser.response())["data"]["content"]
    await fake.edit_message(msg, "Edited again #QIWeek")
    await settle(bot, fake)
    assert await store_shares.get_share(bot.store, int(msg["id"])) is None
    again = await fake.context_menu("organiser", "Add to QI Week digest", msg)
    assert "Added" in (await again.response())["data"]["content"]
    assert await store_shares.get_share(bot.store, int(msg["id"])) is not None


# ------------------------------------------------------------------------ one-off notice


async def test_the_privacy_notice_is_sent_once_and_skipped_when_dms_are_closed(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    guild = fake.guild.id
    await fake.post_message("member", "general", "First #QIWeek")
    await fake.wait_for(lambda: fake.dms("member"), message="the share notice DM")
    await fake.post_message("member", "general", "Second #QIWeek")
    fake.close_dms("member2")
    await fake.post_message("member2", "general", "Closed DMs #QIWeek")
    await eventually(
        lambda: bot.ledger.get(f"share-notice:{guild}:{fake.users['member2']}"),
        lambda row: row is not None and row.status == "skipped",
    )
    await settle(bot, fake, who="organiser")
    notices = fake.dms("member")
    assert len(notices) == 1
    text = notices[0]["content"]
    assert "patient-identifiable information" in text
    assert "/digest-opt-out" in text
    assert f"<#{fake.channels['digest']}>" in text
    sent = [
        r for r in fake.requests_to("POST", r"/channels/\d+/messages$") if "nonce" in (r.json or {})
    ]
    assert any(r.json["content"] == text and r.json["enforce_nonce"] for r in sent)
    row = await bot.ledger.get(f"share-notice:{guild}:{fake.users['member']}")
    assert row is not None and row.status == "sent"
    skipped = await bot.ledger.get(f"share-notice:{guild}:{fake.users['member2']}")
    assert skipped is not None and skipped.reason == "dm_closed"

    fake.open_dms("member2")
    bot = await runner.restart(QIWEEK_DIGEST_TIME=QUIET)
    await fake.post_message("member", "general", "Third #QIWeek")
    await fake.post_message("member2", "general", "Open again #QIWeek")
    await settle(bot, fake, who="organiser")
    await wait_quiet(runner.bot)
    assert len(fake.dms("member")) == 1
    assert fake.dms("member2") == []  # recorded as skipped: never retried


# ------------------------------------------------------------------------------ daily digest


async def test_the_daily_digest_catches_up_pings_nobody_and_posts_once_across_restarts(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    role = fake.roles["organiser"]
    loud = await fake.post_message(
        "member", "general", f"@everyone and <@&{role}> and @here: see our **board** #QIWeek"
    )
    top = await fake.post_message("member2", "programme", "Most loved #QIWeek")
    await fake.react("member", top, "👏")
    await eventually(share_of(bot, top), lambda s: s is not None and s.reaction_count == 1)
    await eventually(share_of(bot, loud))
    assert fake.bot_messages("digest") == []

    # The bot was down at digest time: on start the same day it catches up.
    bot = await runner.restart(QIWEEK_DIGEST_TIME=this_minute())
    posted = await fake.wait_for(lambda: fake.bot_messages("digest"), message="the digest")
    await wait_quiet(runner.bot)
    posted = fake.bot_messages("digest")
    assert len(posted) == 1
    digest = posted[0]
    assert digest["allowed_mentions"] == {"parse": []}
    assert digest["mention_everyone"] is False
    assert digest["mention_roles"] == [] and digest["mentions"] == []
    text = embed_text(digest)
    assert "@\u200beveryone" in text and "@\u200bhere" in text
    assert f"<@&{role}>" in text  # reads as the role's name, pings nobody
    assert "\\*\\*board\\*\\*" in text  # markdown shown as typed
    assert text.index("Most loved") < text.index("@\u200beveryone")  # most-reacted first
    assert "2 shares" in text and "2 contributors" in text and "2 channels" in text
    today = local_now().date()
    row = await bot.ledger.get(f"digest:{fake.guild.id}:{today.isoformat()}:1")
    assert row is not None and row.status == "sent" and row.message_id == int(digest["id"])
    request = fake.requests_to("POST", rf"/channels/{fake.channels['digest']}/messages$")[-1]
    assert request.json["allowed_mentions"]["parse"] == []
    assert request.json["enforce_nonce"] is True

    # Restarts the same day, after the time: never a second digest.
    for _ in range(2):
        bot = await runner.restart(QIWEEK_DIGEST_TIME=this_minute())
        await wait_quiet(runner.bot)
    assert len(fake.bot_messages("digest")) == 1
    assert await bot.services.digest.run_daily(fake.guild.id, today) == 0


async def test_a_failed_digest_is_retried_on_the_next_start_that_day(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    msg = await fake.post_message("member", "general", "Retry me #QIWeek")
    await eventually(share_of(bot, msg))
    digest_posts = rf"/channels/{fake.channels['digest']}/messages$"
    fake.inject("POST", digest_posts, 403, code=50013, message="Missing Permissions")
    bot = await runner.restart(QIWEEK_DIGEST_TIME=this_minute())
    key = f"digest:{fake.guild.id}:{local_now().date().isoformat()}:1"
    row = await eventually(
        lambda: bot.ledger.get(key), lambda r: r is not None and r.status == "failed"
    )
    assert "Missing Permissions" in (row.reason or "")
    assert fake.bot_messages("digest") == []
    bot = await runner.restart(QIWEEK_DIGEST_TIME=this_minute())
    await fake.wait_for(lambda: fake.bot_messages("digest"), message="the retried digest")
    await eventually(lambda: bot.ledger.get(key), lambda r: r.status == "sent")
    assert len(fake.bot_messages("digest")) == 1


async def test_the_daily_digest_waits_for_its_time_then_posts_once(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    ahead = local_now() + timedelta(minutes=2)
    at = f"{ahead:%H:%M}"
    bot = await runner.start(QIWEEK_DIGEST_TIME=at)
    msg = await fake.post_message("member", "general", "Waiting for the digest #QIWeek")
    await eventually(share_of(bot, msg))
    today = local_now().date()
    job_id = f"digest:{fake.guild.id}:post:{today.isoformat()}"
    planned = dict(bot.schedule.jobs(fake.guild.id))
    expected = combine_local(ahead.date(), ahead.time().replace(second=0, microsecond=0), LONDON)
    if ahead.date() == today:  # (just before midnight the time is tomorrow's)
        assert planned[job_id] == expected
    await wait_quiet(runner.bot)
    assert fake.bot_messages("digest") == []  # not before its time

    # Its time comes: fire the planned job through the scheduler instead of waiting.
    bot.schedule.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
    await fake.wait_for(lambda: fake.bot_messages("digest"), message="the digest")
    assert "Waiting for the digest" in embed_text(fake.bot_messages("digest")[0])
    bot = await runner.restart(QIWEEK_DIGEST_TIME=at)
    assert job_id in dict(bot.schedule.jobs(fake.guild.id))  # planned again after a restart...
    bot.schedule.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC))
    await fake.wait_for(lambda: job_id not in dict(bot.schedule.jobs(fake.guild.id)))
    await wait_quiet(runner.bot)
    assert len(fake.bot_messages("digest")) == 1  # ...but the ledger says it went out


async def test_weekly_roundup_follows_on_the_events_last_day(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    today = local_now().date()
    first = today - timedelta(days=7)  # eight days, so the event week ends today
    programme = tmp_path / "programme.yaml"
    programme.write_text(
        "event:\n  name: Test QI Week\n  timezone: Europe/London\nsessions:\n"
        + "".join(
            f"  - title: Session {n}\n    start: {day.isoformat()} 12:00\n"
            "    duration_minutes: 30\n"
            for n, day in enumerate((first, today))
        )
    )
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET, QIWEEK_PROGRAMME=programme)
    msg = await fake.post_message("member", "general", "Last day share #QIWeek")
    await eventually(share_of(bot, msg))
    ctx = await bot.services.digest.context(fake.guild.id)
    assert ctx.event_days[0] == first and ctx.event_days[-1] == today
    # Missed digests of earlier event days are recorded, not posted late.
    yesterday = (today - timedelta(days=1)).isoformat()
    missed = await bot.ledger.get(f"digest:{fake.guild.id}:{yesterday}:1")
    assert missed is not None and missed.status == "skipped"

    bot = await runner.restart(QIWEEK_DIGEST_TIME=this_minute(), QIWEEK_PROGRAMME=programme)
    await fake.wait_for(lambda: len(fake.bot_messages("digest")) >= 2, message="the roundup")
    await wait_quiet(runner.bot)
    digest, weekly = fake.bot_messages("digest")
    assert "Test QI Week digest" in embed_text(digest)
    assert "Test QI Week: the week in shares" in embed_text(weekly)
    assert "Shares per day" in embed_text(weekly) and "Last day share" in embed_text(weekly)
    assert weekly["allowed_mentions"] == {"parse": []}
    row = await bot.ledger.get(f"weekly:{fake.guild.id}:{today.isoformat()}:1")
    assert row is not None and row.status == "sent"
    bot = await runner.restart(QIWEEK_DIGEST_TIME=this_minute(), QIWEEK_PROGRAMME=programme)
    await wait_quiet(runner.bot)
    assert len(fake.bot_messages("digest")) == 2


# --------------------------------------------------------------------- commands and exports


async def test_digest_command_post_digest_and_exports(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    guild = fake.guild.id
    msg = await fake.post_message("member", "general", "=SUM(A1) @everyone café #QIWeek")
    await eventually(share_of(bot, msg))

    it = await fake.slash("member", "digest")
    await it.response()
    (page,) = await it.followups(1)
    assert page["flags"] & EPHEMERAL
    assert page["allowed_mentions"] == {"parse": []}
    assert "café" in embed_text(page)
    assert it.elapsed is not None and it.elapsed < 3

    yesterday = await fake.slash("member", "digest", day="yesterday")
    await yesterday.response()
    (empty,) = await yesterday.followups(1)
    # A past day: no "will appear in the next digest" invitation.
    assert "No #QIWeek shares on" in embed_text(empty)
    assert "next digest" not in embed_text(empty)

    bad = await fake.slash("member", "digest", day="someday")
    answer = await bad.response()
    assert answer["data"]["flags"] & EPHEMERAL
    assert "YYYY-MM-DD" in answer["data"]["content"] and "yesterday" in answer["data"]["content"]

    refused = await fake.slash("member", "organiser post-digest")
    assert "Only organisers" in (await refused.response())["data"]["content"]
    assert fake.bot_messages("digest") == []
    posted = await fake.slash("organiser", "organiser post-digest", day="today")
    await posted.response()
    (confirm,) = await posted.followups(1)
    assert "Posted the digest" in confirm["content"]
    (digest,) = fake.bot_messages("digest")
    assert digest["allowed_mentions"] == {"parse": []} and digest["mention_everyone"] is False
    entries = await audit.recent(bot.store, guild)
    assert entries[0].action == "post-digest"

    service = bot.services.digest
    data = await service.export_shares_csv(guild)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "'=SUM(A1) @everyone café #QIWeek" in text  # a formula never runs in Excel
    assert msg["id"] in text
    markdown = await service.export_digest_markdown(guild, local_now().date())
    assert "café" in markdown and "[Read the full post on Discord]" in markdown
    week = await service.export_digest_markdown(guild, None)
    assert week.startswith("# ") and "patient-identifiable" in week


async def test_retention_deletes_old_shares_on_start(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET, QIWEEK_SHARE_RETENTION_DAYS=30)
    fresh = await fake.post_message("member", "general", "Fresh #QIWeek")
    stored = await eventually(share_of(bot, fresh))
    old_time = datetime.now(UTC) - timedelta(days=31)
    await store_shares.upsert_share(
        bot.store, replace(stored, message_id=int(fresh["id"]) - 1, created_at=old_time)
    )
    assert await store_shares.count_shares(bot.store, fake.guild.id) == 2
    bot = await runner.restart(QIWEEK_DIGEST_TIME=QUIET, QIWEEK_SHARE_RETENTION_DAYS=30)
    await eventually(lambda: store_shares.count_shares(bot.store, fake.guild.id), lambda n: n == 1)
    assert await store_shares.get_share(bot.store, int(fresh["id"])) is not None


async def test_digest_for_a_date_out_of_range_says_what_is_accepted(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    for value in ("9999-12-31", "0001-01-01"):
        it = await fake.slash("member", "digest", day=value)
        answer = await it.response()
        assert answer["data"]["flags"] & EPHEMERAL
        content = answer["data"]["content"]
        assert f"'{value}' is too far away" in content and "2000-01-01 to 2099-12-31" in content
    assert not fake.rejected
