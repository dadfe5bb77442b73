"""Each session's beginning and end in the server (issue 12).

At the start: "Starting now" in the programme channel and a public thread on it; at the end:
"How was it?" in that thread with buttons 1-5 and "I attended". All three go through the
delivery ledger under keys naming the session and its start, so a restart never repeats them:
- the post is made once; on start it is caught up only while the session is running;
- the thread is a separate ledger step (the post may exist from a run that died before the
  thread): a create that Discord answers 160004 (thread exists) counts as done, the thread's
  id being the message's;
- the feedback post is made once the session has ended, in the thread (an archived thread
  reopens when posted in), caught up on start for a while after the end.

Followable announcements: `Crossposter` publishes each announcement posted in an Announcement
channel (type 5), through the ledger, paced to Discord's ~10 publishes an hour per channel;
a publish that cannot be made now is retried later by its planner, never blocking the post.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import discord

from bot.clock import Clock, from_db, to_db
from bot.delivery import Claim, Delivery, Kind, Part, Status
from bot.delivery.keys import (
    crosspost_key,
    crosspost_prefix,
    feedback_key,
    live_key,
    live_thread_key,
    parse_key,
)
from bot.programme import Programme, Session
from bot.render import live as render
from bot.schedule import PlannedJob
from bot.services.setup import GuildSetup
from bot.store import Store, native

log = logging.getLogger(__name__)

PLANNER = "live"
CROSSPOST_PLANNER = "crosspost"
#: How long after a session's end its feedback prompt is still worth posting (caught up).
FEEDBACK_GRACE = timedelta(hours=12)
THREAD_EXISTS = 160004
ALREADY_CROSSPOSTED = 40033
PUBLISHES_PER_HOUR = 10
CROSSPOST_RETRY_FOR = timedelta(hours=24)


class ProgrammeSource(Protocol):
    async def get_programme(self, guild_id: int) -> Programme | None: ...

    async def get_session(
        self, guild_id: int, session_id: str, *, include_cancelled: bool = False
    ) -> Session | None: ...


@dataclass(eq=False)
class LiveSessions:
    """The "Starting now" post, its thread, and the feedback prompt and answers."""

    client: discord.Client
    store: Store
    delivery: Delivery
    setup: GuildSetup
    clock: Clock
    programme: ProgrammeSource

    # ---------------------------------------------------------------- planner

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """A start job per session not over, an end job per session whose prompt is still due."""
        programme = await self.programme.get_programme(guild_id)
        if programme is None:
            return []
        jobs = []
        for session in programme.sessions:
            if session.end > now:
                jobs.append(
                    PlannedJob(
                        f"start:{session.id}",
                        session.start,
                        lambda s=session: self.run_start(guild_id, s.id),
                        f"starting now: {session.title}",
                    )
                )
            if session.end + FEEDBACK_GRACE > now:
                jobs.append(
                    PlannedJob(
                        f"end:{session.id}",
                        session.end,
                        lambda s=session: self.run_end(guild_id, s.id),
                        f"feedback: {session.title}",
                    )
                )
        return jobs

    async def _current(self, guild_id: int, session_id: str) -> Session | None:
        """The session as it is now (a move re-plans; a stale job finds nothing to do)."""
        return await self.programme.get_session(guild_id, session_id)

    # ---------------------------------------------------------------- start

    async def run_start(self, guild_id: int, session_id: str) -> None:
        session = await self._current(guild_id, session_id)
        if session is None:
            return
        now = self.clock()
        if now < session.start:
            return  # moved later: its new job runs then
        ledger = self.delivery.ledger
        key = live_key(guild_id, session.id, session.start)
        config = await self.setup.config(guild_id)
        channel_id = config.programme_channel_id
        row = await ledger.get(key)
        interrupted = row is not None and row.status is Status.CLAIMED
        if now >= session.end and not interrupted:
            await ledger.skip(key, kind=Kind.LIVE, guild_id=guild_id, reason="session over")
            return
        if channel_id is None:
            await ledger.skip(key, kind=Kind.LIVE, guild_id=guild_id, reason="no programme channel")
            return
        part = Part(key, render.starting_now(session).kwargs())
        try:
            await self.delivery.post(
                self.delivery.text_channel(channel_id, guild_id),
                [part],
                kind=Kind.LIVE,
                guild_id=guild_id,
            )
        except discord.HTTPException as exc:
            log.warning("guild %s: starting-now post for %s failed: %s", guild_id, session_id, exc)
            return
        posted = await ledger.get(key)
        if posted is not None and posted.status is Status.SENT and posted.message_id:
            await self._open_thread(guild_id, channel_id, posted.message_id, session)

    async def _open_thread(
        self, guild_id: int, channel_id: int, message_id: int, session: Session
    ) -> None:
        """Once (a ledger row of its own, holding the thread id): a create that Discord answers
        160004 was made by a run that died before recording it; the thread's id is the
        message's."""
        ledger = self.delivery.ledger
        key = live_thread_key(guild_id, session.id, session.start)
        claim = await ledger.claim(key, kind=Kind.LIVE_THREAD, guild_id=guild_id)
        if not claim.should_send:
            return
        try:
            thread = await self.client.http.start_thread_with_message(
                channel_id,
                message_id,
                name=render.thread_name(session),
                auto_archive_duration=render.THREAD_ARCHIVE_MINUTES,
            )
            thread_id = int(thread["id"])
        except discord.HTTPException as exc:
            if exc.code != THREAD_EXISTS:
                await ledger.mark_failed(key, f"{type(exc).__name__}: {exc}"[:500])
                log.warning("guild %s: thread for %s failed: %s", guild_id, session.id, exc)
                return
            thread_id = message_id
        await ledger.mark_sent(key, thread_id)

    # ---------------------------------------------------------------- end

    async def run_end(self, guild_id: int, session_id: str) -> None:
        session = await self._current(guild_id, session_id)
        if session is None:
            return
        now = self.clock()
        if now < session.end:
            return
        ledger = self.delivery.ledger
        key = feedback_key(guild_id, session.id, session.start)
        thread = await ledger.get(live_thread_key(guild_id, session.id, session.start))
        if thread is None or thread.status is not Status.SENT or not thread.message_id:
            await ledger.skip(key, kind=Kind.FEEDBACK, guild_id=guild_id, reason="no thread")
            return
        row = await ledger.get(key)
        interrupted = row is not None and row.status is Status.CLAIMED
        if now > session.end + FEEDBACK_GRACE and not interrupted:
            await ledger.skip(key, kind=Kind.FEEDBACK, guild_id=guild_id, reason="too late")
            return
        try:
            await self.delivery.post(
                self.delivery.text_channel(thread.message_id, guild_id),
                [Part(key, render.feedback_prompt(session).kwargs())],
                kind=Kind.FEEDBACK,
                guild_id=guild_id,
            )
        except discord.HTTPException as exc:
            log.warning("guild %s: feedback prompt for %s failed: %s", guild_id, session_id, exc)

    # ---------------------------------------------------------------- answers

    async def answer(
        self, guild_id: int, session_id: str, user_id: int, answer: str
    ) -> tuple[str, native.Feedback]:
        """Store a press (a rating 1-5 or "a" for attended); returns the title and the answer.

        ValueError for an answer that is neither (a forged custom_id)."""
        session = await self.programme.get_session(guild_id, session_id, include_cancelled=True)
        title = session.title if session is not None else session_id
        if answer == render.ATTENDED:
            feedback = await native.record_feedback(
                self.store, guild_id, session_id, user_id, attended=True
            )
        elif answer in render.RATINGS:
            feedback = await native.record_feedback(
                self.store, guild_id, session_id, user_id, rating=int(answer)
            )
        else:
            raise ValueError(f"unknown feedback answer {answer!r}")
        return title, feedback

    # ------------------------------------------------ the report's LifecycleData

    async def attendance(self, guild_id: int) -> Mapping[str, int]:
        """Members who said they attended, per session (for the impact report)."""
        return await native.attendance(self.store, guild_id)

    async def feedback(self, guild_id: int) -> Mapping[str, Sequence[int]]:
        """The ratings given, per session (for the impact report)."""
        return await native.ratings(self.store, guild_id)


@dataclass(eq=False)
class Crossposter:
    """Publishes announcements posted in an Announcement channel (see the module docstring)."""

    client: discord.Client
    store: Store
    delivery: Delivery
    clock: Clock
    #: Re-plans the crosspost retries (the schedule's `replan`, given by the composition root).
    replan: Callable[[int], Awaitable[object]] | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)

    async def is_announcement_channel(self, channel_id: int) -> bool:
        channel = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.HTTPException:
                return False
        return getattr(channel, "type", None) == discord.ChannelType.news

    def after_post(self, guild_id: int, channel_id: int, message_id: int | None) -> None:
        """Hook for the announcement service: publish in the background, never blocking."""
        if message_id is None:
            return
        task = asyncio.ensure_future(self._publish_or_plan(guild_id, channel_id, message_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _publish_or_plan(self, guild_id: int, channel_id: int, message_id: int) -> None:
        if not await self.publish(guild_id, channel_id, message_id) and self.replan is not None:
            await self.replan(guild_id)  # a deferred or failed publish gets its retry job

    async def _wait_for_room(self, guild_id: int, channel_id: int) -> timedelta:
        """Zero when a publish fits in Discord's hourly budget now, else how long until one does."""
        now = self.clock()
        recent = await native.crossposts_since(
            self.store,
            guild_id,
            crosspost_prefix(guild_id, channel_id),
            to_db(now - timedelta(hours=1)),
        )
        if len(recent) < PUBLISHES_PER_HOUR:
            return timedelta(0)
        oldest = from_db(recent[-PUBLISHES_PER_HOUR])
        return oldest + timedelta(hours=1, seconds=1) - now

    async def publish(self, guild_id: int, channel_id: int, message_id: int) -> bool:
        """Publish once; True when it is published (now or before). Deferred (recorded as
        failed with the reason, retried by the planner) when the hour's budget is used."""
        if not await self.is_announcement_channel(channel_id):
            return False
        ledger = self.delivery.ledger
        key = crosspost_key(guild_id, channel_id, message_id)
        wait = await self._wait_for_room(guild_id, channel_id)
        claim = await ledger.claim(key, kind=Kind.CROSSPOST, guild_id=guild_id, retry_failed=True)
        if not claim.should_send:
            return claim is Claim.DONE
        if wait > timedelta(0):
            await ledger.mark_failed(key, f"deferred: hourly publish budget, {wait}")
            return False
        try:
            await self.client.http.publish_message(channel_id, message_id)
        except discord.HTTPException as exc:
            if exc.code == ALREADY_CROSSPOSTED:
                await ledger.mark_sent(key, message_id)
                return True
            await ledger.mark_failed(key, f"{type(exc).__name__}: {exc}"[:500])
            log.warning("crosspost of %s failed (retried later): %s", message_id, exc)
            return False
        await ledger.mark_sent(key, message_id)
        return True

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """Retry deferred or interrupted publishes of the last day, when the budget has room."""
        jobs = []
        since = to_db(now - CROSSPOST_RETRY_FOR)
        for key in await native.unfinished_crossposts(self.store, guild_id, since):
            parsed = parse_key(key)
            channel, message = parsed.int("channel"), parsed.int("message")
            assert channel is not None and message is not None
            wait = await self._wait_for_room(guild_id, channel)
            jobs.append(
                PlannedJob(
                    f"{channel}:{message}",
                    now + wait,
                    lambda c=channel, m=message: self._publish_or_plan(guild_id, c, m),
                    f"crosspost {message}",
                )
            )
        return jobs
