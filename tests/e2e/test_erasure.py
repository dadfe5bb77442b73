"""End to end (issue 11): erasure reaches what was posted. Opting out, "Remove from digest" and
retention edit digests already in the channel so the member's name and words are gone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import to_db
from bot.sandbox import FakeDiscord
from bot.services.redaction import REMOVED_TEXT
from bot.store import Store
from bot.store import posted as posted_store
from bot.store import shares as store_shares
from tests.harness import BotRunner, eventually, text_of

LONDON = ZoneInfo("Europe/London")
QUIET = "23:59"


def stored(bot: Any, message: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    return lambda: store_shares.get_share(bot.store, int(message["id"]))


def current(fake: FakeDiscord, message_id: int) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        found = fake.message(message_id)
        assert found is not None
        return text_of(found)

    return probe


async def test_opt_out_and_remove_edit_the_posted_digest(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    mine = await fake.post_message("member", "general", "Ward 7 cut falls by half #QIWeek")
    theirs = await fake.post_message("member2", "general", "Our huddle board #QIWeek")
    for message in (mine, theirs):
        await eventually(stored(bot, message))
    today = datetime.now(UTC).astimezone(LONDON).date()
    assert await bot.services.digest.run_daily(fake.guild.id, today) == 1
    [digest] = fake.bot_messages("digest")
    digest_id = int(digest["id"])
    assert "Ward 7 cut falls" in text_of(digest) and "Member One" in text_of(digest)

    it = await fake.slash("member", "digest-opt-out")
    assert "Erased 1 stored share" in (await it.response())["data"]["content"]
    text = await eventually(current(fake, digest_id), lambda t: "Ward 7" not in t)
    assert "Member One" not in text
    assert "Our huddle board" in text and "Member Two" in text  # the others stay
    edit = fake.requests_to("PATCH", rf"/channels/{fake.channels['digest']}/messages/{digest_id}")
    assert edit and edit[-1].json["allowed_mentions"]["parse"] == []

    removed = await fake.context_menu("member2", "Remove from digest", theirs)
    assert "Removed" in (await removed.response())["data"]["content"]
    text = await eventually(current(fake, digest_id), lambda t: "huddle board" not in t)
    assert REMOVED_TEXT in text and "Member Two" not in text
    assert len(fake.bot_messages("digest")) == 1  # edited in place, nothing new posted


async def test_a_posted_digest_is_edited_after_a_restart_if_the_stop_came_first(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    mine = await fake.post_message("member", "general", "Discharge before noon #QIWeek")
    await eventually(stored(bot, mine))
    posted = await fake.slash("organiser", "organiser post-digest")
    await posted.followups(1)
    [digest] = fake.bot_messages("digest")
    # The erasure is recorded but the bot stops before editing (as if killed mid-way): done
    # here with the bot down, on the database itself, as the collector does it.
    await runner.stop()
    async with Store(runner.db_path) as store:
        member = fake.users["member"]
        await posted_store.mark_posts_with_shares(store, fake.guild.id, [int(mine["id"])])
        await store_shares.opt_out(store, fake.guild.id, member)
    assert "Discharge before noon" in text_of(fake.message(digest["id"]) or {})
    await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    await eventually(current(fake, int(digest["id"])), lambda t: "Discharge" not in t)


async def test_retention_runs_for_every_server_and_edits_old_digests(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    bot = await runner.start(QIWEEK_DIGEST_TIME=QUIET)
    mine = await fake.post_message("member", "general", "Old news #QIWeek")
    await eventually(stored(bot, mine))
    today = datetime.now(UTC).astimezone(LONDON).date()
    await bot.services.digest.run_daily(fake.guild.id, today)
    [digest] = fake.bot_messages("digest")
    long_ago = to_db(datetime.now(UTC) - timedelta(days=200))
    db = bot.store.db
    await db.execute("UPDATE shares SET created_at = ?", (long_ago,))
    await db.execute("UPDATE posted_digests SET posted_at = ?", (long_ago,))
    await db.execute("UPDATE deliveries SET updated_at = ?", (long_ago,))
    # A server this run never prepared (another QIWEEK_GUILD_ID before): retention reaches it.
    await db.execute(
        "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name, content,"
        " jump_url, created_at) VALUES (1, 999, 1, 2, 'x', '#QIWeek', 'https://x', ?)",
        (long_ago,),
    )
    # (The retention job planned at start may run meanwhile too: the outcome is the same.)
    await bot.services.digest.apply_retention()
    assert await store_shares.count_shares(bot.store, 999) == 0
    assert await store_shares.count_shares(bot.store, fake.guild.id) == 0
    text = await eventually(current(fake, int(digest["id"])), lambda t: "Old news" not in t)
    assert REMOVED_TEXT in text
    left = await bot.store.fetch_one(
        "SELECT COUNT(*) FROM deliveries WHERE guild_id = ?", (fake.guild.id,)
    )
    assert left is not None and left[0] == 0
    figures = await bot.store.fetch_all(
        "SELECT kind, status, count FROM retired_counts WHERE source = 'deliveries'"
    )
    assert ("digest", "sent", 1) in [tuple(r) for r in figures]
