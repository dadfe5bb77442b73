"""Organiser announcements, figures and exports: the Discord side.

`AnnouncementCommands` is a mixin of `/organiser` subcommands composed into the one organiser
GroupCog (cogs/organiser.py), so the permission check is written once there. The service is
built by the composition root (`bot.app`); this extension has no cog of its own.
"""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands

from bot.announce_time import AtError, parse_at
from bot.app import Services
from bot.client import QIWeekBot, send_ephemeral
from bot.errors import UserFacingError
from bot.permissions import member_posting_problem, ping_problem
from bot.render.announcements import (
    BODY_MAX,
    TITLE_MAX,
    announcement_list,
    choice_label,
    outcome_text,
    preview_content,
    stats_embeds,
)
from bot.render.limits import CHOICES
from bot.render.live import figures_pages
from bot.services.announcements import AnnouncementService, Draft
from bot.services.stats import ExportKind
from bot.store.guild_settings import GuildConfig
from cogs.programme import session_choices

log = logging.getLogger(__name__)

MODAL_ID = "qiweek:announce-modal"
SEND_ID = "qiweek:announce-send"
CANCEL_ID = "qiweek:announce-cancel"
PREVIEW_TIMEOUT = 600.0
NO_MENTIONS = discord.AllowedMentions.none()


def modal_id(interaction_id: int) -> str:
    """A custom_id of its own for each announce form.

    discord.py keys open modals by custom_id alone, so a shared id would let a second
    organiser's form replace the first one's, and one would submit into the other's draft.
    """
    return f"{MODAL_ID}:{interaction_id}"


class PreviewView(discord.ui.View):
    """Send / Cancel under the ephemeral preview; holds the draft until one is pressed."""

    def __init__(self, service: AnnouncementService, draft: Draft) -> None:
        super().__init__(timeout=PREVIEW_TIMEOUT)
        self.service = service
        self.draft = draft
        self.origin: discord.Interaction | None = None
        self.done = False

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.draft.author_id:
            return True
        await interaction.response.send_message(
            "Only the organiser who wrote this announcement can send or cancel it.",
            ephemeral=True,
        )
        return False

    @discord.ui.button(label="Send", style=discord.ButtonStyle.success, custom_id=SEND_ID)
    async def send(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        if self.done:
            await interaction.response.send_message(
                "This preview was already used.", ephemeral=True
            )
            return
        self.done = True
        self.stop()
        doing = "Sending…" if self.draft.send_at is None else "Scheduling…"
        await interaction.response.edit_message(content=doing, view=None)
        try:
            outcome = await self.service.submit(self.draft)
            text = outcome_text(outcome.announcement, dms=outcome.dms_sent, reason=outcome.reason)
        except UserFacingError as exc:
            text = str(exc)
        except Exception:
            log.exception("sending announcement from a preview failed")
            text = (
                "Something went wrong on our side and it has been logged. Check "
                "`/organiser announcements` before trying again."
            )
        await interaction.edit_original_response(content=text, allowed_mentions=NO_MENTIONS)

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id=CANCEL_ID)
    async def cancel(
        self, interaction: discord.Interaction, button: discord.ui.Button[Any]
    ) -> None:
        self.done = True
        self.stop()
        await interaction.response.edit_message(
            content="Cancelled: nothing was sent or scheduled.", embed=None, view=None
        )

    async def on_timeout(self) -> None:
        if self.done or self.origin is None:
            return
        try:
            await self.origin.edit_original_response(
                content="This preview expired, so nothing was sent. Run `/organiser announce` "
                "again when you are ready.",
                view=None,
            )
        except discord.HTTPException:
            pass


async def show_preview(
    interaction: discord.Interaction, service: AnnouncementService, draft: Draft
) -> None:
    """The ephemeral preview: the embed as it will look, where, who is pinged, DMs, when."""
    dm_count = 0
    if draft.session_id is not None:
        dm_count = await service.dm_count(draft.guild_id, draft.session_id)
    ping_warning = None
    if draft.ping_role_id is not None and interaction.guild is not None:
        role = interaction.guild.get_role(draft.ping_role_id)
        me = interaction.guild.me
        can_force = me is not None and me.guild_permissions.mention_everyone
        if role is not None and not role.mentionable and not can_force:
            ping_warning = (
                "this role is not mentionable and the bot lacks Mention Everyone, so Discord "
                "will show the mention without notifying anyone"
            )
    view = PreviewView(service, draft)
    view.origin = interaction
    await interaction.response.send_message(
        content=preview_content(
            channel_id=draft.channel_id,
            ping_role_id=draft.ping_role_id,
            ping_warning=ping_warning,
            session_title=draft.session_title,
            dm_count=dm_count,
            send_at=draft.send_at,
        ),
        embed=draft.rendered().embed,
        view=view,
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )


class AnnounceModal(discord.ui.Modal):
    """Title and body of an announcement, for messages too long for a slash option."""

    def __init__(self, service: AnnouncementService, draft: Draft, *, custom_id: str) -> None:
        super().__init__(title="New QI Week announcement", custom_id=custom_id, timeout=900)
        self.service = service
        self.draft = draft
        self.heading: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Title (optional)", custom_id="title", max_length=TITLE_MAX, required=False
        )
        self.body: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Message",
            custom_id="body",
            style=discord.TextStyle.paragraph,
            max_length=BODY_MAX,
            required=True,
        )
        self.add_item(self.heading)
        self.add_item(self.body)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        body = self.body.value.strip()
        if not body:
            raise UserFacingError("The message is empty; nothing was sent.")
        draft = replace(self.draft, title=self.heading.value.strip(), body=body)
        await show_preview(interaction, self.service, draft)

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        if isinstance(error, UserFacingError):
            await send_ephemeral(interaction, str(error))
            return
        log.error("announcement modal failed", exc_info=error)
        await send_ephemeral(interaction, "Something went wrong on our side; please try again.")


def require_postable(
    guild: discord.Guild | None, channel: Any, organiser: discord.abc.User | None = None
) -> None:
    """UserFacingError unless the bot may View, Send and Embed Links in ``channel``, and the
    ``organiser`` asking may View and Send there themselves (shared by announcements and
    `/organiser setup`)."""
    if guild is None or guild.me is None or not isinstance(channel, discord.abc.GuildChannel):
        return
    if isinstance(organiser, discord.Member):
        problem = member_posting_problem(channel, organiser)
        if problem is not None:
            raise UserFacingError(problem)
    perms = channel.permissions_for(guild.me)
    if not (perms.view_channel and perms.send_messages and perms.embed_links):
        raise UserFacingError(
            f"The bot can't post in {channel.mention}: it needs View Channel, Send "
            "Messages and Embed Links there. Fix its permissions or choose another channel."
        )


class AnnouncementCommands:
    """`/organiser` subcommands: announce, announcements, cancel-announcement, stats, export."""

    bot: QIWeekBot
    services: Services

    async def _pending_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[int]]:
        """Pending announcements, "#12 · 14 Sep 09:00 · title…", for organisers only."""
        if interaction.guild_id is None:
            return []
        setup = self.services.setup
        if not await setup.is_organiser(interaction.guild_id, interaction.user):
            return []  # autocomplete skips the group's check: don't show titles to members
        config = await setup.config(interaction.guild_id)
        needle = current.strip().lstrip("#").casefold()
        choices = []
        for item in await self.services.announcements.pending(interaction.guild_id):
            label = choice_label(item, config.tz)
            if needle and needle not in label.casefold():
                continue
            choices.append(app_commands.Choice(name=label, value=item.id))
        return choices[:CHOICES]

    async def _session_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await session_choices(self.services, interaction.guild_id, current)

    async def _channel(
        self, interaction: discord.Interaction, config: GuildConfig, chosen: Any
    ) -> int:
        """The target channel: the option, else the announcements channel; it must be usable."""
        guild = interaction.guild
        if chosen is not None:
            channel = chosen
        else:
            if config.announcements_channel_id is None:
                raise UserFacingError(
                    "No announcements channel is set. Choose one with `channel:`, or set a "
                    "default with `/organiser setup announcements_channel:`."
                )
            channel = guild.get_channel(config.announcements_channel_id) if guild else None
            if channel is None:
                raise UserFacingError(
                    f"The announcements channel (<#{config.announcements_channel_id}>) no longer "
                    "exists. Choose one with `channel:`, or change it with `/organiser setup`."
                )
        require_postable(guild, channel, interaction.user)
        return int(channel.id)

    async def _draft(
        self,
        interaction: discord.Interaction,
        *,
        channel: Any,
        ping: discord.Role | None,
        at: str | None,
        session: str | None,
        body: str = "",
    ) -> Draft:
        """Check every option before anything is shown or stored; UserFacingError otherwise."""
        assert interaction.guild_id is not None
        config = await self.services.setup.config(interaction.guild_id)
        channel_id = await self._channel(interaction, config, channel)
        if ping is not None and isinstance(interaction.user, discord.Member):
            target = interaction.guild.get_channel(channel_id) if interaction.guild else None
            problem = ping_problem(ping, interaction.user, target)
            if problem is not None:
                raise UserFacingError(problem)
        send_at = None
        if at is not None:
            try:
                send_at = parse_at(at, now=self.bot.clock(), tz=config.tz)
            except AtError as exc:
                raise UserFacingError(f"Nothing was scheduled. {exc}") from None
        session_title = None
        if session is not None:
            service = self.services.announcements
            session_title = await service.session_title(interaction.guild_id, session)
            if session_title is None:
                raise UserFacingError(
                    f"There is no session `{session[:100]}` in the programme. Pick one from the "
                    "suggestions as you type."
                )
        return Draft(
            guild_id=interaction.guild_id,
            author_id=interaction.user.id,
            channel_id=channel_id,
            body=body,
            ping_role_id=ping.id if ping is not None else None,
            session_id=session,
            session_title=session_title,
            send_at=send_at,
        )

    @app_commands.command(
        name="announce", description="Post an announcement now or later (you see a preview first)"
    )
    @app_commands.describe(
        message="The text (up to 4,000 characters); leave out to write a title and text in a form",
        channel="Where to post it (default: the announcements channel)",
        ping="A role to notify: the only mention the announcement may make",
        at="When: HH:MM, YYYY-MM-DD HH:MM (server time) or in 90m / in 2h; default now",
        session="Also DM it to the members registered for this session",
    )
    @app_commands.autocomplete(session=_session_choices)
    async def announce(
        self,
        interaction: discord.Interaction,
        message: app_commands.Range[str, 1, BODY_MAX] | None = None,
        channel: discord.TextChannel | None = None,
        ping: discord.Role | None = None,
        at: app_commands.Range[str, 1, 40] | None = None,
        session: app_commands.Range[str, 1, 100] | None = None,
    ) -> None:
        service = self.services.announcements
        body = (message or "").strip()
        if message is not None and not body:
            raise UserFacingError("The message is empty; nothing was sent.")
        draft = await self._draft(
            interaction, channel=channel, ping=ping, at=at, session=session, body=body
        )
        if message is None:
            await interaction.response.send_modal(
                AnnounceModal(service, draft, custom_id=modal_id(interaction.id))
            )
        else:
            await show_preview(interaction, service, draft)

    @app_commands.command(name="announcements", description="List pending and recent announcements")
    async def announcements(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        service = self.services.announcements
        pages = announcement_list(
            await service.pending(interaction.guild_id), await service.recent(interaction.guild_id)
        )
        await interaction.response.send_message(
            pages[0], ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        for page in pages[1:]:
            await interaction.followup.send(page, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="cancel-announcement", description="Cancel a scheduled announcement")
    @app_commands.describe(announcement="The pending announcement to cancel")
    @app_commands.autocomplete(announcement=_pending_choices)
    async def cancel_announcement(
        self, interaction: discord.Interaction, announcement: app_commands.Range[int, 1]
    ) -> None:
        assert interaction.guild_id is not None
        cancelled = await self.services.announcements.cancel(
            interaction.guild_id, announcement, user_id=interaction.user.id
        )
        await interaction.response.send_message(
            f"Cancelled announcement #{cancelled.id} (“{cancelled.label[:80]}”): it will not be "
            "sent.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @app_commands.command(name="stats", description="Figures for your QI Week report")
    async def stats(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        figures, tz = await self.services.stats.figures(interaction.guild_id)
        await interaction.followup.send(
            embeds=stats_embeds(figures, tz), ephemeral=True, allowed_mentions=NO_MENTIONS
        )
        # Issue 12: per session, registered by source, attended, feedback (as many messages as
        # they need).
        for page in figures_pages(await self.services.stats.session_figures(interaction.guild_id)):
            await interaction.followup.send(
                embeds=page.embeds, ephemeral=True, allowed_mentions=NO_MENTIONS
            )

    @app_commands.command(name="export", description="Download figures as a file")
    @app_commands.describe(
        what="interest: registrations per session (CSV); shares: the #QIWeek shares (CSV); "
        "digest: the digest (Markdown); report: the impact report (HTML page); "
        "report-csv: figures per host organisation (CSV)"
    )
    async def export(
        self,
        interaction: discord.Interaction,
        what: ExportKind,
    ) -> None:
        guild_id = interaction.guild_id
        assert guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        export = await self.services.stats.export(guild_id, interaction.user.id, what)
        await interaction.followup.send(
            export.summary,
            file=discord.File(io.BytesIO(export.data), filename=export.filename),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: QIWeekBot) -> None:
    """Nothing to add: the commands are part of `/organiser` (cogs/organiser.py) and the
    service is built by the composition root (`bot.app`)."""


__all__ = ["AnnouncementCommands", "require_postable"]
