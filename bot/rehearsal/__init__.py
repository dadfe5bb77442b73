"""`python -m bot rehearse`: the whole event week in a few minutes, without Discord.

The real bot (``python -m bot run``, a child process with a fresh temporary database) runs
against the project's wire-level Discord stand-in (`bot.sandbox`) on 127.0.0.1, while simulated
members and an organiser use it, and the week is played with time compressed.

Time compression: the bot's clock is injected (`bot.clock`), so the rehearsal hands the bot a
`bot.clock.Timeline` (through the internal ``QIWEEK_REHEARSAL_CLOCK`` variable) instead of the
real clock. Every feature reads event time from it as it reads real time in production, and the
scheduler maps each job's event time onto the real instant the compressed clock reaches it
(APScheduler itself waits on real time). No feature has a rehearsal code path. The timeline is
piecewise-linear, planned from the programme (`plan.build_timeline`): nights and gaps run fast,
the minutes around each daily post, reminder, digest, import and announcement slowly, so that
Discord's real rates (the bot paces DMs at 45 requests/s; discord.py backs off on 429s and 5xx
in real seconds) still fit in plausible event time. The sandbox stamps messages and snowflakes
with the same event time, so the digest's "shares of the day" and the transcript's times are
event-local.

Outputs (in ``--out``): ``transcript.html`` (`transcript`), ``summary.json`` (`summary`), and
``bot.log`` (the bot process's log). Exit 0 when the sandbox saw no duplicate and every expected
send was made or skipped with a reason; 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import Settings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FINDINGS = 1
#: Real seconds between starting the bot and the start of the event week (its start-up time).
LEAD_IN = 4.0


@dataclass(frozen=True)
class Options:
    """The command line's choices."""

    programme: Path | None = None
    minutes: float = 5.0
    members: int = 200
    out: Path = Path("rehearsal")
    seed: int = 2026
    chaos: bool = False


def rehearse(settings: Settings, options: Options) -> int:
    """Run a rehearsal; print progress and a summary table; write the outputs; exit code."""
    from bot.rehearsal.report import Reporter

    reporter = Reporter()
    began = time.monotonic()
    try:
        world = _World.build(settings, options)
        options.out.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.TemporaryDirectory(prefix="qiweek-rehearsal-") as scratch,
            open(options.out / "bot.log", "wb") as bot_log,
        ):
            summary = asyncio.run(world.play(Path(scratch) / "qiweek.db", bot_log, reporter))
    except RehearsalError as exc:
        reporter.error(str(exc))
        return EXIT_FINDINGS
    summary["wall_seconds"] = round(time.monotonic() - began, 1)
    (options.out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (options.out / "transcript.html").write_text(world.transcript, encoding="utf-8")
    reporter.table(summary, options.out)
    failed = summary["duplicates"] or summary["failed_sends"]
    return EXIT_FINDINGS if failed else EXIT_OK


class RehearsalError(Exception):
    """The rehearsal could not run (a bad programme, the bot not starting)."""


class _World:
    """Everything decided before the week starts, then played by `play`."""

    def __init__(self, settings: Settings, options: Options, programme: Any, path: Path) -> None:
        from bot.programme import resolve_tz
        from bot.rehearsal import plan
        from bot.rehearsal.chaos import plan_faults

        self.settings = settings
        self.options = options
        self.path = path
        self.programme = programme
        self.tz = resolve_tz(settings.timezone)
        self.week = plan.Week(
            programme,
            self.tz,
            settings.daily_post_time,
            settings.digest_time,
            settings.reminder_leads,
        )
        self.rng = random.Random(options.seed)
        self.members = plan.make_members(options.members, self.rng)
        self.moved, self.removed = plan.pick_changes(self.week, self.rng)
        self.script = plan.build_script(
            self.week, self.members, (self.moved, self.removed), self.rng
        )
        self.final = plan.changed_programme(programme, self.moved, self.removed)
        chaos_rng = random.Random(options.seed + 1)
        self.faults = plan_faults(self.week, self.members, chaos_rng) if options.chaos else []
        self.transcript = ""

    @classmethod
    def build(cls, settings: Settings, options: Options) -> _World:
        from bot.programme import ProgrammeError, load_programme

        path = (options.programme or settings.programme_path).resolve()
        try:
            programme = load_programme(path, settings.timezone)
        except ProgrammeError as exc:
            raise RehearsalError(f"the programme cannot be rehearsed: {exc}") from None
        if len(programme.sessions) < 2:
            raise RehearsalError(f"{path}: a rehearsal needs at least two sessions")
        return cls(settings, options, programme, path)

    async def play(self, db: Path, bot_log: Any, reporter: Any) -> dict[str, Any]:
        """Start the sandbox and the bot, play the week, stop; the summary (and transcript)."""
        from bot.rehearsal import plan
        from bot.rehearsal.actors import Actors
        from bot.rehearsal.chaos import Chaos
        from bot.rehearsal.runner import BotProcess, Conductor, bot_environment
        from bot.rehearsal.summary import summarise
        from bot.rehearsal.transcript import render_transcript
        from bot.sandbox import FakeDiscord

        week = self.week
        timeline = plan.build_timeline(
            week, self.options.minutes, time.time() + LEAD_IN, now=time.time
        )
        fake = FakeDiscord(clock=timeline)
        for member in self.members:
            fake.add_user(member.name, global_name=member.display)
            if member.dms_closed:
                fake.close_dms(member.name)
        chaos = Chaos(fake) if self.options.chaos else None
        changed = ("programme-v2.yaml", plan.programme_yaml(self.final, self.tz))
        actors = Actors(fake, self.rng, changed)
        await fake.start()
        env = bot_environment(fake, db, self.path, self.settings, timeline)
        bot = BotProcess(env, db.parent, bot_log)
        ticker = reporter.ticker(fake, week, timeline)
        conductor = Conductor(
            fake, bot, week, timeline, actors, self.script, self.faults, chaos, ticker
        )
        try:
            with reporter.progress():
                try:
                    await conductor.start_bot()
                except RuntimeError as exc:
                    raise RehearsalError(f"{exc} (see {self.options.out / 'bot.log'})") from None
                await conductor.run()
        finally:
            code = await bot.stop()
            if chaos is not None:
                await chaos.aclose()
            await fake.stop()
        rows, alerts = await _ledger_rows(db)
        summary = summarise(
            fake,
            rows,
            week,
            self.final,
            members=len(self.members),
            announcements=actors.done.get("announce", 0),
            events_max=self.settings.events_max,
            alerts=alerts,
        )
        from bot.programme import programme_warnings

        warnings = [f"{self.path.name}: {w}" for w in programme_warnings(self.programme, self.tz)]
        warnings += conductor.warnings
        if code not in (0, None):
            warnings.append(f"the bot exited with code {code} when stopped")
        warnings += [f"skipped {n}x {reason}" for reason, n in summary["skipped"].items()]
        warnings += summary["lookalikes"]
        summary["warnings"] = warnings
        summary["event"] = {
            "from": week.start.astimezone(self.tz).isoformat(timespec="minutes"),
            "to": week.end.astimezone(self.tz).isoformat(timespec="minutes"),
            "changed": {"moved": self.moved, "removed": self.removed},
            "bot_starts": bot.starts,
            "seed": self.options.seed,
        }
        if chaos is not None:
            summary["faults"] = chaos.faults() | {"kill": conductor.kills}
        title = f"{self.programme.event.name}: rehearsal transcript"
        self.transcript = render_transcript(fake, self.tz, title)
        return summary


async def _ledger_rows(db: Path) -> tuple[list[Any], dict[str, int]]:
    """Every delivery-ledger row of the bot's database, and its organiser alerts by kind;
    read-only."""
    from bot.rehearsal.summary import Row
    from bot.store import Store, StoreError

    try:
        async with Store(db, read_only=True) as store:
            rows = [
                Row(*row)
                for row in await store.fetch_all(
                    "SELECT key, kind, status, message_id, reason FROM deliveries ORDER BY key"
                )
            ]
            counts = await store.fetch_all("SELECT kind, COUNT(*) FROM alerts GROUP BY kind")
            return rows, {kind: n for kind, n in counts}
    except StoreError:  # the bot never created it
        return [], {}
