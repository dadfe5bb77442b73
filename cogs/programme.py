"""The programme on Discord: `/programme`, `/session`, the daily post, and the organisers'
`/organiser post-programme` and `/organiser import-programme` (a mixin of the organiser group).

Thin glue: parsing and permission checks here, the work in `bot.services.programme`, the looks
in `bot.render.programme`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import date
from pathlib import PurePath
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot import ids
from bot.app import Services
from bot.calendar import ics_filename, sessions_ics
from bot.client import QIWeekBot, component_failed, served_or_told
from bot.errors import UserFacingError
from bot.programme import (
    ACCEPTED_EXTENSIONS,
    DayError,
    Programme,
    ProgrammeError,
    Session,
    format_local_date,
    parse_day,
)
from bot.render import limits
from bot.render.components import session_view
from bot.render.live import interested_text
from bot.render.organiser import (
    change_impact_text,
    import_counts,
    import_refused_header,
    posted_text,
)
from bot.render.paging import changed_note
from bot.render.programme import (
    NHS_BLUE,
    ambiguous_session_text,
    no_sessions_text,
    session_pages,
)
from bot.services.programme import ImportPreview, ProgrammePostError, ProgrammeService
from bot.services.reminders import ProgrammeSource

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 1024 * 1024
IMPORT_CONFIRM_TIMEOUT = 600.0
NO_PROGRAMME = (
    "No programme is loaded for this server yet. Organisers can load one with "
    "`/organiser import-programme`."
)


async def session_choices(
    services: Services, guild_id: int | None, current: str
) -> list[app_commands.Choice[str]]:
    """Sessions matching what the member typed (title, host or speaker; anywhere in the text,
    best first), at most 25; the value is the session id. Reused by /interested and co."""
    if guild_id is None:
        return []
    choices = await services.programme.session_choices(guild_id, current)
    return [app_commands.Choice(name=name, value=value) for name, value in choices]


#: How many sessions a "matches several sessions" answer lists before "and N more".
AMBIGUOUS_LISTED = 10


async def resolve_session(programme: ProgrammeSource, guild_id: int, value: str) -> Session | None:
    """The session a member picked (its id) or typed (text matching exactly one session).

    Shared by `/session`, `/interested` and `/not-interested`. Text matching several sessions
    raises a UserFacingError listing them (so the member can pick one); no match gives None.
    """
    text = value.strip()
    if not text:
        return None
    found = await programme.get_session(guild_id, text)
    if found is not None:
        return found
    matches: Sequence[Session] = await programme.search(guild_id, text, limit=1000)
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise UserFacingError(ambiguous_session_text(text, matches, limit=AMBIGUOUS_LISTED))
    return None


async def day_choices(
    service: ProgrammeService, guild_id: int | None, current: str
) -> list[app_commands.Choice[str]]:
    """Suggests today, tomorrow and the event's days; any accepted form can still be typed."""
    if guild_id is None:
        return []
    programme = await service.get_programme(guild_id)
    config = await service.config(guild_id)
    suggestions = [("today", "today"), ("tomorrow", "tomorrow")]
    if programme is not None:
        days = programme.days(config.tz)
        suggestions += [(format_local_date(d, year=True), d.isoformat()) for d in days]
    needle = current.strip().lower()
    return [
        app_commands.Choice(name=name, value=value)
        for name, value in suggestions
        if needle in name.lower() or needle in value
    ][: limits.CHOICES]


async def _resolve_day(service: ProgrammeService, guild_id: int, text: str | None) -> date:
    config = await service.config(guild_id)
    programme = await service.get_programme(guild_id) or Programme()
    today = service.clock().astimezone(config.tz).date()
    try:
        return parse_day(text, today=today, programme=programme, tz=config.tz)
    except DayError as exc:
        raise UserFacingError(str(exc)) from None


async def _show_page(interaction: discord.Interaction, day_value: str, requested: int) -> None:
    """A paging button's press: the page asked for, from this server's programme in force now
    (the guild is the interaction's, so a button can never show another server's day)."""
    client = interaction.client
    if not isinstance(client, QIWeekBot):
        raise UserFacingError("The programme is not available here right now.")
    guild_id = _guild(interaction)
    try:
        day = date.fromisoformat(day_value)
    except ValueError:
        raise UserFacingError("That button is not one of mine; `/programme` shows a day.") from None
    service = client.services.programme
    programme = await service.get_programme(guild_id)
    if programme is None:
        await interaction.response.edit_message(content=NO_PROGRAMME, embeds=[], view=None)
        return
    page = await service.day_page(guild_id, programme, day, requested)
    await interaction.response.edit_message(**page.edit_kwargs(changed_note(day, requested, page)))


class ProgrammePageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.PROGRAMME_PAGE_TEMPLATE
):
    """`/programme`'s Previous / Next: stateless (the day and page are in the custom_id), so
    they work after a restart; a press edits the ephemeral message (UPDATE_MESSAGE)."""

    def __init__(self, day: str, page: int) -> None:
        super().__init__(discord.ui.Button(custom_id=ids.programme_page_id(day, page)))
        self.day = day
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> ProgrammePageButton:
        return cls(match["day"], int(match["page"]))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        return await served_or_told(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        # Components bypass the command tree's error handler: the same rules, applied here.
        try:
            await _show_page(interaction, self.day, self.page)
        except Exception as exc:
            await component_failed(interaction, exc)


class ProgrammeCog(commands.Cog, name="Programme"):
    """`/programme` and `/session` (the service, its seed and daily planner are in `bot.app`)."""

    def __init__(self, bot: QIWeekBot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self.service = services.programme

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(ProgrammePageButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(ProgrammePageButton)

    async def _day_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await day_choices(self.service, interaction.guild_id, current)

    async def _session_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await session_choices(self.services, interaction.guild_id, current)

    @app_commands.command(name="programme", description="The QI Week sessions of a day")
    @app_commands.describe(
        day="today (default), tomorrow, a weekday such as Wednesday, or a date like 2026-09-14"
    )
    @app_commands.autocomplete(day=_day_choices)
    @app_commands.guild_only()
    async def programme(
        self,
        interaction: discord.Interaction,
        day: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        service = self.service
        guild_id = _guild(interaction)
        programme = await service.get_programme(guild_id)
        if programme is None:
            # Still say what a day value may be, so a bad one is never silently accepted.
            await _resolve_day(service, guild_id, day)
            await interaction.response.send_message(NO_PROGRAMME, ephemeral=True)
            return
        which = await _resolve_day(service, guild_id, day)
        # One message; a long day pages through its parts (`bot.render.paging`).
        page = await service.day_page(guild_id, programme, which)
        await interaction.response.send_message(**page.send_kwargs(), ephemeral=True)

    @app_commands.command(name="session", description="One QI Week session in full")
    @app_commands.describe(session="Start typing a title, host or speaker, then pick the session")
    @app_commands.autocomplete(session=_session_choices)
    @app_commands.guild_only()
    async def session(
        self, interaction: discord.Interaction, session: app_commands.Range[str, 1, 100]
    ) -> None:
        service = self.service
        guild_id = _guild(interaction)
        found = await resolve_session(service, guild_id, session)
        if found is None:
            raise UserFacingError(
                f"I can't find a session {session!r}. Start typing part of its title, host or "
                "speaker and pick it from the list; `/programme` shows each day's sessions."
            )
        config = await service.config(guild_id)
        # Issue 12: interested here and on Discord's Events, and the link to the event.
        by_command, by_event, link = await self.services.events.session_facts(guild_id, found.id)
        interested = interested_text(by_command, by_event)
        pages = session_pages(found, config.tz, interested=interested, event_url=link)
        programme = await service.get_programme(guild_id)
        name = programme.event.name if programme is not None else "QI Week"
        alarm = min(config.reminder_leads) if config.reminder_leads else None
        ics = sessions_ics([found], calendar_name=name, alarm_minutes=alarm, now=service.clock())
        view = session_view(found)
        await interaction.response.send_message(
            embeds=pages[0].embeds,
            view=view,
            file=discord.File(io.BytesIO(ics), filename=ics_filename(found.id)),
            ephemeral=True,
        )
        view.stop()  # drawn only: the interest feature handles the button by its custom_id
        for page in pages[1:]:
            await interaction.followup.send(embeds=page.embeds, ephemeral=True)


# --------------------------------------------------------------------------- organisers


def _guild(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError("The programme is only available in the QI Week server.")
    return interaction.guild_id


def _summary_pages(title: str, lines: list[str], header: str) -> list[limits.Page]:
    return limits.pack_blocks(lines, title=title, colour=NHS_BLUE, header=header, separator="\n")


class ImportConfirmView(discord.ui.View):
    """Confirm / Cancel under an import summary; only the organiser who imported may press."""

    def __init__(
        self,
        service: ProgrammeService,
        *,
        guild_id: int,
        user_id: int,
        preview: ImportPreview,
        timeout: float | None = None,
    ) -> None:
        super().__init__(timeout=IMPORT_CONFIRM_TIMEOUT if timeout is None else timeout)
        self.service = service
        self.guild_id = guild_id
        self.user_id = user_id
        self.preview = preview
        self.message: discord.WebhookMessage | None = None
        self.finished = False

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.user_id:
            return True
        await interaction.response.send_message(
            "Only the organiser who started this import can confirm or cancel it.", ephemeral=True
        )
        return False

    @discord.ui.button(label="Confirm import", style=discord.ButtonStyle.success)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        if self.finished:
            return
        self.finished = True
        self.stop()
        filename = self.preview.filename
        await interaction.response.edit_message(content=f"Applying `{filename}`…", view=None)
        programme = self.preview.programme
        if programme is None:
            await interaction.edit_original_response(
                content="Nothing to apply: nothing was changed."
            )
            return
        try:
            diff = await self.service.apply_import(
                self.guild_id, programme, by=interaction.user.id, filename=filename
            )
        except Exception:
            log.exception("import of %s failed in guild %s", filename, self.guild_id)
            await interaction.edit_original_response(
                content=f"Sorry, applying `{filename}` failed and has been logged. The "
                "programme in force was not changed; please try again."
            )
            return
        counts = import_counts(diff)
        await interaction.edit_original_response(
            content=(
                f"✅ Applied `{filename}`: {counts}. It is now this server's programme and the "
                "schedule (daily posts, reminders) is updated."
            ),
            embeds=[],
        )

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        if self.finished:
            return
        self.finished = True
        self.stop()
        await interaction.response.edit_message(
            content="Import cancelled: nothing was changed.", view=None
        )

    async def on_timeout(self) -> None:
        if self.finished or self.message is None:
            return
        self.finished = True
        try:
            await self.message.edit(
                content=(
                    "This import was not confirmed in time: nothing was changed. "
                    "Run `/organiser import-programme` again to apply it."
                ),
                view=None,
            )
        except discord.HTTPException:
            log.info("could not mark an expired import as such (guild %s)", self.guild_id)


class ProgrammeOrganiserCommands:
    """`/organiser post-programme` and `/organiser import-programme` (mixed into the group)."""

    services: Services

    async def _post_day_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await day_choices(self.services.programme, interaction.guild_id, current)

    @app_commands.command(
        name="post-programme", description="Post a day's programme to the programme channel now"
    )
    @app_commands.describe(day="today (default), tomorrow, a weekday, or a date like 2026-09-14")
    @app_commands.autocomplete(day=_post_day_choices)
    async def post_programme(
        self,
        interaction: discord.Interaction,
        day: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        service = self.services.programme
        guild_id = _guild(interaction)
        which = await _resolve_day(service, guild_id, day)
        programme = await service.get_programme(guild_id)
        if programme is None:
            raise UserFacingError(f"Nothing was posted. {NO_PROGRAMME}")
        config = await service.config(guild_id)
        if not programme.sessions_on(which, config.tz):
            today = service.clock().astimezone(config.tz).date()
            why = no_sessions_text(programme, which, config.tz, today)
            raise UserFacingError(f"Nothing was posted: {why[0].lower()}{why[1:]}")
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            posted = await service.post_now(guild_id, which, by=interaction.user.id)
        except ProgrammePostError as exc:
            raise UserFacingError(f"Nothing was posted. {exc}") from None
        await interaction.followup.send(
            posted_text(which, posted.channel_id, len(posted.sent)), ephemeral=True
        )

    @app_commands.command(
        name="import-programme",
        description="Replace the programme with a YAML, CSV or ICS file (you confirm first)",
    )
    @app_commands.describe(file="The programme: .yaml/.yml, .csv (spreadsheet) or .ics, ≤ 1 MB")
    async def import_programme(
        self, interaction: discord.Interaction, file: discord.Attachment
    ) -> None:
        service = self.services.programme
        guild_id = _guild(interaction)
        accepted = ", ".join(ACCEPTED_EXTENSIONS)
        suffix = PurePath(file.filename).suffix.lower()
        if suffix not in ACCEPTED_EXTENSIONS:
            raise UserFacingError(
                f"`{file.filename}` is not a programme file I can read. Accepted types: {accepted} "
                "(YAML, a CSV spreadsheet export, or an .ics calendar export), up to 1 MB. "
                "Nothing was changed."
            )
        if file.size > MAX_IMPORT_BYTES:
            raise UserFacingError(
                f"`{file.filename}` is {file.size / 1024 / 1024:.1f} MB; the limit is 1 MB "
                f"(accepted types: {accepted}). Nothing was changed."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            data = await file.read()
        except discord.HTTPException:
            raise UserFacingError(
                "I could not download the file from Discord; please try again. Nothing was changed."
            ) from None
        if len(data) > MAX_IMPORT_BYTES:
            raise UserFacingError(f"`{file.filename}` is over 1 MB. Nothing was changed.")
        try:
            preview = await service.preview_import(guild_id, data, file.filename)
        except ProgrammeError as exc:
            header = import_refused_header(file.filename, exc.total)
            pages = _summary_pages(
                "Programme not imported", [f"• {p}" for p in exc.problems], header
            )
            for page in pages:
                await interaction.followup.send(embeds=page.embeds, ephemeral=True)
            return
        unchanged = preview.is_empty and not preview.event_changed
        if unchanged and preview.source == "import":
            await interaction.followup.send(
                f"`{file.filename}` has the same sessions as the programme in force: nothing to "
                "change.",
                ephemeral=True,
            )
            return
        lines = preview.summary().splitlines()
        header = lines[0] if not preview.is_empty else "No session changes."
        details = lines[1:] if not preview.is_empty else []
        if preview.event_changed and preview.programme is not None:
            event = preview.programme.event
            theme = f" · theme {event.theme}" if event.theme else ""
            details.append(f"Event: {event.name}{theme}")
        if preview.source != "import":
            details.append(
                "Confirming makes this file this server's own programme: the configured "
                "programme file will no longer replace it."
            )
        found = await self.services.changes.impact(guild_id, preview)
        impact = change_impact_text(found.members, found.sessions, found.notices, found.channel_id)
        if impact is not None:
            details.append(f"**{impact}**")
        pages = _summary_pages(f"Import {file.filename}?", details, header)
        view = ImportConfirmView(
            service, guild_id=guild_id, user_id=interaction.user.id, preview=preview
        )
        for number, page in enumerate(pages, start=1):
            if number < len(pages):
                await interaction.followup.send(embeds=page.embeds, ephemeral=True)
            else:
                view.message = await interaction.followup.send(
                    "Check the changes, then confirm (or cancel) within 10 minutes.",
                    embeds=page.embeds,
                    view=view,
                    ephemeral=True,
                    wait=True,
                )


async def setup(bot: QIWeekBot) -> None:
    await bot.add_cog(ProgrammeCog(bot, bot.services))
