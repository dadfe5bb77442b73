"""The `/organiser` command group: one permission check for every organiser command.

Each feature contributes its organiser subcommands as a mixin class (plain class whose methods
are `app_commands.command`s), composed here into one GroupCog. discord.py collects app commands
through the MRO, so the group is defined once and the check is written once
(`interaction_check`).
"""

from __future__ import annotations

from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Services
from bot.client import QIWeekBot
from bot.errors import NotOrganiser, UserFacingError
from bot.permissions import organiser_role_problem, who_may
from bot.render.organiser import settings_embed
from bot.services.setup import SetupRequest
from cogs.announcements import AnnouncementCommands, require_postable
from cogs.digest import DigestOrganiserCommands
from cogs.programme import ProgrammeOrganiserCommands
from cogs.report import ReportCommands


class SetupCommands:
    """`/organiser setup`: show or change this server's settings; applied at once."""

    services: Services

    @app_commands.command(name="setup", description="Show or change this server's QI Week settings")
    @app_commands.describe(
        programme_channel="Where the daily programme and channel reminders go",
        announcements_channel="Default channel for announcements",
        digest_channel="Where the daily #QIWeek digest goes",
        organiser_role="Members with this role may use /organiser commands",
        timezone="IANA timezone for times you type and the schedule, e.g. Europe/London",
        daily_post_time="Local time of the daily programme post, HH:MM",
        digest_time="Local time of the daily digest, HH:MM",
        reminder_leads="Minutes before a session for reminders, comma-separated, e.g. 60,15",
        share_channels="Collect shares only in these channels (#mentions), or none for every "
        "public channel",
        organiser_channel="Where the bot tells organisers of problems (no pings)",
        scheduled_events="Show the sessions in the server's Events list (on also resumes it)",
    )
    async def setup(
        self,
        interaction: discord.Interaction,
        programme_channel: discord.TextChannel | None = None,
        announcements_channel: discord.TextChannel | None = None,
        digest_channel: discord.TextChannel | None = None,
        organiser_role: discord.Role | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        daily_post_time: app_commands.Range[str, 1, 5] | None = None,
        digest_time: app_commands.Range[str, 1, 5] | None = None,
        reminder_leads: app_commands.Range[str, 1, 60] | None = None,
        share_channels: app_commands.Range[str, 1, 1000] | None = None,
        organiser_channel: discord.TextChannel | None = None,
        scheduled_events: Literal["on", "off"] | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        channels: dict[str, int] = {}
        problems: dict[str, str] = {}
        for name, channel in (
            ("programme_channel", programme_channel),
            ("announcements_channel", announcements_channel),
            ("digest_channel", digest_channel),
            ("organiser_channel", organiser_channel),
        ):
            if channel is not None:
                try:
                    require_postable(interaction.guild, channel, interaction.user)
                except UserFacingError as exc:
                    problems[name] = str(exc)
                    continue
                channels[name] = channel.id
        setup = self.services.setup
        changes = setup.validate(
            SetupRequest(
                channels=channels,
                channel_problems=problems,
                organiser_role_id=organiser_role.id if organiser_role is not None else None,
                organiser_role_problem=(
                    organiser_role_problem(organiser_role) if organiser_role is not None else None
                ),
                manages_server=isinstance(interaction.user, discord.Member)
                and interaction.user.guild_permissions.manage_guild,
                text={
                    "timezone": timezone,
                    "daily_post_time": daily_post_time,
                    "digest_time": digest_time,
                    "reminder_leads": reminder_leads,
                    "share_channels": share_channels,
                },
            )
        )
        if changes or scheduled_events is not None:
            # Re-planning a large programme may take a moment: answer within Discord's 3 s.
            await interaction.response.defer(ephemeral=True, thinking=True)
            await setup.apply(interaction.guild_id, interaction.user.id, changes)
        events = self.services.events
        if scheduled_events is not None:
            # Issue 12: stored, audited and applied by the events service.
            await events.set_enabled(
                interaction.guild_id, scheduled_events == "on", user_id=interaction.user.id
            )
        config = await setup.config(interaction.guild_id)
        saved = changes or scheduled_events is not None
        title = "Settings saved and applied" if saved else "Current settings"
        embed = settings_embed(config, title=title, changed=set(changes))
        embed.add_field(
            name="Scheduled events" + (" (changed)" if scheduled_events else ""),
            value=await events.describe(interaction.guild_id),
            inline=False,
        )
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True)


#: Feature mixins contributing `/organiser` subcommands; each feature adds its own here.
MIXINS: tuple[type, ...] = (
    SetupCommands,
    AnnouncementCommands,
    ProgrammeOrganiserCommands,
    DigestOrganiserCommands,
    ReportCommands,
)


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class Organiser(
    *MIXINS,
    commands.GroupCog,
    group_name="organiser",
    group_description="Organiser tools for QI Week (organiser role or Manage Server)",
):
    def __init__(self, bot: QIWeekBot, services: Services) -> None:
        self.bot = bot
        self.services = services
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Runs before every /organiser command: the organiser role or Manage Server."""
        if interaction.guild_id is None:
            raise NotOrganiser("Organiser commands only work in the QI Week server.")
        setup = self.services.setup
        if await setup.is_organiser(interaction.guild_id, interaction.user):
            return True
        config = await setup.config(interaction.guild_id)
        raise NotOrganiser(who_may(config.organiser_role_id))


async def setup(bot: QIWeekBot) -> None:
    await bot.add_cog(Organiser(bot, bot.services))
