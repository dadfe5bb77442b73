"""Reminders: which exist, when each fan-out must start, and sending them exactly once.

The pure part (settings, which reminders exist, when their fan-out must start) is module-level
functions; `ReminderService` wires them to the store, the delivery module, the scheduler and
Discord.

For every active session and every lead L (the server's `reminder_leads`, plus any member's own
lead from `/reminders`) there is one reminder unit:
1. DMs to every registered member whose setting includes L (``default`` -> the server's leads,
   a number -> only that lead, ``off`` -> none), through `bot.delivery.fanout.send_dms`;
2. then the programme channel: at a server lead, the reminder post (start time, join button,
   how many are interested) mentioning the members whose DMs are closed; at a member's own lead,
   a short post mentioning only those members, if any.
The channel post comes last so it can name everyone whose DM bounced; the unit's job starts
early enough (see `bot.delivery.fanout`) that the last DM and the post land at start - L.

Exactly once: every send has a ledger key (`bot.delivery.keys.reminder_key` for the channel
post, `dm_key` per DM). A reminder missed while the bot was down is sent on start if the session
has not started; otherwise it is recorded as skipped, except sends claimed but never confirmed,
which are resumed with their nonce (never skipped: that could lose one). When several leads of
one session are caught up at once, only the smallest is sent: the larger ones' sends to the same
members (and their channel post) are recorded as skipped with the reason, and the post's title
says the real time left, not the lead.
"""

from __future__ import annotations

import logging
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

from bot.clock import Clock, real_seconds_until, to_db
from bot.config import Settings
from bot.delivery import Delivery, FanoutResult, Kind, Part, send_dms
from bot.delivery.context import TARGET_RATE
from bot.delivery.dm_policy import budget_seconds
from bot.delivery.fanout import MENTION_REASONS, REQUESTS_PER_NEW_DM, fanout_seconds
from bot.delivery.keys import dm_key, reminder_key, reminder_mentions_key
from bot.programme import Programme, Session
from bot.render import interest as render
from bot.schedule import PlannedJob
from bot.store import Store
from bot.store import dm_channels as dm_store
from bot.store import interest as interest_store
from bot.store import prefs as prefs_store
from bot.store.guild_settings import GuildConfig, get_config
from bot.store.interest import Registration
from bot.store.ledger import Status

log = logging.getLogger(__name__)

PLANNER = "reminders"
MIN_LEAD = 5
MAX_LEAD = 1440
ACCEPTED_SETTINGS = (
    "`default` (the server's reminder times), `off` (no DMs; channel reminders still happen), "
    "`mention` (no DMs: you are mentioned in the channel reminder), "
    f"or a number of minutes from {MIN_LEAD} to {MAX_LEAD} (e.g. `30`)"
)
#: Settings under which a member gets no DM at all (`mention`: a channel mention instead).
NO_DM_SETTINGS = ("off", "mention")
#: Past sessions older than this are not looked at again when planning (bounded start-up work).
CATCH_UP_WINDOW = timedelta(days=2)
#: A fan-out ending later than this after its lead time is reported to organisers.
LATE_TOLERANCE = timedelta(seconds=60)

Alert = Callable[[int, str, str], Awaitable[Any]]


class ProgrammeSource(Protocol):
    """The part of the programme service the interest features use."""

    async def get_programme(self, guild_id: int) -> Programme | None: ...

    async def get_session(
        self, guild_id: int, session_id: str, *, include_cancelled: bool = False
    ) -> Session | None: ...

    async def search(self, guild_id: int, query: str, *, limit: int = 25) -> list[Session]: ...


# --------------------------------------------------------------------------- pure core


def parse_reminder_setting(text: str) -> str:
    """``default``, ``off`` or minutes ("30", "30m", "30 minutes") -> stored form; ValueError."""
    value = (text or "").strip().lower()
    if value in ("default", "on", "server"):
        return "default"
    if value in ("off", "none", "no", "never"):
        return "off"
    if value in ("mention", "mentions", "channel", "ping"):
        return "mention"
    match = re.fullmatch(r"(\d{1,5})\s*(m|min|mins|minute|minutes)?", value)
    if match and MIN_LEAD <= int(match.group(1)) <= MAX_LEAD:
        return str(int(match.group(1)))
    raise ValueError(f"`{text}` is not a reminder setting. Use {ACCEPTED_SETTINGS}.")


def leads_for(setting: str, guild_leads: Sequence[int]) -> tuple[int, ...]:
    """The leads (minutes) at which a member with `setting` gets a reminder DM."""
    if setting in NO_DM_SETTINGS:
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


@dataclass(frozen=True, slots=True)
class ReminderUnit:
    """One reminder: a session at one lead, who is DMed, and whether there is a channel post."""

    session: Session
    lead: int
    recipients: tuple[int, ...]
    channel_post: bool
    #: Members who asked for a channel mention instead of DMs (`/reminders mention`).
    mentions: tuple[int, ...] = ()

    @property
    def due(self) -> datetime:
        return self.session.start - timedelta(minutes=self.lead)

    @property
    def requests(self) -> int:
        """Requests its fan-out costs at most (see `bot.delivery.fanout`)."""
        return REQUESTS_PER_NEW_DM * len(self.recipients) + 1


def reminder_units(
    sessions: Iterable[Session], registrations: Iterable[Registration], guild_leads: Sequence[int]
) -> list[ReminderUnit]:
    """Every reminder of these sessions: the server's leads, and each member's own lead.

    Linear in the registrations: each one is filed under its leads in one pass (scanning every
    registration once per distinct lead was sessions x leads x registrants: 2 s of blocked
    event loop for 20 sessions x 1,000 members with varied leads).
    """
    by_session: dict[str, list[Registration]] = defaultdict(list)
    for reg in registrations:
        by_session[reg.session_id].append(reg)
    units: list[ReminderUnit] = []
    server_leads = set(guild_leads)
    for session in sessions:
        regs = by_session.get(session.id, [])
        by_lead: dict[int, list[int]] = {lead: [] for lead in server_leads}
        for reg in regs:
            for lead in leads_for(reg.reminder_setting, guild_leads):
                by_lead.setdefault(lead, []).append(reg.user_id)
        mentioned = tuple(reg.user_id for reg in regs if reg.reminder_setting == "mention")
        for lead in sorted(by_lead, reverse=True):
            at_server_lead = lead in server_leads
            mentions = mentioned if at_server_lead else ()
            units.append(
                ReminderUnit(session, lead, tuple(by_lead[lead]), at_server_lead, mentions)
            )
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


def unit_seconds(
    unit: ReminderUnit,
    known: Collection[int] | None = None,
    new_dms_per_minute: int | None = None,
    rate: float = TARGET_RATE,
) -> float:
    """How long a unit's fan-out takes: members with a stored DM channel (`known`) cost one
    request, others two, paced at `rate`; and new DM channels open within the budget
    (`bot.delivery.dm_policy.budget_seconds`, capped: members beyond are mentioned)."""
    if known is None:
        return fanout_seconds(unit.requests, rate)
    new = sum(1 for user in unit.recipients if user not in known)
    seconds = float(fanout_seconds(len(unit.recipients) + new + 1, rate))
    if new_dms_per_minute:
        seconds = max(seconds, budget_seconds(new, new_dms_per_minute))
    return seconds


def start_times(
    units: Iterable[ReminderUnit],
    rate: float = TARGET_RATE,
    *,
    known: Collection[int] | None = None,
    new_dms_per_minute: int | None = None,
) -> dict[tuple[str, int], datetime]:
    """When each unit's job runs: early enough for its own fan-out and every later one's that
    would otherwise overlap it (see `plan_backwards`). `known`: members whose DM channel is
    stored (None: assume none is)."""
    return plan_backwards(
        ((u.session.id, u.lead), u.due, unit_seconds(u, known, new_dms_per_minute, rate))
        for u in units
    )


# --------------------------------------------------------------------------- DMs to members


@dataclass(eq=False)
class MemberDms:
    """DMs to registered members (reminders, change notices): a fan-out that records whose DMs
    are closed (so `/interested` can warn them) and clears it for those reached again."""

    delivery: Delivery
    store: Store
    concurrency: int = 10
    #: `AlertsService.raise_`: told when Discord restricts DMs (issue 10).
    alert: Alert | None = None

    async def send(
        self,
        guild_id: int,
        users: Sequence[int],
        *,
        kind: Kind,
        key_for: Callable[[int], str],
        kwargs: dict[str, Any],
        deadline: float | None = None,
    ) -> FanoutResult:
        async def closed(user_id: int) -> None:
            await prefs_store.set_dm_closed(self.store, guild_id, user_id, True)

        result = await send_dms(
            self.delivery.client,
            self.delivery.ledger,
            guild_id=guild_id,
            user_ids=users,
            kind=kind,
            key_for=key_for,
            build=lambda _user: dict(kwargs),
            concurrency=self.concurrency,
            on_closed=closed,
            context=self.delivery.fanout,
            deadline=deadline,
            on_alert=partial(self.alert, guild_id) if self.alert is not None else None,
        )
        if result.sent:
            await prefs_store.clear_dm_closed(self.store, guild_id, result.sent)
        return result

    async def closed_recipients(
        self, result: FanoutResult, key_for: Callable[[int], str]
    ) -> list[int]:
        """Members to mention instead of a DM (DMs closed, or not reached: Discord restricted
        new DMs or the budget ran out), including those found by an earlier (interrupted) run."""
        closed = list(result.mention)
        for user_id in result.skipped:
            row = await self.delivery.ledger.get(key_for(user_id))
            if row is not None and row.status is Status.SKIPPED and row.reason in MENTION_REASONS:
                closed.append(user_id)
        return closed


# --------------------------------------------------------------------------- the service


@dataclass(eq=False)
class ReminderService:
    """The `reminders` planner and its jobs."""

    store: Store
    delivery: Delivery
    settings: Settings
    clock: Clock
    programme: ProgrammeSource
    dms: MemberDms
    alert: Alert | None = None

    async def _config(self, guild_id: int) -> GuildConfig:
        return await get_config(self.store, self.settings, guild_id)

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """The reminder jobs that should exist for a guild (the `reminders` planner)."""
        programme = await self.programme.get_programme(guild_id)
        if programme is None:
            return []
        config = await self._config(guild_id)
        regs = await interest_store.registrations(self.store, guild_id)
        sessions = [s for s in programme.sessions if s.end > now - CATCH_UP_WINDOW]
        units = reminder_units(sessions, regs, config.reminder_leads)
        upcoming = {user for u in units if u.due > now for user in u.recipients}
        known = await dm_store.get_channels(self.store, upcoming)
        runs = start_times(
            units,
            known={user for user, row in known.items() if row.channel_id is not None},
            new_dms_per_minute=self.settings.new_dms_per_minute,
        )
        settled = await self.delivery.ledger.settled(guild_id, Kind.REMINDER)
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

    async def run_reminder(
        self, guild_id: int, session_id: str, lead: int, start: datetime
    ) -> None:
        """One reminder unit: DMs, then the channel post (or skips, if the session started)."""
        session = await self.programme.get_session(guild_id, session_id)
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
        kwargs = render.reminder_dm_message(session).kwargs()
        key_for = partial(dm_key, guild_id, session_id, lead, start)
        now = self.clock()
        if now >= session.start:
            await self._record_missed(guild_id, unit, key, kwargs)
            return
        with_post = await self._skip_superseded(guild_id, unit, units, now)
        # New DM channels may wait for the budget until the reminder is due, not after.
        deadline = time.monotonic() + real_seconds_until(self.clock, unit.due)
        result = await self.dms.send(
            guild_id,
            unit.recipients,
            kind=Kind.DM,
            key_for=key_for,
            kwargs=kwargs,
            deadline=deadline,
        )
        closed = await self.dms.closed_recipients(result, key_for)
        await self._check_late(guild_id, unit, result)
        await self._post_reminder(
            config, unit, key, [*closed, *unit.mentions], interested=len(regs), with_post=with_post
        )

    async def _check_late(self, guild_id: int, unit: ReminderUnit, result: FanoutResult) -> None:
        """Alert organisers when a fan-out could not reach everyone by DM before its lead
        time (finished late, or members left out by the new-DM budget)."""
        late = self.clock() - unit.due > LATE_TOLERANCE
        budget = result.over_budget
        if self.alert is None or (not late and not budget):
            return
        what = f"the {unit.lead}-minute reminder of “{unit.session.title}”"
        if late:
            text = f"DMs of {what} finished after its lead time."
        else:
            text = (
                f"{len(budget)} member(s) of {what} could not be DMed in time (the new-DM "
                "budget, QIWEEK_NEW_DMS_PER_MINUTE); they were mentioned in the programme channel."
            )
        await self.alert(guild_id, "fanout_late", text)

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
        ledger = self.delivery.ledger
        later = [u for u in units if u.lead < unit.lead and u.due <= now]
        if not later:
            return unit.channel_post
        smallest = min(u.lead for u in later)
        reason = f"caught up late: the {smallest}-minute reminder went instead"
        covered = {user for u in later for user in u.recipients}
        for user_id in unit.recipients:
            if user_id in covered:
                user_key = dm_key(guild_id, session.id, unit.lead, session.start, user_id)
                await ledger.skip(user_key, kind=Kind.DM, guild_id=guild_id, reason=reason)
        if unit.channel_post and any(u.channel_post for u in later):
            key = reminder_key(guild_id, session.id, unit.lead, session.start)
            if await ledger.skip(key, kind=Kind.REMINDER, guild_id=guild_id, reason=reason):
                log.info("reminder %s (%s min) %s", session.id, unit.lead, reason)
                return False
            return await self.delivery.is_open(key)  # resume a post begun before
        return unit.channel_post

    async def _record_missed(
        self, guild_id: int, unit: ReminderUnit, key: str, kwargs: dict[str, Any]
    ) -> None:
        """The session started while the bot was down: skip what was never begun, but resume
        what was claimed and not confirmed (with its nonce, so nothing is lost or doubled)."""
        session = unit.session
        ledger = self.delivery.ledger
        reason = "session had started"
        key_for = partial(dm_key, guild_id, session.id, unit.lead, session.start)
        resume: list[int] = []
        for user_id in unit.recipients:
            if not await ledger.skip(
                key_for(user_id), kind=Kind.DM, guild_id=guild_id, reason=reason
            ):
                if await self.delivery.is_open(key_for(user_id)):
                    resume.append(user_id)
        if resume:
            await self.dms.send(guild_id, resume, kind=Kind.DM, key_for=key_for, kwargs=kwargs)
        if await ledger.skip(key, kind=Kind.REMINDER, guild_id=guild_id, reason=reason):
            log.info("reminder %s (%s min) missed: the session had started", session.id, unit.lead)
        elif await self.delivery.is_open(key):
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
        ledger = self.delivery.ledger
        post = unit.channel_post if with_post is None else with_post
        if config.programme_channel_id is None:
            await ledger.skip(key, kind=Kind.REMINDER, guild_id=guild_id, reason="no channel")
            if closed:
                log.warning("no programme channel: %d closed-DM members not reminded", len(closed))
            return
        if not post and not closed:
            if unit.channel_post:
                return  # the post was recorded as superseded already
            await ledger.skip(
                key, kind=Kind.REMINDER, guild_id=guild_id, reason="member lead: all DMs delivered"
            )
            return
        messages = render.reminder_messages(
            session, unit.lead, interested, closed, with_post=post, now=self.clock()
        )
        # A superseded post's key is recorded as skipped: its mentions use the further keys.
        offset = 1 if unit.channel_post and not post else 0
        parts = [
            Part(
                key
                if index == 0
                else reminder_mentions_key(guild_id, session.id, unit.lead, session.start, index),
                message.kwargs(),
            )
            for index, message in enumerate(messages, start=offset)
        ]
        channel = self.delivery.text_channel(config.programme_channel_id, guild_id)
        for part in parts:  # each part is its own kind of send (the post, or mentions)
            await self.delivery.post(
                channel,
                [part],
                kind=Kind.REMINDER if part.key == key else Kind.REMINDER_MENTIONS,
                guild_id=guild_id,
                paced=True,
                tolerate_http_errors=True,
            )


__all__ = [
    "ACCEPTED_SETTINGS",
    "MAX_LEAD",
    "MIN_LEAD",
    "NO_DM_SETTINGS",
    "PLANNER",
    "MemberDms",
    "ProgrammeSource",
    "ReminderService",
    "ReminderUnit",
    "alarm_minutes",
    "leads_for",
    "parse_reminder_setting",
    "plan_backwards",
    "reminder_units",
    "start_times",
    "unit_seconds",
]
