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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import discord

from bot.clock import Clock, from_db, to_db
from bot.config import Settings
from bot.programme import Programme, Session
from bot.render import live as render
from bot.schedule import PlannedJob
from bot.store import Claim, Ledger, Store, native
from bot.store.guild_settings import get_config

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


def _stamp(session: Session) -> int:
    return int(session.start.timestamp())


def live_key(guild_id: int, session: Session) -> str:
    return f"live:{guild_id}:{session.id}:{_stamp(session)}"


def thread_key(guild_id: int, session: Session) -> str:
    return f"live-thread:{guild_id}:{session.id}:{_stamp(session)}"


def feedback_key(guild_id: int, session: Session) -> str:
    return f"feedback:{guild_id}:{session.id}:{_stamp(session)}"


@dataclass(eq=False)
class LiveSessions:
    """The "Starting now" post, its thread, and the feedback prompt and answers."""

    client: discord.Client
    store: Store
    ledger: Ledger
    settings: Settings
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
        key = live_key(guild_id, session)
        if now < session.start:
            return  # moved later: its new job runs then
        config = await get_config(self.store, self.settings, guild_id)
        channel_id = config.programme_channel_id
        row = await self.ledger.get(key)
        interrupted = row is not None and row.status == "claimed"
        if now >= session.end and not interrupted:
            await self.ledger.skip(key, kind="live", guild_id=guild_id, reason="session over")
            return
        if channel_id is None:
            await self.ledger.skip(
                key, kind="live", guild_id=guild_id, reason="no programme channel"
            )
            return
        message = render.starting_now(session)

        async def send(nonce: str) -> int:
            channel = self.client.get_partial_messageable(channel_id, guild_id=guild_id)
            sent = await channel.send(**message.kwargs(), nonce=nonce)
            return sent.id

        try:
            await self.ledger.deliver(key, kind="live", guild_id=guild_id, send=send)
        except discord.HTTPException as exc:
            log.warning("guild %s: starting-now post for %s failed: %s", guild_id, session_id, exc)
            return
        posted = await self.ledger.get(key)
        if posted is not None and posted.status == "sent" and posted.message_id:
            await self._open_thread(guild_id, channel_id, posted.message_id, session)

    async def _open_thread(
        self, guild_id: int, channel_id: int, message_id: int, session: Session
    ) -> None:
        async def create(_nonce: str) -> int:
            try:
                thread = await self.client.http.start_thread_with_message(
                    channel_id,
                    message_id,
                    name=render.thread_name(session),
                    auto_archive_duration=render.THREAD_ARCHIVE_MINUTES,
                )
            except discord.HTTPException as exc:
                if exc.code == THREAD_EXISTS:  # made by a run that died before recording it
                    return message_id
                raise
            return int(thread["id"])

        try:
            await self.ledger.deliver(
                thread_key(guild_id, session), kind="live-thread", guild_id=guild_id, send=create
            )
        except discord.HTTPException as exc:
            log.warning("guild %s: thread for %s failed: %s", guild_id, session.id, exc)

    # ---------------------------------------------------------------- end

    async def run_end(self, guild_id: int, session_id: str) -> None:
        session = await self._current(guild_id, session_id)
        if session is None:
            return
        now = self.clock()
        if now < session.end:
            return
        key = feedback_key(guild_id, session)
        thread = await self.ledger.get(thread_key(guild_id, session))
        if thread is None or thread.status != "sent" or not thread.message_id:
            await self.ledger.skip(key, kind="feedback", guild_id=guild_id, reason="no thread")
            return
        row = await self.ledger.get(key)
        interrupted = row is not None and row.status == "claimed"
        if now > session.end + FEEDBACK_GRACE and not interrupted:
            await self.ledger.skip(key, kind="feedback", guild_id=guild_id, reason="too late")
            return
        thread_id = thread.message_id
        message = render.feedback_prompt(session)

        async def send(nonce: str) -> int:
            channel = self.client.get_partial_messageable(thread_id, guild_id=guild_id)
            sent = await channel.send(**message.kwargs(), nonce=nonce)
            return sent.id

        try:
            await self.ledger.deliver(key, kind="feedback", guild_id=guild_id, send=send)
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


@dataclass(eq=False)
class Crossposter:
    """Publishes announcements posted in an Announcement channel (see the module docstring)."""

    client: discord.Client
    store: Store
    ledger: Ledger
    clock: Clock
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)

    @staticmethod
    def key(guild_id: int, channel_id: int, message_id: int) -> str:
        return f"crosspost:{guild_id}:{channel_id}:{message_id}"

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
        task = asyncio.ensure_future(self.publish(guild_id, channel_id, message_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _wait_for_room(self, guild_id: int, channel_id: int) -> timedelta:
        """Zero when a publish fits in Discord's hourly budget now, else how long until one does."""
        now = self.clock()
        recent = await native.crossposts_since(
            self.store, guild_id, channel_id, to_db(now - timedelta(hours=1))
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
        key = self.key(guild_id, channel_id, message_id)
        wait = await self._wait_for_room(guild_id, channel_id)
        claim = await self.ledger.claim(key, kind="crosspost", guild_id=guild_id, retry_failed=True)
        if not claim.should_send:
            return claim is Claim.DONE
        if wait > timedelta(0):
            await self.ledger.mark_failed(key, f"deferred: hourly publish budget, {wait}")
            return False
        try:
            await self.client.http.publish_message(channel_id, message_id)
        except discord.HTTPException as exc:
            if exc.code == ALREADY_CROSSPOSTED:
                await self.ledger.mark_sent(key, message_id)
                return True
            await self.ledger.mark_failed(key, f"{type(exc).__name__}: {exc}"[:500])
            log.warning("crosspost of %s failed (retried later): %s", message_id, exc)
            return False
        await self.ledger.mark_sent(key, message_id)
        return True

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """Retry deferred or interrupted publishes of the last day, when the budget has room."""
        jobs = []
        since = to_db(now - CROSSPOST_RETRY_FOR)
        for key in await native.unfinished_crossposts(self.store, guild_id, since):
            _, _, channel, message = key.split(":")
            wait = await self._wait_for_room(guild_id, int(channel))
            jobs.append(
                PlannedJob(
                    f"{channel}:{message}",
                    now + wait,
                    lambda c=int(channel), m=int(message): self._retry(guild_id, c, m),
                    f"crosspost {message}",
                )
            )
        return jobs

    async def _retry(self, guild_id: int, channel_id: int, message_id: int) -> None:
        await self.publish(guild_id, channel_id, message_id)
        schedule = getattr(self.client, "schedule", None)
        if schedule is not None:
            await schedule.replan(guild_id, only=CROSSPOST_PLANNER)
