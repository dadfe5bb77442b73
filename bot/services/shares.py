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
from functools import partial
from time import monotonic
from typing import Any

import discord

from bot.delivery import Delivery, Kind
from bot.delivery.fanout import send_dms
from bot.delivery.keys import parse_key, share_notice_key
from bot.digest import HashtagMatcher, Share
from bot.render.digest import share_notice
from bot.services.audit import AuditTrail
from bot.services.digest import NO_MENTIONS, DigestService
from bot.services.first_contact import retry_key
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


class _DmTarget:
    """Someone to DM known only by id (a notice resumed after a restart: no message in hand)."""

    def __init__(self, client: discord.Client, user_id: int) -> None:
        self.client = client
        self.id = user_id

    async def send(self, *args: Any, **kwargs: Any) -> discord.Message:
        channel = await self.client.create_dm(discord.Object(id=self.id))
        return await channel.send(*args, **kwargs)


class ShareWriter:
    """New shares from the gateway, written in batches: each share waits for its batch to be
    committed (`store_shares.upsert_shares`), so nothing is told about a share
    (its notice, a digest) before it is stored; a share whose batch failed raises to its
    handler, like a lone write. While one batch is being written the next gathers, so under a
    burst the writes are few and large, and alone a share is written at once."""

    MAX_BATCH = 500

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[Share, datetime | None, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, share: Share, edited_at: datetime | None) -> bool:
        """Store ``share``; True when it is stored (its author has not opted out, the message
        was not removed from the digest)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((share, edited_at, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write(), name="share writer")
        return await future

    async def flush(self) -> None:
        """Wait until every share handed in so far is written (or failed): a later event on
        the same message (edit, delete, reaction, opt-out) must see it."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})

    async def _write(self) -> None:
        while self._pending:
            batch = self._pending[: self.MAX_BATCH]
            del self._pending[: len(batch)]
            try:
                stored = await store_shares.upsert_shares(
                    self.store, [(share, edited) for share, edited, _ in batch]
                )
            except BaseException as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(
                            exc if isinstance(exc, Exception) else asyncio.CancelledError()
                        )
                if not isinstance(exc, Exception):
                    raise
                continue
            for share, _, future in batch:
                if not future.done():
                    future.set_result(share.message_id in stored)


class ShareCollector:
    """Shares in: built by the composition root, used by the digest cog's listeners."""

    def __init__(
        self,
        store: Store,
        delivery: Delivery,
        digest: DigestService,
        audit: AuditTrail,
        alert: Callable[[int, str, str], Awaitable[Any]] | None = None,
    ) -> None:
        """Shares are tagged with the hashtags the digest collects (``QIWEEK_HASHTAGS``, or
        `#QIWeek` and `#QIWeek<event year>`). `alert`: `AlertsService.raise_` (issue 10)."""
        self.store = store
        self.delivery = delivery
        self.client = delivery.client
        self.digest = digest
        self.audit = audit
        self.alert = alert
        # (guild, member) whose notice is settled: spares a query on each of their later shares.
        self._noticed: set[tuple[int, int]] = set()
        # Notices waiting for the paced worker, oldest first (one per member at a time).
        self._notices: dict[tuple[int, int], tuple[discord.abc.User, Share]] = {}
        self._notice_task: asyncio.Task[None] | None = None
        self._closing = False
        self._writer = ShareWriter(store)
        self.sources = digest.sources  # private stays private (bot.services.sources)
        self.settings = digest.settings

    @property
    def matcher(self) -> HashtagMatcher:
        """The digest's matcher (it learns `#QIWeek<event year>` once the programme is read)."""
        return self.digest.matcher

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
        if not self.wants(message):
            return
        problem = await self.sources.problem(message)
        if problem is not None:
            log.debug("not collecting %s: %s", message.id, problem)
            return
        share = share_from_message(message)
        try:
            stored = await self._write_share(
                share, lambda: self._writer.write(share, edit_time(message))
            )
        except (sqlite3.Error, StoreError):
            return  # retried, logged and reported by _write_share
        if stored:
            self.queue_notice(message.author, share)

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
        await self._writer.flush()  # after the new shares before this event
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
            self.queue_notice(message.author, share)
        return stored

    async def _write_share(self, share: Share, write: Callable[[], Awaitable[bool]]) -> bool:
        """Run a share write, retried on a database error (a busy or briefly full disk).

        A write that keeps failing is reported, never lost silently: logged with the message's
        link, and raised as an organiser alert (kind ``db_write``).
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
                    if self.alert is not None:  # the organiser alert (issue 10)
                        try:
                            await self.alert(share.guild_id, "db_write", detail)
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
        await self._writer.flush()  # after the new shares before this event
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
        await self._writer.flush()  # after the new shares before this event
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
        await self._writer.flush()  # after the new shares before this event
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
        await self._writer.flush()  # after the new shares before this event
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
        await self._writer.flush()  # after the new shares before this event
        removed = await self.digest.redactor.erase(
            guild_id,
            [message.id],
            lambda: store_shares.remove_share(self.store, guild_id, message.author.id, message.id),
        )
        if removed and by != message.author.id:
            await self.audit.record(guild_id, by, "remove-share", str(message.id))
        return removed

    # ---------------------------------------------------------- one-off notice

    def queue_notice(self, author: discord.abc.User, share: Share) -> None:
        """Hand the one-off notice to the paced worker: the share is stored already, so the
        gateway handler returns at once (ingest does not wait on DMs: 2 requests each).

        Notices still queued at a stop are not sent; the member's next share queues theirs
        again (`share_notice_sent` is set only once the notice is dealt with).
        """
        key = (share.guild_id, share.author_id)
        if key in self._noticed or key in self._notices or self._closing:
            return
        self._notices[key] = (author, share)
        if self._notice_task is None or self._notice_task.done():
            self._notice_task = asyncio.create_task(self._send_notices(), name="share notices")

    async def resume_notices(self, guild_id: int) -> int:
        """Queue again the notices an earlier run left claimed (stopped mid-send, even by a
        kill -9): the worker resumes each with its key's nonce, so a DM that did reach Discord
        is not sent twice. A member with no share stored any more (opted out) is not told.
        Returns how many were queued."""
        queued = 0
        for key in await self.delivery.ledger.interrupted(guild_id, Kind.SHARE_NOTICE):
            user_id = parse_key(key).int("user")
            if user_id is None:
                continue
            share = await store_shares.latest_share(self.store, guild_id, user_id)
            if share is None:
                await self.delivery.ledger.mark_skipped(key, "no share stored any more")
                continue
            self.queue_notice(_DmTarget(self.client, user_id), share)
            queued += 1
        if queued:
            log.info("guild %s: %d interrupted share notice(s) resumed", guild_id, queued)
        return queued

    @property
    def notices_pending(self) -> int:
        """Notices queued and not yet dealt with (tests wait on it)."""
        return len(self._notices)

    async def _send_notices(self) -> None:
        """One notice at a time, each through the fan-out (its shared pacer keeps the notices and
        the reminders' DMs together under Discord's global limit, and its new-DM budget holds)."""
        while self._notices and not self._closing:
            key, (author, share) = next(iter(self._notices.items()))
            try:
                await self.maybe_send_notice(author, share)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("share notice to %s failed", share.author_id)
            finally:
                self._notices.pop(key, None)

    async def close(self, within: float = 5.0) -> None:
        """Stop the notice worker once the notice in hand is dealt with (cut off only after
        ``within`` seconds); queued ones wait for the member's next share."""
        self._closing = True
        task, self._notice_task = self._notice_task, None
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=within)
        if not done:
            task.cancel()  # its ledger claim stays open: resumed with the member's next share
            await asyncio.gather(task, return_exceptions=True)

    async def maybe_send_notice(self, author: discord.abc.User, share: Share) -> None:
        """DM a member the first time one of their shares is collected; once, ever, per server.

        Closed DMs (50007) are recorded in the ledger as skipped and never retried; a notice
        not sent for another reason (new DMs restricted, a failure) is tried at the next share.
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
        key = await retry_key(
            self.delivery.ledger, lambda attempt: share_notice_key(guild_id, user_id, attempt)
        )
        # Through the fan-out (issue 10): a new DM channel only within the server's budget and
        # never while Discord restricts new DMs (a backfill may collect many authors at once).
        result = await send_dms(
            self.client,
            self.delivery.ledger,
            guild_id=guild_id,
            user_ids=[user_id],
            kind=Kind.SHARE_NOTICE,
            key_for=lambda _user: key,
            build=lambda _user: {"content": text, "allowed_mentions": NO_MENTIONS},
            concurrency=1,
            retries=1,
            backoff=0.2,
            context=self.delivery.fanout,
            deadline=monotonic(),
            on_alert=partial(self.alert, guild_id) if self.alert is not None else None,
        )
        if result.dm_closed:
            log.info("share notice to %s skipped: DMs closed", user_id)
        if result.sent or result.skipped or result.dm_closed:
            await store_shares.mark_notice_sent(self.store, guild_id, user_id)
            self._noticed.add((guild_id, user_id))
        else:
            log.info("share notice to %s not sent now; retried on their next share", user_id)

    # -------------------------------------------------------------- member prefs

    async def opt_out(self, guild_id: int, user_id: int) -> int:
        """Erase the member's stored shares and stop collecting; returns how many were erased.

        Posted digests showing them are marked; `DigestService.redact_pending` edits them."""
        await self._writer.flush()  # after the new shares before this event
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
