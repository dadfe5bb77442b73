"""Reminders that reach people on the real Discord (issue 10): first contact at sign-up, the
new-DM budget, 40003 and quarantine, `/reminders mention`, organiser alerts, stored DM channels.

The fake enforces Discord's DM rules (`bot/sandbox/dm_rules.py`): 40003 beyond a rate of new DM
opens, and a quarantine mode in which users never messaged cannot be DMed.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.sandbox import FakeDiscord
from tests.harness import (
    BotRunner,
    first_contact_dms,
    now,
    register,
    reminder_dms,
    reminder_posts,
    text_of,
    wait_quiet,
    write_programme,
)

LEAD = 1  # minute
OPEN_DM = r"^/users/@me/channels$"


def session_at(start: datetime) -> dict[str, Any]:
    return {"id": "huddle", "title": "Safety huddle", "start": start}


def mentioned(fake: FakeDiscord) -> list[int]:
    """Members mentioned by the bot's reminder posts (every mention, repeats kept)."""
    return [int(u["id"]) for post in reminder_posts(fake) for u in post["mentions"]]


def stamp(message: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(message["timestamp"])


async def test_sixty_sign_ups_against_ten_new_dms_a_minute_reach_everyone_once(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    names = [f"m{i:02d}" for i in range(60)]
    for name in names:
        fake.add_user(name)
    start = now() + timedelta(seconds=60 + 12)
    path = write_programme(tmp_path / "p.yaml", [session_at(start)])
    fake.limit_dm_opens(10, window=60)
    await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD)
    await register(fake, names, "huddle")

    await fake.wait_for(lambda: reminder_posts(fake), timeout=30, message="the channel reminder")
    await asyncio.sleep(0.5)  # anything duplicated would arrive now
    ids = {name: fake.users[name] for name in names}
    by_dm = {name for name in names if reminder_dms(fake, name)}
    by_mention = mentioned(fake)
    for name in names:
        reached = len(reminder_dms(fake, name)) + by_mention.count(ids[name])
        assert reached == 1, name
    assert len(by_dm) == 10  # the ten whose first contact went through before the 40003
    assert all(len(first_contact_dms(fake, name)) == 1 for name in by_dm)
    assert fake.count_40003 <= 3
    assert all(stamp(m) < start for m in reminder_posts(fake))
    assert all(stamp(reminder_dms(fake, name)[0]) < start for name in by_dm)


async def test_quarantine_at_reminder_time_dms_members_dmed_before_and_alerts_once(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    names = [f"q{i:02d}" for i in range(20)]
    for name in names:
        fake.add_user(name)
    start = now() + timedelta(seconds=60 + 14)
    path = write_programme(tmp_path / "p.yaml", [session_at(start)])
    env = {
        "QIWEEK_PROGRAMME": path,
        "QIWEEK_REMINDER_LEADS": LEAD,
        "QIWEEK_NEW_DMS_PER_MINUTE": 10,  # half of them get their first contact at sign-up
        "QIWEEK_ORGANISER_CHANNEL_ID": fake.channels["general"],
    }
    bot = await runner.start(**env)
    await register(fake, names, "huddle", bot)
    greeted = [n for n in names if first_contact_dms(fake, n)]
    assert len(greeted) == 10
    await runner.stop()

    fake.quarantine()
    asked = len(fake.requests)
    bot = await runner.start(**env)
    await fake.wait_for(lambda: reminder_posts(fake), timeout=30, message="the channel reminder")
    await asyncio.sleep(0.5)
    others = [n for n in names if n not in greeted]
    assert all(len(reminder_dms(fake, n)) == 1 for n in greeted)
    assert all(reminder_dms(fake, n) == [] for n in others)
    assert sorted(mentioned(fake)) == sorted(fake.users[n] for n in others)
    assert fake.count_40003 <= 3

    # DM channel ids survived the restart: one request per member DMed before.
    after = fake.requests[asked:]
    for name in greeted:
        channel = fake.dm_channel_id(name)
        assert sum(r.path == f"/channels/{channel}/messages" for r in after) == 1
    opened = [r for r in after if r.path == "/users/@me/channels"]
    greeted_ids = {str(fake.users[n]) for n in greeted}
    assert not [r for r in opened if str((r.json or {}).get("recipient_id")) in greeted_ids]

    alerts = [m for m in fake.bot_messages("general") if "Direct messages" in m["content"]]
    assert len(alerts) == 1
    assert alerts[0]["allowed_mentions"] == {"parse": []}
    # `/organiser stats` shows it.
    it = await fake.slash("organiser", "organiser stats")
    [stats] = await it.followups(1, timeout=10)
    assert "dm_restricted" in text_of(stats)
    assert (await bot.ledger.counts(fake.guild.id, "alert")) == {"sent": 1}


async def test_closed_dms_are_told_in_the_answer_to_interested(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    path = write_programme(tmp_path / "p.yaml", [session_at(now() + timedelta(hours=3))])
    await runner.start(QIWEEK_PROGRAMME=path)
    fake.close_dms("member")
    it = await fake.slash("member", "interested", session="huddle")
    answer = await it.response()
    assert "registered" in answer["data"]["content"] and answer["data"]["flags"] & 64
    # The answer goes first (it never waits on the DM), then says what the DM did.
    text = (await it.wait_original(lambda m: "closed" in m["content"]))["content"]
    assert "registered" in text
    assert "direct messages from this server are closed" in text
    assert "Privacy Settings" in text and "Direct Messages" in text
    assert "mentioned in the programme channel" in text

    # A member whose DMs are open gets the one confirmation DM, and is told so.
    it = await fake.slash("member2", "interested", session="huddle")
    await it.wait_original(lambda m: "sent you a DM" in m["content"])
    [dm] = first_contact_dms(fake, "member2")
    assert "Safety huddle" in dm["content"] and "/reminders" in dm["content"]
    # Registering again never sends a second one, nor says so.
    again = await fake.slash("member2", "interested", session="huddle")
    assert "already registered" in (await again.response())["data"]["content"]
    await wait_quiet(runner.bot)
    assert "sent you a DM" not in again.original["content"]
    assert len(fake.dms("member2")) == 1


async def test_reminders_mention_means_no_dm_and_a_mention(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    start = now() + timedelta(seconds=60 + 6)
    path = write_programme(tmp_path / "p.yaml", [session_at(start)])
    await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=LEAD)
    answer = await (await fake.slash("member", "reminders", setting="mention")).response()
    assert "mentioned in the programme channel" in answer["data"]["content"]
    await register(fake, ["member", "member2"], "huddle")
    mine = await fake.slash("member", "my-sessions")
    [page] = await mine.followups(1, timeout=10)
    assert "mentioned in the programme channel" in text_of(page)
    await fake.wait_for(lambda: reminder_posts(fake), timeout=15, message="the channel reminder")
    await asyncio.sleep(0.3)
    assert fake.dms("member") == []  # not even a first-contact DM
    assert mentioned(fake) == [fake.users["member"]]
    assert len(reminder_dms(fake, "member2")) == 1
    bad = await (await fake.slash("member", "reminders", setting="sometimes")).response()
    assert "`mention`" in bad["data"]["content"] and "Nothing was changed" in bad["data"]["content"]
    assert re.search(r"no DMs", bad["data"]["content"])
