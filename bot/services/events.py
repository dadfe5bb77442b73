"""Sessions mirrored as Discord scheduled events, and "Interested" there counting here (issue 12).

The server is reconciled with the programme, never trusted blindly: each sync lists the guild's
events, adopts a bot event it created but did not record (a stop between the create and the
insert), and then cancels, drops, edits and creates so that the bot's uncompleted events are
exactly the window (bot/mirror.py). So a restart creates nothing twice.

Discord's rules, by construction:
- at most 100 uncompleted events per server: the window is at most `QIWEEK_EVENTS_MAX` and
  never more than the room the organisers' own events leave; a 30038 anyway (an organiser
  created one meanwhile) stops this sync's creations and tells the organisers once;
- Create Events (1<<44) is needed: without it (seen in the permission cache, or a 50013
  refusal) the feature pauses with one organiser alert and sends no further event request
  until the permission comes back (a role update) or `/organiser setup scheduled_events:on`.

Registrations made from the event keep their source ('event'); un-marking removes only those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import discord

from bot import mirror
from bot.clock import Clock
from bot.config import Settings
from bot.programme import Programme
from bot.schedule import PlannedJob, Schedule
from bot.services.audit import AuditTrail
from bot.store import Store, native

log = logging.getLogger(__name__)

PLANNER = "events"
MISSING_PERMISSION = "the bot lacks the Create Events permission"
MAX_EVENTS = 30038
MISSING_PERMISSIONS = 50013
INVALID_FORM = 50035
Alert = Callable[[int, str], Awaitable[None]]


class ProgrammeSource(Protocol):
    async def get_programme(self, guild_id: int) -> Programme | None: ...


async def log_alert(guild_id: int, text: str) -> None:
    """The default organiser alert until the organiser alerts channel (issue 10) is wired in."""
    log.warning("organiser alert for guild %s: %s", guild_id, text)


@dataclass
class SyncReport:
    """What one sync did (for logs and tests)."""

    created: int = 0
    edited: int = 0
    cancelled: int = 0
    dropped: int = 0
    adopted: int = 0
    room: int = 0
    skipped: str | None = None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(eq=False)
class EventMirror:
    """Keeps the guild's Events list in step with the programme; see the module docstring."""

    client: discord.Client
    store: Store
    settings: Settings
    clock: Clock
    schedule: Schedule
    audit: AuditTrail
    programme: ProgrammeSource
    #: Called after a registration from an event changed (re-plan the reminders).
    on_interest_changed: Callable[[int], None] = lambda guild_id: None
    #: Organiser alerts (issue 10's alerts channel plugs in here); logs by default.
    alert: Alert = log_alert
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)
    _caught_up: set[int] = field(default_factory=set, init=False, repr=False)

    # ---------------------------------------------------------------- switch

    async def enabled(self, guild_id: int) -> bool:
        state = await native.sync_state(self.store, guild_id)
        return self.settings.scheduled_events if state.enabled is None else state.enabled

    async def set_enabled(self, guild_id: int, enabled: bool, *, user_id: int) -> None:
        """`/organiser setup scheduled_events`: stored, recorded, applied at once; on also lifts
        a pause (the admin has fixed the permission)."""
        await native.set_enabled(self.store, guild_id, enabled)
        await self.audit.record(
            guild_id, user_id, "setup", f"scheduled_events={'on' if enabled else 'off'}"
        )
        await self.schedule.replan(guild_id, only=PLANNER)

    async def describe(self, guild_id: int) -> str:
        """For `/organiser setup`: on or off, paused and why, and how many events are mirrored."""
        state = await native.sync_state(self.store, guild_id)
        on = self.settings.scheduled_events if state.enabled is None else state.enabled
        source = "default" if state.enabled is None else "server setting"
        if not on:
            return f"off · {source}"
        count = sum(
            m.status == "live" for m in (await native.mirrors(self.store, guild_id)).values()
        )
        text = f"on: {count} sessions in the Events list (at most {self.settings.events_max})"
        if state.paused_reason:
            text += f", **paused**: {state.paused_reason}"
        return f"{text} · {source}"

    async def _pause(self, guild_id: int, reason: str) -> None:
        if await native.set_paused(self.store, guild_id, reason):
            await self._alert(
                guild_id,
                f"Scheduled events are paused: {reason}. Give the bot's role **Create Events** "
                "(Server Settings > Roles), then run `/organiser setup scheduled_events:on`. "
                "Everything else (posts, reminders) carries on.",
            )

    async def _alert(self, guild_id: int, text: str) -> None:
        try:
            await self.alert(guild_id, text)
        except Exception:
            log.exception("could not alert the organisers of guild %s", guild_id)

    async def on_permissions_changed(self, guild_id: int) -> None:
        """A role update: if Create Events is back, lift the pause and sync."""
        state = await native.sync_state(self.store, guild_id)
        if state.paused_reason and self._has_permission(guild_id) is True:
            await native.set_paused(self.store, guild_id, None)
            log.info("guild %s: Create Events is back, scheduled events resume", guild_id)
            await self.sync(guild_id)

    def _has_permission(self, guild_id: int) -> bool | None:
        guild = self.client.get_guild(guild_id)
        if guild is None or guild.me is None:
            return None  # unknown: try, and let a 50013 tell
        return guild.me.guild_permissions.create_events

    # ---------------------------------------------------------------- planner

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """Sync now (start, import, setup change), and again when the next window session ends
        (its event completes, so the window moves on to the next session)."""
        if not await self.enabled(guild_id):
            return []
        jobs = [PlannedJob("sync", now, lambda: self.sync(guild_id), "scheduled events sync")]
        programme = await self.programme.get_programme(guild_id)
        sessions = programme.sessions if programme is not None else ()
        ends = [s.end for s in mirror.window(sessions, now, self.settings.events_max)]
        if ends:
            jobs.append(
                PlannedJob(
                    "move",
                    min(ends) + timedelta(seconds=1),
                    lambda: self._move(guild_id),
                    "scheduled events window moves on",
                )
            )
        return jobs

    async def _move(self, guild_id: int) -> None:
        """The window moves: re-plan, which syncs at once and plans the next move."""
        await self.schedule.replan(guild_id, only=PLANNER)

    # ---------------------------------------------------------------- sync

    async def sync(self, guild_id: int) -> SyncReport:
        """Make the server's bot events match the window. Never raises (it runs as a job)."""
        lock = self._locks.setdefault(guild_id, asyncio.Lock())
        async with lock:
            try:
                return await self._sync(guild_id)
            except discord.HTTPException as exc:
                log.warning("guild %s: scheduled events sync failed: %s", guild_id, exc)
                return SyncReport(skipped=f"HTTP {exc.status}")

    async def _sync(self, guild_id: int) -> SyncReport:
        if not await self.enabled(guild_id):
            return SyncReport(skipped="off")
        state = await native.sync_state(self.store, guild_id)
        if state.paused_reason:
            return SyncReport(skipped="paused")
        if self._has_permission(guild_id) is False:
            await self._pause(guild_id, MISSING_PERMISSION)
            return SyncReport(skipped="paused")
        programme = await self.programme.get_programme(guild_id)
        if programme is None:
            # Not loaded (yet): an empty list here would cancel every event.
            return SyncReport(skipped="no programme")
        sessions = list(programme.sessions)
        report = SyncReport()
        try:
            server = await self.client.http.get_scheduled_events(guild_id, False)
        except discord.Forbidden as exc:
            return await self._refused(guild_id, exc, report)
        live, others = await self._reconcile(guild_id, server, sessions, report)
        report.room = mirror.room(self.settings.events_max, others)
        await self._cap_alert(guild_id, report.room)
        now = self.clock()
        plan = mirror.plan_sync(sessions=sessions, live=live, now=now, size=report.room)
        by_event = {e.event_id: e.session_id for e in live.values()}
        try:
            await self._apply(guild_id, plan, by_event, live, report)
        except discord.Forbidden as exc:
            return await self._refused(guild_id, exc, report)
        if guild_id not in self._caught_up:
            await self._catch_up(guild_id)
            self._caught_up.add(guild_id)
        if not plan.is_empty or report.adopted:
            log.info("guild %s: scheduled events %s", guild_id, report)
        return report

    async def _refused(
        self, guild_id: int, exc: discord.Forbidden, report: SyncReport
    ) -> SyncReport:
        if exc.code == MISSING_PERMISSIONS:
            await self._pause(guild_id, MISSING_PERMISSION)
        report.skipped = "paused"
        return report

    async def _cap_alert(self, guild_id: int, room: int) -> None:
        configured = self.settings.events_max
        if room < configured:
            if await native.set_cap_alerted(self.store, guild_id, True):
                await self._alert(
                    guild_id,
                    f"The server's Events list is nearly full (Discord allows 100 scheduled "
                    f"events): the bot now shows only the next {room} sessions there instead "
                    f"of {configured}. Ending or deleting other events makes room.",
                )
        else:
            await native.set_cap_alerted(self.store, guild_id, False)

    async def _reconcile(
        self,
        guild_id: int,
        server: list[dict[str, Any]],
        sessions: list[Any],
        report: SyncReport,
    ) -> tuple[dict[str, mirror.Live], int]:
        """The bot's events by session (adopting unrecorded ones), and how many uncompleted
        events are not the bot's mirrors (they take room in the server's 100)."""
        me = str(self.client.user.id) if self.client.user else ""
        stored = await native.mirrors(self.store, guild_id)
        by_event = {m.event_id: m for m in stored.values()}
        specs = {s.id: mirror.event_spec(s) for s in sessions}
        live: dict[str, mirror.Live] = {}
        others = 0
        for event in server:
            status = int(event["status"])
            uncompleted = status in (1, 2)
            eid = int(event["id"])
            record = by_event.get(eid)
            if record is None and event.get("creator_id") == me and uncompleted:
                record = await self._adopt(guild_id, event, specs, stored)
                report.adopted += record is not None
            if record is None:
                others += uncompleted
                continue
            live[record.session_id] = mirror.Live(
                eid, record.session_id, record.fingerprint, status
            )
            if not uncompleted and record.status == "live":
                await native.set_mirror_status(self.store, guild_id, record.session_id, "gone")
        seen = {int(e["id"]) for e in server}
        for record in stored.values():
            if record.status == "live" and record.event_id not in seen:
                # Deleted on Discord by someone: recreated if still in the window.
                await native.set_mirror_status(self.store, guild_id, record.session_id, "gone")
        return live, others

    async def _adopt(
        self,
        guild_id: int,
        event: dict[str, Any],
        specs: dict[str, mirror.EventSpec],
        stored: dict[str, native.Mirror],
    ) -> native.Mirror | None:
        """A bot event we did not record: the create's answer was lost. Match it by name and
        start to a session without a live event, and record it instead of creating another."""
        start = _parse(event.get("scheduled_start_time"))
        for spec in specs.values():
            have = stored.get(spec.session_id)
            if have is not None and have.status == "live":
                continue
            if spec.name == event.get("name") and spec.start == start:
                fingerprint = "adopted"  # edited to the current spec by this sync
                await native.save_mirror(
                    self.store, guild_id, spec.session_id, int(event["id"]), fingerprint
                )
                record = native.Mirror(spec.session_id, int(event["id"]), fingerprint, "live")
                stored[spec.session_id] = record
                log.info("guild %s: adopted event %s for %s", guild_id, event["id"], spec.name)
                return record
        return None

    async def _apply(
        self,
        guild_id: int,
        plan: mirror.Plan,
        by_event: dict[int, str],
        live: dict[str, mirror.Live],
        report: SyncReport,
    ) -> None:
        http = self.client.http
        for event_id in plan.cancel:
            session_id = by_event[event_id]
            active = live[session_id].status == 2
            await self._quiet(
                http.edit_scheduled_event(guild_id, event_id, status=3 if active else 4)
            )
            await native.set_mirror_status(self.store, guild_id, session_id, "cancelled")
            report.cancelled += 1
        for event_id in plan.drop:
            await self._quiet(http.delete_scheduled_event(guild_id, event_id))
            await native.set_mirror_status(self.store, guild_id, by_event[event_id], "gone")
            report.dropped += 1
        for event_id, spec in plan.edit:
            active = live[spec.session_id].status == 2
            try:
                await http.edit_scheduled_event(
                    guild_id, event_id, **_payload(spec, started=active)
                )
            except discord.HTTPException as exc:
                if exc.status != 400:
                    raise
                # Finished meanwhile (180000) or refused: this event only; the rest goes on.
                log.warning("guild %s: edit of event %s refused: %s", guild_id, event_id, exc)
                continue
            await native.save_mirror(
                self.store, guild_id, spec.session_id, event_id, spec.fingerprint
            )
            report.edited += 1
        for spec in plan.create:
            try:
                created = await http.create_guild_scheduled_event(guild_id, **_payload(spec))
            except discord.HTTPException as exc:
                if exc.code == INVALID_FORM:
                    # One session Discord refuses (say it started meanwhile): skip it only.
                    log.warning("guild %s: event for %s refused: %s", guild_id, spec.name, exc)
                    continue
                if exc.code != MAX_EVENTS:
                    raise
                # Someone filled the server meanwhile: stop creating; the next sync recounts.
                await native.set_cap_alerted(self.store, guild_id, False)
                await self._cap_alert(guild_id, report.created)
                log.warning("guild %s: 30038 after %d creations", guild_id, report.created)
                return
            await native.save_mirror(
                self.store, guild_id, spec.session_id, int(created["id"]), spec.fingerprint
            )
            report.created += 1

    @staticmethod
    async def _quiet(request: Awaitable[Any]) -> None:
        """Cancel/delete of an event that is already gone or finished is not an error."""
        try:
            await request
        except discord.NotFound:
            pass
        except discord.HTTPException as exc:
            if exc.status != 400 or exc.code == MAX_EVENTS:
                raise
            log.info("event change refused (already finished?): %s", exc)

    # ---------------------------------------------------------------- Interested

    async def on_event_user(self, guild_id: int, event_id: int, user_id: int, added: bool) -> None:
        """GUILD_SCHEDULED_EVENT_USER_ADD / _REMOVE for one of the bot's events."""
        session_id = await native.session_of_event(self.store, guild_id, event_id)
        if session_id is None:
            return  # someone else's event
        if added:
            changed = await native.add_event_interest(self.store, guild_id, session_id, user_id)
        else:
            changed = await native.remove_event_interest(self.store, guild_id, session_id, user_id)
        if changed:
            log.info(
                "guild %s: user %s %s %s via its event",
                guild_id,
                user_id,
                "registered for" if added else "unregistered from",
                session_id,
            )
            self.on_interest_changed(guild_id)

    async def _catch_up(self, guild_id: int) -> None:
        """At start: who marked or un-marked "Interested" while the bot was away (paged 100)."""
        changed = 0
        stored = await native.mirrors(self.store, guild_id)
        for record in stored.values():
            if record.status != "live":
                continue
            subscribers = await self._subscribers(guild_id, record.event_id)
            registered = await native.event_registrations(self.store, guild_id, record.session_id)
            for user_id in subscribers - registered:
                changed += await native.add_event_interest(
                    self.store, guild_id, record.session_id, user_id
                )
            for user_id in registered - subscribers:
                changed += await native.remove_event_interest(
                    self.store, guild_id, record.session_id, user_id
                )
        if changed:
            log.info(
                "guild %s: %d registrations caught up from event subscribers", guild_id, changed
            )
            self.on_interest_changed(guild_id)

    async def _subscribers(self, guild_id: int, event_id: int) -> set[int]:
        users: set[int] = set()
        after: int | None = None
        while True:
            page = await self.client.http.get_scheduled_event_users(
                guild_id, event_id, limit=100, with_member=False, after=after
            )
            ids = [int(row["user"]["id"]) for row in page]
            users.update(ids)
            if len(ids) < 100:
                return users
            after = max(ids)

    async def session_facts(self, guild_id: int, session_id: str) -> tuple[int, int, str | None]:
        """For `/session`: registered by command or button, by the Discord event, and the
        event's link (`https://discord.com/events/<guild>/<event>`) when it is mirrored."""
        counts = await native.interest_sources(self.store, guild_id, session_id)
        event_id = await native.event_of_session(self.store, guild_id, session_id)
        link = mirror.event_url(guild_id, event_id) if event_id else None
        return counts.get(native.COMMAND, 0), counts.get(native.EVENT, 0), link


def _payload(spec: mirror.EventSpec, *, started: bool = False) -> dict[str, Any]:
    """The REST body of an EXTERNAL event (an ACTIVE one keeps its start)."""
    body: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description or None,
        "scheduled_end_time": spec.end.isoformat(),
        "entity_metadata": {"location": spec.location},
    }
    if not started:
        body.update(
            {
                "scheduled_start_time": spec.start.isoformat(),
                "privacy_level": 2,
                "entity_type": 3,
            }
        )
    return body
