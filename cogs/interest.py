"""Interest and reminders on Discord: `/interested`, `/not-interested`, `/my-sessions`,
`/reminders`, and the persistent "I'm interested" button and daily-post select.

Thin glue: options are parsed and checked here, the work is in `bot.services.interest`, the
words in `bot.render.interest`. The button and select are `DynamicItem`s matched by the stable
custom_ids of `bot.ids`, so they keep working on messages posted before a restart.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot import ids
from bot.app import Services
from bot.client import QIWeekBot, component_failed, send_ephemeral, served_or_told
from bot.errors import UserFacingError
from bot.render import interest as render
from bot.render import limits
from bot.services.interest import InterestService, PendingContact, Registered
from bot.services.reminders import ProgrammeSource, parse_reminder_setting
from cogs.programme import resolve_session, session_choices

log = logging.getLogger(__name__)

NOT_HERE = "Registering for sessions only works in the QI Week server."
SETTING_SUGGESTIONS = (
    ("default: the server's reminder times", "default"),
    ("off: no DMs", "off"),
    ("mention: no DMs, mention me in the channel reminder", "mention"),
    ("10 minutes before", "10"),
    ("15 minutes before", "15"),
    ("30 minutes before", "30"),
    ("1 hour before", "60"),
    ("1 day before", "1440"),
)


def _services(client: discord.Client) -> Services:
    """The bot's services, for the persistent components (discord.py builds those itself from
    their custom_id, so nothing can be handed to their constructors)."""
    if not isinstance(client, QIWeekBot):
        raise UserFacingError(NOT_HERE)
    return client.services


def _guild(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError(NOT_HERE)
    return interaction.guild_id


@dataclass(frozen=True, slots=True)
class Answer:
    """What a member is told: one message, or several when it is longer than one (nothing is
    cut), and what to do once it is sent (the sign-up DM, then an edit saying what it did)."""

    messages: list[str]
    then: Callable[[discord.Interaction], Awaitable[None]] | None = None


async def _register(
    interaction: discord.Interaction,
    service: InterestService,
    session_value: str,
    *,
    via_button: bool,
) -> Answer:
    guild_id = _guild(interaction)
    programme: ProgrammeSource = service.programme
    session = await resolve_session(programme, guild_id, session_value)
    if session is None:
        gone = await programme.get_session(guild_id, session_value.strip(), include_cancelled=True)
        if gone is not None:
            raise UserFacingError(
                f"**{discord.utils.escape_markdown(gone.title)}** was cancelled, so it can't be "
                "registered for. `/programme` shows what is on."
            )
        raise UserFacingError(render.unknown_session_text(session_value))
    if session.start <= service.clock():
        raise UserFacingError(render.started_text(session))
    outcome = await service.register(guild_id, session, interaction.user.id)
    return _registered_answer(service, outcome, via_button=via_button)


def _registered_answer(
    service: InterestService, outcome: Registered, *, via_button: bool
) -> Answer:
    """The registration's answer; for a new one, the sign-up DM follows it and the answer is
    edited to say whether it went out or the member's DMs are closed."""

    def text(first_contact: str | None = None) -> str:
        return render.registered_text(
            outcome.session,
            changed=outcome.changed,
            setting=outcome.setting,
            guild_leads=outcome.guild_leads,
            dm_closed=outcome.dm_closed,
            via_button=via_button,
            first_contact=first_contact,
        )

    return Answer(
        [text()],
        _after_sign_up(outcome.contact, lambda it, contact: _edit_answer(it, text(contact))),
    )


def _after_sign_up(
    pending: PendingContact | None,
    tell: Callable[[discord.Interaction, str], Awaitable[None]],
) -> Callable[[discord.Interaction], Awaitable[None]] | None:
    """Once the member is answered: run the sign-up DM and ``tell(interaction, "sent" or
    "closed")`` when there is something to say."""
    if pending is None:
        return None

    async def then(interaction: discord.Interaction) -> None:
        contact = await pending.outcome()
        if contact is not None:
            await tell(interaction, contact)

    return then


async def _edit_answer(interaction: discord.Interaction, text: str) -> None:
    """Replace the answer's text (its token lives 15 minutes; a failed edit only loses a
    note the member's next sign-up gives again)."""
    try:
        await interaction.edit_original_response(content=text)
    except discord.HTTPException as exc:
        log.warning("could not edit the answer for user %s: %s", interaction.user.id, exc)


async def _unregister(
    interaction: discord.Interaction,
    service: InterestService,
    session_value: str,
    *,
    via_button: bool,
) -> str:
    guild_id = _guild(interaction)
    user_id = interaction.user.id
    value = session_value.strip()
    session = await service.programme.get_session(guild_id, value, include_cancelled=True)
    if session is None and not await service.is_registered(guild_id, value, user_id):
        session = await resolve_session(service.programme, guild_id, value)
        if session is None:
            raise UserFacingError(render.unknown_session_text(session_value))
    session_id = session.id if session is not None else value
    changed = await service.unregister(guild_id, session_id, user_id)
    return render.unregistered_text(
        session.title if session is not None else session_id,
        changed=changed,
        via_button=via_button,
    )


async def _answer_safely(
    interaction: discord.Interaction, work: Awaitable[Answer | str | list[str]]
) -> None:
    """Components bypass the command tree's error handler: the same rules (`component_failed`)."""
    try:
        answer = await work
    except Exception as exc:
        await component_failed(interaction, exc)
    else:
        if not isinstance(answer, Answer):
            answer = Answer([answer] if isinstance(answer, str) else answer)
        for message in answer.messages:
            await send_ephemeral(interaction, message)
        if answer.then is not None:
            await answer.then(interaction)


class InterestButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.INTEREST_BUTTON_TEMPLATE
):
    """The "I'm interested" button under a session: toggles the member's registration."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                style=discord.ButtonStyle.primary,
                label="I'm interested",
                emoji="⭐",
                custom_id=ids.interest_button_id(session_id),
            )
        )
        self.session_id = session_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> InterestButton:
        return cls(match["session_id"])

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        return await served_or_told(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await _answer_safely(interaction, self._toggle(interaction))

    async def _toggle(self, interaction: discord.Interaction) -> Answer | str:
        service = _services(interaction.client).interest
        guild_id = _guild(interaction)
        user_id = interaction.user.id
        session = await service.programme.get_session(guild_id, self.session_id)
        if session is not None and session.start > service.clock():
            # The usual press: one write registers, or undoes an existing registration.
            outcome = await service.toggle(guild_id, session, user_id)
            if outcome is None:
                return render.unregistered_text(session.title, changed=True, via_button=True)
            return _registered_answer(service, outcome, via_button=True)
        # Cancelled, removed or started: only undoing is possible; else say why not.
        if await service.is_registered(guild_id, self.session_id, user_id):
            return await _unregister(interaction, service, self.session_id, via_button=True)
        return await _register(interaction, service, self.session_id, via_button=True)


class InterestSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=ids.INTEREST_SELECT_TEMPLATE
):
    """A daily post's "I'm interested in…" select: registers every session chosen."""

    def __init__(self, item: discord.ui.Select[Any]) -> None:
        super().__init__(item)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[Any],
        match: Any,
        /,
    ) -> InterestSelect:
        return cls(cast(discord.ui.Select[Any], item))

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        return await served_or_told(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        await _answer_safely(interaction, self._pick(interaction))

    async def _pick(self, interaction: discord.Interaction) -> Answer:
        service = _services(interaction.client).interest
        guild_id = _guild(interaction)
        outcome = await service.register_many(guild_id, self.item.values, interaction.user.id)
        setting, leads = await service.reminder_setting(guild_id, interaction.user.id)
        messages = render.pick_text(
            added=outcome.added,
            already=outcome.already,
            started=outcome.started,
            unknown=outcome.unknown,
            setting=setting,
            guild_leads=leads,
        )
        return Answer(
            messages or ["Nothing was chosen."],
            _after_sign_up(
                outcome.contact,
                lambda it, contact: send_ephemeral(
                    it, render.CLOSED_NOW if contact == "closed" else render.FIRST_DM_SENT
                ),
            ),
        )


class InterestCog(commands.Cog, name="Interest"):
    """Registrations and reminder settings, and the persistent interest button and select."""

    def __init__(self, bot: QIWeekBot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self.service = services.interest

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(InterestButton, InterestSelect)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(InterestButton, InterestSelect)

    async def _session_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await session_choices(self.services, interaction.guild_id, current)

    # ---------------------------------------------------------------- commands

    @app_commands.command(name="interested", description="Register for a session and be reminded")
    @app_commands.describe(session="Start typing a title, host or speaker, then pick the session")
    @app_commands.autocomplete(session=_session_choices)
    @app_commands.guild_only()
    async def interested(
        self, interaction: discord.Interaction, session: app_commands.Range[str, 1, 100]
    ) -> None:
        answer = await _register(interaction, self.service, session, via_button=False)
        await interaction.response.send_message(answer.messages[0], ephemeral=True)
        if answer.then is not None:
            await answer.then(interaction)

    async def _mine_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The member's own sessions first (what they can unregister from), else any session."""
        if interaction.guild_id is None:
            return []
        mine = await self.service.registered_sessions(interaction.guild_id, interaction.user.id)
        needle = current.strip().casefold()
        matches = [s for s in mine if needle in s.title.casefold() or needle in s.id]
        if not matches:
            return await session_choices(self.services, interaction.guild_id, current)
        return [
            app_commands.Choice(name=limits.truncate(s.title, limits.CHOICE_NAME), value=s.id)
            for s in matches[: limits.CHOICES]
        ]

    @app_commands.command(
        name="not-interested", description="Unregister from a session (no more reminders for it)"
    )
    @app_commands.describe(session="Start typing the title of one of your sessions")
    @app_commands.guild_only()
    async def not_interested(
        self, interaction: discord.Interaction, session: app_commands.Range[str, 1, 100]
    ) -> None:
        text = await _unregister(interaction, self.service, session, via_button=False)
        await interaction.response.send_message(text, ephemeral=True)

    @not_interested.autocomplete("session")
    async def _not_interested_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return await self._mine_autocomplete(interaction, current)

    @app_commands.command(
        name="my-sessions", description="The sessions you registered for, with a calendar file"
    )
    @app_commands.guild_only()
    async def my_sessions(self, interaction: discord.Interaction) -> None:
        service = self.service
        guild_id = _guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        mine = await service.my_sessions(guild_id, interaction.user.id)
        if not mine.sessions and not mine.cancelled:
            await interaction.followup.send(render.NO_SESSIONS, ephemeral=True)
            return
        programme = await service.programme.get_programme(guild_id)
        pages = render.my_sessions_pages(
            mine.sessions,
            mine.cancelled,
            setting=mine.setting,
            guild_leads=mine.guild_leads,
            event_name=programme.event.name if programme is not None else "QI Week",
            now=service.clock(),
            dm_closed=mine.dm_closed,
        )
        for index, page in enumerate(pages):
            kwargs: dict[str, Any] = {"embeds": page.embeds, "ephemeral": True}
            if index == 0 and mine.ics is not None:
                kwargs["file"] = discord.File(io.BytesIO(mine.ics), filename=mine.ics_name)
            await interaction.followup.send(**kwargs)

    @app_commands.command(
        name="reminders",
        description="How to remind you before your sessions: default, off, mention, or minutes",
    )
    @app_commands.describe(
        setting="default (the server's times), off (no DMs), mention (in the channel), "
        "or minutes before, 5 to 1440"
    )
    @app_commands.guild_only()
    async def reminders(
        self, interaction: discord.Interaction, setting: app_commands.Range[str, 1, 40]
    ) -> None:
        service = self.service
        guild_id = _guild(interaction)
        try:
            stored, leads = await service.set_reminder_setting(
                guild_id, interaction.user.id, setting
            )
        except ValueError as exc:
            raise UserFacingError(f"{exc}\nNothing was changed.") from None
        lines = ["Saved. " + render.setting_text(stored, leads)]
        if stored == "off":
            lines.append("Calendar files from `/my-sessions` now come without an alarm.")
        else:
            lines.append("The calendar file from `/my-sessions` uses the same alarm time.")
        await interaction.response.send_message("\n".join(lines), ephemeral=True)

    @reminders.autocomplete("setting")
    async def _reminders_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().lower()
        choices = [
            app_commands.Choice(name=name, value=value)
            for name, value in SETTING_SUGGESTIONS
            if needle in name.lower()
        ]
        try:
            typed = parse_reminder_setting(current)
        except ValueError:
            typed = None
        if typed is not None and typed.isdigit() and all(c.value != typed for c in choices):
            name = f"{render.minutes_text(int(typed))} before"
            choices.insert(0, app_commands.Choice(name=name, value=typed))
        return choices[: limits.CHOICES]


async def setup(bot: QIWeekBot) -> None:
    await bot.add_cog(InterestCog(bot, bot.services))
