"""The #QIWeek digest service: the daily digest and weekly roundup (planned, sent through the
delivery module), retention, and the exports organisers download. Collecting the shares is
`bot.services.shares`.

The cog only forwards events and interactions here; the rules live in `bot.digest` (pure) and
the rendering in `bot.render.digest`. Every repost of members' words is sent with
``AllowedMentions.none()``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import discord

from bot.clock import Clock
from bot.config import DEFAULT_HASHTAGS, Settings
from bot.delivery import Delivery, Kind, Part
from bot.delivery.keys import digest_key, weekly_key
from bot.digest import Share, compile_hashtags, day_bounds, local_day, parse_digest_day
from bot.programme import Programme, combine_local
from bot.render import limits
from bot.render.digest import (
    digest_markdown,
    digest_pages,
    shares_csv,
    weekly_pages,
)
from bot.schedule import PlannedJob, Schedule
from bot.services.audit import AuditTrail
from bot.services.redaction import DigestRedactor
from bot.services.sources import ShareSources
from bot.store import Store, retention
from bot.store import posted as posted_store
from bot.store import shares as store_shares
from bot.store.guild_settings import GuildConfig, get_config
from bot.store.posted import PostedDigest

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
DEFAULT_EVENT_NAME = "QI Week"
#: Missed digests of event days older than this are not worth a ledger row on start.
MISSED_LOOKBACK_DAYS = 7

ProgrammeLookup = Callable[[int], Awaitable[Programme | None]]


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


def default_hashtags(settings: Settings, year: int) -> tuple[str, ...]:
    """`QIWEEK_HASHTAGS` when set; else `#QIWeek` and `#QIWeek<year>` (e.g. #QIWeek2026, as the
    QI Week community writes it: #QIWeek2024 in 2024)."""
    if settings.hashtags != DEFAULT_HASHTAGS:
        return settings.hashtags
    return (*DEFAULT_HASHTAGS, f"#QIWeek{year}")


class DigestService:
    """Digests out. Built by the composition root (`bot.app`)."""

    def __init__(
        self,
        *,
        client: discord.Client,
        store: Store,
        settings: Settings,
        delivery: Delivery,
        schedule: Schedule,
        clock: Clock,
        programmes: ProgrammeLookup,
        audit: AuditTrail,
        sources: ShareSources,
    ) -> None:
        self.client = client
        self.store = store
        self.settings = settings
        self.delivery = delivery
        self.ledger = delivery.ledger
        self.schedule = schedule
        self.clock = clock
        self.programmes = programmes
        self.audit = audit
        self.matcher = compile_hashtags(default_hashtags(settings, clock().year))
        # Shown to members: the configured tags (`#QIWeek` by default; the year tag is implied).
        self.hashtag_label = " / ".join(compile_hashtags(settings.hashtags).tags) or "#QIWeek"
        self.sources = sources
        self.redactor = DigestRedactor(client=client, store=store, render=self._render_post)

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

    def learn_event_year(self, year: int) -> None:
        """With the default hashtags, also collect `#QIWeek<event year>` (as members write it)."""
        tags = default_hashtags(self.settings, year)
        if set(tags) - set(self.matcher.tags):
            self.matcher = compile_hashtags((*self.matcher.tags, *tags))

    def today(self, ctx: GuildContext) -> date:
        return self.clock().astimezone(ctx.tz).date()

    # --------------------------------------------------------------- rendering

    async def resolve_day(self, guild_id: int, text: str | None) -> date:
        """A ``day`` option as a date; ValueError names the accepted forms."""
        ctx = await self.context(guild_id)
        return parse_digest_day(text, today=self.today(ctx), event_week=ctx.event_week)

    async def shares_on(self, guild_id: int, day: date, tz: ZoneInfo) -> list[Share]:
        """The shares of a local day that may still be shown (their channel is public now)."""
        start, end = day_bounds(day, tz)
        return await self.sources.visible(
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
        shown = await self.sources.visible(guild_id, week)
        pages = weekly_pages(shown, days=list(ctx.event_days), tz=ctx.tz, event_name=ctx.event_name)
        return pages, shown

    async def _render_post(self, post: PostedDigest, stored: list[Share]) -> list[limits.Page]:
        """A posted digest or roundup as it must read now (erased shares gone)."""
        ctx = await self.context(post.guild_id)
        shown = await self.sources.visible(post.guild_id, stored)
        if post.kind == Kind.WEEKLY:
            days = list(ctx.event_days) or [post.day]
            return weekly_pages(shown, days=days, tz=ctx.tz, event_name=ctx.event_name)
        return self._digest_pages(ctx, post.day, shown)

    async def redact_pending(self, guild_id: int) -> int:
        """Edit posted digests marked by an erasure (see `bot.services.redaction`)."""
        return await self.redactor.redact_pending(guild_id)

    # ---------------------------------------------------------------- sending

    async def _digest_channel(self, ctx: GuildContext) -> discord.abc.Messageable | None:
        return await self.delivery.channel(ctx.config.digest_channel_id, purpose="digest")

    @staticmethod
    def _page_kwargs(page: limits.Page) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"embeds": page.embeds, "allowed_mentions": NO_MENTIONS}
        if page.content:
            kwargs["content"] = page.content
        return kwargs

    async def _deliver_pages(
        self,
        kind: Kind,
        guild_id: int,
        day: date,
        pages: list[limits.Page],
        channel: discord.abc.Messageable,
        shares: list[Share],
    ) -> int:
        """Send a multi-message post through the ledger, one key per part; returns parts sent.

        Every part is claimed before the first is sent, so a run that dies midway leaves the
        rest claimed and the next start resumes them with their nonces. A post that already
        went out is never extended with new parts when more shares arrived since.
        """
        key = digest_key if kind is Kind.DIGEST else weekly_key
        parts = [
            Part(key(guild_id, day, n), self._page_kwargs(page))
            for n, page in enumerate(pages, start=1)
        ]
        posted = await self.delivery.post(
            channel, parts, kind=kind, guild_id=guild_id, claim_ahead=True, retry_failed=True
        )
        # Remembered for erasure (the first recording wins, so a re-run never widens it).
        rows = [await self.ledger.get(part.key) for part in parts]
        await self.redactor.record(
            guild_id=guild_id,
            channel_id=int(getattr(channel, "id", 0)),
            kind=str(kind),
            day=day,
            message_ids=[row.message_id if row is not None else None for row in rows],
            shares=shares,
            posted_at=self.clock(),
        )
        return len(posted.sent)

    async def run_daily(self, guild_id: int, day: date) -> int:
        """The scheduled digest of ``day`` (and, on the event's last day, the weekly roundup)."""
        ctx = await self.context(guild_id)
        first_key = digest_key(guild_id, day, 1)
        today = self.today(ctx)
        if day < today:
            await self._close_past_day(guild_id, day, "missed: the day was over")
            return 0
        if today != day:
            await self.ledger.skip(
                first_key, kind=Kind.DIGEST, guild_id=guild_id, reason="missed: the day was over"
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
                kind=Kind.DIGEST,
                guild_id=guild_id,
                reason="no shares on a day outside the event week",
            )
            return 0
        pages = self._digest_pages(ctx, day, todays)
        sent = await self._deliver_pages(Kind.DIGEST, guild_id, day, pages, channel, todays)
        if in_event and day == ctx.event_days[-1]:
            weekly, week = await self._weekly_pages(ctx, guild_id)
            sent += await self._deliver_pages(Kind.WEEKLY, guild_id, day, weekly, channel, week)
        if sent:
            log.info("digest of %s posted in guild %s (%d messages)", day, guild_id, sent)
        return sent

    async def _close_past_day(self, guild_id: int, day: date, reason: str) -> None:
        """A past day's digest (and roundup) is never posted: record the digest skipped, and
        close every part an interrupted run left claimed, so none stays "claimed" for ever."""
        await self.delivery.close_past(
            digest_key(guild_id, day, 1), kind=Kind.DIGEST, guild_id=guild_id, reason=reason
        )
        for kind, key in ((Kind.DIGEST, digest_key), (Kind.WEEKLY, weekly_key)):
            await self.delivery.close_past_parts(
                (key(guild_id, day, n) for n in itertools.count(1)),
                kind=kind,
                guild_id=guild_id,
                reason=reason,
            )

    async def post_now(self, guild_id: int, day: date, *, by: int) -> tuple[int, int | None]:
        """`/organiser post-digest`: post the digest of ``day`` now (not a scheduled send),
        recorded in the audit trail; returns (messages, channel id).

        Raises LookupError when no digest channel is set or it cannot be used.
        """
        ctx = await self.context(guild_id)
        channel = await self._digest_channel(ctx)
        if channel is None:
            raise LookupError("no digest channel")
        todays = await self.shares_on(guild_id, day, ctx.tz)
        pages = self._digest_pages(ctx, day, todays)
        sent = await self.delivery.send_unrecorded(channel, [self._page_kwargs(p) for p in pages])
        await self.redactor.record(
            guild_id=guild_id,
            channel_id=int(getattr(channel, "id", 0)),
            kind=str(Kind.DIGEST),
            day=day,
            message_ids=sent,
            shares=todays,
            posted_at=self.clock(),
        )
        detail = f"day={day.isoformat()} messages={len(pages)}"
        await self.audit.record(guild_id, by, "post-digest", detail)
        return len(pages), ctx.config.digest_channel_id

    # --------------------------------------------------------------- schedule

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """Digest jobs for one guild: today's (caught up if its time passed), every later day of
        the event week, a retention sweep now, and a replan just after local midnight."""
        ctx = await self.context(guild_id)
        if ctx.event_days:
            self.learn_event_year(ctx.event_days[0].year)
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
        return shares_csv(await self.sources.visible(guild_id, everything), config.tz)

    async def export_digest_markdown(self, guild_id: int, day: date | None) -> str:
        """A newsletter-ready Markdown digest of ``day``, or of the whole event week for None.

        Without a programme, None covers every day that has shares (today when there are none).
        """
        ctx = await self.context(guild_id)
        everything = await self.sources.visible(
            guild_id, await store_shares.all_shares(self.store, guild_id)
        )
        if day is not None:
            days = [day]
        elif ctx.event_days:
            days = list(ctx.event_days)
        else:
            days = sorted({local_day(s, ctx.tz) for s in everything}) or [self.today(ctx)]
        return digest_markdown(everything, days=days, tz=ctx.tz, event_name=ctx.event_name)


__all__ = ["NO_MENTIONS", "DigestService", "GuildContext"]
