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
then POST /channels/{id}/messages); DM channel ids never change, so `DmChannels` keeps them, in
memory and in the database (`bot.store.dm_channels`), and later DMs to the same member cost 1,
after a restart too. discord.py's own cache of DM channels holds only the latest 128.

New DM channels also follow Discord's anti-spam (issue 10, `bot.delivery.dm_policy`): within
the server's budget until the fan-out's deadline, one at a time, none during a 40003 cool-down,
and under suspected quarantine only to members DMed before. Members left out are returned in
`FanoutResult.restricted` for the caller to mention in the channel. A send whose outcome is
unknown (resumed from a dead run, or a dropped connection) is first looked for in the member's
DM channel (`bot.delivery.recovery`), since Discord forgets a nonce after a few minutes.

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
from datetime import UTC, datetime
from typing import Any

import aiohttp
import discord

from bot.delivery.context import (
    TARGET_RATE,
    FanoutContext,
    context_for,
)
from bot.delivery.dm_policy import DmState, restricted_text
from bot.delivery.recovery import find_sent
from bot.store import dm_channels as dm_store
from bot.store.ledger import Ledger

log = logging.getLogger(__name__)

REQUESTS_PER_NEW_DM = 2
DM_CLOSED = 50007
OPENING_TOO_FAST = 40003
UNKNOWN_CHANNEL = 10003
CLOSED_REASON = "dm_closed"
#: Skipped DMs whose member is mentioned in the channel instead (issue 10): Discord restricted
#: new DMs (40003 cool-down or quarantine), or the new-DM budget ran out before the deadline.
RESTRICTED_REASON = "dm_restricted"
BUDGET_REASON = "dm_budget"
MENTION_REASONS = frozenset({CLOSED_REASON, RESTRICTED_REASON, BUDGET_REASON})


def fanout_seconds(requests: int, rate: float = TARGET_RATE) -> int:
    """Whole seconds `requests` take at `rate` per second: how early a fan-out must start."""
    if requests <= 0:
        return 0
    return math.ceil(requests / rate)


@dataclass
class FanoutResult:
    """Who got a DM in this call, whose DMs are closed, who failed, who was done before."""

    sent: list[int] = field(default_factory=list)
    dm_closed: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    #: Not DMed, to be mentioned instead: new DMs restricted by Discord, or budget ran out.
    restricted: list[int] = field(default_factory=list)
    #: Those of `restricted` left out by the new-DM budget alone (not by Discord).
    over_budget: list[int] = field(default_factory=list)
    new_channels: int = 0
    elapsed: float = 0.0

    @property
    def total(self) -> int:
        return (
            len(self.sent)
            + len(self.dm_closed)
            + len(self.failed)
            + len(self.skipped)
            + len(self.restricted)
        )

    @property
    def mention(self) -> list[int]:
        """Members to mention in the channel: DMs closed, or not reached by DM."""
        return [*self.dm_closed, *self.restricted]


def is_dm_closed(exc: BaseException) -> bool:
    return isinstance(exc, discord.HTTPException) and exc.code == DM_CLOSED


def is_too_fast(exc: BaseException) -> bool:
    """Discord's 40003 "You are opening direct messages too fast"."""
    return isinstance(exc, discord.HTTPException) and exc.code == OPENING_TOO_FAST


class NotReached(Exception):
    """This member is not DMed now (new DMs restricted, or the budget ran out): mention them."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


Alert = Callable[[str, str], Awaitable[None]]


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
    deadline: float | None = None,
    on_alert: Alert | None = None,
) -> FanoutResult:
    """DM every member in `user_ids` once (duplicates ignored), at most `concurrency` at a time.

    `build(user_id)` gives the keyword arguments of `Messageable.send` (content, embed, view...);
    the nonce is added here. Cancelling the call (shutdown) leaves the DMs in flight claimed,
    so the next run resumes them with their nonce.

    New DM channels (members never DMed before) go through the server's `DmGuard`: within the
    budget, waiting for it until `deadline` (a `time.monotonic()` value; None: wait as long as
    needed), never during a 40003 cool-down, and under suspected quarantine only to members
    DMed before. Members not DMed for these reasons are in `result.restricted` (ledger: skipped,
    reason `dm_restricted`/`dm_budget`) for the caller to mention. `on_alert(kind, text)` is
    told when Discord restricts DMs.
    """
    context = context or context_for(client)
    store = getattr(ledger, "store", None)
    guard = context.guard(guild_id)
    result = FanoutResult()
    started = time.monotonic()
    users = list(dict.fromkeys(user_ids))
    await context.channels.load(store, users)
    pending = iter(users)
    reached: list[int] = []

    async def alert(text: str) -> None:
        if on_alert is not None:
            try:
                await on_alert("dm_restricted", text)
            except Exception:
                log.exception("raising a DM alert failed")

    async def new_channel_slot(user_id: int) -> None:
        """Wait for the budget to allow a new DM channel, or give up (NotReached)."""
        while not context.channels.known(user_id):
            if guard.take():
                return
            slot = guard.next_slot()
            budget_only = guard.state is DmState.OK
            reason = BUDGET_REASON if budget_only else RESTRICTED_REASON
            if slot is None or (deadline is None and not budget_only):
                raise NotReached(reason)  # no deadline: never wait out a cool-down
            wait = context.real_seconds_until(guard, slot)
            if deadline is not None and time.monotonic() + wait > deadline:
                raise NotReached(reason)
            await asyncio.sleep(max(0.0, wait))

    async def recover(user_id: int, nonce: str, since: datetime) -> int | None:
        """The DM already in the member's channel (see `bot.delivery.recovery`)."""
        channel_id = context.channels.channel_id(user_id)
        if channel_id is None:
            return None  # never opened: never sent
        await context.pacer.wait()
        return await find_sent(client, channel_id, nonce=nonce, since=since, kwargs=build(user_id))

    async def attempt(user_id: int, nonce: str) -> int:
        tries = 0
        began = datetime.now(UTC)
        while True:
            opening = not context.channels.known(user_id)
            try:
                if opening:
                    async with context.open_lock(guild_id):
                        await new_channel_slot(user_id)
                        await context.channels.get(client, user_id, context.pacer, store)
                channel = await context.channels.get(client, user_id, context.pacer, store)
                await context.pacer.wait()
                message = await channel.send(**build(user_id), nonce=nonce)
                if opening:
                    result.new_channels += 1
                    guard.on_opened()
                return message.id
            except discord.NotFound as exc:
                # A cached DM channel that no longer exists: open it again, once.
                if exc.code != UNKNOWN_CHANNEL or tries >= retries:
                    raise
                context.channels.forget(user_id)
                if store is not None:
                    await dm_store.forget_channel(store, user_id)
            except NotReached:
                raise
            except Exception as exc:
                if is_too_fast(exc):
                    await alert(restricted_text(guard.on_too_fast()))
                    raise NotReached(RESTRICTED_REASON) from exc
                if not _retryable(exc) or tries >= retries:
                    raise
                log.info("DM to %s failed (%s); retrying", user_id, exc)
                await asyncio.sleep(backoff * 2**tries)
                if not isinstance(exc, discord.HTTPException) or exc.status >= 500:
                    # The outcome is unknown: Discord may have created the message.
                    found = await recover(user_id, nonce, began)
                    if found is not None:
                        return found
            tries += 1

    async def one(user_id: int) -> None:
        key = key_for(user_id)
        known = context.channels.known(user_id)
        if known and not guard.may_message(context.channels.messaged(user_id)):
            # Quarantined: a DM to a member never DMed before would bounce.
            if await ledger.skip(key, kind=kind, guild_id=guild_id, reason=RESTRICTED_REASON):
                result.restricted.append(user_id)
                return
        try:
            outcome = await ledger.deliver(
                key,
                kind=kind,
                guild_id=guild_id,
                send=lambda nonce: attempt(user_id, nonce),
                recover=lambda nonce, since: recover(user_id, nonce, since),
            )
        except NotReached as exc:
            result.restricted.append(user_id)
            if exc.reason == BUDGET_REASON:
                result.over_budget.append(user_id)
            try:
                await ledger.mark_skipped(key, exc.reason)
            except Exception:
                log.exception("recording an unreached DM of %s failed", user_id)
            return
        except Exception as exc:
            if is_dm_closed(exc):
                result.dm_closed.append(user_id)
                if guard.on_closed(context.channels.messaged(user_id)):
                    await alert(restricted_text(True))
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
        if outcome.sent:
            result.sent.append(user_id)
            reached.append(user_id)
        else:
            result.skipped.append(user_id)

    async def worker() -> None:
        for user_id in pending:
            await one(user_id)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    finally:
        if reached:
            try:
                await context.channels.record_messaged(store, reached)
            except Exception:
                log.exception("recording members DMed failed")
    result.elapsed = time.monotonic() - started
    log.info(
        "fan-out %s guild=%s: %d sent, %d closed, %d not reached (%s), %d failed, "
        "%d done before, %d new DM channels, %.1f s",
        kind,
        guild_id,
        len(result.sent),
        len(result.dm_closed),
        len(result.restricted),
        guard.state.value,
        len(result.failed),
        len(result.skipped),
        result.new_channels,
        result.elapsed,
    )
    return result


__all__ = [
    "BUDGET_REASON",
    "CLOSED_REASON",
    "MENTION_REASONS",
    "REQUESTS_PER_NEW_DM",
    "RESTRICTED_REASON",
    "FanoutResult",
    "NotReached",
    "fanout_seconds",
    "is_dm_closed",
    "is_too_fast",
    "send_dms",
]
