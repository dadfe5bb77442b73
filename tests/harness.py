"""Run the real QIWeekBot against the fake Discord server, with a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.client import QIWeekBot
from bot.clock import Clock, to_db, utc_now
from bot.config import Settings, parse_settings
from bot.sandbox import FakeDiscord
from bot.schedule import Schedule
from bot.store import Store
from bot.store.ledger import Status

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROGRAMME = ROOT / "data" / "programme.yaml"
TEST_DATA = ROOT / "tests" / "data"
T = TypeVar("T")


class BotRunner:
    """Starts, stops and restarts the bot; every start uses the same database file."""

    def __init__(self, fake: FakeDiscord, tmp_path: Path) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.db_path = tmp_path / "qiweek.db"
        self.bot: QIWeekBot | None = None
        self._task: asyncio.Task[None] | None = None
        self.starts = 0

    def env(self, **overrides: Any) -> dict[str, str]:
        fake = self.fake
        values = {
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "QIWEEK_GUILD_ID": str(fake.guild.id),
            "QIWEEK_DB": str(self.db_path),
            "QIWEEK_PROGRAMME": str(SAMPLE_PROGRAMME),
            "QIWEEK_PROGRAMME_CHANNEL_ID": str(fake.channels["programme"]),
            "QIWEEK_ANNOUNCEMENTS_CHANNEL_ID": str(fake.channels["announcements"]),
            "QIWEEK_DIGEST_CHANNEL_ID": str(fake.channels["digest"]),
            "QIWEEK_ORGANISER_ROLE_ID": str(fake.roles["organiser"]),
        }
        values.update({k: str(v) for k, v in overrides.items()})
        return values

    def settings(self, **overrides: Any) -> Settings:
        return parse_settings(self.env(**overrides))

    async def start(
        self,
        *,
        clock: Clock = utc_now,
        before_login: Callable[[QIWeekBot], None] | None = None,
        wait_prepared: bool = True,
        extensions: list[str] | None = None,
        **env: Any,
    ) -> QIWeekBot:
        """Log in, connect, and wait until ready (and the guild planned, by default)."""
        if self.bot is not None:
            raise RuntimeError("already running: stop() or restart() first")
        settings = self.settings(**env)
        # The fake's scheduled events start and end on the bot's clock (issue 12).
        self.fake.event_clock = clock
        store = Store(settings.db_path, clock=clock)
        bot = QIWeekBot(
            settings=settings,
            store=store,
            schedule=Schedule(clock=clock),
            clock=clock,
            extensions=extensions,
            # The fake sends every guild at once: don't wait discord.py's default 2 s for more.
            guild_ready_timeout=0.05,
        )
        if before_login is not None:
            before_login(bot)
        self.bot = bot
        await bot.login(settings.token.reveal())
        self._task = asyncio.create_task(bot.connect(reconnect=True))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=15, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises what stopped the connection
            raise TimeoutError("the bot did not become ready within 15 s")
        if wait_prepared:
            await asyncio.wait_for(bot.wait_prepared(self.fake.guild.id), 15)
        self.starts += 1
        return bot

    async def stop(self) -> None:
        """Close the bot as SIGTERM would; the connect task must end without error."""
        bot, task = self.bot, self._task
        self.bot, self._task = None, None
        if bot is None:
            return
        await bot.close()
        if task is not None:
            await asyncio.wait_for(task, 10)

    async def restart(self, **kwargs: Any) -> QIWeekBot:
        await self.stop()
        return await self.start(**kwargs)


# --- shared helpers for e2e and store tests (moved out of the test modules) ---


def button(message: dict[str, Any], label: str) -> str:
    return next(c["custom_id"] for c in components(message) if c.get("label") == label)


def is_reminder_post(message: dict[str, Any]) -> bool:
    """A channel reminder ("Starting in 15 minutes: ..."), not the daily programme post (which
    lists the same sessions and goes to the same channel once its time of day has passed)."""
    return "Starting in" in str(message.get("embeds") or "")


def reminder_posts(fake: FakeDiscord) -> list[dict[str, Any]]:
    """The bot's channel reminders in #programme, oldest first."""
    return [m for m in fake.bot_messages("programme") if is_reminder_post(m)]


def text_of(message: dict[str, Any]) -> str:
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts.append(embed.get("title") or "")
        parts.append(embed.get("description") or "")
        parts.extend(f"{f['name']}\n{f['value']}" for f in embed.get("fields") or [])
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = list(message.get("components") or [])
    while stack:
        comp = stack.pop(0)
        found.append(comp)
        stack.extend(comp.get("components") or [])
    return found


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def away_from_midnight(tz: str = "Europe/London") -> Clock:
    """The real clock, or in the last 30 minutes before local midnight the real clock 61
    minutes behind: a test that reads "today" from it and hands it to the bot cannot see the
    day turn between its reading and the bot's. Behind, never ahead: the scheduler fires on the
    real clock, so a catch-up still runs at once and tomorrow's jobs stay in the future."""
    local = datetime.now(UTC).astimezone(ZoneInfo(tz))
    late = local.hour * 60 + local.minute >= 23 * 60 + 30
    offset = timedelta(minutes=-61) if late else timedelta(0)
    return lambda: datetime.now(UTC) + offset


# Monday of the sample week, 07:00 BST: before the 08:00 daily post, so nothing posts itself.
SAMPLE_MONDAY_MORNING = datetime(2026, 9, 14, 6, 0, tzinfo=UTC)


EPHEMERAL = 64


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def write_programme(path: Path, sessions: list[dict[str, Any]]) -> Path:
    """A YAML programme whose sessions start at given aware datetimes (relative to real now)."""
    lines = ["event:", "  name: Test QI Week", "  timezone: Europe/London", "sessions:"]
    for s in sessions:
        start: datetime = s["start"]
        end: datetime = s.get("end") or start + timedelta(minutes=s.get("minutes", 45))
        lines += [
            f"  - id: {s['id']}",
            f'    title: "{s.get("title", s["id"].replace("-", " ").title())}"',
            f"    start: {start.isoformat(timespec='seconds')}",
            f"    end: {end.isoformat(timespec='seconds')}",
            f"    host: {s.get('host', 'Example NHS Trust')}",
            f"    join_url: https://example.org/join/{s['id']}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def register(
    fake: FakeDiscord, users: list[str], session_id: str, bot: QIWeekBot | None = None
) -> None:
    """`/interested` for each of ``users`` at once; with ``bot``, also wait until the sign-up
    DMs (sent after each answer) are done."""
    interactions = await asyncio.gather(
        *(fake.slash(user, "interested", session=session_id) for user in users)
    )
    for it in interactions:
        assert "registered" in str((await it.response(timeout=5))["data"]["content"])
    if bot is not None:
        interest = bot.services.interest
        await fake.wait_for(
            lambda: interest.contacts_pending == 0, timeout=10, message="the sign-up DMs"
        )


async def import_programme(
    fake: FakeDiscord,
    name: str,
    data: bytes,
    *,
    wait: float = 10.0,
    response_wait: float = 10.0,
) -> None:
    """`/organiser import-programme` with the file, then press Confirm."""
    upload = fake.attachment(name, data, "application/x-yaml")
    it = await fake.slash("organiser", "organiser import-programme", file=upload)
    summary = await it.followups(1, timeout=wait)
    confirm = next(
        c["custom_id"]
        for row in summary[-1]["components"]
        for c in row["components"]
        if "Confirm" in str(c.get("label"))
    )
    await (await fake.click("organiser", summary[-1], confirm)).response(timeout=response_wait)


async def add_share(store: Store, message_id: int, author: int, at: datetime) -> None:
    await store.db.execute(
        "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name, content,"
        " jump_url, created_at) VALUES (?, ?, 1, ?, 'x', '#QIWeek', 'https://x', ?)",
        (message_id, GUILD, author, to_db(at)),
    )
    await store.db.commit()


async def add_session(
    store: Store, session_id: str, title: str, start: datetime, *, cancelled: bool = False
) -> None:
    await store.db.execute(
        "INSERT INTO sessions (guild_id, session_id, title, start_utc, end_utc, cancelled)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (GUILD, session_id, title, to_db(start), to_db(start + timedelta(hours=1)), cancelled),
    )
    await store.db.commit()


T0 = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)


LONDON = ZoneInfo("Europe/London")


GUILD = 1001


def utc(*args: int) -> datetime:
    """A UTC datetime from its parts (``utc(2026, 9, 14, 11, 30)``)."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def programme_problems(
    data: str | bytes, filename: str = "p.yaml", tz: str = "Europe/London"
) -> list[str]:
    """The problems (as ``place: message``) a programme file is refused with; fails if accepted."""
    import pytest

    from bot.programme import ProgrammeError, parse_programme

    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(raw, filename, tz)
    return [str(p) for p in caught.value.problems]


def make_session(title: str, start: datetime, minutes: int = 60, **kwargs: Any) -> Any:
    """A Session with an id derived as the parser would (London time) unless ``id=`` is given."""
    from bot.programme import Session, derive_session_id

    sid = kwargs.pop("id", None) or derive_session_id(title, start, "Europe/London")
    return Session(
        id=str(sid), title=title, start=start, end=start + timedelta(minutes=minutes), **kwargs
    )


def yaml_alias_bomb(levels: int = 9) -> bytes:
    """A ~1 KB programme whose aliases would expand to 9**levels values ("billion laughs")."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{','.join([previous] * 9)}]")
    body = "\n".join(f"  {line}" for line in lines)
    return (
        f"event:\n  name: Bomb\nx-anchors:\n{body}\nsessions:\n"
        f"  - title: *a{levels - 1}\n    start: 2026-09-14 10:00\n    duration_minutes: 30\n"
    ).encode()


#: A 493-byte-class calendar whose VTIMEZONE repeats every minute for ever: expanding it (as
#: icalendar does for a file's own timezones) took 80 s and 1.4 GB.
VTIMEZONE_BOMB = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n"
    b"BEGIN:VTIMEZONE\r\nTZID:Hostile Minutely\r\nBEGIN:STANDARD\r\n"
    b"DTSTART:16010101T000000\r\nRRULE:FREQ=MINUTELY\r\n"
    b"TZOFFSETFROM:+0000\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
    b"BEGIN:DAYLIGHT\r\nDTSTART:16010101T000030\r\nRRULE:FREQ=MINUTELY\r\n"
    b"TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0000\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    b"BEGIN:VEVENT\r\nUID:hostile\r\nSUMMARY:Hostile\r\n"
    b"DTSTART;TZID=Hostile Minutely:20260914T100000\r\n"
    b"DTEND;TZID=Hostile Minutely:20260914T110000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


async def wait_quiet(bot: QIWeekBot, *, horizon: float = 2.0, within: float = 15.0) -> None:
    """Wait on state, not time, until the bot can send nothing more on its own: no job running
    or due within ``horizon`` seconds, no re-plan or sign-up DM in flight, and no delivery claimed
    but unconfirmed. A duplicate would have reached the fake by then, so asserting counts
    after this is meaningful (and a correct bot is not kept waiting)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    guild_ids = [g.id for g in bot.guilds]
    while True:
        soon = datetime.now(UTC) + timedelta(seconds=horizon)
        due = [job for job, at in bot.schedule.jobs() if at is not None and at <= soon]
        open_claims = 0
        for guild_id in guild_ids:
            counts = await bot.ledger.counts(guild_id)
            open_claims += counts.get(Status.CLAIMED, 0)
        interest = bot.services.interest
        if not (bot.schedule.busy or due or interest.busy or open_claims):
            return
        if loop.time() > deadline:
            raise AssertionError(
                f"the bot did not go quiet within {within}s: busy={bot.schedule.busy}, "
                f"due={due}, interest tasks={interest.busy}, "
                f"claimed={open_claims}"
            )
        await asyncio.sleep(0.02)  # polling interval, not a guess at how long sending takes


def reminder_dms(fake: FakeDiscord, user: str | int) -> list[dict[str, Any]]:
    """DMs to `user` other than the one sign-up confirmation (first contact, issue 10)."""
    return [m for m in fake.dms(user) if not (m.get("content") or "").startswith("👋")]


def first_contact_dms(fake: FakeDiscord, user: str | int) -> list[dict[str, Any]]:
    """The sign-up confirmation DMs to `user` (at most one is ever expected)."""
    return [m for m in fake.dms(user) if (m.get("content") or "").startswith("👋")]


async def settled_row(bot: QIWeekBot, key: str, *, within: float = 10.0) -> Any:
    """The ledger row of ``key`` once it is settled (not claimed): a message can reach the
    sandbox a moment before the bot marks its row sent, so tests wait on the row itself."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        row = await bot.ledger.get(key)
        if row is not None and row.status != Status.CLAIMED:
            return row
        if loop.time() > deadline:
            return row
        await asyncio.sleep(0.02)


async def eventually(
    probe: Callable[[], Awaitable[T]], check: Callable[[T], bool] = bool, within: float = 5.0
) -> T:
    """Poll an async probe (a store query) until ``check`` holds; fail with the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        value = await probe()
        if check(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out; last value {value!r}")
        await asyncio.sleep(0.02)
