"""Interest and reminders: registrations, the reminder schedule, and schedule-change notices.

The pure part (settings, which reminders exist, when their fan-out must start, ledger keys) is
module-level functions; `InterestService` wires them to the store, the ledger, the scheduler and
Discord.

Reminders. For every active session and every lead L (the server's `reminder_leads`, plus any
member's own lead from `/reminders`) there is one reminder unit:
1. DMs to every registered member whose setting includes L (``default`` -> the server's leads,
   a number -> only that lead, ``off`` -> none), through `fanout.send_dms`;
2. then the programme channel: at a server lead, the reminder post (start time, join button,
   how many are interested) mentioning the members whose DMs are closed; at a member's own lead,
   a short post mentioning only those members, if any.
The channel post comes last so it can name everyone whose DM bounced; the unit's job starts
early enough (see `bot.services.fanout`) that the last DM and the post land at start - L.

Exactly once: every send is a ledger key (``reminder:{guild}:{session}:{lead}:{start}`` for the
channel post, ``dm:...:{user}`` per DM). A reminder missed while the bot was down is sent on start
if the session has not started; otherwise it is recorded as skipped, except sends claimed but
never confirmed, which are resumed with their nonce (never skipped: that could lose one). When
several leads of one session are caught up at once, only the smallest is sent: the larger ones'
sends to the same members (and their channel post) are recorded as skipped with the reason, and
the post's title says the real time left, not the lead.

Schedule changes. The programme service calls `on_programme_change` after an import or seed
(just before it re-plans every planner, so reminders follow the new times). For every session
moved or removed that is not over, each registered member gets one DM saying what changed (key
``change-dm:{guild}:{session}:{hash}:{user}``, the hash naming the change) and the programme
channel one notice (``change:{guild}:{session}:{hash}``). The notice is stored first
(`bot.store.changes`), then the `changes` planner runs it as a job; it is marked done once the
channel notice and every DM are settled in the ledger. A bot stopped mid-way therefore resumes
it at the next start (which sees no programme diff): DMs done are skipped, DMs claimed but not
confirmed are resumed with their nonce. Registrations of a cancelled or removed session are
kept for the record; the planner only reminds of active sessions. Members with reminders
``off`` get no DMs of any kind; the channel notice reaches them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.calendar import ics_filename, sessions_ics
from bot.clock import Clock, to_db
from bot.config import Settings
from bot.programme import Programme, ProgrammeDiff, Session
from bot.render import interest as render
from bot.schedule import PlannedJob, Schedule
from bot.services.fanout import (
    CLOSED_REASON,
    REQUESTS_PER_NEW_DM,
    TARGET_RATE,
    FanoutResult,
    context_for,
    fanout_seconds,
    send_dms,
)
from bot.store import Ledger, Store
from bot.store import changes as changes_store
from bot.store import interest as interest_store
from bot.store import prefs as prefs_store
from bot.store.changes import ChangeNotice
from bot.store.guild_settings import GuildConfig, get_config
from bot.store.interest import Registration

if TYPE_CHECKING:
    from bot.client import Services

log = logging.getLogger(__name__)

PLANNER = "reminders"
#: The planner that resumes change notices not yet done (see `InterestService.plan_changes`).
CHANGES_PLANNER = "changes"
MIN_LEAD = 5
MAX_LEAD = 1440
ACCEPTED_SETTINGS = (
    "`default` (the server's reminder times), `off` (no DMs; channel reminders still happen), "
    f"or a number of minutes from {MIN_LEAD} to {MAX_LEAD} (e.g. `30`)"
)
#: How long after a registration or setting change the reminders are re-planned (debounce).
REPLAN_DELAY = 1.0
#: Past sessions older than this are not looked at again when planning (bounded start-up work).
CATCH_UP_WINDOW = timedelta(days=2)


class ProgrammeSource(Protocol):
    """The part of the programme service this feature uses."""

    async def get_programme(self, guild_id: int) -> Programme | None: ...

    async def get_session(
        self, guild_id: int, session_id: str, *, include_cancelled: bool = False
    ) -> Session | None: ...


# --------------------------------------------------------------------------- pure core


def parse_reminder_setting(text: str) -> str:
    """``default``, ``off`` or minutes ("30", "30m", "30 minutes") -> stored form; ValueError."""
    value = (text or "").strip().lower()
    if value in ("default", "on", "server"):
        return "default"
    if value in ("off", "none", "no", "never"):
        return "off"
    match = re.fullmatch(r"(\d{1,5})\s*(m|min|mins|minute|minutes)?", value)
    if match and MIN_LEAD <= int(match.group(1)) <= MAX_LEAD:
        return str(int(match.group(1)))
    raise ValueError(f"`{text}` is not a reminder setting. Use {ACCEPTED_SETTINGS}.")


def leads_for(setting: str, guild_leads: Sequence[int]) -> tuple[int, ...]:
    """The leads (minutes) at which a member with `setting` gets a reminder DM."""
    if setting == "off":
        return ()
    if setting.isdigit():
        return (int(setting),)
    return tuple(guild_leads)


def alarm_minutes(setting: str, guild_leads: Sequence[int]) -> int | None:
    """The calendar alarm of `/my-sessions`: the member's own lead, else the server's smallest;
    none when they turned reminders off (they asked not to be reminded)."""
    if setting == "off":
        return None
    if setting.isdigit():
        return int(setting)
    return min(guild_leads) if guild_leads else None


def reminder_key(guild_id: int, session_id: str, lead: int, start: datetime) -> str:
    return f"reminder:{guild_id}:{session_id}:{lead}:{to_db(start)}"


def mentions_key(guild_id: int, session_id: str, lead: int, start: datetime, part: int) -> str:
    """Further channel messages of one reminder, when closed-DM mentions need more than one."""
    return f"reminder-mentions:{guild_id}:{session_id}:{lead}:{to_db(start)}:{part}"


def dm_key(guild_id: int, session_id: str, lead: int, start: datetime, user_id: int) -> str:
    return f"dm:{guild_id}:{session_id}:{lead}:{to_db(start)}:{user_id}"


def kind_of(key: str) -> str:
    """A ledger key's kind is its first word."""
    return key.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class ReminderUnit:
    """One reminder: a session at one lead, who is DMed, and whether there is a channel post."""

    session: Session
    lead: int
    recipients: tuple[int, ...]
    channel_post: bool

    @property
    def due(self) -> datetime:
        return self.session.start - timedelta(minutes=self.lead)

    @property
    def requests(self) -> int:
        """Requests its fan-out costs at most (see `bot.services.fanout`)."""
        return REQUESTS_PER_NEW_DM * len(self.recipients) + 1


def reminder_units(
    sessions: Iterable[Session], registrations: Iterable[Registration], guild_leads: Sequence[int]
) -> list[ReminderUnit]:
    """Every reminder of these sessions: the server's leads, and each member's own lead.

    Linear in the registrations: each one is filed under its leads in one pass (scanning every
    registration once per distinct lead was sessions x leads x registrants: 3 s of blocked
    event loop for 20 sessions x 1,000 members with varied leads).
    """
    by_session: dict[str, list[Registration]] = defaultdict(list)
    for reg in registrations:
        by_session[reg.session_id].append(reg)
    units: list[ReminderUnit] = []
    server_leads = set(guild_leads)
    for session in sessions:
        by_lead: dict[int, list[int]] = {lead: [] for lead in server_leads}
        for reg in by_session.get(session.id, []):
            for lead in leads_for(reg.reminder_setting, guild_leads):
                by_lead.setdefault(lead, []).append(reg.user_id)
        for lead in sorted(by_lead, reverse=True):
            units.append(ReminderUnit(session, lead, tuple(by_lead[lead]), lead in server_leads))
    return units


def plan_backwards(
    items: Iterable[tuple[Any, datetime, float]],
) -> dict[Any, datetime]:
    """When each fan-out must start so that all of them finish by their due times, sharing
    one pacer: `items` are (name, due, seconds it takes).

    Fan-outs run one after another through the shared pacer, so plan backwards from the last
    one due: each starts at min(its own due - its cost, the next one's start - its cost). Two
    fan-outs due a minute apart whose costs overlap therefore start early enough for both, and
    ones due at the same instant start early by their summed cost.
    """
    ordered = sorted(items, key=lambda item: (item[1], str(item[0])))
    starts: dict[Any, datetime] = {}
    next_start: datetime | None = None
    for name, due, seconds in reversed(ordered):
        cost = timedelta(seconds=seconds)
        start = due - cost
        if next_start is not None:
            start = min(start, next_start - cost)
        starts[name] = start
        next_start = start
    return starts


def start_times(
    units: Iterable[ReminderUnit], rate: float = TARGET_RATE
) -> dict[tuple[str, int], datetime]:
    """When each unit's job runs: early enough for its own fan-out and every later one's that
    would otherwise overlap it (see `plan_backwards`)."""
    return plan_backwards(
        ((u.session.id, u.lead), u.due, fanout_seconds(u.requests, rate)) for u in units
    )


@dataclass(frozen=True, slots=True)
class Change:
    """A session moved (`new` set) or removed/cancelled (`new` None), as members are told."""

    old: Session
    new: Session | None

    @property
    def session_id(self) -> str:
        return self.old.id

    @property
    def digest(self) -> str:
        """Names this change: the same change notified twice has the same ledger keys."""
        parts = [self.old.id, to_db(self.old.start), to_db(self.old.end)]
        if self.new is None:
            parts.append("removed")
        else:
            parts += [to_db(self.new.start), to_db(self.new.end)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def changes_to_notify(diff: ProgrammeDiff, now: datetime) -> list[Change]:
    """Moved and removed sessions that still matter (not already over)."""
    changes = [Change(old, new) for old, new in diff.moved if max(old.end, new.end) > now]
    changes += [Change(old, None) for old in diff.removed if old.end > now]
    return changes


def change_key(guild_id: int, change: Change) -> str:
    return f"change:{guild_id}:{change.session_id}:{change.digest}"


def change_dm_key(guild_id: int, change: Change, user_id: int) -> str:
    return f"change-dm:{guild_id}:{change.session_id}:{change.digest}:{user_id}"


def notice_of(guild_id: int, change: Change) -> ChangeNotice:
    """The stored form of a change notice (what members are told, nothing more)."""
    old, new = change.old, change.new
    return ChangeNotice(
        guild_id=guild_id,
        session_id=old.id,
        change_hash=change.digest,
        kind="cancelled" if new is None else "moved",
        old_title=old.title,
        old_start=old.start,
        old_end=old.end,
        new_title=new.title if new is not None else None,
        new_start=new.start if new is not None else None,
        new_end=new.end if new is not None else None,
        new_join_url=new.join_url if new is not None else "",
    )


def change_of(notice: ChangeNotice) -> Change:
    """Back from the stored notice to the change it tells (same digest, same ledger keys)."""
    old = Session(
        id=notice.session_id, title=notice.old_title, start=notice.old_start, end=notice.old_end
    )
    new = None
    if notice.kind == "moved" and notice.new_start is not None and notice.new_end is not None:
        new = Session(
            id=notice.session_id,
            title=notice.new_title or notice.old_title,
            start=notice.new_start,
            end=notice.new_end,
            join_url=notice.new_join_url,
        )
    return Change(old, new)


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Registered:
    """What a registration did, for the answer."""

    session: Session
    changed: bool
    setting: str
    guild_leads: tuple[int, ...]
    dm_closed: bool = False


@dataclass(frozen=True, slots=True)
class PickOutcome:
    """The daily post's select: which sessions were registered, which refused and why."""

    added: tuple[Session, ...] = ()
    already: tuple[Session, ...] = ()
    started: tuple[Session, ...] = ()
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MySessions:
    sessions: tuple[Session, ...]
    cancelled: tuple[Session, ...]
    setting: str
    guild_leads: tuple[int, ...]
    ics: bytes | None
    ics_name: str


class ServiceUnavailable(Exception):
    """The programme is not loaded (yet)."""


# --------------------------------------------------------------------------- the service


@dataclass(eq=False)
class InterestService:
    """Registrations, the reminder planner and jobs, and schedule-change notices."""

    client: discord.Client
    store: Store
    ledger: Ledger
    settings: Settings
    schedule: Schedule
    clock: Clock
    services: Services
    concurrency: int = 10
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)
    _replan_pending: set[int] = field(default_factory=set, init=False, repr=False)
    _listening: object | None = field(default=None, init=False, repr=False)
    _active_changes: set[tuple[int, str, str]] = field(default_factory=set, init=False, repr=False)

    # ---------------------------------------------------------------- wiring

    @property
    def programme(self) -> ProgrammeSource | None:
        """Read lazily: the programme cog may load after this one."""
        return self.services.programme

    def attach(self) -> bool:
        """Listen to programme changes once the programme service exists; idempotent."""
        programme = self.services.programme
        if programme is None or self._listening is programme:
            return self._listening is not None
        programme.add_change_listener(self.on_programme_change)
        self._listening = programme
        return True

    async def close(self) -> None:
        """Cancel background work (debounced replans); claims stay resumable. Reminder and
        change-notice jobs belong to the schedule, which cancels them at shutdown."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: shutdown must never hang on a task that is slow to unwind.
            _, stuck = await asyncio.wait(tasks, timeout=5)
            for task in stuck:
                log.warning("%s did not stop within 5 s of shutdown", task.get_name())
        self._tasks.clear()
        self._replan_pending.clear()

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def replan_soon(self, guild_id: int) -> None:
        """Re-plan this guild's reminders shortly (a registration or setting changed: who is
        DMed at which lead, and how early each fan-out starts).

        Debounced: a burst of clicks after a daily post makes one replan, not hundreds.
        """
        if guild_id in self._replan_pending:
            return
        self._replan_pending.add(guild_id)

        async def later() -> None:
            await asyncio.sleep(REPLAN_DELAY)
            self._replan_pending.discard(guild_id)
            await self.schedule.replan(guild_id, only=PLANNER)

        self._spawn(later(), f"reminder replan {guild_id}")

    async def _config(self, guild_id: int) -> GuildConfig:
        return await get_config(self.store, self.settings, guild_id)

    async def _session(
        self, guild_id: int, session_id: str, *, include_cancelled: bool = False
    ) -> Session | None:
        programme = self.programme
        if programme is None:
            raise ServiceUnavailable
        return await programme.get_session(
            guild_id, session_id, include_cancelled=include_cancelled
        )

    # ---------------------------------------------------------------- members

    async def register(self, guild_id: int, session: Session, user_id: int) -> Registered:
        """Register for a session that has not started (the caller checked it exists)."""
        changed = await interest_store.add_interest(self.store, guild_id, session.id, user_id)
        if changed:
            self.replan_soon(guild_id)
        return await self._registered(guild_id, session, user_id, changed)

    async def unregister(self, guild_id: int, session_id: str, user_id: int) -> bool:
        changed = await interest_store.remove_interest(self.store, guild_id, session_id, user_id)
        if changed:
            self.replan_soon(guild_id)
        return changed

    async def change_impact(
        self, guild_id: int, diff: ProgrammeDiff
    ) -> tuple[int, int, int, int | None]:
        """What applying ``diff`` would tell: (distinct registered members DMed, sessions moved
        or cancelled that are not over, notices posted in the programme channel, its id).

        Members whose reminders are off get no DM, as in the fan-out itself.
        """
        changes = changes_to_notify(diff, self.clock())
        members: set[int] = set()
        for change in changes:
            regs = await interest_store.registrations(self.store, guild_id, change.session_id)
            members.update(r.user_id for r in regs if r.reminder_setting != "off")
        config = await self._config(guild_id)
        channel_id = config.programme_channel_id
        notices = len(changes) if channel_id is not None else 0
        return len(members), len(changes), notices, channel_id

    async def is_registered(self, guild_id: int, session_id: str, user_id: int) -> bool:
        return await interest_store.is_interested(self.store, guild_id, session_id, user_id)

    async def _registered(
        self, guild_id: int, session: Session, user_id: int, changed: bool
    ) -> Registered:
        prefs = await prefs_store.get_prefs(self.store, guild_id, user_id)
        config = await self._config(guild_id)
        return Registered(
            session=session,
            changed=changed,
            setting=prefs.reminder_setting,
            guild_leads=config.reminder_leads,
            dm_closed=prefs.dm_closed,
        )

    async def register_many(
        self, guild_id: int, session_ids: Sequence[str], user_id: int
    ) -> PickOutcome:
        """The daily post's select: register every chosen session that has not started."""
        now = self.clock()
        found: list[Session] = []
        started: list[Session] = []
        unknown: list[str] = []
        for session_id in dict.fromkeys(session_ids):
            session = await self._session(guild_id, session_id)
            if session is None:
                unknown.append(session_id)
            elif session.start <= now:
                started.append(session)
            else:
                found.append(session)
        added_ids = set(
            await interest_store.add_interests(self.store, guild_id, [s.id for s in found], user_id)
        )
        if added_ids:
            self.replan_soon(guild_id)
        return PickOutcome(
            added=tuple(s for s in found if s.id in added_ids),
            already=tuple(s for s in found if s.id not in added_ids),
            started=tuple(started),
            unknown=tuple(unknown),
        )

    async def reminder_setting(self, guild_id: int, user_id: int) -> tuple[str, tuple[int, ...]]:
        prefs = await prefs_store.get_prefs(self.store, guild_id, user_id)
        config = await self._config(guild_id)
        return prefs.reminder_setting, config.reminder_leads

    async def set_reminder_setting(
        self, guild_id: int, user_id: int, text: str
    ) -> tuple[str, tuple[int, ...]]:
        """Validate and store `/reminders`; ValueError (listing what is accepted) otherwise."""
        setting = parse_reminder_setting(text)
        await prefs_store.set_reminder_setting(self.store, guild_id, user_id, setting)
        self.replan_soon(guild_id)
        config = await self._config(guild_id)
        return setting, config.reminder_leads

    async def my_sessions(self, guild_id: int, user_id: int) -> MySessions:
        """The member's sessions in time order, cancelled ones apart, and their .ics file."""
        ids = await interest_store.sessions_of(self.store, guild_id, user_id)
        active: list[Session] = []
        cancelled: list[Session] = []
        for session_id in ids:
            session = await self._session(guild_id, session_id)
            if session is not None:
                active.append(session)
                continue
            gone = await self._session(guild_id, session_id, include_cancelled=True)
            if gone is not None:
                cancelled.append(gone)
        active.sort(key=lambda s: (s.start, s.title, s.id))
        cancelled.sort(key=lambda s: (s.start, s.title, s.id))
        setting, leads = await self.reminder_setting(guild_id, user_id)
        programme = await self.programme.get_programme(guild_id) if self.programme else None
        name = programme.event.name if programme is not None else "QI Week"
        ics = None
        if active:
            ics = sessions_ics(
                active,
                calendar_name=f"{name}: my sessions",
                alarm_minutes=alarm_minutes(setting, leads),
                now=self.clock(),
            )
        return MySessions(
            sessions=tuple(active),
            cancelled=tuple(cancelled),
            setting=setting,
            guild_leads=leads,
            ics=ics,
            ics_name=ics_filename("qiweek-my-sessions"),
        )

    async def registered_sessions(self, guild_id: int, user_id: int) -> list[Session]:
        """Active sessions the member registered for (for `/not-interested` autocomplete)."""
        result = []
        for session_id in await interest_store.sessions_of(self.store, guild_id, user_id):
            session = await self._session(guild_id, session_id, include_cancelled=True)
            if session is not None:
                result.append(session)
        return sorted(result, key=lambda s: (s.start, s.title, s.id))

    # ---------------------------------------------------------------- planning

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """The reminder jobs that should exist for a guild (the `reminders` planner)."""
        programme = await self.programme.get_programme(guild_id) if self.programme else None
        if programme is None:
            return []
        config = await self._config(guild_id)
        regs = await interest_store.registrations(self.store, guild_id)
        sessions = [s for s in programme.sessions if s.end > now - CATCH_UP_WINDOW]
        units = reminder_units(sessions, regs, config.reminder_leads)
        runs = start_times(units)
        settled = await self.ledger.settled(guild_id, "reminder")
        jobs: list[PlannedJob] = []
        for unit in units:
            session = unit.session
            key = reminder_key(guild_id, session.id, unit.lead, session.start)
            if key in settled:
                continue  # sent, skipped or failed for good: nothing left to do
            jobs.append(
                PlannedJob(
                    id=f"{session.id}:{unit.lead}:{to_db(session.start)}",
                    run_at=runs[(session.id, unit.lead)],
                    func=partial(self.run_reminder, guild_id, session.id, unit.lead, session.start),
                    description=f"reminder {session.id} {unit.lead} min",
                )
            )
        return jobs

    # ---------------------------------------------------------------- reminders

    async def run_reminder(
        self, guild_id: int, session_id: str, lead: int, start: datetime
    ) -> None:
        """One reminder unit: DMs, then the channel post (or skips, if the session started)."""
        session = await self._session(guild_id, session_id)
        if session is None or session.start != start:
            log.info("reminder %s/%s: session moved or cancelled; not sent", session_id, lead)
            return
        config = await self._config(guild_id)
        regs = await interest_store.registrations(self.store, guild_id, session_id)
        units = reminder_units([session], regs, config.reminder_leads)
        unit = next((u for u in units if u.lead == lead), None)
        if unit is None:
            log.info("reminder %s/%s: nobody wants this lead any more", session_id, lead)
            return
        key = reminder_key(guild_id, session_id, lead, start)
        build = self._dm_builder(session, lead)
        now = self.clock()
        if now >= session.start:
            await self._record_missed(guild_id, unit, key, build)
            return
        with_post = await self._skip_superseded(guild_id, unit, units, now)
        result = await self._fanout(
            guild_id,
            unit.recipients,
            kind="dm",
            key_for=lambda user: dm_key(guild_id, session_id, lead, start, user),
            build=build,
        )
        closed = await self._closed_recipients(
            result, partial(dm_key, guild_id, session_id, lead, start)
        )
        await self._post_reminder(
            config, unit, key, closed, interested=len(regs), with_post=with_post
        )

    async def _skip_superseded(
        self, guild_id: int, unit: ReminderUnit, units: Sequence[ReminderUnit], now: datetime
    ) -> bool:
        """A reminder caught up so late that a smaller lead is already due too (the bot was
        down): only the smallest is sent. Each member also DMed at that smaller lead is
        recorded as skipped here, and so is this channel post when that lead has one.

        Returns whether this unit still makes its channel post. Sends claimed by an earlier run
        are not touched (`Ledger.skip` leaves existing rows): they are resumed, never skipped.
        """
        session = unit.session
        later = [u for u in units if u.lead < unit.lead and u.due <= now]
        if not later:
            return unit.channel_post
        smallest = min(u.lead for u in later)
        reason = f"caught up late: the {smallest}-minute reminder went instead"
        covered = {user for u in later for user in u.recipients}
        for user_id in unit.recipients:
            if user_id in covered:
                user_key = dm_key(guild_id, session.id, unit.lead, session.start, user_id)
                await self.ledger.skip(user_key, kind="dm", guild_id=guild_id, reason=reason)
        if unit.channel_post and any(u.channel_post for u in later):
            key = reminder_key(guild_id, session.id, unit.lead, session.start)
            if await self.ledger.skip(key, kind="reminder", guild_id=guild_id, reason=reason):
                log.info("reminder %s (%s min) %s", session.id, unit.lead, reason)
                return False
            row = await self.ledger.get(key)
            return row is not None and row.status == "claimed"  # resume a post begun before
        return unit.channel_post

    def _dm_builder(self, session: Session, lead: int) -> Callable[[int], dict[str, Any]]:
        kwargs = render.reminder_dm_message(session).kwargs()
        return lambda _user: dict(kwargs)

    async def _fanout(
        self,
        guild_id: int,
        users: Sequence[int],
        *,
        kind: str,
        key_for: Callable[[int], str],
        build: Callable[[int], dict[str, Any]],
    ) -> FanoutResult:
        async def closed(user_id: int) -> None:
            await prefs_store.set_dm_closed(self.store, guild_id, user_id, True)

        result = await send_dms(
            self.client,
            self.ledger,
            guild_id=guild_id,
            user_ids=users,
            kind=kind,
            key_for=key_for,
            build=build,
            concurrency=self.concurrency,
            on_closed=closed,
        )
        if result.sent:
            await prefs_store.clear_dm_closed(self.store, guild_id, result.sent)
        return result

    async def _closed_recipients(
        self, result: FanoutResult, key_for: Callable[[int], str]
    ) -> list[int]:
        """Closed DMs of this send, including those found by an earlier (interrupted) run."""
        closed = list(result.dm_closed)
        for user_id in result.skipped:
            row = await self.ledger.get(key_for(user_id))
            if row is not None and row.status == "skipped" and row.reason == CLOSED_REASON:
                closed.append(user_id)
        return closed

    async def _record_missed(
        self,
        guild_id: int,
        unit: ReminderUnit,
        key: str,
        build: Callable[[int], dict[str, Any]],
    ) -> None:
        """The session started while the bot was down: skip what was never begun, but resume
        what was claimed and not confirmed (with its nonce, so nothing is lost or doubled)."""
        session = unit.session
        reason = "session had started"
        resume: list[int] = []
        for user_id in unit.recipients:
            user_key = dm_key(guild_id, session.id, unit.lead, session.start, user_id)
            if not await self.ledger.skip(user_key, kind="dm", guild_id=guild_id, reason=reason):
                row = await self.ledger.get(user_key)
                if row is not None and row.status == "claimed":
                    resume.append(user_id)
        if resume:
            await self._fanout(
                guild_id,
                resume,
                kind="dm",
                key_for=partial(dm_key, guild_id, session.id, unit.lead, session.start),
                build=build,
            )
        row = await self.ledger.get(key)
        if row is None:
            await self.ledger.skip(key, kind="reminder", guild_id=guild_id, reason=reason)
            log.info("reminder %s (%s min) missed: the session had started", session.id, unit.lead)
        elif row.status == "claimed":
            config = await self._config(guild_id)
            regs = await interest_store.count_interested(self.store, guild_id, session.id)
            await self._post_reminder(config, unit, key, [], interested=regs)

    async def _post_reminder(
        self,
        config: GuildConfig,
        unit: ReminderUnit,
        key: str,
        closed: Sequence[int],
        *,
        interested: int,
        with_post: bool | None = None,
    ) -> None:
        """The channel part of a reminder: the post (at a server lead, unless a caught-up
        smaller lead made it; see `_skip_superseded`) and closed-DM mentions."""
        guild_id = config.guild_id
        session = unit.session
        post = unit.channel_post if with_post is None else with_post
        if config.programme_channel_id is None:
            await self.ledger.skip(key, kind="reminder", guild_id=guild_id, reason="no channel")
            if closed:
                log.warning("no programme channel: %d closed-DM members not reminded", len(closed))
            return
        if not post and not closed:
            if unit.channel_post:
                return  # the post was recorded as superseded already
            await self.ledger.skip(
                key, kind="reminder", guild_id=guild_id, reason="member lead: all DMs delivered"
            )
            return
        messages = render.reminder_messages(
            session, unit.lead, interested, closed, with_post=post, now=self.clock()
        )
        channel = self.client.get_partial_messageable(
            config.programme_channel_id, guild_id=guild_id, type=discord.ChannelType.text
        )
        # A superseded post's key is recorded as skipped: its mentions use the further keys.
        offset = 1 if unit.channel_post and not post else 0
        for index, message in enumerate(messages, start=offset):
            part_key = (
                key
                if index == 0
                else mentions_key(guild_id, session.id, unit.lead, session.start, index)
            )
            await self._post(channel, part_key, guild_id, message)

    async def _post(
        self,
        channel: discord.abc.Messageable,
        key: str,
        guild_id: int,
        message: render.ChannelMessage,
    ) -> None:
        pacer = context_for(self.client).pacer

        async def send(nonce: str) -> int:
            await pacer.wait()
            sent = await channel.send(**message.kwargs(), nonce=nonce)
            return sent.id

        try:
            await self.ledger.deliver(key, kind=kind_of(key), guild_id=guild_id, send=send)
        except discord.HTTPException as exc:
            log.error("channel post %s failed: %s", key, exc)

    # ---------------------------------------------------------------- changes

    async def on_programme_change(self, guild_id: int, diff: ProgrammeDiff) -> None:
        """Programme listener: store a notice for each session moved or removed, then plan its
        fan-out (the `changes` planner runs it at once, in the background).

        The notice is stored before any send, so a bot stopped mid-way resumes it at the next
        start (the next start sees no diff: without the stored notice, members not yet reached
        would never be told). Storing the same change again is a no-op: it is told once.
        The programme service re-plans every planner (reminders too) right after the listeners.
        """
        changes = changes_to_notify(diff, self.clock())
        if not changes:
            return
        added = await changes_store.add_notices(
            self.store, [notice_of(guild_id, change) for change in changes]
        )
        if added:
            await self.schedule.replan(guild_id, only=CHANGES_PLANNER)

    async def plan_changes(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """The `changes` planner: a job, due at once, for every change notice not yet done
        (a new one, or one a stopped bot left half-way), except those running right now."""
        jobs: list[PlannedJob] = []
        for notice in await changes_store.pending_notices(self.store, guild_id):
            name = (guild_id, notice.session_id, notice.change_hash)
            if name in self._active_changes:
                continue
            jobs.append(
                PlannedJob(
                    id=f"{notice.session_id}:{notice.change_hash}",
                    run_at=now,
                    func=partial(
                        self.run_change_notice, guild_id, notice.session_id, notice.change_hash
                    ),
                    description=f"change notice {notice.session_id} ({notice.kind})",
                )
            )
        return jobs

    async def run_change_notice(self, guild_id: int, session_id: str, change_hash: str) -> bool:
        """Tell one stored change through the ledger (DMs done are skipped, DMs claimed but
        unconfirmed are resumed with their nonce), then mark the notice done once every send
        is settled. Returns whether it is done."""
        name = (guild_id, session_id, change_hash)
        if name in self._active_changes:
            return False
        notice = await changes_store.get_notice(self.store, guild_id, session_id, change_hash)
        if notice is None or notice.done_at is not None:
            return notice is not None
        self._active_changes.add(name)
        try:
            change = change_of(notice)
            await self._notify_change(guild_id, change)
            prefix = f"change:{guild_id}:{session_id}:{change_hash}"
            dm_prefix = f"change-dm:{guild_id}:{session_id}:{change_hash}:"
            open_keys = [
                *await changes_store.unsettled_keys(self.store, prefix),
                *await changes_store.unsettled_keys(self.store, dm_prefix),
            ]
            if open_keys:
                log.warning(
                    "change notice %s/%s: %d sends still unconfirmed; resumed at the next start",
                    session_id,
                    change_hash,
                    len(open_keys),
                )
                return False
            await changes_store.mark_done(self.store, guild_id, session_id, change_hash)
            log.info("change notice %s/%s done", session_id, change_hash)
            return True
        finally:
            self._active_changes.discard(name)

    async def _notify_change(self, guild_id: int, change: Change) -> None:
        config = await self._config(guild_id)
        regs = await interest_store.registrations(self.store, guild_id, change.session_id)
        users = [r.user_id for r in regs if r.reminder_setting != "off"]
        new_end = change.new.end if change.new is not None else change.old.end
        stale = max(change.old.end, new_end) <= self.clock()
        if stale:
            # Resumed after the session was over (the bot was down long): no longer worth
            # telling; only sends begun before are finished (with their nonce), never lost.
            reason = "session over before the notice could be sent"
            for user_id in users:
                await self.ledger.skip(
                    change_dm_key(guild_id, change, user_id),
                    kind="change-dm",
                    guild_id=guild_id,
                    reason=reason,
                )
            users = []
            await self.ledger.skip(
                change_key(guild_id, change), kind="change", guild_id=guild_id, reason=reason
            )
        # A DM claimed by a stopped run is resumed even if the member has since unregistered
        # or turned reminders off: it may have reached them, and must not stay open forever.
        dm_prefix = f"change-dm:{guild_id}:{change.session_id}:{change.digest}:"
        for key in await changes_store.unsettled_keys(self.store, dm_prefix):
            user = key[len(dm_prefix) :]
            if user.isdigit() and int(user) not in users:
                users.append(int(user))
        kwargs = render.change_dm_message(change.old, change.new).kwargs()
        key_for = partial(change_dm_key, guild_id, change)
        result = await self._fanout(
            guild_id, users, kind="change-dm", key_for=key_for, build=lambda _user: dict(kwargs)
        )
        closed = await self._closed_recipients(result, key_for)
        key = change_key(guild_id, change)
        if config.programme_channel_id is None:
            await self.ledger.skip(key, kind="change", guild_id=guild_id, reason="no channel")
            return
        channel = self.client.get_partial_messageable(
            config.programme_channel_id, guild_id=guild_id, type=discord.ChannelType.text
        )
        messages = render.change_messages(
            change.old, change.new, interested=len(regs), closed=closed
        )
        for index, message in enumerate(messages):
            part_key = key if index == 0 else f"{key}:{index}"
            await self._post(channel, part_key, guild_id, message)


__all__ = [
    "ACCEPTED_SETTINGS",
    "CHANGES_PLANNER",
    "MAX_LEAD",
    "MIN_LEAD",
    "PLANNER",
    "Change",
    "InterestService",
    "MySessions",
    "PickOutcome",
    "Registered",
    "ReminderUnit",
    "ServiceUnavailable",
    "alarm_minutes",
    "change_dm_key",
    "change_key",
    "change_of",
    "changes_to_notify",
    "dm_key",
    "leads_for",
    "notice_of",
    "parse_reminder_setting",
    "plan_backwards",
    "reminder_key",
    "reminder_units",
    "start_times",
]
