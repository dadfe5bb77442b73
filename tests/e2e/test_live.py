"""End to end (issue 12): "Starting now" with a thread once (also across restarts), feedback
buttons in the thread at the end (persistent, counted after archiving), the figures in `stats`
and the export, and announcements published once in an Announcement channel."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.delivery.keys import crosspost_key, feedback_key, live_key, live_thread_key
from bot.sandbox import FakeDiscord
from bot.services.live import Crossposter
from bot.store import native
from tests.harness import BotRunner, button, now, settled_row, text_of, write_programme


def starting_posts(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.bot_messages("programme") if "Starting now" in text_of(m)]


async def test_starting_now_thread_and_feedback_once_across_restarts(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    start = now() + timedelta(seconds=4)
    session = {
        "id": "huddle",
        "title": "Safety huddle " + "with a very long name " * 6,
        "start": start,
        "end": start + timedelta(seconds=8),
    }
    path = write_programme(tmp_path / "p.yaml", [session])
    await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    # The bot stops before the start and comes back while the session runs: caught up, once.
    await runner.stop()
    await asyncio.sleep(max(0.0, (start - now()).total_seconds()) + 1)
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    [post] = await fake.wait_for(lambda: starting_posts(fake), message="Starting now")
    await fake.wait_for(lambda: fake.threads, message="the thread")
    [thread] = fake.threads.values()
    assert thread["id"] == post["id"] and thread["parent_id"] == str(fake.channels["programme"])
    assert len(thread["name"]) <= 100 and thread["name"].startswith("Safety huddle")
    assert thread["thread_metadata"]["auto_archive_duration"] in (60, 1440, 4320, 10080)
    assert post["allowed_mentions"] == {"parse": []} and post["mention_everyone"] is False
    join = [c for row in post["components"] for c in row["components"]]
    assert join[0]["label"] == "Join" and join[0]["url"].endswith("/join/huddle")
    assert "Example NHS Trust" in text_of(post)

    # A restart during the session: still one post, one thread.
    bot = await runner.restart(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    guild = fake.guild.id
    programme = await bot.services.programme.get_programme(guild)
    s = programme.get("huddle")
    row = await settled_row(bot, live_key(guild, s.id, s.start))
    assert row is not None and row.status == "sent"
    await bot.services.live.run_start(guild, "huddle")  # a second run finds it done
    assert len(starting_posts(fake)) == 1 and len(fake.threads) == 1
    # One thread made; a create interrupted by the restart is answered 160004 and recorded.
    made = [r for r in fake.requests_to("POST", r"/threads$") if r.status == 201]
    assert len(made) == 1

    # At the end: the feedback prompt in the thread, once.
    thread_id = int(thread["id"])
    prompt = await fake.wait_for(
        lambda: fake.bot_messages(thread_id), timeout=15, message="the feedback prompt"
    )
    prompt = prompt[0]
    labels = [c["label"] for r in prompt["components"] for c in r["components"]]
    assert labels == ["1", "2", "3", "4", "5", "I attended"]
    assert (await settled_row(bot, feedback_key(guild, s.id, s.start))).status == "sent"  # type: ignore[union-attr]
    assert (await settled_row(bot, live_thread_key(guild, s.id, s.start))).message_id == thread_id  # type: ignore[union-attr]

    # The buttons survive a restart and count after the thread is archived.
    bot = await runner.restart(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    fake.archive_thread(thread_id)
    answer = await (await fake.click("member", prompt, button(prompt, "3"))).response()
    assert "3/5" in answer["data"]["content"] and answer["data"]["flags"] & 64
    answer = await (await fake.click("member", prompt, button(prompt, "4"))).response()
    assert "4/5" in answer["data"]["content"]  # changed, not added
    answer = await (await fake.click("member", prompt, button(prompt, "I attended"))).response()
    assert "attended" in answer["data"]["content"] and "4/5" in answer["data"]["content"]
    await (await fake.click("member2", prompt, button(prompt, "I attended"))).response()
    figures = (await native.session_figures(bot.store, guild))["huddle"]
    assert (figures.attended, figures.feedback, figures.mean) == (2, 1, 4.0)
    assert len(fake.bot_messages(thread_id)) == 1 and len(starting_posts(fake)) == 1

    # `/organiser stats` and the interest export show them.
    it = await fake.slash("organiser", "organiser stats")
    await it.response()
    followups = await it.followups(2, timeout=5)
    shown = "\n".join(text_of(m) for m in followups)
    assert "2 attended, 1 rated, mean 4.0" in shown
    it = await fake.slash("organiser", "organiser export", what="interest")
    await it.response()
    [export] = await it.followups(1, timeout=5)
    data = export["attachments"][0]["bytes"].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(data)))
    [row] = [r for r in rows if r["session_id"] == "huddle"]
    assert (row["attended"], row["feedback_count"], row["feedback_mean"]) == ("2", "1", "4.00")
    assert row["registered_command"] == "0" and row["registered_discord_event"] == "0"
    # The impact report counts the same attendance and feedback (its LifecycleData).
    it = await fake.slash("organiser", "organiser export", what="report-csv")
    message = await it.wait_original(lambda m: m["attachments"], timeout=30)
    rows = list(csv.DictReader(io.StringIO(message["attachments"][0]["bytes"].decode("utf-8-sig"))))
    [host] = [r for r in rows if r["organisation"] == "Example NHS Trust"]
    assert host["attended"] == "2" and host["feedback_count"] in ("1", "<5")


async def test_a_session_over_while_the_bot_was_down_gets_no_starting_now(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    start = now() - timedelta(minutes=30)
    path = write_programme(tmp_path / "p.yaml", [{"id": "past", "start": start, "minutes": 20}])
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    programme = await bot.services.programme.get_programme(fake.guild.id)
    await bot.services.live.run_start(fake.guild.id, "past")
    past = programme.get("past")
    row = await bot.ledger.get(live_key(fake.guild.id, past.id, past.start))
    assert row is not None and row.status == "skipped" and starting_posts(fake) == []


async def test_an_announcement_in_an_announcement_channel_is_published_once(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.make_announcement_channel()
    bot = await runner.start(QIWEEK_SCHEDULED_EVENTS="off")
    it = await fake.slash("organiser", "organiser announce", message="Keynote moved to 2pm")
    await it.response()
    preview = await it.wait_original()
    send = next(c["custom_id"] for r in preview["components"] for c in r["components"])
    await (await fake.click("organiser", preview, send)).response()
    [posted] = await fake.wait_for(lambda: fake.bot_messages("announcements"), message="post")
    await fake.wait_for(lambda: fake.crossposted, message="the crosspost")
    assert fake.crossposted == [int(posted["id"])]
    key = crosspost_key(fake.guild.id, fake.channels["announcements"], int(posted["id"]))
    for _ in range(250):
        row = await bot.ledger.get(key)
        if row is not None and row.status == "sent":
            break
        await asyncio.sleep(0.02)
    assert row is not None and row.status == "sent"
    bot = await runner.restart(QIWEEK_SCHEDULED_EVENTS="off")
    await bot.schedule.replan(fake.guild.id)
    await asyncio.sleep(0.3)
    assert len(fake.requests_to("POST", r"/crosspost$")) == 1


async def test_publishes_beyond_ten_an_hour_wait_for_room_and_are_retried(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    fake.make_announcement_channel()
    bot = await runner.start(QIWEEK_SCHEDULED_EVENTS="off")
    channel = fake.channels["announcements"]
    crossposter: Crossposter = bot.services.crossposter
    ids = []
    for i in range(11):
        msg = await fake.post_message("owner", "announcements", f"news {i}")
        ids.append(int(msg["id"]))
    for mid in ids[:10]:
        assert await crossposter.publish(fake.guild.id, channel, mid)
    # The 11th does not reach Discord (no 429): it is deferred and planned for later.
    assert not await crossposter.publish(fake.guild.id, channel, ids[10])
    assert len(fake.requests_to("POST", r"/crosspost$")) == 10 and fake.count_429 == 0
    jobs = await crossposter.plan(fake.guild.id, bot.clock())
    assert len(jobs) == 1 and jobs[0].run_at > bot.clock() + timedelta(minutes=59)


async def test_a_thread_create_cut_by_a_stop_is_recorded_not_repeated(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    start = now() + timedelta(seconds=2)
    path = write_programme(
        tmp_path / "p.yaml", [{"id": "cafe", "start": start, "end": start + timedelta(minutes=5)}]
    )
    held = fake.delay("POST", r"/threads$", 1.0, times=1)
    await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    await fake.wait_for(lambda: held.hits == 1, timeout=10, message="the thread create")
    await runner.stop()  # the create is still held: its answer never reaches the bot
    await fake.wait_for(lambda: fake.threads, message="Discord made the thread anyway")
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    s = (await bot.services.programme.get_programme(fake.guild.id)).get("cafe")
    key = live_thread_key(fake.guild.id, s.id, s.start)
    for _ in range(250):
        row = await bot.ledger.get(key)
        if row is not None and row.status == "sent":
            break
        await asyncio.sleep(0.02)
    [thread] = fake.threads.values()
    assert row is not None and row.status == "sent" and row.message_id == int(thread["id"])
    assert [r.status for r in fake.requests_to("POST", r"/threads$")] == [201, 400]
    assert len(starting_posts(fake)) == 1
