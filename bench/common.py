"""Shared harness of the floor benches: the sandbox with the bench's data, and one subject (the
project bot or the bare bot) in its own process against it.

The sandbox (`bot.sandbox.FakeDiscord`) runs in the bench's process; the subject runs in a
child (`bench/subject.py`), so its timings are not mixed with the sandbox's work, its peak
memory is its own, and its start-up includes its imports. Both subjects get the same data: 500
sessions over five days from today, and 10,000 members.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.programme_bench import build_programme  # noqa: E402
from bot import ids  # noqa: E402
from bot.sandbox import FakeDiscord  # noqa: E402
from tests.harness import BotRunner  # noqa: E402

LONDON = ZoneInfo("Europe/London")
MEMBERS = 10_000
SUBJECTS = ("project", "bare")


def member(n: int) -> str:
    return f"m{n % MEMBERS:05d}"


class BenchFake(FakeDiscord):
    """The sandbox, noting when it sent READY (the daily catch-up is timed from it)."""

    ready_at: float | None = None

    async def dispatch(self, event: str, data: dict[str, Any]) -> bool:
        if event == "READY":
            self.ready_at = time.monotonic()
        return await super().dispatch(event, data)


async def sandbox(tmp: Path) -> tuple[BenchFake, dict[str, str], list[str]]:
    """A started sandbox with 10,000 members, the 500-session programme file (first day today,
    daily post at 00:00, so today's post is due at start) and the subject's environment."""
    fake = BenchFake()
    for n in range(MEMBERS):
        fake.add_user(member(n))
    await fake.start()
    today = datetime.now(UTC).astimezone(LONDON).date()
    path = tmp / "programme-500.yaml"
    days = [d.isoformat() for d in build_programme(path, today)]
    env = BotRunner(fake, tmp).env(QIWEEK_PROGRAMME=path, QIWEEK_DAILY_POST_TIME="00:00")
    return fake, env, days


def button_message(fake: FakeDiscord, session_ids: list[str]) -> dict[str, Any]:
    """A bot message with "I'm interested" buttons (as under a session), for members to press."""
    rows = [
        {
            "type": 1,
            "components": [
                {
                    "type": 2,
                    "style": 1,
                    "label": "I'm interested",
                    "custom_id": ids.interest_button_id(sid),
                }
            ],
        }
        for sid in session_ids
    ]
    payload = {"content": "Sessions", "components": rows}
    return fake._new_message(fake.channels["programme"], payload, [], fake.bot_user)


async def autocomplete(fake: FakeDiscord, user: str, query: str) -> Any:
    """Send `/session` autocomplete without waiting for the answer (for bursts)."""
    who = fake.user(user)
    where = fake._channel_for(None)
    payload = fake._base_interaction(4, who, where, "en-GB")
    payload["data"] = fake._command_data("session", {"session": query}, "session")
    return await fake._send_interaction(payload, who, where)


class Subject:
    """One subject process: start, watch its stdout, stop with SIGTERM as a host would."""

    def __init__(self, kind: str, env: dict[str, str], profile: Path | None = None) -> None:
        self.kind = kind
        self.env = dict(os.environ) | env
        if profile is not None:
            self.env["BENCH_PROFILE"] = str(profile)
        self.proc: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0
        self.ready_at: float | None = None
        self.messages_at: float | None = None
        self.maxrss_kb: int | None = None
        self._peak: asyncio.Queue[int] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._messages = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    async def start(self, *, expect_messages: int = 0) -> None:
        self.env["BENCH_MESSAGES"] = str(expect_messages)
        self.spawned_at = time.monotonic()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(ROOT / "bench" / "subject.py"),
            self.kind,
            env=self.env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._reader}, timeout=60, return_when="FIRST_COMPLETED"
        )
        if ready not in done:
            ready.cancel()
            raise RuntimeError(f"{self.kind} did not become ready")

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            word, *rest = raw.decode().split()
            if word == "READY":
                self.ready_at = float(rest[0])
                self._ready.set()
            elif word == "MESSAGES":
                self.messages_at = float(rest[1])
                self._messages.set()
            elif word == "PEAK":
                self._peak.put_nowait(int(rest[0]))
            elif word == "MAXRSS":
                self.maxrss_kb = int(rest[0])

    async def wait_messages(self, within: float) -> float:
        await asyncio.wait_for(self._messages.wait(), within)
        assert self.messages_at is not None
        return self.messages_at

    def cpu_seconds(self) -> float:
        """CPU time the subject's process has used so far (all its threads), from /proc."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def peak_kb(self) -> int:
        """The subject's peak resident memory so far (VmHWM, kB)."""
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(b"peak\n")
        await self.proc.stdin.drain()
        return await asyncio.wait_for(self._peak.get(), 60)

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.stdin is not None and self.proc.returncode is None:
            self.proc.stdin.write(b"stop\n")  # as SIGTERM would (see subject.py: why not it)
            await self.proc.stdin.drain()
        for n in range(12):
            if self.proc.returncode is not None:
                break
            if n:
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                continue
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        self.proc = None


def count_shares(db: Path) -> list[int]:
    """Message ids of the stored shares (read-only; the bot may be writing)."""
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return [row[0] for row in con.execute("SELECT message_id FROM shares")]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


@contextmanager
def harness_gc_paused() -> Iterator[None]:
    """The bench's own garbage collector off while it times answers (as `timeit` does).

    The sandbox runs in the bench's process and keeps everything it was sent (10,000 members,
    every message and request): a collection there paused the bench for up to 2 ms (the
    youngest generations) or 125 ms (all), and whichever subject's answer was in flight then
    was timed that much late, which decided p99s. The subjects' own collections still count.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


async def settle(fake: FakeDiscord, quiet: float = 0.5, limit: float = 30.0) -> None:
    """Wait until the subject has made no request for `quiet` seconds (set-up only)."""
    deadline = time.monotonic() + limit
    seen = -1
    while time.monotonic() < deadline:
        if len(fake.requests) == seen:
            return
        seen = len(fake.requests)
        await asyncio.sleep(quiet)


def ms_stats(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    p99 = statistics.quantiles(ms, n=100)[98] if len(ms) > 1 else ms[0]
    return {"median": statistics.median(ms), "p99": p99, "max": ms[-1], "n": len(ms)}


def table(rows: list[tuple[str, ...]]) -> str:
    """Plain aligned columns (first row is the header)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def today_plus(days: int) -> str:
    return (datetime.now(UTC).astimezone(LONDON).date() + timedelta(days=days)).isoformat()
