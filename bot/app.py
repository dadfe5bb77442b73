"""The composition root: every service is built here, once, at start-up, in dependency order.

`QIWeekBot.setup_hook` calls `build_services` before any extension loads; each extension's
`setup(bot)` then hands the services it needs to its cog's constructor (the way discord.py's
``examples/advanced_startup.py`` hands dependencies to the bot). Nothing is looked up by name
at run time, no cog builds a service, and extensions may load in any order.

Dependency order (each line uses only what is above it):
  store, settings, schedule, clock          (given to the bot)
  ledger -> delivery (+ the shared fan-out pacer and DM channel cache) -> alerts
  audit, setup
  programme -> interest, reminders, change notices (listening to programme changes)
  share sources (private stays private) -> digest -> shares (collecting) -> backfill (shares
  posted while down)
  events mirror, live sessions (attendance, feedback), crossposter (issue 12)
  report; stats and exports (which include the report's)
  announcements (published by the crossposter)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.delivery import Delivery
from bot.delivery.context import context_for
from bot.services import announcements, changes, reminders
from bot.services import events as events_module
from bot.services import live as live_module
from bot.services.alerts import AlertsService
from bot.services.announcements import AnnouncementService
from bot.services.audit import AuditTrail
from bot.services.backfill import BackfillService
from bot.services.changes import ChangeNotices
from bot.services.digest import DigestService
from bot.services.events import EventMirror
from bot.services.interest import InterestService
from bot.services.live import Crossposter, LiveSessions
from bot.services.programme import ProgrammeService
from bot.services.reminders import MemberDms, ReminderService
from bot.services.report import ReportService
from bot.services.setup import GuildSetup
from bot.services.shares import ShareCollector
from bot.services.sources import ShareSources
from bot.services.stats import StatsService

if TYPE_CHECKING:
    from bot.client import QIWeekBot

#: Planner names (a guild's jobs are grouped by these; `Schedule.replan(only=...)`).
DAILY_PLANNER = "daily"
DIGEST_PLANNER = "digest"


@dataclass(frozen=True, slots=True)
class Services:
    """Every service of the bot, typed; cogs receive the ones they use."""

    delivery: Delivery
    alerts: AlertsService
    audit: AuditTrail
    setup: GuildSetup
    programme: ProgrammeService
    interest: InterestService
    reminders: ReminderService
    changes: ChangeNotices
    digest: DigestService
    shares: ShareCollector
    backfill: BackfillService
    report: ReportService
    stats: StatsService
    announcements: AnnouncementService
    events: EventMirror  # issue 12: sessions in the server's Events, "Interested" there
    live: LiveSessions  # issue 12: "Starting now", its thread, feedback
    crossposter: Crossposter  # issue 12: announcements published to following servers

    async def prepare_guild(self, guild_id: int) -> None:
        """What a guild needs before its schedule is planned: its programme, seeded from
        ``QIWEEK_PROGRAMME`` (and any stored change not yet told to the listeners); and the
        share notices a stop left claimed, resumed; and members' reminder settings loaded and the
        sign-up DMs a stopped run left unconfirmed, settled."""
        await self.programme.seed(guild_id)
        await self.shares.resume_notices(guild_id)
        await self.interest.prepare(guild_id)

    async def close(self) -> None:
        """Stop background work (debounced re-plans, read-backs, queued share notices); claims
        stay resumable."""
        await self.interest.close()
        await self.backfill.close()
        await self.crossposter.close()
        await self.shares.close()


def build_services(bot: QIWeekBot) -> Services:
    """Build every service for ``bot`` and register the planners. Called once per bot."""
    store, settings, schedule, clock = bot.store, bot.settings, bot.schedule, bot.clock
    delivery = Delivery(bot, bot.ledger, context_for(bot))
    alerts = AlertsService(
        client=bot, store=store, ledger=bot.ledger, settings=settings, clock=clock
    )
    delivery.alert = alerts.raise_  # a channel the bot cannot post in (issue 10)
    alert = alerts.raise_
    audit = AuditTrail(store)
    setup = GuildSetup(store=store, settings=settings, schedule=schedule, audit=audit)
    programme = ProgrammeService(
        store=store,
        delivery=delivery,
        settings=settings,
        schedule=schedule,
        clock=clock,
        audit=audit,
        alert=alert,
    )
    dms = MemberDms(delivery, store, alert=alert)
    interest = InterestService(
        store=store,
        settings=settings,
        schedule=schedule,
        clock=clock,
        programme=programme,
        delivery=delivery,
        alert=alert,
    )
    reminder_service = ReminderService(
        store=store,
        delivery=delivery,
        settings=settings,
        clock=clock,
        programme=programme,
        dms=dms,
        alert=alert,
    )
    notices = ChangeNotices(
        store=store, delivery=delivery, settings=settings, schedule=schedule, clock=clock, dms=dms
    )
    programme.add_change_listener(notices.on_programme_change)
    sources = ShareSources(client=bot, store=store, settings=settings)
    digest = DigestService(
        client=bot,
        store=store,
        settings=settings,
        delivery=delivery,
        schedule=schedule,
        clock=clock,
        programmes=programme.get_programme,
        audit=audit,
        sources=sources,
    )
    shares = ShareCollector(store, delivery, digest, audit, alert=alert)
    backfill = BackfillService(
        client=bot,
        store=store,
        settings=settings,
        shares=shares,
        clock=clock,
        pace=delivery.fanout.pacer.wait,
    )

    async def events_alert(guild_id: int, text: str) -> None:
        await alerts.raise_(guild_id, "scheduled_events", text)

    # Issue 12; its organiser alerts go to the organiser alerts channel (issue 10).
    event_mirror = EventMirror(
        client=bot,
        store=store,
        settings=settings,
        clock=clock,
        schedule=schedule,
        audit=audit,
        programme=programme,
        on_interest_changed=interest.replan_soon,
        alert=events_alert,
    )
    live = LiveSessions(
        client=bot, store=store, delivery=delivery, setup=setup, clock=clock, programme=programme
    )
    crossposter = Crossposter(
        client=bot,
        store=store,
        delivery=delivery,
        clock=clock,
        replan=lambda guild_id: schedule.replan(guild_id, only=live_module.CROSSPOST_PLANNER),
    )
    report = ReportService(
        store=store,
        clock=clock,
        programme=programme.get_programme,
        setup=setup,
        audit=audit,
        sources=sources,
        lifecycle=live,  # attendance and feedback (issue 12)
    )
    stats = StatsService(
        store=store, clock=clock, setup=setup, digest=digest, report=report, audit=audit
    )
    announcement_service = AnnouncementService(
        store=store,
        delivery=delivery,
        schedule=schedule,
        clock=clock,
        programme=programme,
        interest=interest,
        audit=audit,
        after_post=crossposter.after_post,
        alert=alert,
    )
    # Planners run in this order at each re-plan.
    schedule.register(announcements.PLANNER, announcement_service.plan)
    schedule.register(DIGEST_PLANNER, digest.plan)
    schedule.register(reminders.PLANNER, reminder_service.plan)
    schedule.register(changes.PLANNER, notices.plan)
    schedule.register(DAILY_PLANNER, programme.plan_daily)
    schedule.register(events_module.PLANNER, event_mirror.plan)
    schedule.register(live_module.PLANNER, live.plan)
    schedule.register(live_module.CROSSPOST_PLANNER, crossposter.plan)
    return Services(
        delivery=delivery,
        alerts=alerts,
        audit=audit,
        setup=setup,
        programme=programme,
        interest=interest,
        reminders=reminder_service,
        changes=notices,
        digest=digest,
        shares=shares,
        backfill=backfill,
        report=report,
        stats=stats,
        announcements=announcement_service,
        events=event_mirror,
        live=live,
        crossposter=crossposter,
    )


__all__ = ["DAILY_PLANNER", "DIGEST_PLANNER", "Services", "build_services"]
