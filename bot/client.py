"""The `commands.Bot` subclass: receives its dependencies, does all async setup in `setup_hook`."""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import logging
import pkgutil
import re
import sqlite3
from collections.abc import Callable, Coroutine
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
from bot.store import Ledger, Store, bot_state

log = logging.getLogger(__name__)

# The bot never joins voice: don't warn at every start that voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

#: How long close() waits for running event handlers (SIGTERM to exit stays well under the
#: 90 s a service manager allows).
DRAIN_TIMEOUT = 10.0
# discord.py's names for the tasks of app commands and component callbacks.
_HANDLER_TASK_NAMES = frozenset({"CommandTree-invoker"})
_VIEW_DISPATCH_PREFIX = "discord-ui-view-dispatch-"


class _NotRun:
    """What `_schedule_event` returns for a handler it does not run (discord.py ignores it)."""

    def done(self) -> bool:
        return True


_NOT_RUN: Any = _NotRun()
_FIRST_ATTR = "__qiweek_first__"


def first(method_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a cog's event listener a synchronous first step: the cog's method ``method_name``
    runs at once with the event's arguments, and the listener itself only when it returns True.

    discord.py makes every listener of every event a task; a guild's messages are the busiest
    event there is, and most of them need nothing but a cheap look. With this the look costs
    no task. A first step that raises is logged and the listener runs anyway.
    """

    def mark(listener: Callable[..., Any]) -> Callable[..., Any]:
        setattr(listener, _FIRST_ATTR, method_name)
        return listener

    return mark


def _wanted(coro: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """Whether a listener marked with `first` is to run for these event arguments."""
    name = getattr(getattr(coro, "__func__", None), _FIRST_ATTR, None)
    owner = getattr(coro, "__self__", None)
    if name is None or owner is None:
        return True
    try:
        return bool(getattr(owner, name)(*args))
    except Exception:
        log.exception("the first step %s of %s failed; the listener runs", name, coro)
        return True


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


def serves(interaction: discord.Interaction) -> bool:
    """Whether the interaction comes from the server the bot serves (or a DM). Commands are
    checked by the tree; persistent buttons and menus, which bypass it, check this themselves
    (a message copied or a bot in a second server must not read or write that server)."""
    client = interaction.client
    if interaction.guild_id is None or not isinstance(client, QIWeekBot):
        return True
    return client.settings.serves(interaction.guild_id)


async def served_or_told(interaction: discord.Interaction) -> bool:
    """The persistent components' `interaction_check`: True in the served server; elsewhere
    the member is told (ephemerally) and the press does nothing."""
    if serves(interaction):
        return True
    log.info("ignored a component press from guild %s (not QIWEEK_GUILD_ID)", interaction.guild_id)
    await send_ephemeral(interaction, OTHER_SERVER)
    return False


class QIWeekTree(app_commands.CommandTree):
    """The command tree with the one error path every app command goes through."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Commands (even stale global ones) only work in the server the bot serves."""
        if serves(interaction):
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
        if is_expired(original):
            # Answered too late (Discord's 3 s): the token is dead, so an error message would
            # fail the same way. Under load this is the cheap path, not a traceback and a send.
            log.warning("interaction expired before its answer: %s", context)
            return
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
            await report_database_failure(interaction, original)
        await send_ephemeral(interaction, message)


#: Discord's "Unknown interaction": the interaction was not answered within 3 s (or its
#: follow-up token has expired); nothing more can be sent with it.
UNKNOWN_INTERACTION = 10062


def is_expired(error: BaseException) -> bool:
    """True when ``error`` says the interaction can no longer be answered (10062)."""
    return isinstance(error, discord.NotFound) and error.code == UNKNOWN_INTERACTION


async def report_database_failure(interaction: discord.Interaction, error: BaseException) -> None:
    """A command failed on a database error: tell the organisers (`db_write` alert)."""
    client = interaction.client
    if not isinstance(error, sqlite3.Error) or interaction.guild_id is None:
        return
    if isinstance(client, QIWeekBot) and client._services is not None:
        await client.services.alerts.raise_(
            interaction.guild_id,
            "db_write",
            f"A database operation failed ({type(error).__name__}: {error}). Check the disk "
            "space and the database file's permissions on the bot's host.",
        )


async def send_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Answer ephemerally whether or not the interaction was already answered or deferred."""
    try:
        if interaction.response.is_done():
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except discord.HTTPException as exc:
        if is_expired(exc):
            log.warning("interaction expired before its answer (user %s)", interaction.user.id)
        else:
            log.warning("could not deliver an error message to user %s", interaction.user.id)


async def component_failed(interaction: discord.Interaction, exc: Exception) -> None:
    """The tree's error rules (`QIWeekTree.on_error`) for a persistent button or menu, which
    bypasses the tree: a refusal is told to the member; an interaction already expired (3 s)
    gets nothing (an error message would fail the same way); anything else is logged and the
    member gets the generic error."""
    if isinstance(exc, UserFacingError):
        log.info("rejected component %s: %s", interaction.data, exc)
        await send_ephemeral(interaction, str(exc))
    elif is_expired(exc):
        log.warning("component expired before its answer: user %s", interaction.user.id)
    else:
        log.error(
            "component failed guild=%s user=%s data=%s",
            interaction.guild_id,
            interaction.user.id,
            interaction.data,
            exc_info=exc,
        )
        await send_ephemeral(interaction, GENERIC_ERROR)


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
        # Listener tasks still running (on_message...): close() lets them finish first.
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._closing: asyncio.Future[None] | None = None
        self._closers: set[asyncio.Task[Any]] = set()

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
        self.schedule.on_error = self._job_failed
        for name in self.extension_names:
            await self.load_extension(name)
        if self.sync_commands:
            await self.sync_app_commands()

    async def _job_failed(self, job_id: str, error: BaseException) -> None:
        """A scheduled job failed on a database error: tell the organisers (`db_write`)."""
        match = re.match(r"[^:]+:(\d+):", job_id)
        if not isinstance(error, sqlite3.Error) or match is None or self._services is None:
            return
        await self.services.alerts.raise_(
            int(match.group(1)),
            "db_write",
            f"A scheduled send failed on a database error ({type(error).__name__}: {error}); "
            "it is retried at the next start. Check the disk space and the database file's "
            "permissions on the bot's host.",
        )

    async def sync_app_commands(self, *, force: bool = False) -> list[app_commands.AppCommand]:
        """Guild sync (instant) when QIWEEK_GUILD_ID is set, else global.

        Skipped when the tree is the one last synced for this application and target (its
        hash is kept in the database): a restart does not spend a rate-limited PUT, and the
        commands are ready sooner. Any change to a command (name, option, permission, text)
        changes the hash, so it is synced. ``force`` syncs anyway.
        """
        guild = discord.Object(id=self.settings.guild_id) if self.settings.guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        target = str(guild.id) if guild is not None else "global"
        state_name = f"commands:{self.application_id}:{target}"
        tree_hash = command_tree_hash(self.tree, guild)
        if not force and await bot_state.get_state(self.store, state_name) == tree_hash:
            log.info("commands unchanged since the last sync (%s): not synced again", target)
            return []
        # Forget the old hash first: a sync that fails half-way is redone at the next start.
        await bot_state.clear_state(self.store, state_name)
        synced = await self.tree.sync(guild=guild)
        await bot_state.set_state(self.store, state_name, tree_hash)
        log.info("synced %d commands (%s)", len(synced), target)
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

    def _schedule_event(
        self,
        coro: Callable[..., Coroutine[Any, Any, Any]],
        event_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> asyncio.Task[Any]:
        """discord.py runs each listener in a task: keep them, so close() can wait for them.

        `commands.Bot.on_message` (prefix commands, which this bot has none of) is not run:
        it would cost a task and a context per guild message, the busiest event there is; nor
        is a listener whose synchronous first step (`first`) says there is nothing to do.
        """
        if getattr(coro, "__func__", None) is commands.Bot.on_message:
            return _NOT_RUN
        if not _wanted(coro, args):
            return _NOT_RUN  # its first step (see `first`) found nothing for it to do
        task = super()._schedule_event(coro, event_name, *args, **kwargs)
        self._handler_tasks.add(task)
        task.add_done_callback(self._handler_tasks.discard)
        return task

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        if self._stopping:
            return  # closing: no new work (a missed message is found again by backfill)
        super().dispatch(event, *args, **kwargs)

    def _running_handlers(self) -> set[asyncio.Task[Any]]:
        """Listener tasks, app command invocations and component callbacks not yet done (not
        the task that asked to close: it waits for the close)."""
        running = {t for t in self._handler_tasks if not t.done()}
        for task in asyncio.all_tasks():
            name = task.get_name()
            if name in _HANDLER_TASK_NAMES or name.startswith(_VIEW_DISPATCH_PREFIX):
                running.add(task)
        running -= self._closers
        return {t for t in running if not t.done()}

    async def drain_handlers(self, within: float = DRAIN_TIMEOUT) -> int:
        """Wait (at most ``within`` seconds) until no event handler is running, including
        those started meanwhile from events already received; returns how many were still
        running when the time ran out (they are left to close())."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while running := self._running_handlers():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return len(running)
            await asyncio.wait(running, timeout=remaining)
        return 0

    async def close(self) -> None:
        """Stop the scheduler (no job fires into a closing client), let the event handlers
        already running finish (bounded: `DRAIN_TIMEOUT`), stop taking events, then close
        Discord, then the DB (a handler cut off by the store closing would lose its work)."""
        caller = asyncio.current_task()
        if caller is not None:
            self._closers.add(caller)
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        await self.schedule.aclose()
        if self._services is not None:  # None when the bot never got as far as setup_hook
            try:
                await self._services.close()
            except Exception:
                # Whatever a service failed to finish, Discord and the store must still close
                # (an open store keeps the process alive through aiosqlite's worker threads).
                log.exception("stopping the services failed; closing Discord and the store")
        # A guild still being prepared (seeding, planning) must not outlive the store.
        current = asyncio.current_task()
        pending = [t for t in self._preparing if not t.done() and t is not current]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        try:
            left = await self.drain_handlers()
            self._stopping = True
            if left:
                log.warning("closing with %d event handler(s) still running", left)
            await super().close()
            # Handlers that were waiting on Discord end quickly now that its session is closed.
            await self.drain_handlers(within=1.0)
        finally:
            await self.store.close()


def command_tree_hash(tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None) -> str:
    """A hash of exactly what `CommandTree.sync` would send for ``guild`` (None: global)."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def discover_extensions() -> list[str]:
    """Every module in the `cogs` package, except private ones (leading underscore)."""
    package = importlib.import_module("cogs")
    return sorted(
        f"cogs.{info.name}"
        for info in pkgutil.iter_modules(package.__path__)
        if not info.name.startswith("_")
    )
