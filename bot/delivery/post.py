"""The once-and-only-once *how* of channel posts: channel resolution, the multi-part post,
and closing the sends of a day that is over.

Features say what to send (a list of `Part`: a ledger key and the `Messageable.send` keyword
arguments); `Delivery.post` claims, sends with the key's nonce (so a resumed send returns
Discord's first copy instead of a second) and marks each part. The DM fan-out is
`bot.delivery.fanout`; both share one pacer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.delivery.context import FanoutContext
from bot.delivery.recovery import find_sent
from bot.store.ledger import Claim, Ledger, Status, nonce_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Part:
    """One message of a post: its ledger key and the keyword arguments of `Messageable.send`
    (the nonce is added here). A view in ``kwargs`` is drawn only: stopped once sent."""

    key: str
    kwargs: dict[str, Any]


@dataclass
class Posted:
    """What `Delivery.post` did: the ids of messages sent by this call (in order), and
    whether the post was already complete (``envelope`` confirmed before)."""

    sent: list[int] = field(default_factory=list)
    already_done: bool = False


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


class Delivery:
    """Sends through the ledger. One per bot, built by the composition root (`bot.app`)."""

    def __init__(self, client: discord.Client, ledger: Ledger, fanout: FanoutContext) -> None:
        self.client = client
        self.ledger = ledger
        self.fanout = fanout
        #: `AlertsService.raise_`, set by the composition root: a post refused with 403 tells
        #: the organisers the configured channel cannot be posted in (issue 10).
        self.alert: Callable[[int, str, str], Awaitable[Any]] | None = None

    # ------------------------------------------------------------------ channels

    async def channel(
        self, channel_id: int | None, *, purpose: str = "target"
    ) -> discord.abc.Messageable | None:
        """A configured channel the bot can post in (cached, else fetched); None when unset,
        gone, unreadable or not a text channel (logged)."""
        if channel_id is None:
            return None
        channel: Any = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.HTTPException as exc:
                log.error("%s channel %s unavailable: %s", purpose, channel_id, exc)
                return None
        if not isinstance(channel, discord.abc.Messageable):
            log.error("%s channel %s is not a text channel", purpose, channel_id)
            return None
        return channel

    def text_channel(self, channel_id: int, guild_id: int) -> discord.PartialMessageable:
        """A channel by id without a lookup (scheduled sends: the id is enough to post)."""
        return self.client.get_partial_messageable(
            channel_id, guild_id=guild_id, type=discord.ChannelType.text
        )

    # ------------------------------------------------------------------ posting

    @staticmethod
    async def _send(
        channel: discord.abc.Messageable, kwargs: dict[str, Any], nonce: str | None
    ) -> int:
        extra = {"nonce": nonce} if nonce is not None else {}
        message = await channel.send(**kwargs, **extra)
        view = kwargs.get("view")
        if isinstance(view, discord.ui.View):
            view.stop()  # drawn only: persistent components are handled by their custom_id
        return message.id

    async def send_unrecorded(
        self, channel: discord.abc.Messageable, messages: Sequence[dict[str, Any]]
    ) -> list[int]:
        """An organiser's explicit post (not a scheduled send): no ledger, no nonce."""
        return [await self._send(channel, kwargs, None) for kwargs in messages]

    async def post(
        self,
        channel: discord.abc.Messageable,
        parts: Sequence[Part],
        *,
        kind: str,
        guild_id: int,
        envelope: str | None = None,
        claim_ahead: bool = False,
        retry_failed: bool = False,
        paced: bool = False,
        tolerate_http_errors: bool = False,
    ) -> Posted:
        """Send a post of one or more messages exactly once: claim each part, send it with its
        key's nonce, mark it. A part already sent (or skipped) is not sent again, so a post
        interrupted half-way resumes with only the missing messages.

        - ``envelope``: a key for the post as a whole, claimed first and confirmed (with the
          first message sent) after the last part; a confirmed envelope ends the call at once.
        - ``claim_ahead``: claim every part before the first is sent, so a run that dies
          mid-way leaves the rest claimed for the next start; and a post that already began
          is never extended with parts it did not have then.
        - ``retry_failed``: parts (and envelope) that failed before are tried again.
        - ``paced``: each send waits for a slot of the shared pacer (see `fanout`).
        - ``tolerate_http_errors``: a Discord error is logged and the next part still goes;
          otherwise the error (recorded as failed, with every part claimed ahead) propagates.
        """
        result = Posted()
        ledger = self.ledger
        if envelope is not None:
            claim = await ledger.claim(envelope, kind=kind, guild_id=guild_id, retry_failed=True)
            if not claim.should_send:
                result.already_done = True
                return result
        claims: list[Claim | None] = [None] * len(parts)
        todo = list(parts)
        if claim_ahead and parts:
            fresh = await ledger.get(parts[0].key) is None
            for index, part in enumerate(parts):
                if not fresh and await ledger.get(part.key) is None:
                    todo = todo[:index]
                    break
                claims[index] = await ledger.claim(
                    part.key, kind=kind, guild_id=guild_id, retry_failed=retry_failed
                )
        first: int | None = None
        for index, part in enumerate(todo):
            claim = claims[index]
            if claim is None:
                claim = await ledger.claim(
                    part.key, kind=kind, guild_id=guild_id, retry_failed=retry_failed
                )
            if not claim.should_send:
                continue
            found = await self._find_resumed(channel, part, claim)
            if found is not None:
                await ledger.mark_sent(part.key, found)
                if first is None:
                    first = found
                continue
            try:
                if paced:
                    await self.fanout.pacer.wait()
                message_id = await self._send(channel, part.kwargs, nonce_for(part.key))
            except Exception as exc:
                # Cancellation (shutdown) is not a failure: the claims stay open and the next
                # run resumes them with their nonces.
                await ledger.mark_failed(part.key, _reason(exc))
                for later, later_claim in zip(todo[index + 1 :], claims[index + 1 :], strict=True):
                    if later_claim is not None and later_claim.should_send:
                        await ledger.mark_failed(later.key, "an earlier part failed")
                if envelope is not None:
                    await ledger.mark_failed(envelope, _reason(exc))
                if isinstance(exc, discord.Forbidden):
                    await self._forbidden(channel, guild_id, exc)
                if tolerate_http_errors and isinstance(exc, discord.HTTPException):
                    log.error("channel post %s failed: %s", part.key, exc)
                    continue
                raise
            await ledger.mark_sent(part.key, message_id)
            result.sent.append(message_id)
            if first is None:
                first = message_id
        if envelope is not None:
            await ledger.mark_sent(envelope, first)
        return result

    async def _find_resumed(
        self, channel: discord.abc.Messageable, part: Part, claim: Claim
    ) -> int | None:
        """A part resumed from a run that died mid-send may have been posted: Discord honours
        its nonce only for a few minutes, so look in the channel first (`recovery`)."""
        channel_id = getattr(channel, "id", None)
        if claim is not Claim.RESUME or channel_id is None:
            return None
        row = await self.ledger.get(part.key)
        if row is None:
            return None
        await self.fanout.pacer.wait()
        return await find_sent(
            self.client,
            channel_id,
            nonce=nonce_for(part.key),
            since=row.claimed_at,
            kwargs=part.kwargs,
        )

    async def _forbidden(
        self, channel: discord.abc.Messageable, guild_id: int, exc: discord.Forbidden
    ) -> None:
        if self.alert is None:
            return
        await self.alert(
            guild_id,
            "channel_permissions",
            f"The bot cannot post in <#{getattr(channel, 'id', '?')}> (Discord: {exc.text}). "
            "Give the bot View Channel, Send Messages and Embed Links there, or choose another "
            "channel with /organiser setup.",
        )

    # ------------------------------------------------------------------ the past

    async def close_past(self, key: str, *, kind: str, guild_id: int | None, reason: str) -> bool:
        """Record a send of a day that is over as skipped; True when this call recorded it.

        A key without a row gets a skipped row. A key an earlier run claimed and never
        confirmed (it died mid-send) is taken over and marked skipped: resuming it is no longer
        useful, and left alone it would stay claimed for ever. A claim of this run (in flight
        right now) and a row already decided (sent, skipped, failed) are left as they are.
        """
        return await close_past_key(self.ledger, key, kind=kind, guild_id=guild_id, reason=reason)

    async def close_past_parts(
        self, keys: Iterable[str], *, kind: str, guild_id: int | None, reason: str
    ) -> int:
        """`close_past` for the parts of a multi-message post that have rows, stopping at the
        first part without one (parts are claimed in order); returns how many were closed."""
        closed = 0
        for key in keys:
            row = await self.ledger.get(key)
            if row is None:
                break
            if row.status is Status.CLAIMED and await self.close_past(
                key, kind=kind, guild_id=guild_id, reason=reason
            ):
                closed += 1
        return closed

    async def is_settled(self, key: str) -> bool:
        """Sent, skipped or failed for good: nothing left to do for this key."""
        row = await self.ledger.get(key)
        return row is not None and row.status is not Status.CLAIMED

    async def is_done(self, key: str) -> bool:
        """Sent or skipped: never to be sent (a failed one may be retried)."""
        row = await self.ledger.get(key)
        return row is not None and row.status in (Status.SENT, Status.SKIPPED)

    async def is_open(self, key: str) -> bool:
        """Claimed and never confirmed (in flight, or left by a run that stopped)."""
        row = await self.ledger.get(key)
        return row is not None and row.status is Status.CLAIMED

    async def skipped_because(self, key: str, reason: str) -> bool:
        """Recorded as skipped for exactly this reason (say, closed DMs)."""
        row = await self.ledger.get(key)
        return row is not None and row.status is Status.SKIPPED and row.reason == reason


async def close_past_key(
    ledger: Ledger, key: str, *, kind: str, guild_id: int | None, reason: str
) -> bool:
    """See `Delivery.close_past` (a function too: the ledger alone is enough)."""
    row = await ledger.get(key)
    if row is None:
        return await ledger.skip(key, kind=kind, guild_id=guild_id, reason=reason)
    if row.status is not Status.CLAIMED:
        return False
    if await ledger.claim(key, kind=kind, guild_id=guild_id) is not Claim.RESUME:
        return False
    await ledger.mark_skipped(key, f"{reason} (an earlier run's send was never confirmed)")
    return True


__all__ = ["Delivery", "Part", "Posted", "close_past_key"]
