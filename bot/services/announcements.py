"""Announcements: posting now or on schedule, exactly once, and what happens after downtime.

Every announcement is a stored row before it is sent, so the schedule can be rebuilt from the
database at any start (planner "announcements"), and every send goes through the delivery ledger:
- ``announcement:{id}``: the channel post (nonce from the key, so a send interrupted by a crash
  is resumed without a duplicate);
- ``announcement-dm:{id}:{user}``: the DMs to members registered for its session;
- ``announcement-missed:{id}`` / ``announcement-failed:{id}``: the DM telling its author.

Timing after downtime: within a minute of its time it is on time; up to 15 minutes late it is
still sent, marked late and saying "(delayed)"; later than that it is recorded as missed and the
author is told, because an old "keynote in 10 minutes" does more harm than good.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import discord

from bot.clock import Clock
from bot.delivery import Claim, Delivery, Kind, Status, send_dms
from bot.delivery.keys import (
    announcement_dm_key,
    announcement_failed_key,
    announcement_key,
    announcement_missed_key,
)
from bot.errors import UserFacingError
from bot.render.announcements import (
    Message,
    announcement_message,
    failed_dm,
    missed_dm,
    session_dm,
    stamp,
)
from bot.schedule import PlannedJob, Schedule
from bot.services.audit import AuditTrail
from bot.services.interest import InterestService
from bot.services.reminders import ProgrammeSource
from bot.store import Store
from bot.store import announcements as store_announcements
from bot.store.announcements import Announcement

log = logging.getLogger(__name__)

PLANNER = "announcements"
GRACE = timedelta(minutes=15)
LATE_AFTER = timedelta(minutes=1)


class Timing(enum.Enum):
    ON_TIME = "on_time"
    LATE = "late"
    MISSED = "missed"


def timing(send_at: datetime, now: datetime) -> Timing:
    """Whether an announcement due at `send_at` still goes out at `now`, and if it is late."""
    delay = now - send_at
    if delay <= LATE_AFTER:
        return Timing.ON_TIME
    if delay <= GRACE:
        return Timing.LATE
    return Timing.MISSED


@dataclass(frozen=True, slots=True)
class Draft:
    """An announcement being previewed: nothing is stored until the organiser presses Send."""

    guild_id: int
    author_id: int
    channel_id: int
    body: str = ""
    title: str = ""
    ping_role_id: int | None = None
    session_id: str | None = None
    session_title: str | None = None
    send_at: datetime | None = None  # None: now

    def rendered(self) -> Message:
        return announcement_message(
            title=self.title, body=self.body, ping_role_id=self.ping_role_id
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of an announcement after Send (or a scheduled run)."""

    announcement: Announcement
    dms_sent: int = 0
    reason: str | None = None  # why it failed, for the organiser


class AnnouncementService:
    """Creates, schedules, delivers and cancels announcements for the organiser commands."""

    def __init__(
        self,
        *,
        store: Store,
        delivery: Delivery,
        schedule: Schedule,
        clock: Clock,
        programme: ProgrammeSource,
        interest: InterestService,
        audit: AuditTrail,
        after_post: Callable[[int, int, int | None], None] | None = None,
        alert: Callable[[int, str, str], Awaitable[Any]] | None = None,
    ) -> None:
        self.store = store
        self.alert = alert  # `AlertsService.raise_`: DMs restricted by Discord (issue 10)
        self.delivery = delivery
        self.schedule = schedule
        self.clock = clock
        self.programme = programme
        self.interest = interest
        self.audit = audit
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        #: Told (guild, channel, message) once a post exists, so a post in an Announcement
        #: channel is published (issue 12: `Crossposter.after_post`); must not block.
        self.after_post = after_post

    # ------------------------------------------------------------------ schedule

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """One job per pending announcement; a past time runs at once and `deliver` decides."""
        return [
            PlannedJob(
                id=str(a.id),
                run_at=a.send_at,
                func=partial(self.deliver, a.id),
                description=f"announcement #{a.id}",
            )
            for a in await store_announcements.pending(self.store, guild_id)
        ]

    async def replan(self, guild_id: int) -> None:
        await self.schedule.replan(guild_id, only=PLANNER)

    # ------------------------------------------------------------------ organiser actions

    async def submit(self, draft: Draft) -> Outcome:
        """Store the announcement the organiser confirmed, then send it now or schedule it."""
        now = self.clock()
        if draft.send_at is not None and draft.send_at <= now:
            raise UserFacingError(
                "The time you chose passed while the preview was open, so nothing was sent. "
                "Run `/organiser announce` again with a later `at`, or without `at` to send now."
            )
        created = await store_announcements.create(
            self.store,
            guild_id=draft.guild_id,
            author_id=draft.author_id,
            channel_id=draft.channel_id,
            title=draft.title,
            body=draft.body,
            ping_role_id=draft.ping_role_id,
            session_id=draft.session_id,
            send_at=draft.send_at or now,
        )
        # Discord markup, so `/organiser stats` shows local times, channel and role names.
        when = "now" if draft.send_at is None else f"scheduled for {stamp(created.send_at)}"
        detail = f"#{created.id} {when} in <#{created.channel_id}>"
        if created.ping_role_id:
            detail += f", pinging <@&{created.ping_role_id}>"
        if created.session_id:
            detail += f", DMs to session {created.session_id}"
        await self.audit.record(draft.guild_id, draft.author_id, "announce", detail)
        if draft.send_at is not None:
            await self.replan(draft.guild_id)
            return Outcome(created)
        outcome = await self.deliver(created.id, from_preview=True)
        assert outcome is not None
        return outcome

    async def cancel(self, guild_id: int, announcement_id: int, *, user_id: int) -> Announcement:
        """Cancel a pending announcement and drop its job; UserFacingError when there is none."""
        async with self._locks[announcement_id]:
            found = await store_announcements.get(self.store, announcement_id, guild_id=guild_id)
            if found is None:
                raise UserFacingError(
                    f"There is no announcement #{announcement_id}. See the list with "
                    "`/organiser announcements`."
                )
            if found.status != "pending" or not await store_announcements.cancel(
                self.store, guild_id, announcement_id
            ):
                raise UserFacingError(
                    f"Announcement #{announcement_id} is already {found.status}; only pending "
                    "(scheduled) announcements can be cancelled."
                )
            await self.audit.record(
                guild_id, user_id, "cancel", f"#{announcement_id} ({found.label[:80]})"
            )
        await self.replan(guild_id)
        cancelled = await store_announcements.get(self.store, announcement_id)
        assert cancelled is not None
        return cancelled

    async def dm_count(self, guild_id: int, session_id: str) -> int:
        """How many members the session DMs would reach (not those with `/reminders off`)."""
        return len(await self.interest.dm_recipients(guild_id, session_id))

    # ------------------------------------------------------------------ delivery

    async def deliver(self, announcement_id: int, *, from_preview: bool = False) -> Outcome | None:
        """Send a pending announcement if still useful; safe to call twice, at any time.

        `from_preview`: the organiser is watching the preview, so a failure is told there
        rather than by DM.
        """
        async with self._locks[announcement_id]:
            found = await store_announcements.get(self.store, announcement_id)
            if found is None or found.status != "pending":
                return Outcome(found) if found is not None else None
            return await self._deliver(found, tell_author=not from_preview)

    async def _deliver(self, a: Announcement, *, tell_author: bool) -> Outcome:
        ledger = self.delivery.ledger
        now = self.clock()
        key = announcement_key(a.id)
        record = await ledger.get(key)
        if record is not None and record.status is Status.SENT:
            # Posted by an earlier run that stopped before the DMs or the status: finish those.
            late = record.claimed_at - a.send_at > LATE_AFTER
            message_id = record.message_id
        else:
            when = timing(a.send_at, now)
            # A claim left open by a crash must be resumed with its nonce, never skipped: the
            # post may already exist, and resuming returns it instead of posting a second one.
            interrupted = record is not None and record.status is Status.CLAIMED
            if when is Timing.MISSED and not interrupted:
                return await self._missed(a, now)
            late = when is not Timing.ON_TIME
            rendered = announcement_message(
                title=a.title,
                body=a.body,
                ping_role_id=a.ping_role_id,
                planned_for=a.send_at if late else None,
            )
            try:
                result = await ledger.deliver(
                    key,
                    kind=Kind.ANNOUNCEMENT,
                    guild_id=a.guild_id,
                    send=partial(self._post, a.channel_id, a.guild_id, rendered),
                )
            except Exception as exc:
                return await self._failed(a, _reason(exc), tell_author=tell_author, exc=exc)
            if result.claim is Claim.FAILED:
                return await self._failed(a, "an earlier attempt failed", tell_author=tell_author)
            if not result.sent and result.claim is not Claim.DONE:
                return Outcome(a)  # being sent by someone else right now
            message_id = result.message_id
            await store_announcements.set_message(self.store, a.id, message_id)
        if self.after_post is not None:
            self.after_post(a.guild_id, a.channel_id, message_id)
        dms = await self._send_dms(a) if a.session_id else 0
        await store_announcements.finish(
            self.store, a.id, "late" if late else "sent", message_id=message_id, sent_at=now
        )
        if late:
            log.warning("announcement #%s sent late (due %s)", a.id, a.send_at.isoformat())
        final = await store_announcements.get(self.store, a.id)
        assert final is not None
        return Outcome(final, dms_sent=dms)

    async def _post(
        self, channel_id: int, guild_id: int, rendered: Message, nonce: str
    ) -> int | None:
        channel = self.delivery.client.get_partial_messageable(channel_id, guild_id=guild_id)
        message = await channel.send(**rendered.kwargs(), nonce=nonce)  # type: ignore[arg-type]
        return message.id

    async def _missed(self, a: Announcement, now: datetime) -> Outcome:
        late_by = int((now - a.send_at).total_seconds() // 60)
        await self.delivery.ledger.skip(
            announcement_key(a.id),
            kind=Kind.ANNOUNCEMENT,
            guild_id=a.guild_id,
            reason=f"missed: {late_by} min late",
        )
        await store_announcements.finish(self.store, a.id, "missed")
        log.warning("announcement #%s missed (%s min late); telling its author", a.id, late_by)
        await self._tell_author(
            a,
            announcement_missed_key(a.id),
            Kind.ANNOUNCEMENT_MISSED,
            missed_dm(a, grace_minutes=int(GRACE.total_seconds() // 60)),
        )
        final = await store_announcements.get(self.store, a.id)
        assert final is not None
        return Outcome(final)

    async def _failed(
        self, a: Announcement, reason: str, *, tell_author: bool, exc: Exception | None = None
    ) -> Outcome:
        if exc is not None and not isinstance(exc, discord.HTTPException):
            log.error("announcement #%s failed", a.id, exc_info=exc)
        else:
            log.warning("announcement #%s failed: %s", a.id, reason)
        await store_announcements.finish(self.store, a.id, "failed")
        if tell_author:
            text = failed_dm(a, reason)
            await self._tell_author(
                a, announcement_failed_key(a.id), Kind.ANNOUNCEMENT_FAILED, text
            )
        final = await store_announcements.get(self.store, a.id)
        assert final is not None
        return Outcome(final, reason=reason)

    async def _tell_author(self, a: Announcement, key: str, kind: str, text: str) -> None:
        async def send(nonce: str) -> int:
            client = self.delivery.client
            user = client.get_user(a.author_id) or await client.fetch_user(a.author_id)
            message = await user.send(
                text, allowed_mentions=discord.AllowedMentions.none(), nonce=nonce
            )
            return message.id

        try:
            await self.delivery.ledger.deliver(key, kind=kind, guild_id=a.guild_id, send=send)
        except discord.HTTPException as exc:
            log.warning("could not DM the author of announcement #%s: %s", a.id, exc)

    async def _send_dms(self, a: Announcement) -> int:
        """DM the announcement to the members registered for its session (ledger per member).

        Members who chose `/reminders off` get no DM: they read it in the channel.
        """
        assert a.session_id is not None
        users = await self.interest.dm_recipients(a.guild_id, a.session_id)
        if not users:
            return 0
        session_title = await self.session_title(a.guild_id, a.session_id) or a.session_id
        rendered = session_dm(title=a.title, body=a.body, session_title=session_title)
        result = await send_dms(
            self.delivery.client,
            self.delivery.ledger,
            guild_id=a.guild_id,
            user_ids=users,
            kind=Kind.ANNOUNCEMENT_DM,
            key_for=partial(announcement_dm_key, a.id),
            context=self.delivery.fanout,
            build=lambda _user: rendered.kwargs(),
            # Recorded like a reminder's bounce; the announcement itself is in the channel.
            on_closed=partial(self.interest.mark_dm_closed, a.guild_id),
            on_alert=partial(self.alert, a.guild_id) if self.alert is not None else None,
        )
        return len(result.sent)

    async def session_title(self, guild_id: int, session_id: str) -> str | None:
        """The session's title, even when it has been cancelled (a cancellation notice)."""
        session = await self.programme.get_session(guild_id, session_id, include_cancelled=True)
        return session.title if session is not None else None

    # ------------------------------------------------------------------ queries

    async def pending(self, guild_id: int) -> list[Announcement]:
        return await store_announcements.pending(self.store, guild_id)

    async def recent(self, guild_id: int, limit: int = 15) -> list[Announcement]:
        return await store_announcements.recent(self.store, guild_id, limit)


def _reason(exc: Exception) -> str:
    """Why a post failed, in words an organiser can act on."""
    if isinstance(exc, discord.Forbidden):
        return "the bot is not allowed to post there"
    if isinstance(exc, discord.NotFound):
        return "the channel no longer exists"
    if isinstance(exc, discord.HTTPException):
        return f"Discord refused it ({exc.status} {exc.text[:100]})"
    return "an error on our side (logged)"


__all__ = [
    "GRACE",
    "LATE_AFTER",
    "PLANNER",
    "AnnouncementService",
    "Draft",
    "Outcome",
    "Timing",
    "timing",
]
