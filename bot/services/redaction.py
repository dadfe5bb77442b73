"""Erasure reaches what was posted: digests and roundups already in the channel are edited when
a member opts out, a share is removed from the digest, its message is deleted, or retention
expires it.

The digest service records each post's messages and shares (``bot.store.posted``). Erasing marks
the posts holding the erased shares first, then deletes the shares, then asks here to redact:
each marked post is re-rendered from the shares still stored and its messages edited in place;
a message the re-render no longer fills says the shares were removed. Edits are not sends (no
ledger key): repeating one is harmless, and a mark left by a stop is finished at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from typing import Any

import discord

from bot.digest import Share
from bot.render import limits
from bot.store import Store
from bot.store import posted as posted_store
from bot.store import shares as store_shares

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
REMOVED_TEXT = (
    "Removed: the shares that were here have been erased (at their authors' request, or after "
    "the retention period)."
)

#: (post, the shares of it still stored and shown) -> the pages to show now.
Renderer = Callable[[posted_store.PostedDigest, list[Share]], Awaitable[list[limits.Page]]]


class DigestRedactor:
    """Records posted digests and edits them after an erasure."""

    def __init__(self, *, client: discord.Client, store: Store, render: Renderer) -> None:
        self.client = client
        self.store = store
        self.render = render
        #: One redaction at a time per guild, so two runs never edit a message out of order.
        self._locks: dict[int, asyncio.Lock] = {}

    async def record(
        self,
        *,
        guild_id: int,
        channel_id: int,
        kind: str,
        day: date,
        message_ids: Iterable[int | None],
        shares: Iterable[Share],
        posted_at: datetime,
    ) -> None:
        """Remember a post (its message ids, in order, and the shares it was rendered from)."""
        ids = [m for m in message_ids if m is not None]
        await posted_store.record_post(
            self.store,
            guild_id=guild_id,
            channel_id=channel_id,
            kind=kind,
            day=day,
            message_ids=ids,
            share_ids=[s.message_id for s in shares],
            posted_at=posted_at,
        )

    async def erase(
        self,
        guild_id: int,
        share_ids: Iterable[int],
        erase: Callable[[], Awaitable[Any]],
    ) -> Any:
        """Mark the posts holding ``share_ids``, then run ``erase`` (which deletes them), then
        mark them again; the caller redacts afterwards (:meth:`redact_pending`), once the member
        has been answered. Marked before, so a stop in between is finished at the next start;
        and after, because a redaction already running may have cleared the first mark while
        the shares were still stored (`posted.redacted` keeps a mark for a share erased while
        its post was being edited)."""
        ids = list(share_ids)
        await posted_store.mark_posts_with_shares(self.store, guild_id, ids)
        result = await erase()
        await posted_store.mark_posts_with_shares(self.store, guild_id, ids)
        return result

    async def redact_pending(self, guild_id: int) -> int:
        """Edit every marked post of the guild; returns how many posts were edited."""
        edited = 0
        async with self._locks.setdefault(guild_id, asyncio.Lock()):
            for post in await posted_store.pending(self.store, guild_id):
                try:
                    if await self._redact(post):
                        edited += 1
                except Exception:
                    log.exception(
                        "could not redact digest post %s of guild %s", post.post_id, guild_id
                    )
        return edited

    async def _redact(self, post: posted_store.PostedDigest) -> bool:
        stored = [
            share
            for share in [await store_shares.get_share(self.store, i) for i in post.share_ids]
            if share is not None
        ]
        pages = await self.render(post, stored) if stored else []
        shown = {s.message_id for s in stored}
        if len(pages) > len(post.message_ids):
            log.warning(
                "redacted digest post %s needs %d messages but has %d: the rest is left out",
                post.post_id,
                len(pages),
                len(post.message_ids),
            )
        channel = self.client.get_partial_messageable(post.channel_id, guild_id=post.guild_id)
        for index, message_id in enumerate(post.message_ids):
            page = pages[index] if index < len(pages) else limits.Page(content=REMOVED_TEXT)
            try:
                await channel.get_partial_message(message_id).edit(
                    content=page.content,
                    embeds=page.embeds,
                    allowed_mentions=NO_MENTIONS,
                )
            except discord.NotFound:
                await posted_store.forget_message(self.store, message_id)
            except discord.HTTPException as exc:
                log.warning("could not edit digest message %s: %s", message_id, exc)
                return False  # stays marked: retried at the next erasure or start
        await posted_store.redacted(self.store, post.post_id, shown)
        log.info(
            "digest post %s edited after an erasure (%d shares left)", post.post_id, len(shown)
        )
        return True


__all__ = ["REMOVED_TEXT", "DigestRedactor"]
