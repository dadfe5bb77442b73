"""The #QIWeek digest service: collecting shares from gateway events, the one-off privacy notice,
the daily digest and weekly roundup (planned, sent through the delivery ledger), opt-out and
retention, and the exports organisers download.

The cog only forwards events and interactions here; the rules live in `bot.digest` (pure) and
the rendering in `bot.render.digest`. Every repost of members' words is sent with
``AllowedMentions.none()``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import discord

from bot.clock import Clock
from bot.config import Settings
from bot.digest import Share, compile_hashtags, day_bounds, local_day, parse_digest_day
from bot.programme import Programme, combine_local
from bot.render import limits
from bot.render.digest import (
    digest_markdown,
    digest_pages,
    share_notice,
    shares_csv,
    weekly_pages,
)
from bot.schedule import PlannedJob, Schedule
from bot.services.programme import close_past_key, close_past_parts
from bot.services.redaction import DigestRedactor
from bot.store import Claim, Ledger, Store, StoreError, retention
from bot.store import posted as posted_store
from bot.store import shares as store_shares
from bot.store.guild_settings import GuildConfig, get_config
from bot.store.ledger import nonce_for
from bot.store.posted import PostedDigest
from bot.visibility import everyone_can_view, share_source_problem

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
DEFAULT_EVENT_NAME = "QI Week"
#: Missed digests of event days older than this are not worth a ledger row on start.
MISSED_LOOKBACK_DAYS = 7
#: Pauses between attempts at a share write that failed on a database error (then reported).
SHARE_WRITE_RETRY_DELAYS = (0.2, 1.0)
#: System message types are never shares; replies are ordinary messages.
_ORDINARY = (discord.MessageType.default, discord.MessageType.reply)

ProgrammeLookup = Callable[[int], Awaitable[Programme | None]]


async def _nothing() -> None:
    """An erase step with nothing to do (the caller deletes afterwards)."""


class AddResult(Enum):
    """What "Add to QI Week digest" did."""

    ADDED = "added"
    ALREADY = "already"
    OPTED_OUT = "opted_out"
    REMOVED = "removed"  # removed from the digest; only its author or an organiser may re-add
    NOT_A_MEMBER_MESSAGE = "not_a_member_message"
    NOT_HERE = "not_here"  # a private channel, or not one of the share channels


@dataclass(frozen=True, slots=True)
class GuildContext:
    """What the digest needs to know about one guild right now."""

    config: GuildConfig
    programme: Programme | None
    event_days: tuple[date, ...] = field(default=())

    @property
    def tz(self) -> ZoneInfo:
        return self.config.tz

    @property
    def event_name(self) -> str:
        return self.programme.event.name if self.programme is not None else DEFAULT_EVENT_NAME

    @property
    def event_week(self) -> tuple[date, date] | None:
        return (self.event_days[0], self.event_days[-1]) if self.event_days else None


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


class DigestService:
    """Shares in, digests out. Built by the digest cog, published as ``bot.services.digest``."""

    def __init__(
        self,
        *,
        client: discord.Client,
        store: Store,
        settings: Settings,
        ledger: Ledger,
        schedule: Schedule,
        clock: Clock,
        programmes: ProgrammeLookup,
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.ledger = ledger
        self.schedule = schedule
        self.clock = clock
        self.programmes = programmes
        self.matcher = compile_hashtags(settings.hashtags)
        self.hashtag_label = " / ".join(self.matcher.tags) or "#QIWeek"
        # (guild, member) whose notice is settled: spares a query on each of their later shares.
        self._noticed: set[tuple[int, int]] = set()
        self.redactor = DigestRedactor(client=client, store=store, render=self._render_post)
        #: Told (guild id, what failed) when a share cannot be stored after retries: the hook for
        #: the organiser alert (issue 10); the failure is always logged as well.
        self.on_write_failure: Callable[[int, str], Awaitable[None]] | None = None

    # ------------------------------------------------------------------ context

    async def context(self, guild_id: int) -> GuildContext:
        config = await get_config(self.store, self.settings, guild_id)
        try:
            programme = await self.programmes(guild_id)
        except Exception:
            log.exception("could not read the programme of guild %s", guild_id)
            programme = None
        days: tuple[date, ...] = ()
        if programme is not None:
            week = programme.event_week(config.tz)
            if week is not None:
                first, last = week
                days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
        return GuildContext(config=config, programme=programme, event_days=days)

    def today(self, ctx: GuildContext) -> date:
        return self.clock().astimezone(ctx.tz).date()

    # --------------------------------------------------------------- collecting

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
        """on_message: collect the message if it is a share."""
        if self.wants(message):
            problem = await self.source_problem(message)
            if problem is not None:
                log.debug("not collecting %s: %s", message.id, problem)
                return
            try:
                await self.collect(message)
            except (sqlite3.Error, StoreError):
                pass  # retried, logged and reported by _write_share

    async def collect(
        self,
        message: discord.Message,
        *,
        manual: bool = False,
        notify: bool = True,
        edited_at: datetime | None = None,
    ) -> bool:
        """Store a share (unless its author opted out, it was removed from the digest, or this
        is an older edit than the one stored) and send the one-off notice."""
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
            if await self.source_problem(message) is None:
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
        for guild_id, theirs in guilds.items():
            await self.redactor.erase(guild_id, theirs, _nothing)
        deleted = await store_shares.delete_shares(self.store, ids)
        for guild_id in guilds:
            await self.redact_pending(guild_id)
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

    # ------------------------------------------------------------ private stays private

    async def _channel(self, guild_id: int, channel_id: int) -> object | None:
        """A guild channel or thread from the cache, else from Discord; None when unknown."""
        guild = self.client.get_guild(guild_id)
        found = guild.get_channel_or_thread(channel_id) if guild is not None else None
        if found is None:
            try:
                found = await self.client.fetch_channel(channel_id)
            except discord.HTTPException as exc:
                log.info("channel %s of guild %s unavailable: %s", channel_id, guild_id, exc)
                return None
        return found

    async def source_problem(self, message: discord.Message) -> str | None:
        """Why ``message`` may not become a share (its channel is private, or not a share
        channel), for the member; None when it may."""
        if message.guild is None or not self.settings.serves(message.guild.id):
            return "Only messages in the QI Week server can be shares."
        config = await get_config(self.store, self.settings, message.guild.id)
        channel = await self._channel(message.guild.id, message.channel.id)
        return share_source_problem(channel, config.share_channel_ids)

    async def visible(self, guild_id: int, shares: list[Share]) -> list[Share]:
        """``shares`` without those from channels @everyone can no longer view (checked now, so
        a channel made private later keeps its shares out of every digest and export)."""
        public: dict[int, bool] = {}
        for channel_id in {s.channel_id for s in shares}:
            public[channel_id] = everyone_can_view(await self._channel(guild_id, channel_id))
        hidden = [s for s in shares if not public[s.channel_id]]
        if hidden:
            log.info(
                "guild %s: %d shares left out, their channels are no longer public",
                guild_id,
                len(hidden),
            )
        return [s for s in shares if public[s.channel_id]]

    async def _render_post(self, post: PostedDigest, stored: list[Share]) -> list[limits.Page]:
        """A posted digest or roundup as it must read now (erased shares gone)."""
        ctx = await self.context(post.guild_id)
        shown = await self.visible(post.guild_id, stored)
        if post.kind == "weekly":
            days = list(ctx.event_days) or [post.day]
            return weekly_pages(shown, days=days, tz=ctx.tz, event_name=ctx.event_name)
        return self._digest_pages(ctx, post.day, shown)

    async def _record_post(
        self,
        kind: str,
        guild_id: int,
        day: date,
        channel: discord.abc.Messageable,
        parts: int,
        shares: list[Share],
    ) -> None:
        """Remember the messages of a post sent through the ledger, for later erasure."""
        keys = [f"{kind}:{guild_id}:{day.isoformat()}:{n}" for n in range(1, parts + 1)]
        rows = [await self.ledger.get(key) for key in keys]
        await self.redactor.record(
            guild_id=guild_id,
            channel_id=int(getattr(channel, "id", 0)),
            kind=kind,
            day=day,
            message_ids=[row.message_id if row is not None else None for row in rows],
            shares=shares,
            posted_at=self.clock(),
        )

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
        if await self.source_problem(message) is not None:
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

    async def remove(self, guild_id: int, message: discord.Message) -> bool:
        """The "Remove from digest" menu (its author or an organiser): delete the share and
        record the removal, so no later edit or event collects it again (only an explicit
        re-add by them does). False when the message was not a share. Posted digests showing it
        are marked; :meth:`redact_pending` edits them (after the member is answered)."""
        return await self.redactor.erase(
            guild_id,
            [message.id],
            lambda: store_shares.remove_share(self.store, guild_id, message.author.id, message.id),
        )

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
        ctx = await self.context(guild_id)
        guild = self.client.get_guild(guild_id)
        text = share_notice(
            event_name=ctx.event_name,
            channel_id=share.channel_id,
            digest_channel_id=ctx.config.digest_channel_id,
            guild_name=guild.name if guild is not None else "the QI Week server",
        )
        key = f"share-notice:{guild_id}:{user_id}"

        async def send(nonce: str) -> int:
            message = await author.send(text, nonce=nonce, allowed_mentions=NO_MENTIONS)
            return message.id

        try:
            result = await self.ledger.deliver(
                key, kind="share-notice", guild_id=guild_id, send=send, retry_failed=True
            )
        except discord.Forbidden as exc:
            if exc.code != 50007:
                log.warning("share notice to %s refused: %s", user_id, exc)
                return
            await self.ledger.mark_skipped(key, "DMs closed (50007)")
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

        Posted digests showing them are marked; :meth:`redact_pending` edits them."""
        ids = await store_shares.share_ids_of(self.store, guild_id, user_id)
        return int(
            await self.redactor.erase(
                guild_id, ids, lambda: store_shares.opt_out(self.store, guild_id, user_id)
            )
        )

    async def redact_pending(self, guild_id: int) -> int:
        """Edit posted digests marked by an erasure (see bot.services.redaction)."""
        return await self.redactor.redact_pending(guild_id)

    async def opt_in(self, guild_id: int, user_id: int) -> bool:
        return await store_shares.opt_in(self.store, guild_id, user_id)

    async def is_opted_out(self, guild_id: int, user_id: int) -> bool:
        return await store_shares.is_opted_out(self.store, guild_id, user_id)

    # --------------------------------------------------------------- rendering

    async def resolve_day(self, guild_id: int, text: str | None) -> date:
        """A ``day`` option as a date; ValueError names the accepted forms."""
        ctx = await self.context(guild_id)
        return parse_digest_day(text, today=self.today(ctx), event_week=ctx.event_week)

    async def shares_on(self, guild_id: int, day: date, tz: ZoneInfo) -> list[Share]:
        """The shares of a local day that may still be shown (see :meth:`visible`)."""
        start, end = day_bounds(day, tz)
        return await self.visible(
            guild_id, await store_shares.shares_between(self.store, guild_id, start, end)
        )

    async def digest_for(self, guild_id: int, day: date) -> list[limits.Page]:
        """The digest of ``day`` as it stands now (for /digest and post-digest)."""
        ctx = await self.context(guild_id)
        return self._digest_pages(ctx, day, await self.shares_on(guild_id, day, ctx.tz))

    def _digest_pages(self, ctx: GuildContext, day: date, todays: list[Share]) -> list[limits.Page]:
        return digest_pages(
            todays,
            day=day,
            tz=ctx.tz,
            event_name=ctx.event_name,
            hashtag_label=self.hashtag_label,
            today=self.today(ctx),
            last_day=ctx.event_days[-1] if ctx.event_days else None,
        )

    async def _weekly_pages(
        self, ctx: GuildContext, guild_id: int
    ) -> tuple[list[limits.Page], list[Share]]:
        """The roundup's pages, and the shares it was rendered from (recorded for erasure)."""
        first, last = ctx.event_days[0], ctx.event_days[-1]
        start, _ = day_bounds(first, ctx.tz)
        _, end = day_bounds(last, ctx.tz)
        week = await store_shares.shares_between(self.store, guild_id, start, end)
        shown = await self.visible(guild_id, week)
        pages = weekly_pages(shown, days=list(ctx.event_days), tz=ctx.tz, event_name=ctx.event_name)
        return pages, shown

    # ---------------------------------------------------------------- sending

    async def _digest_channel(self, ctx: GuildContext) -> discord.abc.Messageable | None:
        channel_id = ctx.config.digest_channel_id
        if channel_id is None:
            return None
        channel = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.HTTPException as exc:
                log.error(
                    "digest channel %s of guild %s unavailable: %s",
                    channel_id,
                    ctx.config.guild_id,
                    exc,
                )
                return None
        if not isinstance(channel, discord.abc.Messageable):
            log.error("digest channel %s is not a text channel", channel_id)
            return None
        return channel

    @staticmethod
    async def _send_page(
        channel: discord.abc.Messageable, page: limits.Page, nonce: str | None = None
    ) -> discord.Message:
        kwargs: dict[str, Any] = {"embeds": page.embeds, "allowed_mentions": NO_MENTIONS}
        if page.content:
            kwargs["content"] = page.content
        if nonce is not None:
            kwargs["nonce"] = nonce
        return await channel.send(**kwargs)

    async def _deliver_pages(
        self,
        kind: str,
        guild_id: int,
        day: date,
        pages: list[limits.Page],
        channel: discord.abc.Messageable,
    ) -> int:
        """Send a multi-message post through the ledger, one key per part; returns parts sent.

        Every part is claimed before the first is sent, so a run that dies midway leaves the
        rest claimed and the next start resumes them with their nonces. A post that already
        went out is never extended with new parts when more shares arrived since.
        """
        keys = [f"{kind}:{guild_id}:{day.isoformat()}:{n}" for n in range(1, len(pages) + 1)]
        fresh = await self.ledger.get(keys[0]) is None
        claims = []
        for key in keys:
            if not fresh and await self.ledger.get(key) is None:
                break
            claims.append(
                await self.ledger.claim(key, kind=kind, guild_id=guild_id, retry_failed=True)
            )
        sent = 0
        for index, (key, claim) in enumerate(zip(keys, claims, strict=False)):
            if not claim.should_send:
                continue
            try:
                message = await self._send_page(channel, pages[index], nonce_for(key))
            except Exception as exc:
                await self.ledger.mark_failed(key, f"{type(exc).__name__}: {exc}"[:500])
                for later_key, later in zip(keys[index + 1 :], claims[index + 1 :], strict=False):
                    if later.should_send:
                        await self.ledger.mark_failed(later_key, "an earlier part failed")
                raise
            await self.ledger.mark_sent(key, message.id)
            sent += 1
        return sent

    async def run_daily(self, guild_id: int, day: date) -> int:
        """The scheduled digest of ``day`` (and, on the event's last day, the weekly roundup)."""
        ctx = await self.context(guild_id)
        first_key = f"digest:{guild_id}:{day.isoformat()}:1"
        today = self.today(ctx)
        if day < today:
            await self._close_past_day(guild_id, day, "missed: the day was over")
            return 0
        if today != day:
            await self.ledger.skip(
                first_key, kind="digest", guild_id=guild_id, reason="missed: the day was over"
            )
            return 0
        channel = await self._digest_channel(ctx)
        if channel is None:
            # Not recorded: setting a channel with /organiser setup replans and posts it today.
            log.warning("no digest channel for guild %s: the %s digest waits", guild_id, day)
            return 0
        todays = await self.shares_on(guild_id, day, ctx.tz)
        in_event = day in ctx.event_days
        if not in_event and not todays:
            await self.ledger.skip(
                first_key,
                kind="digest",
                guild_id=guild_id,
                reason="no shares on a day outside the event week",
            )
            return 0
        pages = self._digest_pages(ctx, day, todays)
        sent = await self._deliver_pages("digest", guild_id, day, pages, channel)
        await self._record_post("digest", guild_id, day, channel, len(pages), todays)
        if in_event and day == ctx.event_days[-1]:
            weekly, week = await self._weekly_pages(ctx, guild_id)
            sent += await self._deliver_pages("weekly", guild_id, day, weekly, channel)
            await self._record_post("weekly", guild_id, day, channel, len(weekly), week)
        if sent:
            log.info("digest of %s posted in guild %s (%d messages)", day, guild_id, sent)
        return sent

    async def _close_past_day(self, guild_id: int, day: date, reason: str) -> None:
        """A past day's digest (and roundup) is never posted: record the digest skipped, and
        close every part an interrupted run left claimed, so none stays "claimed" for ever."""
        prefix = f"digest:{guild_id}:{day.isoformat()}"
        await close_past_key(
            self.ledger, f"{prefix}:1", kind="digest", guild_id=guild_id, reason=reason
        )
        await close_past_parts(self.ledger, prefix, kind="digest", guild_id=guild_id, reason=reason)
        await close_past_parts(
            self.ledger,
            f"weekly:{guild_id}:{day.isoformat()}",
            kind="weekly",
            guild_id=guild_id,
            reason=reason,
        )

    async def post_now(self, guild_id: int, day: date) -> int:
        """`/organiser post-digest`: post the digest of ``day`` now (not a scheduled send).

        Raises LookupError when no digest channel is set or it cannot be used.
        """
        ctx = await self.context(guild_id)
        channel = await self._digest_channel(ctx)
        if channel is None:
            raise LookupError("no digest channel")
        todays = await self.shares_on(guild_id, day, ctx.tz)
        pages = self._digest_pages(ctx, day, todays)
        sent = [await self._send_page(channel, page) for page in pages]
        await self.redactor.record(
            guild_id=guild_id,
            channel_id=sent[0].channel.id if sent else 0,
            kind="digest",
            day=day,
            message_ids=[m.id for m in sent],
            shares=todays,
            posted_at=self.clock(),
        )
        return len(pages)

    # --------------------------------------------------------------- schedule

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """Digest jobs for one guild: today's (caught up if its time passed), every later day of
        the event week, a retention sweep now, and a replan just after local midnight."""
        ctx = await self.context(guild_id)
        tz = ctx.tz
        today = now.astimezone(tz).date()
        jobs: list[PlannedJob] = []
        for day in sorted({today, *(d for d in ctx.event_days if d >= today)}):
            jobs.append(
                PlannedJob(
                    id=f"post:{day.isoformat()}",
                    run_at=combine_local(day, ctx.config.digest_time, tz),
                    func=partial(self.run_daily, guild_id, day),
                    description=f"digest of {day} for guild {guild_id}",
                )
            )
        for day in ctx.event_days:
            if today - timedelta(days=MISSED_LOOKBACK_DAYS) <= day < today:
                await self._close_past_day(
                    guild_id, day, "missed: the bot was not running at digest time"
                )
        jobs.append(
            PlannedJob(
                id="redact",
                run_at=now,
                func=partial(self.redact_pending, guild_id),
                description=f"finish editing digests after erasures for guild {guild_id}",
            )
        )
        jobs.append(
            PlannedJob(
                id="retention",
                run_at=now,
                func=partial(self.apply_retention, guild_id),
                description=f"share retention for guild {guild_id}",
            )
        )
        tomorrow = today + timedelta(days=1)
        jobs.append(
            PlannedJob(
                id=f"rollover:{tomorrow.isoformat()}",
                run_at=combine_local(tomorrow, time(0, 1), tz),
                func=partial(self.schedule.replan, guild_id, only="digest"),
                description=f"plan the next digest day for guild {guild_id}",
            )
        )
        return jobs

    async def apply_retention(self, guild_id: int | None = None) -> int:
        """Retention for every server in the database (not only those served in this run; the
        argument is kept for the planned job's signature): shares and removal records older than
        QIWEEK_SHARE_RETENTION_DAYS are deleted and the digests that showed them edited; ledger
        rows and registrations past it are deleted, their counts kept. Returns shares deleted."""
        cutoff = self.clock() - timedelta(days=self.settings.share_retention_days)
        removed = 0
        for guild in await retention.every_guild(self.store):
            await posted_store.mark_posts_before(self.store, guild, cutoff)
            count = await store_shares.delete_older_than(self.store, guild, cutoff)
            ledger_rows = await retention.retire_deliveries(self.store, guild, cutoff)
            registrations = await retention.retire_interests(self.store, guild, cutoff)
            await self.redact_pending(guild)
            if count or ledger_rows or registrations:
                log.info(
                    "retention in guild %s: %d shares, %d ledger rows, %d registrations deleted",
                    guild,
                    count,
                    ledger_rows,
                    registrations,
                )
            removed += count
        return removed

    # ---------------------------------------------------------------- exports

    async def export_shares_csv(self, guild_id: int) -> bytes:
        """Every stored share of the guild as CSV, UTF-8 with a BOM (Excel reads it right)."""
        config = await get_config(self.store, self.settings, guild_id)
        everything = await store_shares.all_shares(self.store, guild_id)
        return shares_csv(await self.visible(guild_id, everything), config.tz)

    async def export_digest_markdown(self, guild_id: int, day: date | None) -> str:
        """A newsletter-ready Markdown digest of ``day``, or of the whole event week for None.

        Without a programme, None covers every day that has shares (today when there are none).
        """
        ctx = await self.context(guild_id)
        everything = await self.visible(
            guild_id, await store_shares.all_shares(self.store, guild_id)
        )
        if day is not None:
            days = [day]
        elif ctx.event_days:
            days = list(ctx.event_days)
        else:
            days = sorted({local_day(s, ctx.tz) for s in everything}) or [self.today(ctx)]
        return digest_markdown(everything, days=days, tz=ctx.tz, event_name=ctx.event_name)


async def lookup_programme(service: object, guild_id: int) -> Programme | None:
    """Ask the programme service (sync or async ``get_programme``) for a guild's programme."""
    getter = getattr(service, "get_programme", None)
    if getter is None:
        return None
    result = getter(guild_id)
    if inspect.isawaitable(result):
        result = await result
    return result if isinstance(result, Programme) else None


__all__ = [
    "AddResult",
    "DigestService",
    "GuildContext",
    "lookup_programme",
    "share_from_message",
]
