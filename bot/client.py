"""The `commands.Bot` subclass: receives its dependencies, does all async setup in `setup_hook`."""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.app import Services, build_services
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.errors import NotOrganiser, UserFacingError
from bot.schedule import Schedule
from bot.store import Ledger, Store

log = logging.getLogger(__name__)

# The bot never joins voice: don't warn at every start that voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

GENERIC_ERROR = (
    "Sorry, something went wrong on our side and it has been logged. Please try again in a "
    "moment; if it keeps happening, tell an organiser."
)


def intents() -> discord.Intents:
    """Guilds, members, guild messages (with content), reactions and scheduled events: what the
    features read."""
    result = discord.Intents.none()
    result.guilds = True
    result.members = True
    result.guild_messages = True
    result.message_content = True
    result.guild_reactions = True
    result.guild_scheduled_events = True  # issue 12: "Interested" on the mirrored events
    return result


def configure_endpoints(settings: Settings) -> None:
    """Point discord.py at `DISCORD_API_BASE` / `DISCORD_GATEWAY_URL` (a proxy, or the tests' fake).

    discord.py keeps both as class attributes, so this must run before login.
    """
    discord.http.Route.BASE = settings.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


OTHER_SERVER = "This bot runs QI Week in one server only; it does nothing here."


class QIWeekTree(app_commands.CommandTree):
    """The command tree with the one error path every app command goes through."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Commands (even stale global ones) only work in the server the bot serves."""
        settings: Settings = interaction.client.settings  # type: ignore[attr-defined]
        if interaction.guild_id is None or settings.serves(interaction.guild_id):
            return True
        log.info("ignored a command from guild %s (not QIWEEK_GUILD_ID)", interaction.guild_id)
        if interaction.type is not discord.InteractionType.autocomplete:  # it has no message
            await send_ephemeral(interaction, OTHER_SERVER)
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        command = interaction.command.qualified_name if interaction.command else "?"
        original = getattr(error, "original", error)
        context = f"/{command} guild={interaction.guild_id} user={interaction.user.id}"
        if isinstance(error, NotOrganiser):
            log.warning("refused %s: %s", context, error)
            message = str(error)
        elif isinstance(original, UserFacingError):
            log.info("rejected %s: %s", context, original)
            message = str(original)
        elif isinstance(error, app_commands.CheckFailure):
            log.warning("check failed %s: %s", context, error)
            message = str(error) or "You can't use this command here."
        else:
            log.error("command failed %s", context, exc_info=original)
            message = GENERIC_ERROR
        await send_ephemeral(interaction, message)


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Answer ephemerally whether or not the interaction was already answered or deferred."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not deliver an error message to user %s", interaction.user.id)


class QIWeekBot(commands.Bot):
    """The QI Week bot. Dependencies come in; nothing is read from module globals."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        schedule: Schedule,
        clock: Clock = utc_now,
        extensions: list[str] | None = None,
        sync_commands: bool = True,
        **client_options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=intents(),
            tree_cls=QIWeekTree,
            allowed_mentions=discord.AllowedMentions.none(),
            chunk_guilds_at_startup=False,
            max_messages=1000,
            **client_options,
        )
        self.settings = settings
        self.store = store
        self.ledger = Ledger(store)
        self.schedule = schedule
        self.clock = clock
        self._services: Services | None = None  # built in `setup_hook`: see `bot.app`
        self.extension_names = extensions if extensions is not None else discover_extensions()
        self.sync_commands = sync_commands
        self._prepared: dict[int, asyncio.Event] = {}
        self._preparing: set[asyncio.Task[Any]] = set()
        self._ignored_guilds: set[int] = set()

    @property
    def services(self) -> Services:
        """Every feature service (see `bot.app`); built once the store is open, in setup_hook."""
        if self._services is None:
            raise RuntimeError("services are built in setup_hook, before any extension loads")
        return self._services

    async def login(self, token: str) -> None:
        configure_endpoints(self.settings)
        await super().login(token)

    async def setup_hook(self) -> None:
        await self.store.open()
        self.schedule.start()
        self._services = build_services(self)
        for name in self.extension_names:
            await self.load_extension(name)
        if self.sync_commands:
            await self.sync_app_commands()

    async def sync_app_commands(self) -> list[app_commands.AppCommand]:
        """Guild sync (instant) when QIWEEK_GUILD_ID is set, else global."""
        if self.settings.guild_id:
            guild = discord.Object(id=self.settings.guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), self.settings.guild_id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))
        return synced

    async def prepare_guild(self, guild_id: int) -> None:
        """Seed what a guild needs and (re)plan its schedule. Idempotent, so safe on reconnects."""
        task = asyncio.current_task()
        if task is not None:
            self._preparing.add(task)
        try:
            try:
                await self.services.prepare_guild(guild_id)
            except Exception:
                log.exception("preparing guild %s failed", guild_id)
            await self.schedule.replan(guild_id)
        finally:
            if task is not None:
                self._preparing.discard(task)
        self._prepared.setdefault(guild_id, asyncio.Event()).set()

    async def wait_prepared(self, guild_id: int) -> None:
        """Wait until a guild has been prepared and planned once (tests, start-up ordering)."""
        await self._prepared.setdefault(guild_id, asyncio.Event()).wait()

    async def on_guild_available(self, guild: discord.Guild) -> None:
        if await self._ignore_other(guild):
            return
        await self.prepare_guild(guild.id)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        if await self._ignore_other(guild):
            return
        await self.prepare_guild(guild.id)

    async def _ignore_other(self, guild: discord.Guild) -> bool:
        """With QIWEEK_GUILD_ID set, any other server gets nothing (no seed, shares or jobs: it
        would share the request budget); logged once per server, and left when
        QIWEEK_LEAVE_OTHER_GUILDS is on."""
        if self.settings.serves(guild.id):
            return False
        if guild.id not in self._ignored_guilds:
            self._ignored_guilds.add(guild.id)
            log.warning(
                "ignoring server %s (%s): QIWEEK_GUILD_ID is %s%s",
                guild.id,
                guild.name,
                self.settings.guild_id,
                "; leaving it" if self.settings.leave_other_guilds else "",
            )
        if self.settings.leave_other_guilds:
            try:
                await guild.leave()
            except discord.HTTPException as exc:
                log.warning("could not leave server %s: %s", guild.id, exc)
        return True

    async def close(self) -> None:
        """Stop the scheduler (no job fires into a closing client), then Discord, then the DB."""
        await self.schedule.aclose()
        if self._services is not None:  # None when the bot never got as far as setup_hook
            await self._services.close()
        # A guild still being prepared (seeding, planning) must not outlive the store.
        current = asyncio.current_task()
        pending = [t for t in self._preparing if not t.done() and t is not current]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            await super().close()
        finally:
            await self.store.close()


def discover_extensions() -> list[str]:
    """Every module in the `cogs` package, except private ones (leading underscore)."""
    package = importlib.import_module("cogs")
    return sorted(
        f"cogs.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    )
