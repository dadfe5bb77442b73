"""First contact at sign-up: the one confirmation DM when a member registers interest.

Why at sign-up, not at reminder time (README, "Direct messages"): a DM the member asked for, sent
when they click, opens the DM channel one member at a time, spread over the days before the
event, instead of thousands of new DM channels in the minutes before Monday's first session
(the pattern Discord's anti-spam quarantines). It also tells the member at once, in the answer
to their click, when their DMs are closed (50007), while they can still fix it.

The DM is a delivery-ledger send (`bot.delivery.keys.first_dm_key`; a member whose earlier first
contact failed gets a fresh key on their next sign-up, so it is tried again). It goes through
the fan-out (`send_dms`) with a deadline of now: within the new-DM budget, never during a 40003
cool-down or quarantine; a member not reached now is reached (or mentioned) at reminder time.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable

import discord

from bot.delivery.context import FanoutContext, context_for
from bot.delivery.fanout import send_dms
from bot.delivery.keys import Kind, first_dm_key, parse_key
from bot.delivery.recovery import find_sent
from bot.store import Claim, Ledger
from bot.store.changes import unsettled_keys
from bot.store.ledger import Delivery, Status, nonce_for

log = logging.getLogger(__name__)

KIND = Kind.FIRST_DM
NO_DM_SETTINGS = ("off", "mention")


class Contact(enum.Enum):
    SENT = "sent"  # the confirmation DM went out now
    ALREADY = "already"  # DMed before: nothing to do
    CLOSED = "closed"  # 50007: the member's DMs are closed
    LATER = "later"  # not now (budget, Discord's restriction, slow): at reminder time
    NOT_WANTED = "not_wanted"  # reminders off, or mentions instead of DMs


async def first_contact(
    client: discord.Client,
    ledger: Ledger,
    *,
    guild_id: int,
    user_id: int,
    setting: str,
    text: str,
    context: FanoutContext | None = None,
    on_alert: Callable[[str, str], Awaitable[None]] | None = None,
    on_closed: Callable[[int], Awaitable[None]] | None = None,
    still_wanted: Callable[[], Awaitable[bool]] | None = None,
) -> Contact:
    """Send the sign-up confirmation DM if the member was never DMed; say what happened.
    ``still_wanted()`` is asked last, just before sending (the cheap checks first)."""
    if setting in NO_DM_SETTINGS:
        return Contact.NOT_WANTED
    context = context or context_for(client)
    if not may_try_now(context, guild_id, user_id):
        return Contact.LATER
    await context.channels.load(ledger.store, [user_id])
    if context.channels.messaged(user_id):
        return Contact.ALREADY
    row = await ledger.get(first_dm_key(guild_id, user_id))
    if row is not None and row.status == Status.SENT:
        return Contact.ALREADY
    if still_wanted is not None and not await still_wanted():
        return Contact.NOT_WANTED
    # The row just read (not read again): if another send claims the key meanwhile, the
    # ledger's claim still lets only one of them send.
    key = retry_key_from(row, lambda attempt: first_dm_key(guild_id, user_id, attempt))
    result = await send_dms(
        client,
        ledger,
        guild_id=guild_id,
        user_ids=[user_id],
        kind=KIND,
        key_for=lambda _user: key,
        build=lambda _user: {"content": text},
        concurrency=1,
        retries=1,
        backoff=0.2,
        context=context,
        deadline=time.monotonic(),
        on_alert=on_alert,
        on_closed=on_closed,
    )
    if result.sent:
        return Contact.SENT
    if result.dm_closed:
        return Contact.CLOSED
    if result.skipped:
        return Contact.ALREADY
    return Contact.LATER


def may_try_now(context: FanoutContext, guild_id: int, user_id: int, opening: int = 0) -> bool:
    """Whether a sign-up DM may be tried now, decided in memory before any read or task: not
    when the member's DM channel is not known and no new one may be opened (budget spent, or
    taken by the ``opening`` sign-up DMs already on their way, cool-down, quarantine), so a
    burst of sign-ups costs nothing past the budget. Such a member is reached (or mentioned)
    at reminder time; a DM channel stored by an earlier run would have allowed a DM now, but a
    reminder uses it just as well."""
    return context.channels.known(user_id) or context.guard(guild_id).room_now() > opening


async def retry_key(ledger: Ledger, key_for: Callable[[int | None], str]) -> str:
    """``key_for(None)``, or a fresh key beside it (``key_for(attempt)``) when an earlier
    attempt under it ended without the DM (closed, restricted, failed): a once-ever DM may be
    tried again at the member's next action, while a claim in flight or a DM sent keeps its key
    (and so its exactly-once guarantee)."""
    return retry_key_from(await ledger.get(key_for(None)), key_for)


def retry_key_from(row: Delivery | None, key_for: Callable[[int | None], str]) -> str:
    """`retry_key` with the ledger row of ``key_for(None)`` already read."""
    if row is None or row.status in (Status.CLAIMED, Status.SENT):
        return key_for(None)
    return key_for(int(time.time()))


async def settle_interrupted(
    client: discord.Client, ledger: Ledger, context: FanoutContext, guild_id: int
) -> int:
    """Confirmation DMs an earlier run claimed and never confirmed (it stopped mid-send): found
    in the member's DM channel -> recorded as sent; else recorded as skipped (the member's
    reminder reaches them anyway, and their next sign-up tries again). Returns how many."""
    settled = 0
    prefix = first_dm_key(guild_id, 0)[: -len("0")]
    for key in await unsettled_keys(ledger.store, prefix):
        if await ledger.claim(key, kind=KIND, guild_id=guild_id) is not Claim.RESUME:
            continue  # this run's own send, in flight
        row = await ledger.get(key)
        user_id = parse_key(key).int("user")
        found = None
        if row is not None and user_id is not None:
            await context.channels.load(ledger.store, [user_id])
            channel_id = context.channels.channel_id(user_id)
            if channel_id is not None:
                await context.pacer.wait()
                found = await find_sent(
                    client, channel_id, nonce=nonce_for(key), since=row.claimed_at
                )
        if found is not None and user_id is not None:
            await ledger.mark_sent(key, found)
            await context.channels.record_messaged(ledger.store, [user_id])
        else:
            await ledger.mark_skipped(key, "the bot stopped before the DM was confirmed")
        settled += 1
    return settled


__all__ = [
    "KIND",
    "Contact",
    "first_contact",
    "retry_key",
    "settle_interrupted",
]
