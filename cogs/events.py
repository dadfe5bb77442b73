"""Discord-native (issue 12): sessions in the server's Events, "Interested" there, "Starting now"
with a thread, feedback buttons at the end, and published announcements.

Thin: builds the services (until the composition root of issue 9 does), registers their
planners, listens to the gateway, and handles the feedback buttons.

discord.py 2.7 drops `on_scheduled_event_user_add/remove` when the user is not in its cache (the
bot does not chunk members at start), so the raw GUILD_SCHEDULED_EVENT_USER_ADD / _REMOVE
payloads are taken from the connection's parser table instead (`RawEventUsers`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import ids
from bot.client import send_ephemeral
from bot.programme import Programme, Session
from bot.render import live as render
from bot.services.events import PLANNER as EVENTS_PLANNER
from bot.services.events import EventMirror
from bot.services.live import CROSSPOST_PLANNER, Crossposter, LiveSessions
from bot.services.live import PLANNER as LIVE_PLANNER

if TYPE_CHECKING:
    from bot.client import QIWeekBot

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


class LazyProgramme:
    """The programme service, looked up when used (its cog loads after this one)."""

    def __init__(self, bot: QIWeekBot) -> None:
        self.bot = bot

    async def get_programme(self, guild_id: int) -> Programme | None:
        service = self.bot.services.programme
        return await service.get_programme(guild_id) if service is not None else None

    async def get_session(
        self, guild_id: int, session_id: str, *, include_cancelled: bool = False
    ) -> Session | None:
        service = self.bot.services.programme
        if service is None:
            return None
        return await service.get_session(guild_id, session_id, include_cancelled=include_cancelled)


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

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        live = getattr(getattr(interaction.client, "services", None), "live", None)
        if live is None or interaction.guild_id is None:
            await send_ephemeral(interaction, "Feedback is not available here right now.")
            return
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
    """Owns the event mirror, the live-session service and the crossposter."""

    def __init__(self, bot: QIWeekBot) -> None:
        self.bot = bot
        self.raw = RawEventUsers(bot)
        programme = LazyProgramme(bot)
        self.mirror = EventMirror(
            client=bot,
            store=bot.store,
            settings=bot.settings,
            clock=bot.clock,
            programme=programme,
            on_interest_changed=self._interest_changed,
        )
        self.live = LiveSessions(
            client=bot,
            store=bot.store,
            ledger=bot.ledger,
            settings=bot.settings,
            clock=bot.clock,
            programme=programme,
        )
        self.crossposter = Crossposter(
            client=bot, store=bot.store, ledger=bot.ledger, clock=bot.clock
        )

    def _interest_changed(self, guild_id: int) -> None:
        interest = self.bot.services.interest
        if interest is not None:
            interest.replan_soon(guild_id)

    async def cog_load(self) -> None:
        bot = self.bot
        bot.services.events = self.mirror
        bot.services.live = self.live
        bot.schedule.register(EVENTS_PLANNER, self.mirror.plan)
        bot.schedule.register(LIVE_PLANNER, self.live.plan)
        bot.schedule.register(CROSSPOST_PLANNER, self.crossposter.plan)
        bot.add_dynamic_items(FeedbackButton)
        self.raw.install()
        if bot.services.announcements is not None:
            bot.services.announcements.after_post = self._after_post

    def _after_post(self, guild_id: int, channel_id: int, message_id: int | None) -> None:
        self.crossposter.after_post(guild_id, channel_id, message_id)

    async def cog_unload(self) -> None:
        bot = self.bot
        for name in (EVENTS_PLANNER, LIVE_PLANNER, CROSSPOST_PLANNER):
            bot.schedule.unregister(name)
        bot.remove_dynamic_items(FeedbackButton)
        self.raw.uninstall()
        announcements = bot.services.announcements
        if announcements is not None and announcements.after_post == self._after_post:
            announcements.after_post = None
        await self.crossposter.close()
        if bot.services.events is self.mirror:
            bot.services.events = None
        if bot.services.live is self.live:
            bot.services.live = None

    @commands.Cog.listener(f"on_{RAW_EVENT}")
    async def on_event_user(self, guild_id: int, event_id: int, user_id: int, added: bool) -> None:
        await self.mirror.on_event_user(guild_id, event_id, user_id, added)

    @commands.Cog.listener()
    async def on_guild_role_update(self, before: discord.Role, after: discord.Role) -> None:
        me = after.guild.me
        if me is not None and after in me.roles:
            await self.mirror.on_permissions_changed(after.guild.id)


async def setup(bot: QIWeekBot) -> None:
    await bot.add_cog(EventsCog(bot))
