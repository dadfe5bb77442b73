"""Nothing lost to downtime: shares posted (or edited, or deleted) while the bot was down.

The gateway does not replay messages after a fresh start, so on start, and after any reconnect
that was not a resume (both make discord.py dispatch `on_guild_available`), the bot reads the
history of every channel where it collects shares (channels @everyone can read, and only the
configured share channels when `share_channel_ids` is set), from the last message it saw there
(`bot.store.share_cursors`) up to now, within `WINDOW` and at most `QIWEEK_BACKFILL_LIMIT`
messages per channel, one page of 100 per paced request. Tagged messages are collected exactly
as if they had arrived live (`ShareCollector.collect`: opt-outs and removals respected, a share
already stored is updated, never duplicated).

Reconciling edits and deletes: the read starts at the oldest share stored in the window for that
channel when that is older than the cursor, so every stored share in the window is seen again:
one whose message is gone is deleted, one whose tag was edited out is removed (unless it was
added by hand), one whose text changed is updated.

Live messages move the cursor in memory (no database write per message); it is written every
`FLUSH_EVERY` seconds and at close, and by each backfill. A cursor that lags only re-reads a few
messages, which collecting again leaves unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import discord

from bot.clock import Clock
from bot.config import Settings
from bot.services.shares import ShareCollector, _is_member_message, edit_time, share_from_message
from bot.store import Store, StoreError, share_cursors
from bot.store import shares as store_shares

log = logging.getLogger(__name__)

#: Messages older than this are not read back: the digest window (a week of daily digests and
#: the weekly roundup).
WINDOW = timedelta(days=7)
PAGE = 100
FLUSH_EVERY = 60.0

Pace = Callable[[], Awaitable[None]]


@dataclass
class BackfillResult:
    channels: int = 0
    read: int = 0
    collected: int = 0
    removed: int = 0
    requests: int = 0


def share_channels(guild: discord.Guild, only: frozenset[int] | None = None) -> list[Any]:
    """Text channels (and their active threads) whose shares the bot collects and can read:
    @everyone can read them (private stays private) and the bot can read their history."""
    found: list[Any] = []
    me = guild.me
    for channel in [*guild.text_channels, *guild.threads]:
        if (
            only is not None
            and channel.id not in only
            and getattr(channel, "parent_id", 0) not in (only)
        ):
            continue
        if not channel.permissions_for(guild.default_role).read_messages:
            continue
        if me is not None:
            mine = channel.permissions_for(me)
            if not (mine.read_messages and mine.read_message_history):
                continue
        found.append(channel)
    return found


@dataclass(eq=False)
class BackfillService:
    """Reads back share channels after downtime; keeps the per-channel cursor."""

    client: discord.Client
    store: Store
    settings: Settings
    shares: ShareCollector
    clock: Clock
    pace: Pace | None = None
    _latest: dict[int, tuple[int, int]] = field(default_factory=dict, init=False)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False)
    _running: set[int] = field(default_factory=set, init=False)
    _flusher: asyncio.Future[None] | None = field(default=None, init=False)

    # ---------------------------------------------------------------- live cursor

    def seen(self, message: discord.Message) -> None:
        """Every guild message seen live moves its channel's cursor (in memory)."""
        if message.guild is None:
            return
        current = self._latest.get(message.channel.id)
        if current is None or message.id > current[1]:
            self._latest[message.channel.id] = (message.guild.id, message.id)

    async def flush(self) -> None:
        """Write the cursors moved by live messages."""
        latest, self._latest = self._latest, {}
        for channel_id, (guild_id, message_id) in latest.items():
            await share_cursors.advance(self.store, guild_id, channel_id, message_id)

    def start_flusher(self) -> None:
        """Write the live cursors every `FLUSH_EVERY` seconds until `close`."""
        if self._flusher is None:
            self._flusher = asyncio.ensure_future(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            try:
                await self.flush()
            except Exception:
                log.exception("writing the share channels' cursors failed")

    # ---------------------------------------------------------------- backfill

    def start(self, guild: discord.Guild) -> asyncio.Task[Any] | None:
        """Backfill `guild` in the background (once at a time per guild)."""
        if guild.id in self._running:
            return None
        self._running.add(guild.id)
        task = asyncio.ensure_future(self.backfill_guild(guild))
        task.set_name(f"backfill {guild.id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        for guild_id in list(self._running):
            if task.get_name() == f"backfill {guild_id}":
                self._running.discard(guild_id)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Stop reading back and flushing; write the cursors one last time."""
        tasks = [*self._tasks, *([self._flusher] if self._flusher is not None else [])]
        self._flusher = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self.store.is_open:
            try:
                await self.flush()
            except (sqlite3.Error, StoreError) as exc:
                # What made this write fail ("database is locked") is gone: a job cancelled
                # during its BEGIN kept the write lock, and reads held stale snapshots (see
                # `Store.transaction`, `Store.fetch_one`). A last write can still fail (a full
                # disk): losing it only means the next start reads back from the previous
                # cursor; a share is never collected twice.
                log.warning("share channel cursors not saved at shutdown: %s", exc)

    async def backfill_guild(self, guild: discord.Guild) -> BackfillResult:
        only = getattr(self.settings, "share_channel_ids", None)
        result = BackfillResult()
        for channel in share_channels(guild, frozenset(only) if only else None):
            try:
                await self.backfill_channel(guild.id, channel, result)
            except discord.HTTPException as exc:
                log.warning("backfill of channel %s failed: %s", channel.id, exc)
        log.info(
            "backfill guild=%s: %d channels, %d messages read in %d requests, %d shares "
            "collected, %d removed",
            guild.id,
            result.channels,
            result.read,
            result.requests,
            result.collected,
            result.removed,
        )
        return result

    async def backfill_channel(
        self, guild_id: int, channel: Any, result: BackfillResult | None = None
    ) -> BackfillResult:
        result = result if result is not None else BackfillResult()
        result.channels += 1
        now = self.clock()
        window_start = now - WINDOW
        floor = discord.utils.time_snowflake(window_start)
        cursor = await share_cursors.get_cursor(self.store, channel.id)
        stored = [
            s
            for s in await store_shares.shares_between(
                self.store, guild_id, window_start, now + timedelta(days=1)
            )
            if s.channel_id == channel.id
        ]
        after = max(cursor or floor, floor)
        if stored:
            after = min(after, min(s.message_id for s in stored) - 1)
        limit = self.settings.backfill_limit
        seen: set[int] = set()
        newest = after
        while left := limit - len(seen):
            if self.pace is not None:
                await self.pace()
            result.requests += 1
            size = min(PAGE, left)
            page = [
                m
                async for m in channel.history(
                    limit=size, after=discord.Object(id=newest), oldest_first=True
                )
            ]
            for message in page:
                seen.add(message.id)
                newest = max(newest, message.id)
                await self._take(message, result)
            if len(page) < size:
                break
        result.read += len(seen)
        complete = len(seen) < limit
        if complete:
            # Every stored share of the window in this channel was in the range read.
            for share in stored:
                if share.message_id not in seen:  # deleted while the bot was down
                    if await store_shares.delete_share(self.store, share.message_id):
                        result.removed += 1
        if newest > (cursor or 0):
            await share_cursors.advance(self.store, guild_id, channel.id, newest)
        return result

    async def _take(self, message: discord.Message, result: BackfillResult) -> None:
        """A message read back: collect it as if live, or reconcile its stored share."""
        if message.guild is None or not _is_member_message(message):
            return
        if self.shares.wants(message):
            if await self.shares.collect(message):
                result.collected += 1
            return
        if not await store_shares.share_exists(self.store, message.id):
            return
        share = share_from_message(message)
        outcome = await store_shares.untag_share(
            self.store,
            message.id,
            author_name=share.author_name,
            content=share.content,
            attachment_count=share.attachment_count,
            image_url=share.image_url,
            edited_at=edit_time(message),
        )
        if outcome is store_shares.Untagged.REMOVED:
            result.removed += 1


def cursor_time(message_id: int) -> datetime:
    """When a cursor's message was posted (for logs and tests)."""
    return discord.utils.snowflake_time(message_id)


__all__ = ["FLUSH_EVERY", "WINDOW", "BackfillResult", "BackfillService", "share_channels"]
