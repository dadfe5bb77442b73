"""End to end through the fake Discord: /programme, /session, the daily post, and the
organisers' post-programme and import-programme, with the real bot and a real SQLite file.

Times: tests that only read the programme use a clock fixed inside the sample week. The daily
post runs on APScheduler, which fires on the real clock, so those tests build their programme
around the real "now" (a clock at most a minute off it).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import yaml

from bot import ids
from bot.programme import (
    ProgrammeDiff,
    ProgrammeError,
    combine_local,
    load_programme,
    parse_programme,
)
from bot.sandbox import FakeDiscord
from bot.store import audit
from bot.store.interest import add_interest
from bot.store.ledger import nonce_for
from bot.store.programme import programme_source
from tests.harness import (
    SAMPLE_MONDAY_MORNING,
    SAMPLE_PROGRAMME,
    BotRunner,
    away_from_midnight,
    button,
    components,
    fixed,
    text_of,
    wait_quiet,
)

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 9, 14)


def shifted(delta: timedelta) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + delta


def daily_posts(fake: FakeDiscord) -> list[dict[str, Any]]:
    """The programme posts in the programme channel (reminders go there too: left out)."""
    return [
        m
        for m in fake.bot_messages("programme")
        if any(" programme — " in (e.get("title") or "") for e in m.get("embeds") or [])
    ]


def write_programme(
    path: Path, sessions: list[dict[str, Any]], *, name: str = "Test Week", theme: str = "Testing"
) -> Path:
    """A YAML programme; each session's start is an aware datetime (written as ISO 8601)."""
    doc = {
        "event": {"name": name, "theme": theme, "timezone": "Europe/London"},
        "sessions": [
            {**s, "start": s["start"].isoformat(), "end": s["end"].isoformat()} for s in sessions
        ],
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def day_sessions(day: date, count: int, *, prefix: str = "s", long: bool = False) -> list[dict]:
    """``count`` sessions on a local day, every 15 minutes from 08:00."""
    out = []
    for n in range(count):
        start = combine_local(day, datetime.min.time(), LONDON) + timedelta(hours=8, minutes=15 * n)
        session: dict[str, Any] = {
            "id": f"{prefix}-{day.isoformat()}-{n:02d}",
            "title": f"{prefix.upper()} {day.isoformat()} session {n:02d}",
            "start": start,
            "end": start + timedelta(minutes=45),
            "host": "Example Community NHS Trust",
            "format": "QI café",
            "join_url": f"https://example.org/{prefix}/{n}",
        }
        if long:
            session["title"] += ": improving flow through the emergency department together"
            session["host"] = "Example Acute Hospitals and Community Services NHS Foundation Trust"
            session["speakers"] = [f"Speaker {n} (QI Lead)", f"Patient Partner {n}", "Sam Sample"]
            session["components"] = [1, 3, 4, 5]
        out.append(session)
    return out


# --------------------------------------------------------------------------- /programme


async def test_programme_for_a_day_an_empty_day_and_a_bad_value(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    sample = load_programme(SAMPLE_PROGRAMME, "Europe/London")

    it = await fake_discord.slash("member", "programme")
    response = await it.response()
    assert response["type"] == 4 and it.ephemeral
    monday = it.original
    assert monday is not None
    text = text_of(monday)
    assert "Monday 14 September" in text and "QI is for Everyone" in text
    expected = sample.sessions_on(MONDAY, LONDON)
    for session in expected:
        assert session.title in text
        assert f"<t:{int(session.start.timestamp())}:t>" in text  # each reader's own clock
    (select,) = [c for c in components(monday) if c["type"] == 3]
    assert select["custom_id"] == ids.interest_select_id("2026-09-14", 1)
    assert [o["value"] for o in select["options"]] == [s.id for s in expected]
    assert select["max_values"] == len(expected)

    wednesday = await fake_discord.slash("member", "programme", day="wednesday")
    await wednesday.response()
    assert wednesday.ephemeral
    wednesday_text = text_of(wednesday.original or {})
    assert "Wednesday 16 September" in wednesday_text
    assert all(s.title in wednesday_text for s in sample.sessions_on(date(2026, 9, 16), LONDON))

    saturday = await fake_discord.slash("member", "programme", day="2026-09-19")
    await saturday.response()
    saturday_text = text_of(saturday.original or {})
    assert "No sessions on Saturday 19 September" in saturday_text
    assert "Monday 14 September to Friday 18 September 2026" in saturday_text
    assert not components(saturday.original or {})

    before = await fake_discord.slash("member", "programme", day="2026-09-01")
    await before.response()
    assert "runs Monday 14 September to Friday 18 September 2026" in text_of(before.original or {})

    days = await fake_discord.autocomplete("member", "programme", focused="day", day="sep")
    assert [c["value"] for c in days] == [f"2026-09-{d}" for d in range(14, 19)]
    assert days[0]["name"] == "Monday 14 September 2026"
    suggested = await fake_discord.autocomplete("member", "programme", focused="day")
    assert [c["value"] for c in suggested[:2]] == ["today", "tomorrow"]

    bad = await fake_discord.slash("member", "programme", day="next blursday")
    bad_response = await bad.response()
    assert bad.ephemeral
    content = bad_response["data"]["content"]
    assert "next blursday" in content
    for form in ("today", "tomorrow", "weekday", "YYYY-MM-DD"):
        assert form in content
    assert not fake_discord.rejected
    # The clock is before Monday's 08:00 post: nothing went to the channel by itself.
    assert daily_posts(fake_discord) == []


async def test_programme_when_nothing_is_loaded_says_so(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        await runner.start(
            clock=fixed(SAMPLE_MONDAY_MORNING), QIWEEK_PROGRAMME=tmp_path / "missing.yaml"
        )
    assert any("missing.yaml" in r.getMessage() for r in caplog.records)
    it = await fake_discord.slash("member", "programme")
    response = await it.response()
    assert it.ephemeral and "No programme is loaded" in response["data"]["content"]
    assert await fake_discord.autocomplete("member", "session", focused="session") == []


# --------------------------------------------------------------------------- /session


async def test_session_autocomplete_and_answer(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    guild = fake_discord.guild.id

    cafes = await fake_discord.autocomplete("member", "session", focused="session", session="café")
    assert len(cafes) == 5
    assert (
        cafes[0]["name"] == "Mon 14 Sep 12:30 BST · QI café: what is quality improvement, anyway?"
    )
    assert cafes[0]["value"] == "mon-qi-cafe"
    # Accents and case don't matter, and the text matches anywhere (here: hosts).
    assert [c["value"] for c in cafes] == [
        c["value"]
        for c in await fake_discord.autocomplete(
            "member", "session", focused="session", session="CAFE"
        )
    ]
    ambulance = await fake_discord.autocomplete(
        "member", "session", focused="session", session="ambulance"
    )
    assert ambulance and all("Ambulance" not in c["name"] for c in ambulance)  # matched on host
    speaker = await fake_discord.autocomplete(
        "member", "session", focused="session", session="jordan placeholder"
    )
    assert "mon-qi-cafe" in [c["value"] for c in speaker]
    everything = await fake_discord.autocomplete("member", "session", focused="session")
    assert 1 <= len(everything) <= 25
    assert all(len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in everything)
    assert (
        await fake_discord.autocomplete(
            "member", "session", focused="session", session="zzzz-nothing"
        )
        == []
    )

    for user in ("member", "member2"):
        await add_interest(bot.store, guild, "mon-qi-cafe", fake_discord.users[user])
    it = await fake_discord.slash("member", "session", session="mon-qi-cafe")
    response = await it.response()
    assert response["type"] == 4 and it.ephemeral
    message = it.original
    assert message is not None
    embed = message["embeds"][0]
    assert embed["title"] == "QI café: what is quality improvement, anyway?"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Interested"] == "2"
    assert fields["Host"] == "Example Community NHS Trust"
    buttons = [c for c in components(message) if c["type"] == 2]
    interest = [b for b in buttons if b.get("custom_id")]
    assert [b["custom_id"] for b in interest] == [ids.interest_button_id("mon-qi-cafe")]
    links = [b for b in buttons if b.get("url")]
    assert [b["url"] for b in links] == ["https://example.org/qiweek/mon-qi-cafe"]
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "mon-qi-cafe.ics"
    (event,) = icalendar.Calendar.from_ical(attachment["bytes"]).walk("VEVENT")
    assert str(event["UID"]) == "mon-qi-cafe@qiweek-bot"
    assert event.decoded("DTSTART") == datetime(2026, 9, 14, 11, 30, tzinfo=UTC)
    assert str(event["LOCATION"]) == "https://example.org/qiweek/mon-qi-cafe"
    assert list(event.walk("VALARM"))  # the server's reminder lead (15 minutes by default)

    unknown = await fake_discord.slash("member", "session", session="no-such-session")
    unknown_response = await unknown.response()
    assert unknown.ephemeral
    assert "can't find a session" in unknown_response["data"]["content"]
    assert not fake_discord.rejected


# --------------------------------------------------------------------------- the daily post


def _daily_rows(db_path: Path, day: date) -> dict[str, str]:
    with sqlite3.connect(db_path) as raw:
        rows = raw.execute(
            "SELECT key, status FROM deliveries WHERE key LIKE ?", (f"daily:%:{day}%",)
        ).fetchall()
    return dict(rows)


async def test_daily_post_fires_at_its_time_once_even_across_a_restart(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    # A clock a few seconds before a minute boundary: the post time is that minute. The
    # scheduler fires on the real clock (for which that minute has passed) and the job waits
    # for the bot's clock, so the post goes out when the bot's clock says it is time.
    real = datetime.now(UTC)
    post_at = real.replace(second=0, microsecond=0)
    delta = post_at - real - timedelta(seconds=5)
    clock = shifted(delta)
    local = post_at.astimezone(LONDON)
    day = local.date()
    path = write_programme(tmp_path / "today.yaml", day_sessions(day, 3))
    env = {"QIWEEK_PROGRAMME": path, "QIWEEK_DAILY_POST_TIME": f"{local:%H:%M}"}

    await runner.start(clock=clock, **env)
    assert daily_posts(fake_discord) == []  # not before its time
    posted = await fake_discord.wait_for(lambda: daily_posts(fake_discord), 10)
    sent_at = datetime.fromisoformat(posted[0]["timestamp"]) + delta  # on the bot's clock
    assert post_at - timedelta(seconds=0.2) <= sent_at <= post_at + timedelta(seconds=5)
    assert len(posted) == 1
    text = text_of(posted[0])
    assert f"Test Week programme — {day:%A} {day.day} {day:%B}" in text
    assert all(f"S {day.isoformat()} session {n:02d}" in text for n in range(3))
    assert posted[0]["nonce"] == nonce_for(f"daily:{fake_discord.guild.id}:{day}:1")
    guild = fake_discord.guild.id
    key = f"daily:{guild}:{day}"
    await fake_discord.wait_for(lambda: _daily_rows(runner.db_path, day).get(key) == "sent")
    assert _daily_rows(runner.db_path, day) == {key: "sent", f"{key}:1": "sent"}

    bot = await runner.restart(clock=clock, **env)
    await wait_quiet(runner.bot)
    assert len(daily_posts(fake_discord)) == 1  # not repeated
    assert not [j for j, _ in bot.schedule.jobs(guild) if j.startswith(f"daily:{guild}:{day}")]


async def test_daily_post_catches_up_the_same_day_and_never_posts_a_past_day(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    clock = away_from_midnight()  # the day cannot turn under the test
    today = clock().astimezone(LONDON).date()
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    sessions = [
        *day_sessions(yesterday, 2, prefix="y"),
        *day_sessions(today, 2, prefix="t"),
        *day_sessions(tomorrow, 2, prefix="m"),
    ]
    path = write_programme(tmp_path / "three-days.yaml", sessions)
    # 00:00 has always passed today: the bot starts after the post time.
    bot = await runner.start(clock=clock, QIWEEK_PROGRAMME=path, QIWEEK_DAILY_POST_TIME="00:00")
    posted = await fake_discord.wait_for(lambda: daily_posts(fake_discord), 10)
    guild = fake_discord.guild.id
    await fake_discord.wait_for(
        lambda: _daily_rows(runner.db_path, today).get(f"daily:{guild}:{today}") == "sent"
    )
    await wait_quiet(runner.bot)
    posted = daily_posts(fake_discord)
    assert len(posted) == 1
    text = text_of(posted[0])
    assert f"T {today} session 00" in text and f"Y {yesterday}" not in text
    assert _daily_rows(runner.db_path, yesterday) == {f"daily:{guild}:{yesterday}": "skipped"}
    daily_jobs = {j: t for j, t in bot.schedule.jobs(guild) if j.startswith("daily:")}
    midnight = combine_local(tomorrow, datetime.min.time(), LONDON)
    assert daily_jobs == {f"daily:{guild}:{tomorrow}": midnight}

    await runner.restart(clock=clock, QIWEEK_PROGRAMME=path, QIWEEK_DAILY_POST_TIME="00:00")
    await wait_quiet(runner.bot)
    assert len(daily_posts(fake_discord)) == 1


async def test_a_forty_session_day_is_split_within_limits_with_nothing_lost(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    clock = away_from_midnight()  # the day cannot turn under the test
    today = clock().astimezone(LONDON).date()
    sessions = day_sessions(today, 40, long=True)
    path = write_programme(tmp_path / "forty.yaml", sessions)
    # Before the first session (the select leaves out sessions that have started).
    early = combine_local(today, datetime.min.time(), LONDON) + timedelta(minutes=30)
    await runner.start(clock=fixed(early), QIWEEK_PROGRAMME=path, QIWEEK_DAILY_POST_TIME="00:00")
    guild = fake_discord.guild.id
    await fake_discord.wait_for(
        lambda: _daily_rows(runner.db_path, today).get(f"daily:{guild}:{today}") == "sent", 10
    )
    posted = daily_posts(fake_discord)
    assert len(posted) >= 2
    assert not fake_discord.rejected
    everything = "\n".join(text_of(m) for m in posted)
    for session in sessions:
        assert everything.count(session["title"]) == 1, session["title"]
    chosen: list[str] = []
    for number, message in enumerate(posted, start=1):
        assert len(message["embeds"]) <= 10
        assert sum(len(text_of({"embeds": [e]})) for e in message["embeds"]) <= 6000
        (select,) = [c for c in components(message) if c["type"] == 3]
        assert select["custom_id"] == ids.interest_select_id(today.isoformat(), number)
        assert 1 <= len(select["options"]) <= 25
        chosen.extend(o["value"] for o in select["options"])
        # Each message's select offers exactly the sessions that message lists.
        assert all(o["label"] in text_of(message) for o in select["options"])
    assert chosen == [s["id"] for s in sessions]


async def test_an_interrupted_daily_post_resumes_only_the_missing_messages(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    clock = away_from_midnight()  # the day cannot turn under the test
    today = clock().astimezone(LONDON).date()
    path = write_programme(tmp_path / "forty.yaml", day_sessions(today, 40, long=True))
    env = {"QIWEEK_PROGRAMME": path, "QIWEEK_DAILY_POST_TIME": "00:00"}
    await runner.start(clock=clock, **env)
    guild = fake_discord.guild.id
    key = f"daily:{guild}:{today}"
    await fake_discord.wait_for(lambda: _daily_rows(runner.db_path, today).get(key) == "sent")
    first_run = daily_posts(fake_discord)
    parts = len(first_run)
    assert parts >= 2

    # Make it look as if the process died just after Discord accepted message 2: the day and
    # message 2 claimed and never confirmed, nothing after message 2 sent.
    for message in first_run[2:]:
        await fake_discord.delete_message(message)
    await runner.stop()
    with sqlite3.connect(runner.db_path) as raw:
        raw.execute(
            "UPDATE deliveries SET status = 'claimed', owner = 'crashed-run' WHERE key IN (?, ?)",
            (key, f"{key}:2"),
        )
        raw.execute(
            "DELETE FROM deliveries WHERE key LIKE ? AND key NOT IN (?, ?)",
            (f"{key}:%", f"{key}:1", f"{key}:2"),
        )
    nonces = {nonce_for(f"{key}:{n}") for n in range(1, parts + 1)}

    def daily_requests() -> list[Any]:
        channel = fake_discord.channels["programme"]
        return [
            r
            for r in fake_discord.requests_to("POST", rf"/channels/{channel}/messages")
            if (r.json or {}).get("nonce") in nonces
        ]

    before = len(daily_requests())

    await runner.start(clock=clock, **env)
    await fake_discord.wait_for(lambda: _daily_rows(runner.db_path, today).get(key) == "sent")
    final = daily_posts(fake_discord)
    assert [m["id"] for m in final[:2]] == [m["id"] for m in first_run[:2]]
    assert len(final) == parts
    posts = daily_requests()[before:]
    # Message 1 is not sent again; message 2, claimed by the dead run, is found in the channel's
    # history (issue 10: Discord forgets a nonce after a few minutes) and not sent again; the
    # rest are new.
    assert len(posts) == parts - 2
    assert all(p.json["nonce"] != nonce_for(f"{key}:2") for p in posts)
    channel = fake_discord.channels["programme"]
    assert fake_discord.requests_to("GET", rf"^/channels/{channel}/messages$")
    everything = "\n".join(text_of(m) for m in final)
    for n in range(40):
        assert everything.count(f"S {today} session {n:02d}:") == 1


async def test_setup_daily_post_time_moves_the_job_without_a_restart(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    clock = away_from_midnight()  # the day cannot turn under the test
    tomorrow = clock().astimezone(LONDON).date() + timedelta(days=1)
    path = write_programme(tmp_path / "tomorrow.yaml", day_sessions(tomorrow, 2))
    bot = await runner.start(clock=clock, QIWEEK_PROGRAMME=path)
    guild = fake_discord.guild.id
    job = f"daily:{guild}:{tomorrow}"
    at_eight = combine_local(tomorrow, datetime.strptime("08:00", "%H:%M").time(), LONDON)
    assert dict(bot.schedule.jobs(guild))[job] == at_eight

    it = await fake_discord.slash("organiser", "organiser setup", daily_post_time="09:15")
    assert "Settings saved" in str((await it.wait_original(lambda m: m.get("embeds")))["embeds"])
    at_nine = combine_local(tomorrow, datetime.strptime("09:15", "%H:%M").time(), LONDON)
    assert dict(bot.schedule.jobs(guild))[job] == at_nine
    assert daily_posts(fake_discord) == []


# --------------------------------------------------------------------------- organisers


async def test_post_programme_posts_now_even_when_the_day_was_posted(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    guild = fake_discord.guild.id
    it = await fake_discord.slash("organiser", "organiser post-programme", day="Tuesday")
    await it.response()
    (answer,) = await it.followups(1)
    assert "Posted the programme for Tuesday 15 September" in answer["content"]
    posted = daily_posts(fake_discord)
    assert len(posted) == 1 and "Tuesday 15 September" in text_of(posted[0])
    again = await fake_discord.slash("organiser", "organiser post-programme", day="2026-09-15")
    await again.followups(1)
    assert len(daily_posts(fake_discord)) == 2  # explicit: the ledger is not asked
    entries = await audit.recent(bot.store, guild)
    assert [e.action for e in entries[:2]] == ["post-programme", "post-programme"]

    sunday = await fake_discord.slash("organiser", "organiser post-programme", day="2026-09-20")
    sunday_text = (await sunday.response())["data"]["content"]
    assert sunday.ephemeral and sunday_text.startswith("Nothing was posted: no sessions on Sunday")

    refused = await fake_discord.slash("member", "organiser post-programme")
    assert "Only organisers" in (await refused.response())["data"]["content"]
    assert len(daily_posts(fake_discord)) == 2


def _changed(base: list[dict[str, Any]], extra_day: date) -> bytes:
    """``base`` (as written by :func:`write_programme`) with one session renamed, one removed,
    and one added on ``extra_day``."""
    sessions = [dict(s) for s in base]
    sessions[1]["title"] = "QI café: renamed for the test"
    sessions.pop(2)
    extra = combine_local(extra_day, datetime.min.time(), LONDON) + timedelta(hours=10)
    sessions.append(
        {
            "id": "extra-huddle",
            "title": "Extra: a huddle on another day",
            "start": extra,
            "end": extra + timedelta(minutes=30),
            "host": "Example ICB",
        }
    )
    doc = {
        "event": {"name": "Test Week", "theme": "Testing", "timezone": "Europe/London"},
        "sessions": [
            {**s, "start": s["start"].isoformat(), "end": s["end"].isoformat()} for s in sessions
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()


def _changed_sample(extra_day: date) -> bytes:
    """The sample with one session renamed, one removed, and one added on ``extra_day``."""
    sample = load_programme(SAMPLE_PROGRAMME, "Europe/London")
    sessions = [s.to_dict() for s in sample.sessions]
    sessions[1]["title"] = "QI café: renamed for the test"
    removed = sessions.pop(2)
    extra = combine_local(extra_day, datetime.min.time(), LONDON) + timedelta(hours=10)
    sessions.append(
        {
            "id": "extra-huddle",
            "title": "Extra: a huddle on another day",
            "start": extra.isoformat(),
            "end": (extra + timedelta(minutes=30)).isoformat(),
            "host": "Example ICB",
        }
    )
    event = {
        "name": sample.event.name,
        "theme": sample.event.theme,
        "timezone": sample.event.timezone,
        "hashtag": sample.event.hashtag,
        "description": sample.event.description,
    }
    assert removed["id"]
    return yaml.safe_dump({"event": event, "sessions": sessions}, allow_unicode=True).encode()


async def test_import_programme_good_file_confirm_applies_and_replans(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    # A programme the day after tomorrow (an event spans at most 31 days, so the extra session
    # tomorrow, which the scheduler must plan, sits beside it rather than beside the sample).
    clock = away_from_midnight()  # the day cannot turn under the test
    tomorrow = clock().astimezone(LONDON).date() + timedelta(days=1)
    base = day_sessions(tomorrow + timedelta(days=1), 4)
    bot = await runner.start(
        clock=clock, QIWEEK_PROGRAMME=write_programme(tmp_path / "base.yaml", base)
    )
    guild = fake_discord.guild.id
    service = bot.services.programme
    heard: list[tuple[int, ProgrammeDiff, list[str]]] = []

    async def listener(guild_id: int, diff: ProgrammeDiff) -> None:
        heard.append((guild_id, diff, [j for j, _ in bot.schedule.jobs(guild_id)]))

    service.add_change_listener(listener)
    data = _changed(base, tomorrow)
    it = await fake_discord.slash(
        "organiser", "organiser import-programme", file=fake_discord.attachment("new.yaml", data)
    )
    first = await it.response()
    assert first["type"] == 5 and it.ephemeral
    summary = await it.wait_original(lambda m: components(m))
    text = text_of(summary)
    assert "1 added, 1 changed, 1 removed" in text
    assert "Extra: a huddle on another day" in text and "QI café: renamed for the test" in text
    assert (await service.get_session(guild, "extra-huddle")) is None  # not yet
    assert heard == []

    click = await fake_discord.click("organiser", summary, button(summary, "Confirm import"))
    assert (await click.response())["type"] == 7
    await fake_discord.wait_for(lambda: "Applied" in fake_discord.message(summary["id"])["content"])
    assert components(fake_discord.message(summary["id"])) == []
    assert (await service.get_session(guild, "extra-huddle")) is not None
    assert await programme_source(bot.store, guild) == "import"
    assert f"daily:{guild}:{tomorrow}" in [j for j, _ in bot.schedule.jobs(guild)]  # replanned
    ((heard_guild, diff, jobs_then),) = heard
    assert heard_guild == guild
    assert (len(diff.added), len(diff.changed), len(diff.removed)) == (1, 1, 1)
    # Listeners run first (they record durable work, e.g. change notices), then the re-plan.
    assert f"daily:{guild}:{tomorrow}" not in jobs_then
    assert (await audit.recent(bot.store, guild))[0].action == "import"

    # The import is the server's own now: a restart does not seed the shipped file over it.
    bot = await runner.restart(clock=clock, QIWEEK_PROGRAMME=tmp_path / "base.yaml")
    assert await bot.services.programme.get_session(guild, "extra-huddle") is not None
    assert not fake_discord.rejected


async def test_import_programme_cancel_changes_nothing(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    bot = await runner.start()
    guild = fake_discord.guild.id
    before = await bot.services.programme.get_programme(guild)
    data = (Path(__file__).parents[1] / "data" / "programme" / "spreadsheet.csv").read_bytes()
    it = await fake_discord.slash(
        "organiser",
        "organiser import-programme",
        file=fake_discord.attachment("Spreadsheet.CSV", data, "text/csv"),
    )
    summary = await it.wait_original(lambda m: components(m))
    assert "removed" in text_of(summary) and "Poster showcase" in text_of(summary)
    click = await fake_discord.click("organiser", summary, button(summary, "Cancel"))
    await click.response()
    assert "nothing was changed" in fake_discord.message(summary["id"])["content"]
    assert await bot.services.programme.get_programme(guild) == before
    assert await programme_source(bot.store, guild) == "seed"


async def test_an_unconfirmed_import_expires_and_changes_nothing(
    runner: BotRunner, fake_discord: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cogs.programme

    monkeypatch.setattr(cogs.programme, "IMPORT_CONFIRM_TIMEOUT", 0.5)
    bot = await runner.start()
    guild = fake_discord.guild.id
    before = await bot.services.programme.get_programme(guild)
    data = _changed_sample(date(2026, 9, 19))
    it = await fake_discord.slash(
        "organiser", "organiser import-programme", file=fake_discord.attachment("new.yml", data)
    )
    summary = await it.wait_original(lambda m: components(m))
    expired = await fake_discord.wait_for(
        lambda: "not confirmed in time" in fake_discord.message(summary["id"])["content"]
    )
    assert expired and components(fake_discord.message(summary["id"])) == []
    assert await bot.services.programme.get_programme(guild) == before


async def test_import_programme_bad_file_lists_every_problem_and_changes_nothing(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start()
    guild = fake_discord.guild.id
    before = await bot.services.programme.get_programme(guild)
    bad = (Path(__file__).parents[1] / "data" / "programme" / "bad.yaml").read_bytes()
    with pytest.raises(ProgrammeError) as expected:
        parse_programme(bad, "bad.yaml", "Europe/London")

    it = await fake_discord.slash(
        "organiser", "organiser import-programme", file=fake_discord.attachment("bad.yaml", bad)
    )
    answer = await it.wait_original(lambda m: m.get("embeds"))
    text = text_of(answer)
    assert "Nothing was changed" in text
    assert len(expected.value.problems) >= 5
    for problem in expected.value.problems:
        assert str(problem) in text
        assert problem.place.startswith("line ")
    assert components(answer) == []
    assert await bot.services.programme.get_programme(guild) == before
    assert await programme_source(bot.store, guild) == "seed"

    wrong = await fake_discord.slash(
        "organiser",
        "organiser import-programme",
        file=fake_discord.attachment("programme.xlsx", b"PK\x03\x04"),
    )
    wrong_text = (await wrong.response())["data"]["content"]
    assert wrong.ephemeral and ".yaml, .yml, .csv, .ics" in wrong_text
    huge = await fake_discord.slash(
        "organiser",
        "organiser import-programme",
        file=fake_discord.attachment("huge.csv", b"title,start,end\n" + b"x" * 1_100_000),
    )
    huge_text = (await huge.response())["data"]["content"]
    assert "1 MB" in huge_text and "Nothing was changed" in huge_text
    assert await bot.services.programme.get_programme(guild) == before
    assert not fake_discord.rejected


# --------------------------------------------------------------------------- the seed file


async def test_a_changed_seed_file_is_applied_and_a_bad_one_keeps_the_stored_programme(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = away_from_midnight()  # the day cannot turn under the test
    day = clock().astimezone(LONDON).date() + timedelta(days=1)
    path = write_programme(tmp_path / "seed.yaml", day_sessions(day, 3))
    bot = await runner.start(clock=clock, QIWEEK_PROGRAMME=path)
    guild = fake_discord.guild.id
    service = bot.services.programme
    heard: list[ProgrammeDiff] = []

    async def listener(guild_id: int, diff: ProgrammeDiff) -> None:
        heard.append(diff)

    service.add_change_listener(listener)
    await bot.prepare_guild(guild)  # what a reconnect does: the same file changes nothing
    assert heard == []

    changed = day_sessions(day, 3)
    changed[0]["title"] = "Renamed in the file"
    write_programme(path, [*changed[:2], *day_sessions(day + timedelta(days=1), 1, prefix="x")])
    await bot.prepare_guild(guild)
    (diff,) = heard
    assert (len(diff.added), len(diff.changed), len(diff.removed)) == (1, 1, 1)
    programme = await service.get_programme(guild)
    assert programme is not None and programme.sessions[0].title == "Renamed in the file"

    path.write_text("sessions:\n  - title: No start\n    end: nonsense\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="bot.services.programme"):
        bot = await runner.restart(clock=clock, QIWEEK_PROGRAMME=path)  # still starts
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "seed.yaml" in logged and "start is missing" in logged and "nonsense" in logged
    assert await bot.services.programme.get_programme(guild) == programme
    it = await fake_discord.slash("member", "programme", day=day.isoformat())
    await it.response()
    assert "Renamed in the file" in text_of(it.original or {})


ODD_VALUES = b"""\
sessions:
  - title: Forever
    start: 2026-09-14 10:00
    duration_minutes: 99999999999999
  - title: Infinite
    start: 2026-09-14 11:00
    duration_minutes: .inf
  - title: Far away
    start: 9999-12-31 23:30
    duration_minutes: 60
"""


async def test_import_programme_with_odd_values_lists_them_and_changes_nothing(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    guild = fake_discord.guild.id
    before = await bot.services.programme.get_programme(guild)
    it = await fake_discord.slash(
        "organiser",
        "organiser import-programme",
        file=fake_discord.attachment("odd.yaml", ODD_VALUES),
    )
    answer = await it.wait_original(lambda m: m.get("embeds") or m.get("content"))
    text = text_of(answer)
    assert "Nothing was changed" in text
    assert "line 4: duration_minutes 99999999999999 is more than 12 hours" in text
    assert "line 7: duration_minutes inf should be whole minutes above 0" in text
    assert "line 9: start 9999-12-31 23:30 is not in the years 2000-2099" in text
    assert await bot.services.programme.get_programme(guild) == before
    assert not fake_discord.rejected

    far = await fake_discord.slash("member", "programme", day="9999-12-31")
    content = (await far.response())["data"]["content"]
    assert far.ephemeral
    assert "'9999-12-31' is too far away" in content and "2099-12-31" in content
