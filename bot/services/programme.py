"""The programme service: each server's programme, its cache, imports, and the daily post.

Published as ``bot.services.programme`` by ``cogs/programme.py``. Other features use it to read
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
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.clock import Clock
from bot.config import Settings
from bot.programme import (
    Programme,
    ProgrammeDiff,
    ProgrammeError,
    Session,
    combine_local,
    load_programme,
    parse_programme_async,
)
from bot.render.programme import DayPart, day_parts, interest_select_view
from bot.schedule import PlannedJob, Schedule
from bot.store import Claim, Ledger, Store
from bot.store import programme as programme_store
from bot.store.guild_settings import GuildConfig, get_config

if TYPE_CHECKING:
    from bot.client import QIWeekBot

log = logging.getLogger(__name__)

ChangeListener = Callable[[int, ProgrammeDiff], Awaitable[None]]

DAILY_KIND = "daily"
#: A daily job woken this much (or less) before its time by the bot's clock waits for it; one
#: woken earlier (the scheduler's clock and the bot's disagree) leaves the day to a re-plan.
EARLY_WAIT_MAX = timedelta(minutes=2)


def daily_key(guild_id: int, day: date) -> str:
    """The ledger key of one server's daily post for one day (each message adds ``:{part}``)."""
    return f"daily:{guild_id}:{day.isoformat()}"


async def close_past_key(
    ledger: Ledger, key: str, *, kind: str, guild_id: int | None, reason: str
) -> bool:
    """Record a send of a day that is over as skipped; True when this call recorded it.

    A key without a row gets a skipped row. A key an earlier run claimed and never confirmed
    (it died mid-send) is taken over and marked skipped: resuming it is no longer useful, and
    left alone it would stay "claimed" for ever. A claim of this run (in flight right now) and
    a row already decided (sent, skipped, failed) are left as they are.
    """
    row = await ledger.get(key)
    if row is None:
        return await ledger.skip(key, kind=kind, guild_id=guild_id, reason=reason)
    if row.status != "claimed":
        return False
    if await ledger.claim(key, kind=kind, guild_id=guild_id) is not Claim.RESUME:
        return False
    await ledger.mark_skipped(key, f"{reason} (an earlier run's send was never confirmed)")
    return True


async def close_past_parts(
    ledger: Ledger, prefix: str, *, kind: str, guild_id: int | None, reason: str
) -> int:
    """:func:`close_past_key` for the parts ``{prefix}:1``, ``{prefix}:2``, ... that have rows
    (a multi-message post claims one key per message); returns how many were closed."""
    closed = 0
    number = 1
    while (row := await ledger.get(f"{prefix}:{number}")) is not None:
        if row.status == "claimed" and await close_past_key(
            ledger, f"{prefix}:{number}", kind=kind, guild_id=guild_id, reason=reason
        ):
            closed += 1
        number += 1
    return closed


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
        client: QIWeekBot,
        store: Store,
        ledger: Ledger,
        settings: Settings,
        schedule: Schedule,
        clock: Clock,
    ) -> None:
        self.client = client
        self.store = store
        self.ledger = ledger
        self.settings = settings
        self.schedule = schedule
        self.clock = clock
        self._cache: dict[int, Programme | None] = {}
        self._generation: dict[int, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._listeners: list[ChangeListener] = []
        self._outbox_locks: dict[int, asyncio.Lock] = {}

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

    async def today(self, guild_id: int) -> date:
        """Today's date in the guild's timezone."""
        config = await self.config(guild_id)
        return self.clock().astimezone(config.tz).date()

    # ------------------------------------------------------------------ changes

    def add_change_listener(self, listener: ChangeListener) -> None:
        """Call ``listener(guild_id, diff)`` after each non-empty change (then it re-plans)."""
        self._listeners.append(listener)

    def remove_change_listener(self, listener: ChangeListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

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

    async def apply_import(self, guild_id: int, programme: Programme) -> ProgrammeDiff:
        """Make an imported programme the guild's own (the seed file no longer applies),
        re-plan the schedule at once and tell the listeners."""
        diff = await self._replace(guild_id, programme, "import")
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

    async def _programme_channel(self, config: GuildConfig) -> discord.abc.Messageable | None:
        channel_id = config.programme_channel_id
        if channel_id is None:
            return None
        channel: Any = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.HTTPException:
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def _send_part(
        self,
        channel: discord.abc.Messageable,
        day: date,
        number: int,
        part: DayPart,
        config: GuildConfig,
        nonce: str | None,
    ) -> int:
        view = interest_select_view(day, number, part.sessions, config.tz, now=self.clock())
        kwargs: dict[str, Any] = {
            "embeds": part.page.embeds,
            "allowed_mentions": discord.AllowedMentions.none(),
        }
        if part.page.content:
            kwargs["content"] = part.page.content
        if view is not None:
            kwargs["view"] = view
        if nonce is not None:
            kwargs["nonce"] = nonce
        message = await channel.send(**kwargs)
        if view is not None:
            # Only drawn here: the interest feature handles the select by its custom_id.
            view.stop()
        return message.id

    async def post_day(self, guild_id: int, day: date, *, key: str | None = None) -> DayPost:
        """Post a day's programme to the programme channel, split over as many messages as needed.

        With ``key`` every message goes through the ledger (``{key}:{part}``) and the day is
        confirmed under ``key``: a day already posted is not posted again, and a post that was
        interrupted resumes with only the missing messages. Without a key (an organiser's
        explicit post) it simply posts.
        """
        programme = await self.get_programme(guild_id)
        if programme is None:
            raise ProgrammePostError("No programme is loaded for this server.")
        config = await self.config(guild_id)
        channel = await self._programme_channel(config)
        if channel is None:
            raise ProgrammePostError(
                "No programme channel is set (or the bot cannot see it): choose one with "
                "`/organiser setup programme_channel:`."
            )
        channel_id = getattr(channel, "id", 0)
        today = self.clock().astimezone(config.tz).date()
        parts = day_parts(programme, day, config.tz, today=today)
        result = DayPost(day=day, channel_id=channel_id, parts=len(parts))
        if key is None:
            for number, part in enumerate(parts, start=1):
                result.sent.append(await self._send_part(channel, day, number, part, config, None))
            return result

        claim = await self.ledger.claim(key, kind=DAILY_KIND, guild_id=guild_id, retry_failed=True)
        if not claim.should_send:
            result.already_done = True
            return result
        first: int | None = None
        try:
            for number, part in enumerate(parts, start=1):
                delivery = await self.ledger.deliver(
                    f"{key}:{number}",
                    kind=DAILY_KIND,
                    guild_id=guild_id,
                    send=functools.partial(self._send_part, channel, day, number, part, config),
                    retry_failed=True,
                )
                if delivery.sent and delivery.message_id is not None:
                    result.sent.append(delivery.message_id)
                if first is None:
                    first = delivery.message_id
        except Exception as exc:
            await self.ledger.mark_failed(key, f"{type(exc).__name__}: {exc}"[:500])
            raise
        await self.ledger.mark_sent(key, first)
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
            key = daily_key(guild_id, day)
            if day < today:
                await self._close_past_day(guild_id, day)
                continue
            row = await self.ledger.get(key)
            if row is not None and row.status in ("sent", "skipped"):
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
        key = daily_key(guild_id, day)
        reason = "missed: the day is over"
        closed = await close_past_key(
            self.ledger, key, kind=DAILY_KIND, guild_id=guild_id, reason=reason
        )
        if closed:
            await close_past_parts(
                self.ledger, key, kind=DAILY_KIND, guild_id=guild_id, reason=reason
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
            await asyncio.sleep(early.total_seconds())
        key = daily_key(guild_id, day)
        if self.clock().astimezone(tz).date() > day:
            if await self._close_past_day(guild_id, day):
                log.warning("daily post for %s in guild %s missed: the day is over", day, guild_id)
            return
        try:
            await self.post_day(guild_id, day, key=key)
        except ProgrammePostError as exc:
            log.warning("daily post for %s in guild %s not made: %s", day, guild_id, exc)
        except discord.HTTPException as exc:
            # Recorded as failed in the ledger; the next re-plan (start, setup, import) retries.
            log.error("daily post for %s in guild %s failed: %s", day, guild_id, exc)


__all__ = [
    "DAILY_KIND",
    "ChangeListener",
    "DayPost",
    "ImportPreview",
    "ProgrammePostError",
    "ProgrammeService",
    "close_past_key",
    "close_past_parts",
    "daily_key",
]
