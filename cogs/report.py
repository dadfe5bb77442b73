"""The impact report on Discord: `/organiser report` and the report exports.

`ReportCommands` is a mixin of `/organiser` subcommands composed into the organiser GroupCog
(cogs/organiser.py), so the permission check is written once there. The `ReportService` is built
by the composition root (`bot.app`); `/organiser export what:report|report-csv` goes through the
stats service's exports.
"""

from __future__ import annotations

import io

import discord
from discord import app_commands

from bot.app import Services
from bot.client import QIWeekBot
from bot.errors import UserFacingError
from bot.render.limits import CHOICES
from bot.report.model import Report, UnknownOrganisation
from bot.report.page import headline_figures

NO_MENTIONS = discord.AllowedMentions.none()
#: Discord's limit on an autocomplete choice's name and value.
CHOICE_TEXT = 100
#: Signals listed per chart in the text answer; the picture marks them all.
SIGNALS_LISTED = 4


def rank_hosts(hosts: list[str], current: str) -> list[str]:
    """Hosts holding `current` anywhere (case-insensitive); a word starting with it ranks first."""
    needle = current.strip().casefold()
    fits = [h for h in hosts if len(h) <= CHOICE_TEXT and needle in h.casefold()]
    words = [h for h in fits if any(w.startswith(needle) for w in h.casefold().split())]
    return (words + [h for h in fits if h not in words])[:CHOICES]


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary_text(report: Report, width: int, height: int) -> str:
    """The short text beside the picture: headline figures and each chart's median and signals.

    Bounded by construction (names shortened, at most `SIGNALS_LISTED` signals per chart), so it
    always fits Discord's 2,000 characters without cutting anything silently.
    """
    lines = [f"**{_short(report.event_name)}: impact report for {_short(report.scope)}**"]
    lines.append(
        " · ".join(f"{label}: {value}" for value, label in headline_figures(report.headline))
    )
    for chart in report.charts:
        analysis = chart.analysis
        if analysis.median is None:
            lines.append(f"{chart.title}: no data yet.")
            continue
        if not analysis.applied:
            signals = f"{len(chart.values)} days, too few for run rules (10 or more)"
        elif analysis.signals:
            found = analysis.signals
            signals = ", ".join(
                f"{run.kind} ({run.points} {run.direction}) from "
                f"{chart.days[run.start]:%d %b} to {chart.days[run.end]:%d %b}"
                for run in found[:SIGNALS_LISTED]
            )
            if len(found) > SIGNALS_LISTED:
                signals += f" and {len(found) - SIGNALS_LISTED} more (see the picture)"
        else:
            signals = "no shift or trend"
        lines.append(f"{chart.title}: median {analysis.median:g}; {signals}.")
    lines.append(f"Picture: {width} × {height} px. `/organiser export what:report` for the page.")
    return "\n".join(lines)


class ReportCommands:
    """`/organiser report [organisation]`: run charts and top sessions as a picture."""

    services: Services

    async def host_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The programme's host organisations (public, as in /programme) matching the text."""
        if interaction.guild_id is None:
            return []
        hosts = await self.services.report.hosts(interaction.guild_id)
        return [app_commands.Choice(name=h, value=h) for h in rank_hosts(hosts, current)]

    @app_commands.command(name="report", description="Run charts and top sessions as a picture")
    @app_commands.describe(organisation="Only this host organisation's sessions")
    @app_commands.autocomplete(organisation=host_autocomplete)
    async def report(
        self,
        interaction: discord.Interaction,
        organisation: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        guild_id = interaction.guild_id
        assert guild_id is not None
        # Gathering and drawing take a moment: answer within Discord's 3 s first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            report, png = await self.services.report.png(
                guild_id, organisation, by=interaction.user.id
            )
        except UnknownOrganisation as exc:
            raise UserFacingError(
                f"No session in the programme is hosted by “{exc}”. Pick an organisation from "
                "the list, or leave `organisation` empty for the whole programme."
            ) from exc
        from bot.report.figure import png_size  # matplotlib: never imported at start

        width, height = png_size(png)
        await interaction.followup.send(
            summary_text(report, width, height),
            file=discord.File(io.BytesIO(png), filename="qiweek-report.png"),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: QIWeekBot) -> None:
    """Nothing to add: `report` is part of `/organiser` (cogs/organiser.py) and the service is
    built by the composition root (`bot.app`)."""


__all__ = ["ReportCommands", "rank_hosts", "summary_text"]
