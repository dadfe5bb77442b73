"""Run the real QIWeekBot against the fake Discord server, with a real SQLite file."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.client import QIWeekBot
from bot.clock import Clock, utc_now
from bot.config import Settings, parse_settings
from bot.schedule import Schedule
from bot.store import Store
from tests.fakediscord import FakeDiscord

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROGRAMME = ROOT / "data" / "programme.yaml"


class BotRunner:
    """Starts, stops and restarts the bot; every start uses the same database file."""

    def __init__(self, fake: FakeDiscord, tmp_path: Path) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.db_path = tmp_path / "qiweek.db"
        self.bot: QIWeekBot | None = None
        self._task: asyncio.Task[None] | None = None
        self.starts = 0

    def env(self, **overrides: Any) -> dict[str, str]:
        fake = self.fake
        values = {
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "QIWEEK_GUILD_ID": str(fake.guild.id),
            "QIWEEK_DB": str(self.db_path),
            "QIWEEK_PROGRAMME": str(SAMPLE_PROGRAMME),
            "QIWEEK_PROGRAMME_CHANNEL_ID": str(fake.channels["programme"]),
            "QIWEEK_ANNOUNCEMENTS_CHANNEL_ID": str(fake.channels["announcements"]),
            "QIWEEK_DIGEST_CHANNEL_ID": str(fake.channels["digest"]),
            "QIWEEK_ORGANISER_ROLE_ID": str(fake.roles["organiser"]),
        }
        values.update({k: str(v) for k, v in overrides.items()})
        return values

    def settings(self, **overrides: Any) -> Settings:
        return parse_settings(self.env(**overrides))

    async def start(
        self,
        *,
        clock: Clock = utc_now,
        before_login: Callable[[QIWeekBot], None] | None = None,
        wait_prepared: bool = True,
        **env: Any,
    ) -> QIWeekBot:
        """Log in, connect, and wait until ready (and the guild planned, by default)."""
        if self.bot is not None:
            raise RuntimeError("already running: stop() or restart() first")
        settings = self.settings(**env)
        store = Store(settings.db_path, clock=clock)
        bot = QIWeekBot(
            settings=settings,
            store=store,
            schedule=Schedule(clock=clock),
            clock=clock,
            # The fake sends every guild at once: don't wait discord.py's default 2 s for more.
            guild_ready_timeout=0.05,
        )
        if before_login is not None:
            before_login(bot)
        self.bot = bot
        await bot.login(settings.token.reveal())
        self._task = asyncio.create_task(bot.connect(reconnect=True))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=15, return_when="FIRST_COMPLETED")
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises what stopped the connection
            raise TimeoutError("the bot did not become ready within 15 s")
        if wait_prepared:
            await asyncio.wait_for(bot.wait_prepared(self.fake.guild.id), 15)
        self.starts += 1
        return bot

    async def stop(self) -> None:
        """Close the bot as SIGTERM would; the connect task must end without error."""
        bot, task = self.bot, self._task
        self.bot, self._task = None, None
        if bot is None:
            return
        await bot.close()
        if task is not None:
            await asyncio.wait_for(task, 10)

    async def restart(self, **kwargs: Any) -> QIWeekBot:
        await self.stop()
        return await self.start(**kwargs)
