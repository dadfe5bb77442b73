"""End to end: reminders reach the channel and members' DMs exactly once, closed DMs are
mentioned in the channel, a restart mid-fan-out loses and repeats nothing, `/reminders off`
stops DMs, missed reminders are caught up or skipped, and schedule changes are told once."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.clock import to_db
from bot.delivery.context import Pacer, context_for
from bot.delivery.keys import dm_key, reminder_key
from bot.programme import ProgrammeDiff, Session
from bot.sandbox import FakeDiscord
from bot.store import Ledger, Store
from bot.store import interest as interest_store
from tests.harness import (
    BotRunner,
    import_programme,
    now,
    register,
    reminder_dms,
    reminder_posts,
    wait_quiet,
    write_programme,
)

LEAD = 1  # minute: QIWEEK_REMINDER_LEADS=1, so a session 60 s + a few seconds ahead is due now


def session_in(seconds: float, session_id: str = "huddle", **extra: Any) -> dict[str, Any]:
    """A session whose 1-minute reminder is due `seconds` from now."""
    start = now() + timedelta(seconds=60 + seconds)
    return {"id": session_id, "title": "Safety huddle", "start": start, **extra}


async def settled(bot: Any, key: str) -> Any:
    """The ledger row of `key` once it is sent, skipped or failed (jobs run in the background)."""
    async with asyncio.timeout(5):
        while True:
            row = await bot.ledger.get(key)
            if row is not None and row.status != "claimed":
                return row
            await asyncio.sleep(0.05)


async def test_a_reminder_reaches_the_channel_and_the_members_dms(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    path = write_programme(tmp_path / "p.yaml", [session_in(6)])
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD)
    fake.add_user("closed", global_name="Closed DMs")
    fake.add_user("quiet", global_name="Reminders Off")
    fake.close_dms("closed")
    await register(fake, ["member", "member2", "closed", "quiet"], "huddle")
    answer = await (await fake.slash("quiet", "reminders", setting="off")).response()
    assert "off" in answer["data"]["content"]

    posts = await fake.wait_for(lambda: reminder_posts(fake), timeout=15, message="reminder")
    await wait_quiet(runner.bot)  # anything duplicated would have arrived by then
    assert len(reminder_posts(fake)) == 1
    post = posts[0]
    embed = post["embeds"][0]
    assert "Safety huddle" in embed["title"]
    assert re.search(r"<t:\d+:F>", embed["description"]) and "4 interested" in embed["description"]
    buttons = [c for row in post["components"] for c in row["components"]]
    assert any(b.get("url") == "https://example.org/join/huddle" for b in buttons)
    closed_id = fake.users["closed"]
    assert f"<@{closed_id}>" in post["content"]
    assert [u["id"] for u in post["mentions"]] == [str(closed_id)]
    assert [int(u) for u in post["allowed_mentions"]["users"]] == [closed_id]
    assert post["allowed_mentions"]["parse"] == []

    for user in ("member", "member2"):
        dms = reminder_dms(fake, user)
        assert len(dms) == 1, user
        assert "Safety huddle" in dms[0]["content"] and "<t:" in dms[0]["content"]
        assert dms[0]["components"][0]["components"][0]["url"].endswith("/join/huddle")
    assert reminder_dms(fake, "quiet") == []
    assert (
        reminder_dms(fake, "closed") == []
    )  # refused by Discord (50007): mentioned in the channel

    guild = fake.guild.id
    start = (await bot.services.programme.get_session(guild, "huddle")).start
    assert (await bot.ledger.get(reminder_key(guild, "huddle", LEAD, start))).status == "sent"
    closed_row = await bot.ledger.get(dm_key(guild, "huddle", LEAD, start, closed_id))
    assert closed_row.status == "skipped" and closed_row.reason == "dm_closed"
    assert await bot.ledger.get(dm_key(guild, "huddle", LEAD, start, fake.users["quiet"])) is None
    assert (await bot.ledger.counts(guild, "dm")) == {"sent": 2, "skipped": 1}
    prefs = await bot.store.db.execute_fetchall(
        "SELECT user_id FROM member_prefs WHERE guild_id = ? AND dm_closed = 1", (guild,)
    )
    assert [row[0] for row in prefs] == [closed_id]

    # A restart plans nothing again for a reminder that went out.
    await runner.restart(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD)
    await wait_quiet(runner.bot)
    assert len(reminder_posts(fake)) == 1 and len(reminder_dms(fake, "member")) == 1


async def test_a_restart_in_the_middle_of_a_fanout_repeats_and_loses_nothing(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    names = [f"nurse{i:02d}" for i in range(30)]
    for name in names:
        fake.add_user(name)
    path = write_programme(tmp_path / "p.yaml", [session_in(8)])

    def slow(bot: Any) -> None:
        context_for(bot).pacer = Pacer(rate=10)  # 61 requests take ~6 s: time to stop mid-way

    # A budget above the 30 sign-ups: this test is about the restart, not the budget.
    await runner.start(
        QIWEEK_PROGRAMME=path,
        QIWEEK_REMINDER_LEADS=LEAD,
        QIWEEK_NEW_DMS_PER_MINUTE=100,
        before_login=slow,
    )
    await register(fake, names, "huddle")
    fake.set_global_rate_limit(50)

    def delivered() -> int:
        return sum(1 for name in names if reminder_dms(fake, name))

    await fake.wait_for(lambda: delivered() >= 5, timeout=20, message="the fan-out to begin")
    await runner.stop()  # the scheduler cancels the fan-out mid-way
    stopped_at = delivered()
    assert 5 <= stopped_at < len(names)

    bot = await runner.start(
        QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD, QIWEEK_NEW_DMS_PER_MINUTE=100
    )
    await fake.wait_for(lambda: reminder_posts(fake), timeout=15, message="the channel reminder")
    await wait_quiet(runner.bot)
    assert {name: len(reminder_dms(fake, name)) for name in names} == dict.fromkeys(names, 1)
    assert len(reminder_posts(fake)) == 1
    assert fake.count_429 == 0
    assert (await bot.ledger.counts(fake.guild.id, "dm")) == {"sent": len(names)}


async def test_reminders_off_stops_that_members_dms_only(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    path = write_programme(tmp_path / "p.yaml", [session_in(5)])
    await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD)
    await register(fake, ["member", "member2"], "huddle")
    await (await fake.slash("member2", "reminders", setting="off")).response()
    await fake.wait_for(lambda: reminder_posts(fake), timeout=15, message="reminder")
    await wait_quiet(runner.bot)
    assert len(reminder_dms(fake, "member")) == 1
    assert reminder_dms(fake, "member2") == []
    assert "2 interested" in reminder_posts(fake)[0]["embeds"][0]["description"]


async def test_a_reminder_missed_while_down_is_sent_if_the_session_has_not_started(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    started = now() - timedelta(minutes=2)
    huddle = session_in(4)
    path = write_programme(
        tmp_path / "p.yaml",
        [huddle, {"id": "begun", "title": "Begun", "start": started, "minutes": 60}],
    )
    guild, member = fake.guild.id, fake.users["member"]
    # A registration for a session that started while the bot was down (made before it began).
    async with Store(runner.db_path) as store:
        await interest_store.add_interest(store, guild, "begun", member)
        await interest_store.add_interest(store, guild, "begun", fake.users["member2"])
        # member2's DM was claimed by a run that died mid-send: it is resumed, never skipped.
        await Ledger(store).claim(
            dm_key(guild, "begun", LEAD, started, fake.users["member2"]), kind="dm"
        )
    await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD)
    await register(fake, ["member"], "huddle")
    await runner.stop()
    assert reminder_dms(fake, "member") == []
    # The huddle's reminder falls due while the bot is down.
    due = huddle["start"] - timedelta(minutes=LEAD)
    await asyncio.sleep((due - datetime.now(UTC)).total_seconds() + 0.5)

    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD)
    await fake.wait_for(lambda: reminder_posts(fake), timeout=10, message="caught-up reminder")
    assert (
        len(reminder_dms(fake, "member")) == 1
        and "Safety huddle" in reminder_dms(fake, "member")[0]["content"]
    )
    row = await settled(bot, reminder_key(guild, "begun", LEAD, started))
    assert row.status == "skipped" and "started" in str(row.reason)
    user_row = await settled(bot, dm_key(guild, "begun", LEAD, started, member))
    assert user_row.status == "skipped"
    resumed = await settled(bot, dm_key(guild, "begun", LEAD, started, fake.users["member2"]))
    assert resumed.status == "sent"
    assert (
        len(reminder_dms(fake, "member2")) == 1
        and "Begun" in reminder_dms(fake, "member2")[0]["content"]
    )
    assert len(reminder_posts(fake)) == 1


async def test_a_moved_session_is_told_once_and_its_reminders_replanned(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    first = now() + timedelta(hours=3)
    sessions = [
        {"id": "huddle", "title": "Safety huddle", "start": first},
        {"id": "cafe", "title": "QI café", "start": first + timedelta(hours=1)},
    ]
    path = write_programme(tmp_path / "p.yaml", sessions)
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    fake.add_user("closed")
    fake.close_dms("closed")
    await register(fake, ["member", "member2", "closed"], "huddle")
    await register(fake, ["member"], "cafe")

    moved = first + timedelta(hours=1, minutes=30)
    sessions[0]["start"] = moved
    del sessions[1]  # the café is cancelled
    new_file = write_programme(tmp_path / "new.yaml", sessions)
    await import_programme(fake, "new.yaml", new_file.read_bytes(), wait=5, response_wait=3)

    def notices() -> list[dict[str, Any]]:
        return [m for m in fake.bot_messages("programme") if "Programme change" in m["content"]]

    await fake.wait_for(lambda: len(notices()) == 2, timeout=10, message="two notices")
    await fake.wait_for(
        lambda: len(reminder_dms(fake, "member")) == 2, timeout=10, message="member DMs"
    )
    await wait_quiet(runner.bot)
    member_dms = [m["content"] for m in reminder_dms(fake, "member")]
    assert sum("has moved" in m for m in member_dms) == 1
    assert sum("cancelled" in m for m in member_dms) == 1
    assert (
        len(reminder_dms(fake, "member2")) == 1
        and "has moved" in reminder_dms(fake, "member2")[0]["content"]
    )
    moved_ts = f"<t:{int(moved.timestamp())}:f>"
    assert moved_ts in reminder_dms(fake, "member2")[0]["content"]
    closed_id = fake.users["closed"]
    mentions = [m for m in fake.bot_messages("programme") if f"<@{closed_id}>" in m["content"]]
    assert len(mentions) == 1
    assert [int(u) for u in mentions[0]["allowed_mentions"]["users"]] == [closed_id]
    # The registration of the cancelled session is kept for the record.
    assert await interest_store.is_interested(
        bot.store, fake.guild.id, "cafe", fake.users["member"]
    )

    # Reminders follow the new time; none is left for the cancelled session.
    jobs = [job for job, _ in bot.schedule.jobs(fake.guild.id) if job.startswith("reminders:")]
    assert jobs == [f"reminders:{fake.guild.id}:huddle:15:{to_db(moved)}"]

    # The same change again (a restart re-seeding nothing new, a re-run) tells nobody twice.
    same = ProgrammeDiff(changed=((_session(first), _session(moved)),))
    await bot.services.changes.on_programme_change(fake.guild.id, same)
    await wait_quiet(runner.bot)
    assert len(reminder_dms(fake, "member2")) == 1 and len(notices()) == 2


def _session(start: datetime) -> Session:
    return Session(
        id="huddle",
        title="Safety huddle",
        start=start,
        end=start + timedelta(minutes=45),
        host="Example NHS Trust",
        join_url="https://example.org/join/huddle",
    )


async def test_a_members_own_lead_gets_its_own_reminder(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """`/reminders 30` plans a 30-minute reminder for that member only; the job is run here
    directly (its time is half an hour away), as the scheduler would run it."""
    fake = fake_discord
    start = now() + timedelta(hours=2)
    path = write_programme(tmp_path / "p.yaml", [{"id": "huddle", "start": start}])
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    fake.add_user("closed")
    fake.close_dms("closed")
    await register(fake, ["member", "member2", "closed"], "huddle")
    for user in ("member", "closed"):
        await (await fake.slash(user, "reminders", setting="30")).response()
    guild = fake.guild.id
    job = f"reminders:{guild}:huddle:30:{to_db(start)}"
    await fake.wait_for(
        lambda: job in [j for j, _ in bot.schedule.jobs(guild)], timeout=5, message="30-min job"
    )
    service = bot.services.reminders
    await service.run_reminder(guild, "huddle", 30, start)
    assert len(reminder_dms(fake, "member")) == 1 and reminder_dms(fake, "member2") == []
    posts = fake.bot_messages("programme")
    mention = [m for m in posts if f"<@{fake.users['closed']}>" in m["content"]]
    assert len(mention) == 1 and not mention[0]["embeds"]  # no full post at a member's own lead
    assert reminder_posts(fake) == []
    row = await bot.ledger.get(reminder_key(guild, "huddle", 30, start))
    assert row is not None and row.status == "sent"
    await service.run_reminder(guild, "huddle", 30, start)  # a second run sends nothing
    assert len(reminder_dms(fake, "member")) == 1 and len(fake.bot_messages("programme")) == len(
        posts
    )
    # The server's 15-minute reminder DMs only member2 (the others chose 30).
    await service.run_reminder(guild, "huddle", 15, start)
    assert len(reminder_dms(fake, "member2")) == 1 and len(reminder_dms(fake, "member")) == 1
    assert "3 interested" in reminder_posts(fake)[0]["embeds"][0]["description"]


async def test_leads_caught_up_together_send_only_the_smallest_with_the_real_time_left(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """Both the 60- and the 15-minute reminder of a session 10 minutes away are due when the
    bot starts: members get one DM (the 15-minute one), the channel one post saying how long
    is really left, and the 60-minute sends are recorded as skipped with the reason."""
    fake = fake_discord
    start = now() + timedelta(minutes=10)
    path = write_programme(tmp_path / "p.yaml", [{"id": "huddle", "start": start}])
    guild = fake.guild.id
    members = [fake.users["member"], fake.users["member2"]]
    async with Store(runner.db_path) as store:
        for user in members:
            await interest_store.add_interest(store, guild, "huddle", user)
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS="60,15")
    posts = await fake.wait_for(lambda: reminder_posts(fake), timeout=10, message="catch-up")
    for user in members:
        await settled(bot, dm_key(guild, "huddle", 15, start, user))
    await wait_quiet(runner.bot)  # anything duplicated would have arrived by then
    assert len(reminder_posts(fake)) == 1
    title = posts[0]["embeds"][0]["title"]
    assert re.match(r"Starting in (9|10) minutes: ", title), title
    assert f"<t:{int(start.timestamp())}:R>" in posts[0]["embeds"][0]["description"]
    assert len(reminder_dms(fake, "member")) == 1 and len(reminder_dms(fake, "member2")) == 1

    skipped = await settled(bot, reminder_key(guild, "huddle", 60, start))
    assert skipped.status == "skipped" and "15-minute" in str(skipped.reason)
    for user in members:
        row = await settled(bot, dm_key(guild, "huddle", 60, start, user))
        assert row.status == "skipped" and "caught up" in str(row.reason)
    assert (await bot.ledger.get(reminder_key(guild, "huddle", 15, start))).status == "sent"
