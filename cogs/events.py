"""Discord-native (issue 12): sessions in the server's Events, "Interested" there, "Starting now"
with a thread, feedback buttons at the end, and published announcements.

Thin: the services come from the composition root (`bot.app`); this cog listens to the gateway
and handles the feedback buttons.

discord.py 2.7 drops `on_scheduled_event_user_add/remove` when the user is not in its cache (the
bot does not chunk members at start), so the raw GUILD_SCHEDULED_EVENT_USER_ADD / _REMOVE
payloads are taken from the connection's parser table instead (`RawEventUsers`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import discord
from discord.ext import commands

from bot import ids
from bot.app import Services
from bot.client import QIWeekBot, send_ephemeral, served_or_told
from bot.render import live as render

log = logging.getLogger(__name__)

USER_EVENTS = {
    "GUILD_SCHEDULED_EVENT_USER_ADD": True,
    "GUILD_SCHEDULED_EVENT_USER_REMOVE": False,
}
RAW_EVENT = "qiweek_event_user"


class RawEventUsers:
    """Wraps discord.py's parsers of the two subscriber events to dispatch `on_qiweek_event_user
    (guild_id, event_id, user_id, added)` for every payload, cached user or not."""

    def __init__(self, client: discord.Client) -> None:
        self.client = client
        self.parsers: dict[str, Callable[[Any], None]] = client._connection.parsers
        self.originals: dict[str, Callable[[Any], None]] = {}

    def install(self) -> None:
        for name, added in USER_EVENTS.items():
            original = self.parsers[name]
            self.originals[name] = original

            def parser(data: Any, original: Callable[[Any], None] = original, added: bool = added):
                try:
                    self.client.dispatch(
                        RAW_EVENT,
                        int(data["guild_id"]),
                        int(data["guild_scheduled_event_id"]),
                        int(data["user_id"]),
                        added,
                    )
                finally:
                    original(data)

            self.parsers[name] = parser

    def uninstall(self) -> None:
        self.parsers.update(self.originals)
        self.originals.clear()


class FeedbackButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.FEEDBACK_TEMPLATE
):
    """A feedback press (1-5 or "I attended"), also after a restart or once the thread is
    archived: the answer is an interaction response, not a post in the thread."""

    def __init__(self, session_id: str, answer: str) -> None:
        super().__init__(
            discord.ui.Button(label=answer, custom_id=ids.feedback_button_id(session_id, answer))
        )
        self.session_id = session_id
        self.answer = answer

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: Any, /
    ) -> FeedbackButton:
        return cls(match["session_id"], match["answer"])

    async def interaction_check(self, interaction: discord.Interaction) -> bool:  # type: ignore[override]
        return await served_or_told(interaction)

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        # discord.py builds this item from its custom_id: the services come from the client.
        client = interaction.client
        if not isinstance(client, QIWeekBot) or interaction.guild_id is None:
            await send_ephemeral(interaction, "Feedback is not available here right now.")
            return
        live = client.services.live
        try:
            title, feedback = await live.answer(
                interaction.guild_id, self.session_id, interaction.user.id, self.answer
            )
        except ValueError:
            await send_ephemeral(interaction, "That button is not a rating from 1 to 5.")
            return
        except Exception:
            log.exception("feedback press failed")
            await send_ephemeral(interaction, "Sorry, that didn't work: please try again.")
            return
        await send_ephemeral(
            interaction, render.feedback_answer(title, feedback.rating, feedback.attended)
        )


class EventsCog(commands.Cog, name="Events"):
    """Gateway glue of the event mirror, and the persistent feedback buttons."""

    def __init__(self, bot: QIWeekBot, services: Services) -> None:
        self.bot = bot
        self.events = services.events
        self.raw = RawEventUsers(bot)

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(FeedbackButton)
        self.raw.install()

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(FeedbackButton)
        self.raw.uninstall()

    @commands.Cog.listener(f"on_{RAW_EVENT}")
    async def on_event_user(self, guild_id: int, event_id: int, user_id: int, added: bool) -> None:
        await self.events.on_event_user(guild_id, event_id, user_id, added)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        me = after.guild.me
        if me is not None and after in me.roles:
            await self.events.on_permissions_changed(after.guild.id)


async def setup(bot: QIWeekBot) -> None:
    await bot.add_cog(EventsCog(bot, bot.services))
