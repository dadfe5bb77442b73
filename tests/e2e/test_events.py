"""End to end (issue 12): sessions mirrored as Discord scheduled events through the sandbox,
which enforces Discord's cap (30038), permissions (50013) and validation; "Interested" there
registers here; restarts create nothing twice."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox import FakeDiscord
from bot.sandbox.routes_events import CREATE_EVENTS
from bot.store import native
from tests.harness import BotRunner, import_programme, now, write_programme

EVENTS = r"/guilds/\d+/scheduled-events$"


def creates(fake: FakeDiscord) -> list[Any]:
    return fake.requests_to("POST", EVENTS)


def by_name(fake: FakeDiscord, name: str) -> dict[str, Any]:
    return next(e for e in fake.bot_events() if e["name"] == name)


async def test_a_150_session_programme_keeps_a_rolling_window(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    t0 = now()
    sessions = [
        {
            "id": f"s{i:03d}",
            "title": f"Session {i:03d}",
            "start": t0 + timedelta(seconds=5),
            "end": t0 + timedelta(seconds=7),
        }
        for i in range(2)
    ] + [
        {
            "id": f"s{i:03d}",
            "title": f"Session {i:03d}",
            "start": t0 + timedelta(hours=1, minutes=i),
        }
        for i in range(2, 150)
    ]
    path = write_programme(tmp_path / "p.yaml", sessions)
    fake.add_foreign_event("Organisers' own", t0 + timedelta(days=1))
    await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: len(fake.bot_events()) == 90, timeout=20, message="90 events")
    names = sorted(e["name"] for e in fake.bot_events())
    assert names == [f"Session {i:03d}" for i in range(90)]  # the next 90, in time order
    # The two first sessions end: their events complete and the window moves on by two.
    await fake.wait_for(
        lambda: len(creates(fake)) == 92, timeout=20, message="the window to move on"
    )
    await asyncio.sleep(0.3)
    uncompleted = fake.bot_events(1, 2)
    assert len(uncompleted) == 90
    assert sorted(e["name"] for e in uncompleted)[-1] == "Session 091"
    assert fake.max_bot_uncompleted <= 90
    assert all(r.code != 30038 for r in fake.rejected)
    assert len(creates(fake)) == 92  # nothing twice


async def test_organisers_events_shrink_the_window_and_a_30038_is_told_once(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    t0 = now() + timedelta(hours=1)
    for i in range(15):
        fake.add_foreign_event(f"own {i}", t0)
    sessions = [{"id": f"s{i}", "start": t0 + timedelta(minutes=i)} for i in range(95)]
    path = write_programme(tmp_path / "p.yaml", sessions)
    caplog.set_level(logging.WARNING, logger="bot.services.events")
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: len(fake.bot_events()) == 85, timeout=20, message="85 events")
    await bot.services.events.sync(fake.guild.id)
    assert all(r.code != 30038 for r in fake.rejected)
    alerts = [r.getMessage() for r in caplog.records if "organiser alert" in r.getMessage()]
    assert len(alerts) == 1 and "next 85 sessions" in alerts[0]


async def test_a_30038_anyway_stops_creating_and_the_next_sync_fills_the_window(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    t0 = now() + timedelta(hours=1)
    sessions = [{"id": f"s{i}", "start": t0 + timedelta(minutes=i)} for i in range(5)]
    path = write_programme(tmp_path / "p.yaml", sessions)
    caplog.set_level(logging.WARNING, logger="bot.services.events")
    # An organiser's own event created between the bot's listing and its create.
    fake.inject("POST", EVENTS, 400, code=30038, message="Maximum number of events reached")
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: creates(fake), message="the refused create")
    assert fake.bot_events() == []
    await bot.services.events.sync(fake.guild.id)
    assert len(fake.bot_events()) == 5
    await bot.services.events.sync(fake.guild.id)
    alerts = [r.getMessage() for r in caplog.records if "organiser alert" in r.getMessage()]
    assert len(alerts) == 1 and "nearly full" in alerts[0]


async def test_an_import_edits_the_moved_event_and_cancels_the_removed_one(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    t0 = now() + timedelta(hours=2)
    sessions = [
        {"id": "keep", "title": "Kept", "start": t0},
        {"id": "move", "title": "Moved", "start": t0 + timedelta(hours=1)},
        {"id": "drop", "title": "Dropped", "start": t0 + timedelta(hours=2)},
    ]
    path = write_programme(tmp_path / "p.yaml", sessions)
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: len(fake.bot_events()) == 3, timeout=10, message="3 events")
    moved_id = by_name(fake, "Moved")["id"]
    dropped_id = by_name(fake, "Dropped")["id"]

    new = [sessions[0], {**sessions[1], "start": t0 + timedelta(hours=5)}]
    data = write_programme(tmp_path / "new.yaml", new).read_bytes()
    await import_programme(fake, "new.yaml", data)
    await fake.wait_for(
        lambda: fake.scheduled_events[int(dropped_id)]["status"] == 4, message="the cancel"
    )
    moved = fake.scheduled_events[int(moved_id)]
    await fake.wait_for(
        lambda: moved["scheduled_start_time"].startswith(
            (t0 + timedelta(hours=5)).isoformat()[:19]
        ),
        message="the moved event edited",
    )
    assert moved["status"] == 1 and len(creates(fake)) == 3

    # A restart creates nothing twice, even when the ids were never recorded (a create whose
    # answer was lost): the bot adopts its own events by name and start.
    await runner.stop()
    async with bot.store.__class__(runner.db_path) as store:
        await store.db.execute("DELETE FROM session_events WHERE session_id = 'keep'")
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await bot.services.events.sync(fake.guild.id)
    assert len(creates(fake)) == 3
    assert len(fake.bot_events(1)) == 2
    mirrors = await native.mirrors(bot.store, fake.guild.id)
    assert mirrors["keep"].event_id == int(by_name(fake, "Kept")["id"])


async def test_without_create_events_the_feature_pauses_once_and_reminders_go_on(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    fake.set_bot_permission(CREATE_EVENTS, False)
    start = now() + timedelta(seconds=66)
    path = write_programme(tmp_path / "p.yaml", [{"id": "huddle", "start": start}])
    caplog.set_level(logging.WARNING, logger="bot.services.events")
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=1)
    await bot.services.events.sync(fake.guild.id)
    await bot.schedule.replan(fake.guild.id)
    await bot.services.events.sync(fake.guild.id)
    assert creates(fake) == []  # the permission cache says no: not even one request
    alerts = [r for r in caplog.records if "organiser alert" in r.getMessage()]
    assert len(alerts) == 1 and "Create Events" in alerts[0].getMessage()
    # Reminders are unaffected.
    it = await fake.slash("member", "interested", session="huddle")
    assert "registered" in (await it.response())["data"]["content"]
    await fake.wait_for(lambda: fake.dms("member"), timeout=15, message="the reminder DM")


async def test_a_refusal_pauses_until_the_permission_is_back(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_discord
    t0 = now() + timedelta(hours=1)
    first = [{"id": "a", "title": "A", "start": t0}]
    path = write_programme(tmp_path / "p.yaml", first)
    caplog.set_level(logging.WARNING, logger="bot.services.events")
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: len(fake.bot_events()) == 1, message="the first event")
    # An admin removes Create Events; the gateway has not told the bot yet.
    fake.set_bot_permission(CREATE_EVENTS, False)
    data = write_programme(
        tmp_path / "new.yaml", [*first, {"id": "b", "title": "B", "start": t0}]
    ).read_bytes()
    await import_programme(fake, "new.yaml", data)
    await fake.wait_for(lambda: len(creates(fake)) == 2, message="the refused create")
    assert creates(fake)[1].status == 403
    for _ in range(3):
        await bot.services.events.sync(fake.guild.id)
    await bot.schedule.replan(fake.guild.id)
    await asyncio.sleep(0.3)
    assert len(creates(fake)) == 2  # no event request after the first refusal
    assert len(fake.requests_to("GET", EVENTS)) == 2  # nor even a listing
    alerts = [r.getMessage() for r in caplog.records if "organiser alert" in r.getMessage()]
    assert len(alerts) == 1 and "Create Events" in alerts[0]
    # The permission comes back (a role update): the feature resumes by itself.
    fake.set_bot_permission(CREATE_EVENTS, True)
    await fake.dispatch_role_update()
    await fake.wait_for(lambda: len(fake.bot_events()) == 2, message="the event after the fix")


async def my_sessions_text(fake: FakeDiscord, user: str) -> str:
    it = await fake.slash(user, "my-sessions")
    await it.response(timeout=5)
    original = await it.wait_original(lambda m: not (m["flags"] & 128))
    return str(original.get("content")) + str(original.get("embeds"))


async def registered(bot: Any, user_id: int) -> list[str]:
    from bot.store.interest import sessions_of

    return await sessions_of(bot.store, bot.guilds[0].id, user_id)


async def test_interested_on_the_event_registers_and_un_marking_unregisters(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    start = now() + timedelta(seconds=70)
    path = write_programme(
        tmp_path / "p.yaml", [{"id": "huddle", "title": "Safety huddle", "start": start}]
    )
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=1)
    # A member the bot has never seen (joined without a gateway event, so not in discord.py's
    # cache, where on_scheduled_event_user_add is dropped): the raw gateway event still counts.
    fake.add_user("newcomer", global_name="New Comer", dispatch=False)
    assert bot.get_user(fake.users["newcomer"]) is None
    await fake.wait_for(lambda: fake.bot_events(), message="the event")
    event_id = int(fake.bot_events()[0]["id"])
    member, member2 = fake.users["member"], fake.users["member2"]

    # member2 registered with /interested before: un-marking the event keeps that.
    it = await fake.slash("member2", "interested", session="huddle")
    assert "registered" in (await it.response())["data"]["content"]
    for user in ("member", "member2", "newcomer"):
        await fake.mark_interested(user, event_id)
    # The listener runs as a task: wait on the database.
    for uid in (member, fake.users["newcomer"]):
        await _wait_registered(bot, uid, ["huddle"])
    assert "Safety huddle" in await my_sessions_text(fake, "member")

    await fake.unmark_interested("member2", event_id)
    await fake.unmark_interested("newcomer", event_id)
    await _wait_registered(bot, fake.users["newcomer"], [])
    assert await registered(bot, member2) == ["huddle"]  # came from /interested: kept

    # /session shows both sources and links the event.
    it = await fake.slash("member", "session", session="huddle")
    answer = await it.response()
    fields = {f["name"]: f["value"] for f in answer["data"]["embeds"][0]["fields"]}
    assert fields["Interested"] == "2 (1 here, 1 on Discord's Events)"
    url = f"https://discord.com/events/{fake.guild.id}/{event_id}"
    assert url in fields["In the server's Events"]

    # The member marked on Discord gets the DM reminder like anyone registered.
    await fake.wait_for(lambda: fake.dms("member"), timeout=20, message="the reminder DM")
    assert "Safety huddle" in fake.dms("member")[0]["content"]
    assert fake.dms("newcomer") == []


async def _wait_registered(bot: Any, user_id: int, expected: list[str]) -> None:
    for _ in range(250):
        if await registered(bot, user_id) == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{user_id} registered for {await registered(bot, user_id)}")


async def test_subscribers_marked_while_the_bot_was_away_are_caught_up_paged(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    path = write_programme(
        tmp_path / "p.yaml",
        [{"id": "cafe", "title": "QI café", "start": now() + timedelta(hours=3)}],
    )
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: fake.bot_events(), message="the event")
    event_id = int(fake.bot_events()[0]["id"])
    await fake.mark_interested("member", event_id)
    await _wait_registered(bot, fake.users["member"], ["cafe"])
    await runner.stop()
    before = len(fake.requests_to("GET", rf"/scheduled-events/{event_id}/users"))
    names = [f"m{i}" for i in range(130)]
    for name in names:
        fake.add_user(name, dispatch=False)
        fake.mark_interested_quietly(name, event_id)
    fake._event_users[event_id].discard(fake.users["member"])  # un-marked while away
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await _wait_registered(bot, fake.users["m129"], ["cafe"])
    assert await registered(bot, fake.users["m0"]) == ["cafe"]
    await _wait_registered(bot, fake.users["member"], [])
    pages = fake.requests_to("GET", rf"/scheduled-events/{event_id}/users")[before:]
    assert len(pages) == 2 and all(int(p.query["limit"]) == 100 for p in pages)
    assert len(creates(fake)) == 1


async def test_setup_turns_the_mirror_off_and_on(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    t0 = now() + timedelta(hours=1)
    path = write_programme(tmp_path / "p.yaml", [{"id": "a", "title": "A", "start": t0}])
    bot = await runner.start(QIWEEK_PROGRAMME=path, QIWEEK_SCHEDULED_EVENTS="off")
    await bot.schedule.replan(fake.guild.id)
    assert creates(fake) == [] and fake.requests_to("GET", EVENTS) == []
    it = await fake.slash("organiser", "organiser setup", scheduled_events="on")
    await it.response()
    [answer] = await it.followups(1, timeout=5)
    fields = {f["name"]: f["value"] for f in answer["embeds"][0]["fields"]}
    assert fields["Scheduled events (changed)"].endswith("server setting")
    await fake.wait_for(lambda: len(fake.bot_events()) == 1, message="the event once on")
    it = await fake.slash("organiser", "organiser setup", scheduled_events="off")
    await it.response()
    await it.followups(1, timeout=5)
    assert await bot.services.events.describe(fake.guild.id) == "off · server setting"


async def test_one_refused_edit_does_not_stop_the_others(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    t0 = now() + timedelta(hours=2)
    first = [{"id": "a", "title": "A", "start": t0}, {"id": "b", "title": "B", "start": t0}]
    path = write_programme(tmp_path / "p.yaml", first)
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: len(fake.bot_events()) == 2, message="2 events")
    fake.inject("PATCH", r"/scheduled-events/\d+$", 400, code=180000, message="finished")
    later = [{**s, "start": t0 + timedelta(hours=1)} for s in first]
    data = write_programme(tmp_path / "new.yaml", later).read_bytes()
    await import_programme(fake, "new.yaml", data)
    await fake.wait_for(lambda: len(fake.requests_to("PATCH", EVENTS[:-1])) >= 2, message="edits")
    moved = [
        e for e in fake.bot_events() if e["scheduled_start_time"] != first[0]["start"].isoformat()
    ]
    assert len(moved) == 1  # the other was refused; the next sync tries it again
    report = await bot.services.events.sync(fake.guild.id)
    assert report.edited == 1 and len(creates(fake)) == 2
