"""What every DM fan-out of one client shares (`bot.delivery.fanout`): the `Pacer` that spaces
requests under Discord's global limit, the `DmChannels` cache of DM channel ids (in memory and in
the database), and each server's new-DM guard (`bot.delivery.dm_policy`), in one
`FanoutContext` kept on the client (`context_for`)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord

from bot.clock import Clock, Timeline, real_seconds_until
from bot.delivery.dm_policy import DmGuard
from bot.store import dm_channels as dm_store

log = logging.getLogger(__name__)

#: Discord's global limit: requests per second per bot, across all routes.
GLOBAL_LIMIT = 50
#: The pacer's rate: 90% of the limit, leaving room for everything else the bot does meanwhile.
TARGET_RATE = 45.0


class Pacer:
    """Spaces requests evenly at `rate` per second; shared by every fan-out of one client.

    Even spacing (rather than a burst then a pause) keeps every rolling one-second window under
    the limit, which is how Discord counts.
    """

    def __init__(self, rate: float = TARGET_RATE) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self._interval = 1.0 / rate
        self._next = 0.0
        self.granted = 0

    async def wait(self) -> None:
        """Wait for the next free slot, then return (the caller makes one request)."""
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        self.granted += 1
        if slot > now:
            await asyncio.sleep(slot - now)


class DmChannels:
    """User id -> DM channel id (DM channel ids never change), and who was DMed before.

    Kept in memory and, given a store, in the database (`bot.store.dm_channels`): `load` reads
    the stored ids before a fan-out, so after a restart a DM to a member DMed before is one
    request, not two, and needs no new DM channel (nothing for Discord's anti-spam to count).
    """

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._messaged: set[int] = set()
        self._loaded: set[int] = set()
        self._pending: dict[int, asyncio.Future[int]] = {}
        self.created = 0

    def __len__(self) -> int:
        return len(self._ids)

    def known(self, user_id: int) -> bool:
        return user_id in self._ids

    def messaged(self, user_id: int) -> bool:
        """A DM has reached this member before (a quarantined bot can still DM them)."""
        return user_id in self._messaged

    def forget(self, user_id: int) -> None:
        self._ids.pop(user_id, None)

    def channel_id(self, user_id: int) -> int | None:
        return self._ids.get(user_id)

    async def load(self, store: Any, user_ids: Sequence[int]) -> None:
        """Read the stored DM channels of these members (once per member per connection)."""
        wanted = [u for u in dict.fromkeys(user_ids) if u not in self._loaded]
        if not wanted or store is None:
            return
        for user_id, row in (await dm_store.get_channels(store, wanted)).items():
            if row.channel_id is not None:
                self._ids.setdefault(user_id, row.channel_id)
            if row.messaged:
                self._messaged.add(user_id)
        self._loaded.update(wanted)

    async def record_messaged(self, store: Any, user_ids: Sequence[int]) -> None:
        """DMs reached these members: remember it (memory and database)."""
        new = [u for u in dict.fromkeys(user_ids) if u not in self._messaged]
        self._messaged.update(new)
        if new and store is not None and getattr(store, "is_open", True):
            await dm_store.mark_messaged(store, new)

    async def get(
        self, client: discord.Client, user_id: int, pacer: Pacer, store: Any = None
    ) -> discord.PartialMessageable:
        """A sendable DM channel; opens it (one paced request) only the first time."""
        channel_id = self._ids.get(user_id)
        if channel_id is None:
            pending = self._pending.get(user_id)
            if pending is not None:
                channel_id = await asyncio.shield(pending)
            else:
                future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
                self._pending[user_id] = future
                try:
                    await pacer.wait()
                    channel = await client.create_dm(discord.Object(id=user_id))
                    channel_id = channel.id
                    self.created += 1
                    self._ids[user_id] = channel_id
                    if store is not None:
                        await dm_store.save_channel(store, user_id, channel_id)
                    future.set_result(channel_id)
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                except Exception as exc:
                    future.set_exception(exc)
                    future.exception()  # mark it retrieved: nobody else may be waiting
                    raise
                finally:
                    self._pending.pop(user_id, None)
        return client.get_partial_messageable(channel_id, type=discord.ChannelType.private)


@dataclass
class FanoutContext:
    """What every fan-out of one client shares: the pacer, the DM channel cache, and each
    server's new-DM guard (`bot.delivery.dm_policy`). ``new_dms_per_minute`` None means no
    budget (40003 and quarantine are still handled). ``clock`` is the bot's clock: under a
    rehearsal `Timeline` the guards count their minute and cool-downs in its (event) time, so a
    compressed week meets the budget as the real week would; otherwise (production) they count
    in `time.monotonic()`, which is what Discord's anti-spam sees."""

    pacer: Pacer = field(default_factory=Pacer)
    channels: DmChannels = field(default_factory=DmChannels)
    new_dms_per_minute: int | None = None
    clock: Clock | None = None
    guards: dict[int, DmGuard] = field(default_factory=dict)
    #: One new DM channel opened at a time per server, so a 40003 is known before the next
    #: open: a whole fan-out meets it once, not once per request in flight.
    open_locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    def open_lock(self, guild_id: int) -> asyncio.Lock:
        return self.open_locks.setdefault(guild_id, asyncio.Lock())

    def guard(self, guild_id: int) -> DmGuard:
        guard = self.guards.get(guild_id)
        if guard is None:
            per_minute = self.new_dms_per_minute or 10**9
            timeline = self.clock
            if isinstance(timeline, Timeline):
                guard = DmGuard(per_minute=per_minute, clock=lambda: timeline().timestamp())
            else:
                guard = DmGuard(per_minute=per_minute)
            self.guards[guild_id] = guard
        return guard

    def real_seconds_until(self, guard: DmGuard, slot: float) -> float:
        """Real seconds until `guard`'s clock reads `slot`: waits and fan-out deadlines are in
        real (`time.monotonic()`) seconds, while a rehearsal's guard counts in event time."""
        if isinstance(self.clock, Timeline) and guard.clock is not time.monotonic:
            return real_seconds_until(self.clock, datetime.fromtimestamp(slot, UTC))
        return slot - guard.clock()


_CONTEXT_ATTR = "_qiweek_fanout"


def context_for(client: discord.Client) -> FanoutContext:
    """The client's fan-out context, created on first use.

    It is kept on the client rather than in a module global because both the DM channel ids and
    the rate budget belong to that bot connection; every feature that fans out shares it.
    """
    context = getattr(client, _CONTEXT_ATTR, None)
    if context is None:
        settings = getattr(client, "settings", None)
        context = FanoutContext(
            new_dms_per_minute=getattr(settings, "new_dms_per_minute", None),
            clock=getattr(client, "clock", None),
        )
        setattr(client, _CONTEXT_ATTR, context)
    return context


__all__ = ["GLOBAL_LIMIT", "TARGET_RATE", "DmChannels", "FanoutContext", "Pacer", "context_for"]
