"""The `/organiser` command group: one permission check for every organiser command.

Each feature contributes its organiser subcommands as a mixin class (plain class whose methods
are `app_commands.command`s), composed here into one GroupCog. discord.py collects app commands
through the MRO, so the group is defined once and the check is written once
(`interaction_check`).
"""

from __future__ import annotations

from datetime import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import QIWeekBot
from bot.config import check_timezone, parse_leads, parse_time
from bot.errors import NotOrganiser, UserFacingError
from bot.permissions import is_organiser, organiser_role_problem, who_may
from bot.render.organiser import settings_embed
from bot.store import audit
from bot.store.guild_settings import get_config, update_config
from bot.visibility import parse_channel_list
from cogs.announcements import AnnouncementCommands, require_postable
from cogs.digest import DigestOrganiserCommands
from cogs.programme import ProgrammeOrganiserCommands


class SetupCommands:
    """`/organiser setup`: show or change this server's settings; applied at once."""

    bot: QIWeekBot

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
    ) -> None:
        assert interaction.guild_id is not None
        changes: dict[str, object] = {}
        problems: list[str] = []
        for name, channel in (
            ("programme_channel_id", programme_channel),
            ("announcements_channel_id", announcements_channel),
            ("digest_channel_id", digest_channel),
        ):
            if channel is not None:
                try:
                    require_postable(interaction.guild, channel, interaction.user)
                except UserFacingError as exc:
                    problems.append(f"`{name.removesuffix('_id')}`: {exc}")
                    continue
                changes[name] = channel.id
        if organiser_role is not None:
            problem = organiser_role_problem(organiser_role)
            if problem is None and not _manages_server(interaction.user):
                problem = (
                    "Only members with the Manage Server permission may change the organiser "
                    "role (organisers could otherwise hand organiser rights to anyone)."
                )
            if problem is not None:
                problems.append(f"`organiser_role`: {problem}")
            else:
                changes["organiser_role_id"] = organiser_role.id
        if share_channels is not None:
            try:
                changes["share_channel_ids"] = parse_channel_list(share_channels)
            except ValueError as exc:
                problems.append(f"`share_channels`: {exc}")
        for name, raw, parse in (
            ("timezone", timezone, check_timezone),
            ("daily_post_time", daily_post_time, parse_time),
            ("digest_time", digest_time, parse_time),
            ("reminder_leads", reminder_leads, parse_leads),
        ):
            if raw is None:
                continue
            try:
                changes[name] = parse(raw)
            except ValueError as exc:
                problems.append(f"`{name}`: {exc}")
        if problems:
            raise UserFacingError("Nothing was changed.\n" + "\n".join(problems))
        if changes:
            # Re-planning a large programme may take a moment: answer within Discord's 3 s.
            await interaction.response.defer(ephemeral=True, thinking=True)
            await update_config(self.bot.store, interaction.guild_id, **changes)
            await audit.record(
                self.bot.store,
                interaction.guild_id,
                interaction.user.id,
                "setup",
                ", ".join(f"{k}={_show(k, v)}" for k, v in changes.items()),
            )
            await self.bot.schedule.replan(interaction.guild_id)
        config = await get_config(self.bot.store, self.bot.settings, interaction.guild_id)
        title = "Settings saved and applied" if changes else "Current settings"
        embed = settings_embed(config, title=title, changed=set(changes))
        if interaction.response.is_done():
            await interaction.followup.send(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, ephemeral=True)


def _manages_server(user: discord.abc.User) -> bool:
    return isinstance(user, discord.Member) and user.guild_permissions.manage_guild


def _show(name: str, value: object) -> str:
    """A setting's value as the audit trail shows it: channels and roles as mentions."""
    if name.endswith("_channel_id"):
        return f"<#{value}>"
    if name == "organiser_role_id":
        return f"<@&{value}>"
    if name == "share_channel_ids" and isinstance(value, tuple):
        return " ".join(f"<#{v}>" for v in value) or "none"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


#: Feature mixins contributing `/organiser` subcommands; each feature adds its own here.
MIXINS: tuple[type, ...] = (
    SetupCommands,
    AnnouncementCommands,
    ProgrammeOrganiserCommands,
    DigestOrganiserCommands,
)


@app_commands.default_permissions(manage_guild=True)
@app_commands.guild_only()
class Organiser(
    *MIXINS,
    commands.GroupCog,
    group_name="organiser",
    group_description="Organiser tools for QI Week (organiser role or Manage Server)",
):
    def __init__(self, bot: QIWeekBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Runs before every /organiser command: the organiser role or Manage Server."""
        if interaction.guild_id is None:
            raise NotOrganiser("Organiser commands only work in the QI Week server.")
        config = await get_config(self.bot.store, self.bot.settings, interaction.guild_id)
        if is_organiser(interaction.user, config.organiser_role_id):
            return True
        raise NotOrganiser(who_may(config.organiser_role_id))


async def setup(bot: QIWeekBot) -> None:
    await bot.add_cog(Organiser(bot))
