"""Figures organisers report after the week: `/organiser stats` and `/organiser export`.

Read-only over the other features (the figures come from `bot.store.stats`; the shares and
digest exports from the digest service); each export is recorded in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal

from bot.clock import Clock
from bot.render.announcements import interest_csv
from bot.services.audit import AuditTrail
from bot.services.digest import DigestService
from bot.services.report import ReportService
from bot.services.setup import GuildSetup
from bot.store import Store, native
from bot.store import stats as stats_store
from bot.store.native import SessionFigures
from bot.store.stats import Stats

ExportKind = Literal["interest", "shares", "digest", "report", "report-csv"]


@dataclass(frozen=True, slots=True)
class Export:
    """A file to hand the organiser, and one line saying what it is."""

    data: bytes
    filename: str
    summary: str


class StatsService:
    """Gathers the figures and builds the export files."""

    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        setup: GuildSetup,
        digest: DigestService,
        report: ReportService,
        audit: AuditTrail,
    ) -> None:
        self.store = store
        self.clock = clock
        self.setup = setup
        self.digest = digest
        self.report = report
        self.audit = audit

    async def figures(self, guild_id: int) -> tuple[Stats, tzinfo]:
        """Every figure of `/organiser stats`, and the timezone they are grouped in."""
        config = await self.setup.config(guild_id)
        return await stats_store.gather(self.store, guild_id, config.tz), config.tz

    async def session_figures(self, guild_id: int) -> list[tuple[str, SessionFigures]]:
        """Per session in time order (title, figures): registered by source, attended,
        feedback count and mean (issue 12)."""
        per_session = await native.session_figures(self.store, guild_id)
        rows = await stats_store.registrations_per_session(self.store, guild_id, include_empty=True)
        rows.sort(key=lambda r: (r.start is None, r.start or datetime.min, r.session_id))
        return [
            (r.title or r.session_id, per_session.get(r.session_id) or SessionFigures())
            for r in rows
        ]

    async def export(self, guild_id: int, user_id: int, what: ExportKind) -> Export:
        """The requested file, named with the server's local time; recorded as an export."""
        config = await self.setup.config(guild_id)
        stamp = self.clock().astimezone(config.tz).strftime("%Y%m%d-%H%M")
        if what == "interest":
            rows = await stats_store.registrations_per_session(
                self.store, guild_id, include_empty=True
            )
            figures = await native.session_figures(self.store, guild_id)
            result = Export(
                interest_csv(rows, config.tz, figures),
                f"qiweek-interest-{stamp}.csv",
                f"Registrations per session: {len(rows)} sessions, "
                f"{sum(r.registrations for r in rows)} registrations.",
            )
        elif what == "report":
            _, page = await self.report.html(guild_id)
            result = Export(
                page,
                f"qiweek-report-{stamp}.html",
                "The impact report: one self-contained page "
                "(open it in a browser, print it on A4).",
            )
        elif what == "report-csv":
            report, table = await self.report.csv(guild_id)
            result = Export(
                table,
                f"qiweek-organisations-{stamp}.csv",
                f"Figures per host organisation: {len(report.organisations)} organisations.",
            )
        elif what == "shares":
            result = Export(
                await self.digest.export_shares_csv(guild_id),
                f"qiweek-shares-{stamp}.csv",
                "The #QIWeek shares still stored.",
            )
        else:
            text = await self.digest.export_digest_markdown(guild_id, None)
            result = Export(
                text.encode("utf-8"), f"qiweek-digest-{stamp}.md", "The digest of the week."
            )
        await self.audit.record(guild_id, user_id, "export", what)
        return result


__all__ = ["Export", "ExportKind", "StatsService"]
