"""The programme service: each server's programme, its cache, imports, and the daily post.

Built by the composition root (`bot.app`), like every service. Other features use it to read
sessions (`get_programme`, `get_session`, `search`) and to hear about changes
(`add_change_listener`): a listener runs after a non-empty change has been stored, and the
schedule is re-planned right after the listeners (they record durable work first). Each change
is stored in an outbox with the programme (one transaction) and marked handled once the
listeners have run; a change a stop left unhandled is told at the guild's next preparation.

The daily post goes through the delivery ledger twice over: the day's key
(``daily:{guild}:{date}``) is claimed first and confirmed once every message is out, and each
message has its own key (``daily:{guild}:{date}:{part}``). A crash mid-way leaves the day's
claim open, so the next start resumes it: parts already sent are not sent again, and the one
that was in flight is resent with its nonce (Discord returns the first copy). Once the day is
over such a claim is no longer worth resuming: it is recorded as skipped, with the reason.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import discord

from bot.clock import Clock, real_seconds_until
from bot.config import Settings
from bot.delivery import Delivery, Kind, Part
from bot.delivery.keys import daily_key
from bot.programme import (
    Programme,
    ProgrammeDiff,
    ProgrammeError,
    Session,
    combine_local,
    load_programme,
    parse_programme_async,
)
from bot.render.cache import DayRenders
from bot.render.components import interest_select_view
from bot.render.organiser import import_counts, post_audit_detail
from bot.render.paging import DayPage
from bot.render.programme import DayPart, day_parts
from bot.schedule import PlannedJob, Schedule
from bot.services.audit import AuditTrail
from bot.store import Store
from bot.store import programme as programme_store
from bot.store.guild_settings import GuildConfig, get_config

log = logging.getLogger(__name__)

ChangeListener = Callable[[int, ProgrammeDiff], Awaitable[None]]

#: A daily job woken this much (or less) before its time by the bot's clock waits for it; one
#: woken earlier (the scheduler's clock and the bot's disagree) leaves the day to a re-plan.
EARLY_WAIT_MAX = timedelta(minutes=2)


@dataclass(frozen=True)
class ImportPreview(ProgrammeDiff):
    """What an import would change, with the parsed programme to apply on confirmation."""

    programme: Programme | None = None
    filename: str = ""
    event_changed: bool = False
    source: str | None = None


@dataclass
class DayPost:
    """What `post_day` did: the messages it sent now, and how many the day's post has."""

    day: date
    channel_id: int
    parts: int
    sent: list[int] = field(default_factory=list)
    already_done: bool = False


class ProgrammePostError(Exception):
    """The day's programme cannot be posted (no programme, no channel); the text says why."""


class ProgrammeService:
    """Reads, replaces and posts each server's programme. One instance per bot."""

    def __init__(
        self,
        *,
        store: Store,
        delivery: Delivery,
        settings: Settings,
        schedule: Schedule,
        clock: Clock,
        audit: AuditTrail,
        alert: Callable[[int, str, str], Awaitable[Any]] | None = None,
    ) -> None:
        self.store = store
        self.delivery = delivery
        self.audit = audit
        self.alert = alert  # `AlertsService.raise_` (issue 10)
        self.settings = settings
        self.schedule = schedule
        self.clock = clock
        self._cache: dict[int, Programme | None] = {}
        self._generation: dict[int, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._listeners: list[ChangeListener] = []
        self._outbox_locks: dict[int, asyncio.Lock] = {}
        self.renders = DayRenders()

    # ------------------------------------------------------------------ reading

    async def config(self, guild_id: int) -> GuildConfig:
        """The settings in force for the guild (timezone, post time, programme channel)."""
        return await get_config(self.store, self.settings, guild_id)

    async def get_programme(self, guild_id: int) -> Programme | None:
        """The guild's programme (sessions in force), cached until it changes."""
        if guild_id in self._cache:
            return self._cache[guild_id]
        generation = self._generation.get(guild_id, 0)
        programme = await programme_store.read_stored_programme(self.store, guild_id)
        # A replace that finished while we read makes this copy stale: don't cache it.
        if self._generation.get(guild_id, 0) == generation:
            self._cache[guild_id] = programme
        return programme

    async def get_session(
        self, guild_id: int, session_id: str, *, include_cancelled: bool = False
    ) -> Session | None:
        """One session; a cancelled (removed) one only when ``include_cancelled``."""
        programme = await self.get_programme(guild_id)
        found = programme.get(session_id) if programme is not None else None
        if found is not None or not include_cancelled:
            return found
        return await programme_store.get_session(
            self.store, guild_id, session_id, include_cancelled=True
        )

    async def search(self, guild_id: int, query: str, *, limit: int = 25) -> list[Session]:
        """Sessions matching ``query`` in title, host or speakers, best first (autocomplete).

        An empty query lists the sessions still to come first.
        """
        programme = await self.get_programme(guild_id)
        if programme is None:
            return []
        return programme.index.search(query, limit, now=self.clock())

    async def day_page(
        self, guild_id: int, programme: Programme, day: date, page: int = 1
    ) -> DayPage:
        """Page ``page`` of a day's one-message `/programme` answer (clamped to the pages the
        day has now), rendered once per programme, day, timezone, date, page and sessions
        still to come (`bot.render.cache`)."""
        config = await self.config(guild_id)
        now = self.clock()
        today = now.astimezone(config.tz).date()
        return self.renders.page(guild_id, programme, day, config.tz, today, now, page)

    async def session_choices(self, guild_id: int, query: str) -> list[tuple[str, str]]:
        """Autocomplete: (name, session id) of the sessions matching ``query``, best first
        (`search`), named in the guild's timezone; typed queries are answered from memory."""
        programme = await self.get_programme(guild_id)
        if programme is None:
            return []
        config = await self.config(guild_id)
        return self.renders.choices(guild_id, programme, query, config.tz, self.clock())

    async def today(self, guild_id: int) -> date:
        """Today's date in the guild's timezone."""
        config = await self.config(guild_id)
        return self.clock().astimezone(config.tz).date()

    # ------------------------------------------------------------------ changes

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(guild_id, diff)`` after each non-empty change (then it re-plans)."""
        self._listeners.append(listener)

    def _lock(self, guild_id: int) -> asyncio.Lock:
        return self._locks.setdefault(guild_id, asyncio.Lock())

    def _invalidate(self, guild_id: int) -> None:
        self._cache.pop(guild_id, None)
        self._generation[guild_id] = self._generation.get(guild_id, 0) + 1

    async def _replace(self, guild_id: int, programme: Programme, source: str) -> ProgrammeDiff:
        async with self._lock(guild_id):
            try:
                return await programme_store.replace_programme(
                    self.store,
                    guild_id,
                    programme,
                    source,  # type: ignore[arg-type]
                )
            finally:
                self._invalidate(guild_id)

    def _outbox_lock(self, guild_id: int) -> asyncio.Lock:
        return self._outbox_locks.setdefault(guild_id, asyncio.Lock())

    async def _after_change(self, guild_id: int, diff: ProgrammeDiff) -> None:
        """Tell the listeners (never letting one stop the rest), then re-plan the guild at once.

        Listeners come first because they record durable work (the interest feature stores
        its change notices). The change itself was stored in the outbox with the programme, so
        a stop before every listener has run loses nothing: the next preparation replays it.
        Re-planning all planners is the slower step.
        """
        if not diff.is_empty:
            await self._deliver_pending(guild_id)
        await self.schedule.replan(guild_id)

    async def _tell_listeners(self, guild_id: int, diff: ProgrammeDiff) -> None:
        for listener in list(self._listeners):
            try:
                await listener(guild_id, diff)
            except Exception:
                log.exception("change listener %r failed for guild %s", listener, guild_id)

    async def _deliver_pending(self, guild_id: int) -> int:
        """Tell the listeners every stored change not yet handled (oldest first), marking each
        handled once every listener has run (one that raised is logged and counts as run).
        Returns how many changes were told."""
        async with self._outbox_lock(guild_id):
            pending = await programme_store.pending_changes(self.store, guild_id)
            for change_id, diff in pending:
                await self._tell_listeners(guild_id, diff)
                await programme_store.mark_change_handled(self.store, change_id)
            return len(pending)

    async def _replay_pending(self, guild_id: int) -> None:
        """Changes stored but never told (the process stopped right after the commit): tell
        them now, before the seed file is looked at (the guild is re-planned afterwards)."""
        replayed = await self._deliver_pending(guild_id)
        if replayed:
            log.info(
                "guild %s: %d stored programme change(s) told to listeners after a restart",
                guild_id,
                replayed,
            )

    async def seed(self, guild_id: int) -> ProgrammeDiff | None:
        """Load ``QIWEEK_PROGRAMME`` for a guild that has not imported its own programme.

        First, changes stored but never told to the listeners (a stop right after a replace
        committed) are told now, whatever the programme's source.
        A changed file yields a diff (applied and announced to listeners; the guild's re-plan
        follows in `prepare_guild`); a bad file
        is logged with every problem and the programme already stored stays in force.
        """
        try:
            return await self._seed(guild_id)
        except Exception:
            if self.store.is_open:
                raise
            # The bot was stopped while this guild was being prepared: nothing to do (the
            # transaction, if any, was rolled back) and nothing worth a traceback.
            log.info("shutting down: programme for guild %s not loaded", guild_id)
            return None

    async def _seed(self, guild_id: int) -> ProgrammeDiff | None:
        await self._replay_pending(guild_id)
        source = await programme_store.programme_source(self.store, guild_id)
        if source == "import":
            log.info("guild %s uses its imported programme; the seed file is not applied", guild_id)
            return None
        config = await self.config(guild_id)
        path = Path(self.settings.programme_path)
        try:
            programme = await asyncio.to_thread(load_programme, path, config.timezone)
        except ProgrammeError as exc:
            kept = "the programme already stored stays in force" if source else "none is loaded"
            log.error(
                "programme file %s refused for guild %s (%s); %d problem(s):\n%s",
                path,
                guild_id,
                kept,
                exc.total,
                "\n".join(f"  - {p}" for p in exc.problems),
            )
            if self.alert is not None:  # issue 10: organisers are told, not only the log
                shown = "\n".join(f"- {p}" for p in exc.problems[:10])
                more = len(exc.problems) - 10
                await self.alert(
                    guild_id,
                    "programme_file",
                    f"The programme file {path.name} was refused at start ({kept}); "
                    f"{len(exc.problems)} problem(s):\n{shown}"
                    + (
                        f"\n... and {more} more (`python -m bot check` lists all)"
                        if more > 0
                        else ""
                    ),
                )
            return None
        diff = await self._replace(guild_id, programme, "seed")
        if diff.is_empty:
            log.info("programme for guild %s is up to date with %s", guild_id, path)
            return diff
        log.info(
            "programme for guild %s loaded from %s: %d added, %d changed, %d removed",
            guild_id,
            path,
            len(diff.added),
            len(diff.changed),
            len(diff.removed),
        )
        # Only the listeners: the seed runs as a guild preparer, and `prepare_guild` re-plans
        # the guild right after every preparer (re-planning here too would do it twice).
        await self._deliver_pending(guild_id)
        return diff

    async def preview_import(self, guild_id: int, data: bytes, filename: str) -> ImportPreview:
        """Parse an uploaded file and say what it would change; nothing is stored.

        Raises ProgrammeError listing every problem (with its line, row or event number).
        """
        config = await self.config(guild_id)
        programme = await parse_programme_async(data, filename, config.timezone)
        diff = await programme_store.diff_against_stored(self.store, guild_id, programme)
        current = await self.get_programme(guild_id)
        source = await programme_store.programme_source(self.store, guild_id)
        return ImportPreview(
            added=diff.added,
            changed=diff.changed,
            removed=diff.removed,
            programme=programme,
            filename=filename,
            event_changed=current is None or current.event != programme.event,
            source=source,
        )

    async def apply_import(
        self, guild_id: int, programme: Programme, *, by: int, filename: str
    ) -> ProgrammeDiff:
        """Make an imported programme the guild's own (the seed file no longer applies),
        record who did it, re-plan the schedule at once and tell the listeners."""
        diff = await self._replace(guild_id, programme, "import")
        await self.audit.record(guild_id, by, "import", f"{filename}: {import_counts(diff)}")
        log.info(
            "programme imported for guild %s: %d added, %d changed, %d removed",
            guild_id,
            len(diff.added),
            len(diff.changed),
            len(diff.removed),
        )
        await self._after_change(guild_id, diff)
        return diff

    # ------------------------------------------------------------------ posting

    def _part(self, day: date, number: int, part: DayPart, config: GuildConfig, key: str) -> Part:
        view = interest_select_view(day, number, part.sessions, config.tz, now=self.clock())
        kwargs: dict[str, Any] = {
            "embeds": part.page.embeds,
            "allowed_mentions": discord.AllowedMentions.none(),
        }
        if part.page.content:
            kwargs["content"] = part.page.content
        if view is not None:
            kwargs["view"] = view  # drawn only: the interest feature handles it by custom_id
        return Part(key, kwargs)

    async def post_now(self, guild_id: int, day: date, *, by: int) -> DayPost:
        """`/organiser post-programme`: post a day now (no ledger) and record who did it."""
        posted = await self.post_day(guild_id, day)
        channel: Any = self.delivery.client.get_channel(posted.channel_id)
        name = getattr(channel, "name", None)
        detail = post_audit_detail(day, len(posted.sent), name)
        await self.audit.record(guild_id, by, "post-programme", detail)
        return posted

    async def post_day(self, guild_id: int, day: date, *, scheduled: bool = False) -> DayPost:
        """Post a day's programme to the programme channel, split over as many messages as needed.

        A ``scheduled`` post goes through the ledger (`daily_key`, one key per message, the day
        confirmed under its own key): a day already posted is not posted again, and a post that
        was interrupted resumes with only the missing messages. Otherwise (an organiser's
        explicit post) it simply posts.
        """
        programme = await self.get_programme(guild_id)
        if programme is None:
            raise ProgrammePostError("No programme is loaded for this server.")
        config = await self.config(guild_id)
        channel = await self.delivery.channel(config.programme_channel_id, purpose="programme")
        if channel is None:
            raise ProgrammePostError(
                "No programme channel is set (or the bot cannot see it): choose one with "
                "`/organiser setup programme_channel:`."
            )
        channel_id = getattr(channel, "id", 0)
        today = self.clock().astimezone(config.tz).date()
        day_post = day_parts(programme, day, config.tz, today=today)
        result = DayPost(day=day, channel_id=channel_id, parts=len(day_post))
        parts = [
            self._part(day, number, part, config, daily_key(guild_id, day, number))
            for number, part in enumerate(day_post, start=1)
        ]
        if not scheduled:
            result.sent = await self.delivery.send_unrecorded(channel, [p.kwargs for p in parts])
            return result
        posted = await self.delivery.post(
            channel,
            parts,
            kind=Kind.DAILY,
            guild_id=guild_id,
            envelope=daily_key(guild_id, day),
            retry_failed=True,
        )
        result.sent = posted.sent
        result.already_done = posted.already_done
        if not posted.already_done:
            log.info(
                "daily programme for %s posted in guild %s: %d message(s) sent now of %d",
                day,
                guild_id,
                len(result.sent),
                len(parts),
            )
        return result

    # ------------------------------------------------------------------ the daily plan

    async def plan_daily(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """One job per day with sessions from today on, at the guild's daily post time.

        Today's post whose time has passed runs at once (catch-up); past days are never posted
        (recorded as skipped); days already confirmed in the ledger are left alone.
        """
        programme = await self.get_programme(guild_id)
        if programme is None:
            return []
        config = await self.config(guild_id)
        tz = config.tz
        today = now.astimezone(tz).date()
        jobs: list[PlannedJob] = []
        for day in programme.days(tz):
            if day < today:
                await self._close_past_day(guild_id, day)
                continue
            if await self.delivery.is_done(daily_key(guild_id, day)):
                continue
            jobs.append(
                PlannedJob(
                    id=day.isoformat(),
                    run_at=combine_local(day, config.daily_post_time, tz),
                    func=functools.partial(self._daily_job, guild_id, day),
                    description=f"daily programme {day.isoformat()} for guild {guild_id}",
                )
            )
        return jobs

    async def _close_past_day(self, guild_id: int, day: date) -> bool:
        """A past day's post is never made: record it skipped, closing what an interrupted
        run left claimed (the day's key and its parts). True when the day's key was recorded.

        Parts can be left claimed only by a run that died with the day's key claimed (the day
        is confirmed after its last part), so they are looked at only when that key is closed.
        """
        reason = "missed: the day is over"
        closed = await self.delivery.close_past(
            daily_key(guild_id, day), kind=Kind.DAILY, guild_id=guild_id, reason=reason
        )
        if closed:
            await self.delivery.close_past_parts(
                (daily_key(guild_id, day, n) for n in itertools.count(1)),
                kind=Kind.DAILY,
                guild_id=guild_id,
                reason=reason,
            )
        return closed

    async def _daily_job(self, guild_id: int, day: date) -> None:
        config = await self.config(guild_id)
        tz = config.tz
        post_at = combine_local(day, config.daily_post_time, tz)
        early = post_at - self.clock()
        if early > EARLY_WAIT_MAX:
            log.info("daily post %s, guild %s: woke %s early, left to replan", day, guild_id, early)
            return
        if early > timedelta(0):
            await asyncio.sleep(max(0.0, real_seconds_until(self.clock, post_at)))
        if self.clock().astimezone(tz).date() > day:
            if await self._close_past_day(guild_id, day):
                log.warning("daily post for %s in guild %s missed: the day is over", day, guild_id)
            return
        try:
            await self.post_day(guild_id, day, scheduled=True)
        except ProgrammePostError as exc:
            log.warning("daily post for %s in guild %s not made: %s", day, guild_id, exc)
        except discord.HTTPException as exc:
            # Recorded as failed in the ledger; the next re-plan (start, setup, import) retries.
            log.error("daily post for %s in guild %s failed: %s", day, guild_id, exc)


__all__ = [
    "ChangeListener",
    "DayPost",
    "ImportPreview",
    "ProgrammePostError",
    "ProgrammeService",
]
