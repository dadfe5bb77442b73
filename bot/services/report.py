"""The impact report service: gathers the figures and draws them, with no Discord in sight.

Built once with what it needs (the store, the clock, a way to read the programme, the settings,
and, once the session lifecycle records them, a source of attendance and feedback); the cogs
call it and attach the bytes it returns. Drawing is blocking work, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from bot.clock import Clock
from bot.programme import Programme
from bot.report.model import Report, ReportData, build_report, hosts
from bot.report.page import organisations_csv, report_html
from bot.services.audit import AuditTrail
from bot.services.setup import GuildSetup
from bot.services.sources import ShareSources
from bot.store import Store
from bot.store import report as queries

ProgrammeReader = Callable[[int], Awaitable[Programme | None]]


class LifecycleData(Protocol):
    """Attendance and feedback per session, once the lifecycle feature records them."""

    async def attendance(self, guild_id: int) -> Mapping[str, int] | None: ...

    async def feedback(self, guild_id: int) -> Mapping[str, Sequence[int]] | None: ...


class ReportService:
    """Builds `Report`s and renders them as PNG, HTML and CSV."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        programme: ProgrammeReader,
        setup: GuildSetup,
        audit: AuditTrail,
        sources: ShareSources | None = None,
        lifecycle: LifecycleData | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.programme = programme
        self.setup = setup
        self.audit = audit
        self.lifecycle = lifecycle
        self.sources = sources

    async def data(self, guild_id: int) -> ReportData:
        """The raw material of a report, read from the store (and the lifecycle, if any)."""
        config = await self.setup.config(guild_id)
        programme = await self.programme(guild_id)
        week = programme.event_week(config.tz) if programme is not None else None
        lifecycle = self.lifecycle
        shares = await queries.shares(self.store, guild_id)
        if self.sources is not None:  # private stays private: only channels everyone can read
            public = await self.sources.public_channels(guild_id, (s.channel_id for s in shares))
            shares = [s for s in shares if s.channel_id in public]
        return ReportData(
            event_name=programme.event.name if programme is not None else "QI Week",
            sessions=await queries.sessions(self.store, guild_id),
            registrations=await queries.registrations(self.store, guild_id),
            shares=shares,
            reminders_delivered=await queries.reminders_delivered(self.store, guild_id),
            announcements_sent=await queries.announcements_sent(self.store, guild_id),
            event_end=week[1] if week is not None else None,
            attendance=await lifecycle.attendance(guild_id) if lifecycle else None,
            feedback=await lifecycle.feedback(guild_id) if lifecycle else None,
        )

    async def build(self, guild_id: int, organisation: str | None = None) -> Report:
        """The report of the server, or of one host's sessions (`UnknownOrganisation` if none)."""
        config = await self.setup.config(guild_id)
        today = self.clock().astimezone(config.tz).date()
        data = await self.data(guild_id)
        return build_report(data, tz=config.tz, today=today, organisation=organisation)

    async def hosts(self, guild_id: int) -> list[str]:
        """The programme's host organisations (for autocomplete)."""
        return hosts(await queries.sessions(self.store, guild_id))

    async def png(
        self, guild_id: int, organisation: str | None = None, *, by: int
    ) -> tuple[Report, bytes]:
        """The report as a picture (drawn in a thread); recorded in the audit trail."""
        report = await self.build(guild_id, organisation)
        from bot.report.figure import render_png  # matplotlib: imported on first use

        png = await asyncio.to_thread(render_png, report)
        await self.audit.record(guild_id, by, "report", report.organisation or "")
        return report, png

    async def html(self, guild_id: int) -> tuple[Report, bytes]:
        report = await self.build(guild_id)
        from bot.report.figure import render_run_charts_png  # matplotlib, on first use

        png = await asyncio.to_thread(render_run_charts_png, report)
        return report, report_html(report, png)

    async def csv(self, guild_id: int) -> tuple[Report, bytes]:
        report = await self.build(guild_id)
        return report, organisations_csv(report)


__all__ = ["LifecycleData", "ProgrammeReader", "ReportService"]
