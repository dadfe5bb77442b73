"""One bench subject in its own process: the project bot or the bare bot, against a sandbox
whose addresses come in the environment (the variables of `tests.harness.BotRunner.env`).

    python bench/subject.py project|bare

Talks to the bench on stdout, one line each: `READY <monotonic>` once the client is ready,
`MESSAGES <n> <monotonic>` (bare only) when it has dispatched BENCH_MESSAGES messages, and at
exit `MAXRSS <kB>` (peak resident memory, VmHWM, of this process: the subject alone, the
sandbox is elsewhere).
`stop` on stdin (or SIGTERM, or stdin closed) closes the client cleanly, as the real bot does
on SIGTERM; `peak` on stdin prints `PEAK <kB>` (the peak so far). BENCH_PROFILE=<file> runs
the whole process under cProfile and writes the stats there.
"""

from __future__ import annotations

import asyncio
import cProfile
import logging
import os
import resource
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import discord  # noqa: E402

from bot.client import QIWeekBot  # noqa: E402
from bot.config import parse_settings  # noqa: E402
from bot.schedule import Schedule  # noqa: E402
from bot.store import Store  # noqa: E402


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def peak_kb() -> int:
    """Peak resident memory of this process in kB: VmHWM where /proc exists.

    Not ru_maxrss on Linux: it survives execve, so a child spawned by a bench that has grown
    reports the bench's peak, not its own.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def build(kind: str) -> discord.Client:
    settings = parse_settings(dict(os.environ))
    if kind == "project":
        return QIWeekBot(
            settings=settings,
            store=Store(settings.db_path),
            schedule=Schedule(),
            guild_ready_timeout=0.05,
        )
    from bench.bare import BareBot

    expected = int(os.environ.get("BENCH_MESSAGES", "0"))

    def counted(n: int) -> None:
        if n == expected:
            say(f"MESSAGES {n} {time.monotonic()}")

    discord.http.Route.BASE = settings.api_base
    import yarl

    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
    return BareBot(settings.guild_id or 0, on_count=counted, guild_ready_timeout=0.05)


async def read_commands(stop: asyncio.Event) -> None:
    """`peak` and `stop` on stdin. Not signals: when the loop is swamped, its self-pipe fills
    (every aiosqlite result writes a byte to it) and asyncio loses the signal."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"peak":
            say(f"PEAK {peak_kb()}")
        elif line.strip() == b"stop":
            break
    stop.set()


async def run(kind: str) -> None:
    client = build(kind)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    commands = asyncio.create_task(read_commands(stop))
    await client.login(os.environ["DISCORD_TOKEN"])
    task = asyncio.create_task(client.connect(reconnect=True))

    async def ready() -> None:
        await client.wait_until_ready()
        say(f"READY {time.monotonic()}")

    announce = asyncio.create_task(ready())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    announce.cancel()
    commands.cancel()
    await client.close()
    await asyncio.wait_for(task, 10)


def main() -> None:
    kind = sys.argv[1]
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("discord.gateway").setLevel(logging.ERROR)
    trace_to = os.environ.get("BENCH_TRACE")
    if trace_to:
        from bench import trace

        trace.install(trace_to)
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_to else None
    if profiler is not None:
        profiler.enable()
    try:
        asyncio.run(run(kind))
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_to)
        if trace_to:
            trace.dump(trace_to)
        say(f"MAXRSS {peak_kb()}")


if __name__ == "__main__":
    main()
