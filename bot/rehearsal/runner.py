"""The rehearsal's moving parts: the bot as a child process, the sandbox, the week's clock.

The bot runs as ``python -m bot run`` in a temporary directory (its own fresh database, no
``.env``), pointed at the sandbox by ``DISCORD_API_BASE``/``DISCORD_GATEWAY_URL`` and given the
compressed event time through the internal ``QIWEEK_REHEARSAL_CLOCK``. A real process, so
``--chaos`` can ``kill -9`` it and start it again on the same database, as a crash would.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from bot.clock import REHEARSAL_CLOCK_ENV, Timeline
from bot.rehearsal.actors import Actors
from bot.rehearsal.chaos import Chaos, FaultEvent
from bot.rehearsal.plan import Action, Week
from bot.sandbox import FakeDiscord

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
#: Real seconds between two looks at the clock (actions due, progress, the bot alive).
TICK = 0.05
#: Real seconds of silence (no request to the sandbox) that mean the bot has finished.
QUIET = 2.0
#: At most this many real seconds of waiting for the bot to finish after the week ends.
DRAIN_MAX = 45.0
#: Member actions in flight at once (people act in parallel, the bot answers each).
CONCURRENT_ACTIONS = 8


class BotProcess:
    """``python -m bot run`` against the sandbox; its output goes to ``log_file``."""

    def __init__(self, env: dict[str, str], cwd: Path, log_file: IO[bytes]) -> None:
        self.env = env
        self.cwd = cwd
        self.log_file = log_file
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.unexpected_exits: list[int] = []

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=self.env,
            cwd=self.cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=self.log_file,
        )
        self.starts += 1

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> None:
        """kill -9, as a crash or an OOM killer would."""
        if self.proc is not None and self.alive:
            self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()

    async def stop(self) -> int | None:
        """SIGTERM (a clean stop), then SIGKILL if it does not exit within 20 s."""
        if self.proc is None:
            return None
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                await self.kill()
        return self.proc.returncode


def bot_environment(
    fake: FakeDiscord, db: Path, programme: Path, settings: Any, timeline: Timeline
) -> dict[str, str]:
    """The bot process's environment: the machine's, minus any QIWEEK_/DISCORD_ setting, plus
    the sandbox's endpoints, the rehearsal's database and programme, and the event clock."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QIWEEK_", "DISCORD_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(
        {
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "DISCORD_GATEWAY_URL": fake.gateway_url,
            "QIWEEK_GUILD_ID": str(fake.guild.id),
            "QIWEEK_DB": str(db),
            "QIWEEK_PROGRAMME": str(programme),
            "QIWEEK_TIMEZONE": settings.timezone,
            "QIWEEK_PROGRAMME_CHANNEL_ID": str(fake.channels["programme"]),
            "QIWEEK_ANNOUNCEMENTS_CHANNEL_ID": str(fake.channels["announcements"]),
            "QIWEEK_DIGEST_CHANNEL_ID": str(fake.channels["digest"]),
            "QIWEEK_ORGANISER_ROLE_ID": str(fake.roles["organiser"]),
            "QIWEEK_DAILY_POST_TIME": settings.daily_post_time.strftime("%H:%M"),
            "QIWEEK_DIGEST_TIME": settings.digest_time.strftime("%H:%M"),
            "QIWEEK_REMINDER_LEADS": ",".join(str(n) for n in settings.reminder_leads),
            "QIWEEK_HASHTAGS": ",".join(settings.hashtags),
            REHEARSAL_CLOCK_ENV: timeline.encode(),
        }
    )
    return env


class Conductor:
    """Plays the week: the script's actions and the chaos at their event times, restarts after
    kills, and a progress callback each tick; returns when the week is over and the bot idle."""

    def __init__(
        self,
        fake: FakeDiscord,
        bot: BotProcess,
        week: Week,
        timeline: Timeline,
        actors: Actors,
        script: list[Action],
        faults: list[FaultEvent],
        chaos: Chaos | None,
        progress: Callable[[], None],
    ) -> None:
        self.fake = fake
        self.bot = bot
        self.week = week
        self.timeline = timeline
        self.actors = actors
        self.script = list(script)
        self.faults = list(faults)
        self.chaos = chaos
        self.progress = progress
        self.warnings: list[str] = []
        self.kills = 0
        self.up = asyncio.Event()
        self._limit = asyncio.Semaphore(CONCURRENT_ACTIONS)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start_bot(self) -> None:
        """Start the bot and wait until it has identified on the gateway (commands synced)."""
        self.up.clear()
        identified = self.fake.identifies
        await self.bot.start()
        deadline = time.monotonic() + 60
        while self.fake.identifies == identified or not self.fake.synced_commands():
            if not self.bot.alive:
                raise RuntimeError(f"the bot exited at start (code {self.bot.proc.returncode})")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                raise RuntimeError("the bot did not connect to the sandbox within 60 s")
            await asyncio.sleep(TICK)
        self.up.set()

    async def kill_and_restart(self) -> None:
        self.kills += 1
        self.up.clear()
        await self.bot.kill()
        await self.start_bot()

    async def run(self) -> None:
        while self.timeline() < self.week.end:
            now = self.timeline()
            while self.script and self.script[0].at <= now:
                self._spawn(self._play(self.script.pop(0)))
            while self.faults and self.faults[0].at <= now:
                await self._inject(self.faults.pop(0))
            if not self.bot.alive and self.up.is_set():
                code = self.bot.proc.returncode if self.bot.proc else None
                self.warnings.append(f"the bot exited by itself (code {code}); restarted")
                await self.start_bot()
            self.progress()
            await asyncio.sleep(TICK)
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.drain()

    async def drain(self) -> None:
        """Wait until the sandbox has heard nothing from the bot for `QUIET` seconds."""
        deadline = time.monotonic() + DRAIN_MAX
        seen, last_change = len(self.fake.requests), time.monotonic()
        while time.monotonic() < deadline:
            self.progress()
            await asyncio.sleep(TICK)
            if len(self.fake.requests) != seen:
                seen, last_change = len(self.fake.requests), time.monotonic()
            elif time.monotonic() - last_change >= QUIET:
                return
        self.warnings.append(f"the bot was still busy {DRAIN_MAX:.0f} s after the week ended")

    async def _inject(self, event: FaultEvent) -> None:
        if event.kind == "kill":
            if self.chaos is not None:
                self.chaos.injected["kill"] += 1
            await self.kill_and_restart()
        elif self.chaos is not None:
            self.chaos.apply(event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _play(self, action: Action) -> None:
        async with self._limit:
            await self.up.wait()
            try:
                await self.actors.play(action)
            except Exception as exc:  # a member's action failing is a finding, not a crash
                log.debug("action %s failed", action, exc_info=True)
                self.warnings.append(f"{action.who} {action.kind}: {exc}")
