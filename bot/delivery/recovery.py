"""Once, even after Discord forgets the nonce: find a send already made before making it again.

`enforce_nonce` makes Discord return the first message for a repeated nonce only for "the past
few minutes". A claim left open by a crash and resumed after a longer outage, or a send whose
answer was lost after Discord had created the message (a dropped connection, a timeout), would
then post twice. So before such a resend the bot reads the target channel's recent history
(GET /channels/{id}/messages, after the claim time) for its own message carrying that send:

- the nonce, when Discord echoes it on the message object (it does on the answer to the send
  and on the gateway event; the sandbox echoes it in history too);
- else an exact match of author (the bot), content and embeds (title, description), created
  after the claim: what a resend would post.

Found: the ledger records it as sent with that message id, and nothing is posted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import discord

log = logging.getLogger(__name__)

#: How many of the channel's messages after the claim time are looked at (one request).
HISTORY_LIMIT = 100
#: Clock skew allowance between the bot's claim time and Discord's message ids.
SKEW = timedelta(seconds=5)

Recover = Callable[[str, datetime], Awaitable[int | None]]


def _embed_keys(embeds: Any) -> list[tuple[str, str]]:
    result = []
    for embed in embeds or []:
        data = embed.to_dict() if isinstance(embed, discord.Embed) else dict(embed)
        result.append((data.get("title") or "", data.get("description") or ""))
    return result


def same_message(message: discord.Message, kwargs: Mapping[str, Any]) -> bool:
    """Whether `message` is what `channel.send(**kwargs)` would post (content and embeds)."""
    if (message.content or "") != (kwargs.get("content") or ""):
        return False
    embeds = list(kwargs.get("embeds") or [])
    if kwargs.get("embed") is not None:
        embeds.append(kwargs["embed"])
    return _embed_keys(message.embeds) == _embed_keys(embeds)


def carries(message: discord.Message, nonce: str) -> bool:
    return message.nonce is not None and str(message.nonce) == nonce


async def find_sent(
    client: discord.Client,
    channel_id: int,
    *,
    nonce: str,
    since: datetime,
    kwargs: Mapping[str, Any] | None = None,
) -> int | None:
    """The id of the bot's own message in `channel_id` carrying this send, posted after
    `since`; None when there is none (or history cannot be read: then a resend with the nonce
    is still the best left)."""
    me = client.user
    if me is None:
        return None
    channel = client.get_partial_messageable(channel_id)
    after = discord.Object(id=discord.utils.time_snowflake(since - SKEW))
    try:
        async for message in channel.history(limit=HISTORY_LIMIT, after=after):
            if message.author.id != me.id:
                continue
            if carries(message, nonce) or (kwargs is not None and same_message(message, kwargs)):
                log.info(
                    "send with nonce %s found in channel %s: not posted again", nonce, channel_id
                )
                return message.id
    except discord.HTTPException as exc:
        log.warning("could not read channel %s to look for an earlier send: %s", channel_id, exc)
    return None


def recoverer(
    client: discord.Client, channel_id: int, kwargs: Mapping[str, Any] | None = None
) -> Recover:
    """A `Ledger.deliver(recover=...)` callback for sends to `channel_id`."""

    async def recover(nonce: str, since: datetime) -> int | None:
        return await find_sent(client, channel_id, nonce=nonce, since=since, kwargs=kwargs)

    return recover


__all__ = ["HISTORY_LIMIT", "Recover", "carries", "find_sent", "recoverer", "same_message"]
