"""Direct-message fan-out: one DM per member, exactly once, paced under Discord's global limit.

Used by reminders, schedule-change notices and announcements. Each DM is a delivery-ledger send
(`Ledger.deliver`) with its own key, so a restart never repeats one and a DM interrupted mid-send
is resumed with the same nonce (Discord then returns the first message instead of a second).

Failures never stop the fan-out:
- 50007 "Cannot send messages to this user" (DMs closed, or no shared server): recorded as
  skipped with reason ``dm_closed`` and reported through ``on_closed``; the caller reminds the
  member in the channel instead. Never retried: it will not change within the fan-out.
- a server error (5xx, after discord.py's own five tries), a 429 that outlasted discord.py's own
  waiting (Discord slower than the pacer assumes), or a dropped connection: retried with
  exponential backoff a few times, then recorded as failed.
- anything else (a 4xx such as 50035, an unknown user): recorded as failed at once, since a
  repeat gives the same answer and invalid requests count towards Cloudflare's ban.

On time at any size: the arithmetic
-----------------------------------
Discord allows 50 requests per second per bot, across all routes (interaction answers exempt).
Every fan-out request waits for a slot of one shared `Pacer` that spaces requests evenly at
``TARGET_RATE`` = 45/s, leaving 10% of the limit for everything else the bot does at the same
moment (the channel reminder, interaction follow-ups, a daily post), so a fan-out causes no 429s
instead of relying on discord.py to back off after them.

A DM to a member whose DM channel is not yet known costs 2 requests (POST /users/@me/channels,
then POST /channels/{id}/messages); DM channel ids never change, so `DmChannels` keeps them for
the life of the connection and later DMs to the same member cost 1. discord.py's own cache of
DM channels holds only the latest 128, too few for a fan-out of thousands.

So N recipients need at most R = 2N (+ the channel messages) requests, and take
``fanout_seconds(R)`` = ceil(R / 45) seconds. A reminder due at T = start - lead alone starts at
T - ceil(R / 45) s: 2,000 recipients -> 4,001 requests -> starts 89 s early, last DM at about T.
Reminders share the pacer, so they are planned backwards from the last one due
(`bot.services.reminders.plan_backwards`): each starts at min(its T - its cost, the next one's
start - its cost). Fan-outs due at the same T, or close enough to overlap (a minute apart, one of
them large), thus run one after the other and each still ends by its own T. The planner assumes
2 requests per recipient (the cache is empty after a restart); when the cache is warm the
fan-out just finishes early. ``concurrency`` (10 in flight) only hides round-trip latency: at
45/s and ~100 ms per request about 5 are needed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord

from bot.store.ledger import Ledger

log = logging.getLogger(__name__)

GLOBAL_LIMIT = 50
TARGET_RATE = 45.0
REQUESTS_PER_NEW_DM = 2
DM_CLOSED = 50007
UNKNOWN_CHANNEL = 10003
CLOSED_REASON = "dm_closed"


def fanout_seconds(requests: int, rate: float = TARGET_RATE) -> int:
    """Whole seconds `requests` take at `rate` per second: how early a fan-out must start."""
    if requests <= 0:
        return 0
    return math.ceil(requests / rate)


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
    """User id -> DM channel id, for the life of the connection (DM channel ids never change)."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}
        self._pending: dict[int, asyncio.Future[int]] = {}
        self.created = 0

    def __len__(self) -> int:
        return len(self._ids)

    def known(self, user_id: int) -> bool:
        return user_id in self._ids

    def forget(self, user_id: int) -> None:
        self._ids.pop(user_id, None)

    async def get(
        self, client: discord.Client, user_id: int, pacer: Pacer
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
    """What every fan-out of one client shares: the pacer and the DM channel cache."""

    pacer: Pacer = field(default_factory=Pacer)
    channels: DmChannels = field(default_factory=DmChannels)


_CONTEXT_ATTR = "_qiweek_fanout"


def context_for(client: discord.Client) -> FanoutContext:
    """The client's fan-out context, created on first use.

    It is kept on the client rather than in a module global because both the DM channel ids and
    the rate budget belong to that bot connection; every feature that fans out shares it.
    """
    context = getattr(client, _CONTEXT_ATTR, None)
    if context is None:
        context = FanoutContext()
        setattr(client, _CONTEXT_ATTR, context)
    return context


@dataclass
class FanoutResult:
    """Who got a DM in this call, whose DMs are closed, who failed, who was done before."""

    sent: list[int] = field(default_factory=list)
    dm_closed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def total(self) -> int:
        return len(self.sent) + len(self.dm_closed) + len(self.failed) + len(self.skipped)


def is_dm_closed(exc: BaseException) -> bool:
    return isinstance(exc, discord.HTTPException) and exc.code == DM_CLOSED


def _retryable(exc: BaseException) -> bool:
    """Worth another try: Discord's side failed, or the connection did."""
    if isinstance(exc, discord.DiscordServerError):
        return True
    if isinstance(exc, discord.HTTPException) and exc.status == 429:
        # discord.py waits out 429s itself and gives up after five: Discord (or a proxy) is
        # slower than our pacer assumes. Transient, so back off and try again.
        return True
    if isinstance(exc, discord.HTTPException):
        return False
    return isinstance(exc, (aiohttp.ClientError, OSError, asyncio.TimeoutError))


async def send_dms(
    client: discord.Client,
    ledger: Ledger,
    *,
    guild_id: int,
    user_ids: Sequence[int],
    kind: str,
    key_for: Callable[[int], str],
    build: Callable[[int], dict[str, Any]],
    concurrency: int = 10,
    on_closed: Callable[[int], Awaitable[None]] | None = None,
    retries: int = 3,
    backoff: float = 1.0,
    context: FanoutContext | None = None,
) -> FanoutResult:
    """DM every member in `user_ids` once (duplicates ignored), at most `concurrency` at a time.

    `build(user_id)` gives the keyword arguments of `Messageable.send` (content, embed, view...);
    the nonce is added here. Cancelling the call (shutdown) leaves the DMs in flight claimed,
    so the next run resumes them with their nonce.
    """
    context = context or context_for(client)
    result = FanoutResult()
    started = time.monotonic()
    pending = iter(dict.fromkeys(user_ids))

    async def attempt(user_id: int, nonce: str) -> int:
        tries = 0
        while True:
            try:
                channel = await context.channels.get(client, user_id, context.pacer)
                await context.pacer.wait()
                message = await channel.send(**build(user_id), nonce=nonce)
                return message.id
            except discord.NotFound as exc:
                # A cached DM channel that no longer exists: open it again, once.
                if exc.code != UNKNOWN_CHANNEL or tries >= retries:
                    raise
                context.channels.forget(user_id)
            except Exception as exc:
                if not _retryable(exc) or tries >= retries:
                    raise
                log.info("DM to %s failed (%s); retrying", user_id, exc)
                await asyncio.sleep(backoff * 2**tries)
            tries += 1

    async def one(user_id: int) -> None:
        key = key_for(user_id)
        try:
            outcome = await ledger.deliver(
                key,
                kind=kind,
                guild_id=guild_id,
                send=lambda nonce: attempt(user_id, nonce),
            )
        except Exception as exc:
            if is_dm_closed(exc):
                result.dm_closed.append(user_id)
                try:
                    await ledger.mark_skipped(key, CLOSED_REASON)
                    if on_closed is not None:
                        await on_closed(user_id)
                except Exception:
                    log.exception("recording closed DMs of %s failed", user_id)
            else:
                result.failed.append(user_id)
                log.warning("DM %s to %s failed for good: %s", key, user_id, exc)
            return
        (result.sent if outcome.sent else result.skipped).append(user_id)

    async def worker() -> None:
        for user_id in pending:
            await one(user_id)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, concurrency)):
            group.create_task(worker())
    result.elapsed = time.monotonic() - started
    log.info(
        "fan-out %s guild=%s: %d sent, %d closed, %d failed, %d done before, %.1f s",
        kind,
        guild_id,
        len(result.sent),
        len(result.dm_closed),
        len(result.failed),
        len(result.skipped),
        result.elapsed,
    )
    return result


__all__ = [
    "CLOSED_REASON",
    "GLOBAL_LIMIT",
    "REQUESTS_PER_NEW_DM",
    "TARGET_RATE",
    "DmChannels",
    "FanoutContext",
    "FanoutResult",
    "Pacer",
    "context_for",
    "fanout_seconds",
    "is_dm_closed",
    "send_dms",
]
