"""Collecting #QIWeek shares: gateway events in, the one-off privacy notice, the two message
context menus, and each member's opt-out. The digests made of them are `bot.services.digest`.

The cog only forwards events and interactions here; the rules live in `bot.digest` (pure).
Only the minimum of a message is kept (`share_from_message`), never attachment bytes.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from enum import Enum

import discord

from bot.delivery import Claim, Delivery, Kind
from bot.delivery.keys import share_notice_key
from bot.digest import Share
from bot.render.digest import share_notice
from bot.services.audit import AuditTrail
from bot.services.digest import NO_MENTIONS, DigestService
from bot.store import Store, StoreError
from bot.store import shares as store_shares

log = logging.getLogger(__name__)

#: Pauses between attempts at a share write that failed on a database error (then reported).
SHARE_WRITE_RETRY_DELAYS = (0.2, 1.0)
#: System message types are never shares; replies are ordinary messages.
_ORDINARY = (discord.MessageType.default, discord.MessageType.reply)


class AddResult(Enum):
    """What "Add to QI Week digest" did."""

    ADDED = "added"
    ALREADY = "already"
    OPTED_OUT = "opted_out"
    REMOVED = "removed"  # removed from the digest; only its author or an organiser may re-add
    NOT_A_MEMBER_MESSAGE = "not_a_member_message"
    NOT_HERE = "not_here"  # a private channel, or not one of the share channels


async def _nothing() -> None:
    """An erase step with nothing to do (the caller deletes afterwards)."""


def share_from_message(message: discord.Message) -> Share:
    """The minimum we keep of a message: ids, display name, text, link, attachment count, the
    first image's URL, time and reaction total (never attachment bytes)."""
    assert message.guild is not None
    image = next(
        (a.url for a in message.attachments if (a.content_type or "").startswith("image/")), None
    )
    return Share(
        guild_id=message.guild.id,
        channel_id=message.channel.id,
        message_id=message.id,
        author_id=message.author.id,
        author_name=message.author.display_name,
        content=message.content or "",
        jump_url=message.jump_url,
        attachment_count=len(message.attachments),
        image_url=image,
        created_at=message.created_at,
        reaction_count=sum(r.count for r in message.reactions),
    )


def edit_time(message: discord.Message) -> datetime:
    """When the message's current text was written: its last edit, else its creation."""
    return message.edited_at or message.created_at


def _payload_edit_time(payload: discord.RawMessageUpdateEvent) -> datetime:
    """Discord's ``edited_timestamp`` from the raw edit payload, else the creation time."""
    raw = payload.data.get("edited_timestamp")
    if raw:
        try:
            parsed = discord.utils.parse_time(raw)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed
    return edit_time(payload.message)


def _is_member_message(message: discord.Message) -> bool:
    return (
        not message.author.bot
        and message.webhook_id is None
        and message.type in _ORDINARY
        and message.guild is not None
    )


class ShareCollector:
    """Shares in: built by the composition root, used by the digest cog's listeners."""

    def __init__(
        self, store: Store, delivery: Delivery, digest: DigestService, audit: AuditTrail
    ) -> None:
        """Shares are tagged with the hashtags the digest collects (``QIWEEK_HASHTAGS``)."""
        self.store = store
        self.delivery = delivery
        self.client = delivery.client
        self.digest = digest
        self.audit = audit
        self.matcher = digest.matcher
        self.sources = digest.sources
        self.settings = digest.settings
        # (guild, member) whose notice is settled: spares a query on each of their later shares.
        self._noticed: set[tuple[int, int]] = set()
        #: Told (guild id, what failed) when a share cannot be stored after retries: the hook for
        #: the organiser alert (issue 10); the failure is always logged as well.
        self.on_write_failure: Callable[[int, str], Awaitable[None]] | None = None

    def wants(self, message: discord.Message) -> bool:
        """The cheap, synchronous filter every guild message passes (no await, no database)."""
        return (
            message.guild is not None
            and self.settings.serves(message.guild.id)
            and not message.author.bot
            and self.matcher.matches(message.content)
            and _is_member_message(message)
        )

    async def handle_message(self, message: discord.Message) -> None:
        """on_message: collect the message if it is a share (and its channel may give one)."""
        if self.wants(message):
            try:
                await self.collect(message)
            except (sqlite3.Error, StoreError):
                pass  # retried, logged and reported by _write_share

    async def source_problem(self, message: discord.Message) -> str | None:
        """Why ``message`` may not become a share, for the member (see `ShareSources`)."""
        return await self.sources.problem(message)

    async def collect(
        self,
        message: discord.Message,
        *,
        manual: bool = False,
        notify: bool = True,
        edited_at: datetime | None = None,
    ) -> bool:
        """Store a share (unless its channel may not give one, its author opted out, it was
        removed from the digest, or this is an older edit than the one stored) and send the
        one-off notice. Every way in (live, edits, the menu, a backfill) passes here, so the
        channel check (private channels, the server's share channels) cannot be missed."""
        problem = await self.sources.problem(message)
        if problem is not None:
            log.debug("not collecting %s: %s", message.id, problem)
            return False
        share = share_from_message(message)
        stored = await self._write_share(
            share,
            lambda: store_shares.upsert_share(
                self.store,
                share,
                manual=manual,
                refresh_reactions=manual,
                edited_at=edited_at or edit_time(message),
            ),
        )
        if stored and notify:
            await self.maybe_send_notice(message.author, share)
        return stored

    async def _write_share(self, share: Share, write: Callable[[], Awaitable[bool]]) -> bool:
        """Run a share write, retried on a database error (a busy or briefly full disk).

        A write that keeps failing is reported, never lost silently: logged with the message's
        link, and passed to :attr:`on_write_failure` (the organiser alert hooks in there).
        """
        for attempt, pause in enumerate((*SHARE_WRITE_RETRY_DELAYS, None), start=1):
            try:
                return await write()
            except (sqlite3.Error, StoreError) as exc:
                if pause is None:
                    detail = (
                        f"could not store the share {share.jump_url} after {attempt} attempts: "
                        f"{type(exc).__name__}: {exc}"
                    )
                    log.error("guild %s: %s", share.guild_id, detail)
                    if self.on_write_failure is not None:
                        try:
                            await self.on_write_failure(share.guild_id, detail)
                        except Exception:
                            log.exception("reporting the failed share write failed")
                    raise
                log.warning("share write failed (attempt %d), retrying: %s", attempt, exc)
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def handle_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edit updates the share, or removes it when the tag is gone (a manual one stays).

        Uses the payload's message, so it works for messages no longer in the cache.
        """
        if payload.guild_id is None or "content" not in payload.data:
            return
        if not self.settings.serves(payload.guild_id):
            return
        message = payload.message
        if not _is_member_message(message):
            return
        edited_at = _payload_edit_time(payload)
        if self.matcher.matches(message.content):
            await self.collect(message, edited_at=edited_at)
            return
        share = share_from_message(message)
        outcome = await store_shares.untag_share(
            self.store,
            message.id,
            author_name=share.author_name,
            content=share.content,
            attachment_count=share.attachment_count,
            image_url=share.image_url,
            edited_at=edited_at,
        )
        if outcome is store_shares.Untagged.REMOVED:
            log.info("share %s removed: the hashtag was edited out", message.id)

    async def handle_delete(self, message_ids: Iterable[int]) -> int:
        """A deleted message is no longer a share, and posted digests stop showing it."""
        ids = list(message_ids)
        guilds = await store_shares.guilds_of(self.store, ids)
        redactor = self.digest.redactor
        for guild_id, theirs in guilds.items():
            await redactor.erase(guild_id, theirs, _nothing)
        deleted = await store_shares.delete_shares(self.store, ids)
        for guild_id in guilds:
            await self.digest.redact_pending(guild_id)
        return deleted

    async def handle_reactions(
        self, guild_id: int | None, channel_id: int, message_id: int
    ) -> None:
        """Keep a share's reaction total current: read it from the message itself (cached, else
        fetched), so repeated or reordered events always settle on the true count."""
        if not self.settings.serves(guild_id):
            return
        if guild_id is None or not await store_shares.share_exists(self.store, message_id):
            return
        message = self._cached_message(message_id)
        if message is None:
            try:
                channel = self.client.get_channel(channel_id) or await self.client.fetch_channel(
                    channel_id
                )
                message = await channel.fetch_message(message_id)  # type: ignore[union-attr]
            except discord.NotFound:
                await store_shares.delete_share(self.store, message_id)
                return
            except discord.HTTPException as exc:
                log.warning("could not fetch message %s for its reactions: %s", message_id, exc)
                return
        total = sum(r.count for r in message.reactions)
        await store_shares.set_reaction_count(self.store, message_id, total)

    def _cached_message(self, message_id: int) -> discord.Message | None:
        for message in reversed(self.client.cached_messages):
            if message.id == message_id:
                return message
        return None

    # ------------------------------------------------------------- context menus

    async def add_manually(
        self, message: discord.Message, *, may_restore: bool = False
    ) -> AddResult:
        """The "Add to QI Week digest" menu: any member message, tag or not; opt-out wins.

        A message removed from the digest comes back only when ``may_restore`` (the menu was
        used by its author or an organiser), which clears the removal.

        The author's one-off notice is left to the caller (:meth:`notify_author`), so the
        interaction is answered before a DM is attempted.
        """
        if not _is_member_message(message):
            return AddResult.NOT_A_MEMBER_MESSAGE
        assert message.guild is not None
        if await self.sources.problem(message) is not None:
            return AddResult.NOT_HERE
        already = await store_shares.share_exists(self.store, message.id)
        share = share_from_message(message)
        if may_restore:
            stored = await store_shares.restore_share(
                self.store, share, edited_at=edit_time(message)
            )
        else:
            stored = await self.collect(message, manual=True, notify=False)
        if stored:
            return AddResult.ALREADY if already else AddResult.ADDED
        if await store_shares.is_opted_out(self.store, share.guild_id, share.author_id):
            return AddResult.OPTED_OUT
        if await store_shares.is_removed(self.store, message.id):
            return AddResult.REMOVED
        return AddResult.OPTED_OUT  # a race with an opt-out and back: nothing was stored

    async def notify_author(self, message: discord.Message) -> None:
        """The one-off notice for the author of a message added by hand."""
        await self.maybe_send_notice(message.author, share_from_message(message))

    async def remove(self, guild_id: int, message: discord.Message, *, by: int) -> bool:
        """The "Remove from digest" menu (its author or an organiser): delete the share and
        record the removal, so no later edit or event collects it again (only an explicit
        re-add by them does). False when the message was not a share. An organiser removing
        someone else's share is recorded in the audit trail. Posted digests showing it are
        marked; `DigestService.redact_pending` edits them (after the member is answered)."""
        removed = await self.digest.redactor.erase(
            guild_id,
            [message.id],
            lambda: store_shares.remove_share(self.store, guild_id, message.author.id, message.id),
        )
        if removed and by != message.author.id:
            await self.audit.record(guild_id, by, "remove-share", str(message.id))
        return removed

    # ---------------------------------------------------------- one-off notice

    async def maybe_send_notice(self, author: discord.abc.User, share: Share) -> None:
        """DM a member the first time one of their shares is collected; once, ever, per server.

        Closed DMs (50007) are recorded in the ledger as skipped and never retried.
        """
        guild_id, user_id = share.guild_id, share.author_id
        if (guild_id, user_id) in self._noticed:
            return
        if await store_shares.notice_sent(self.store, guild_id, user_id):
            self._noticed.add((guild_id, user_id))
            return
        ctx = await self.digest.context(guild_id)
        guild = self.client.get_guild(guild_id)
        text = share_notice(
            event_name=ctx.event_name,
            channel_id=share.channel_id,
            digest_channel_id=ctx.config.digest_channel_id,
            guild_name=guild.name if guild is not None else "the QI Week server",
        )
        key = share_notice_key(guild_id, user_id)

        async def send(nonce: str) -> int:
            message = await author.send(text, nonce=nonce, allowed_mentions=NO_MENTIONS)
            return message.id

        try:
            result = await self.delivery.ledger.deliver(
                key, kind=Kind.SHARE_NOTICE, guild_id=guild_id, send=send, retry_failed=True
            )
        except discord.Forbidden as exc:
            if exc.code != 50007:
                log.warning("share notice to %s refused: %s", user_id, exc)
                return
            await self.delivery.ledger.mark_skipped(key, "DMs closed (50007)")
            await store_shares.mark_notice_sent(self.store, guild_id, user_id)
            self._noticed.add((guild_id, user_id))
            log.info("share notice to %s skipped: DMs closed", user_id)
            return
        except discord.HTTPException as exc:
            log.warning("share notice to %s failed (retried on their next share): %s", user_id, exc)
            return
        if result.sent or result.claim is Claim.DONE:
            await store_shares.mark_notice_sent(self.store, guild_id, user_id)
            self._noticed.add((guild_id, user_id))

    # -------------------------------------------------------------- member prefs

    async def opt_out(self, guild_id: int, user_id: int) -> int:
        """Erase the member's stored shares and stop collecting; returns how many were erased.

        Posted digests showing them are marked; `DigestService.redact_pending` edits them."""
        ids = await store_shares.share_ids_of(self.store, guild_id, user_id)
        return int(
            await self.digest.redactor.erase(
                guild_id, ids, lambda: store_shares.opt_out(self.store, guild_id, user_id)
            )
        )

    async def opt_in(self, guild_id: int, user_id: int) -> bool:
        return await store_shares.opt_in(self.store, guild_id, user_id)

    async def is_opted_out(self, guild_id: int, user_id: int) -> bool:
        return await store_shares.is_opted_out(self.store, guild_id, user_id)


__all__ = ["AddResult", "ShareCollector", "edit_time", "share_from_message"]
