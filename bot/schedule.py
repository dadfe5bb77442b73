"""APScheduler wiring. Jobs are derived from the store and never the source of truth.

Each feature registers a *planner*: an async function that, for one guild and the current time,
returns the jobs that should exist (daily posts, reminders, digests, announcements). `replan`
replaces that feature's jobs for the guild, so the in-memory schedule can be rebuilt from the
database at any time (start, import, setup change) without ever duplicating a send: the sends
themselves go through the delivery ledger.

Scheduler settings, chosen deliberately:
- misfire_grace_time=None: a job that runs late (event loop busy, machine suspended) still runs;
  the job itself decides whether the send is still useful (and records a skip otherwise).
- coalesce=True: a job that missed several run times runs once.
- max_instances=1: a slow fan-out is never started twice in parallel.

APScheduler waits on the real clock. Jobs are planned in the bot's (injected) clock; with a
`Timeline` (only `python -m bot rehearse` passes one) each run time is mapped onto the real
instant the compressed event time reaches it, so the features need no rehearsal code path.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from bot.clock import Clock, Timeline, utc_now

log = logging.getLogger(__name__)

JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


@dataclass(frozen=True, slots=True)
class PlannedJob:
    """One future send. `run_at` in the past means "catch up now"."""

    id: str
    run_at: datetime
    func: Callable[[], Awaitable[object]]
    description: str = ""


Planner = Callable[[int, datetime], Awaitable[list[PlannedJob]]]


class Schedule:
    """Owns the AsyncIOScheduler; start it inside the running loop (setup_hook)."""

    def __init__(
        self,
        *,
        clock: Clock = utc_now,
        scheduler: AsyncIOScheduler | None = None,
        timeline: Timeline | None = None,
    ):
        self.clock = clock
        self.timeline = timeline
        self.scheduler = scheduler or AsyncIOScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
        self._planners: dict[str, Planner] = {}
        self._lock = asyncio.Lock()
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False
        #: Told of every job that failed (the client reports database failures to organisers).
        self.on_error: Callable[[str, BaseException], Awaitable[None]] | None = None

    def register(self, name: str, planner: Planner) -> None:
        """Add a feature's planner; `name` prefixes its job ids (no ':' allowed)."""
        if ":" in name:
            raise ValueError("planner names may not contain ':'")
        self._planners[name] = planner

    def unregister(self, name: str) -> None:
        self._planners.pop(name, None)
        for job in self.scheduler.get_jobs():
            if job.id.startswith(f"{name}:"):
                job.remove()

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def start(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start()

    def shutdown(self) -> None:
        self._closed = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def aclose(self) -> None:
        """Stop firing jobs and cancel the ones running, so their ledger claims stay open.

        A send interrupted here is resumed (with the same nonce) on the next start, instead of
        failing against a closed HTTP session and being recorded as failed.
        """
        self.shutdown()
        tasks = [task for task in self._running if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def replan(self, guild_id: int, *, only: str | None = None) -> int:
        """Rebuild the jobs of every planner (or just `only`) for one guild; returns the count.

        Once the schedule is shut down nothing is planned: the bot is closing (a guild still
        being prepared must not read a store that is about to close).
        """
        if self._closed:
            return 0
        async with self._lock:
            now = self.clock()
            total = 0
            for name, planner in list(self._planners.items()):
                if only is not None and name != only:
                    continue
                try:
                    jobs = await planner(guild_id, now)
                except Exception:
                    log.exception("planner %s failed for guild %s", name, guild_id)
                    continue
                prefix = f"{name}:{guild_id}:"
                wanted = {f"{prefix}{job.id}": job for job in jobs}
                unchanged: set[str] = set()
                for existing in self.scheduler.get_jobs():
                    if not existing.id.startswith(prefix):
                        continue
                    if existing.id not in wanted:
                        existing.remove()
                    elif _same(existing, wanted[existing.id], now, self.timeline):
                        # Same call at the same time: leave it be, so a re-plan after one
                        # member's change only touches the jobs that changed.
                        unchanged.add(existing.id)
                for job_id, job in wanted.items():
                    if job_id in unchanged:
                        continue
                    # A past time means "catch up now": run it a moment from now.
                    run_at = max(job.run_at, now + timedelta(milliseconds=50))
                    if self.timeline is not None:
                        run_at = max(self.timeline.to_real(run_at), utc_now())
                    self.scheduler.add_job(
                        self._run_logged,
                        trigger=DateTrigger(run_date=run_at),
                        args=(job_id, job.func),
                        id=job_id,
                        name=job.description or job_id,
                        replace_existing=True,
                    )
                total += len(wanted)
            log.info("planned %d jobs for guild %s", total, guild_id)
            return total

    @property
    def busy(self) -> bool:
        """A job is running right now (tests wait for the schedule to be quiet)."""
        return any(not task.done() for task in self._running)

    def jobs(self, guild_id: int | None = None) -> list[tuple[str, datetime]]:
        """(id, next run) of scheduled jobs, for tests and `/organiser stats`."""
        out = []
        for job in self.scheduler.get_jobs():
            if guild_id is None or f":{guild_id}:" in job.id:
                when = job.next_run_time
                if self.timeline is not None and when is not None:
                    when = self.timeline.from_real(when)
                out.append((job.id, when))
        return sorted(out, key=lambda item: item[1])

    async def _run_logged(self, job_id: str, func: Callable[[], Awaitable[object]]) -> None:
        """Run a job, tracked so `aclose` can cancel it; log whatever goes wrong."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await func()
        except asyncio.CancelledError:
            # Stopped by `aclose` at shutdown: its ledger claims stay open and the next start
            # resumes them. Not an error, so APScheduler must not log it as one.
            log.info("scheduled job %s stopped by shutdown; it resumes at the next start", job_id)
        except Exception as exc:
            log.exception("scheduled job %s failed", job_id)
            if self.on_error is not None:
                try:
                    await self.on_error(job_id, exc)
                except Exception:
                    log.exception("reporting the failure of job %s failed", job_id)
        finally:
            if task is not None:
                self._running.discard(task)


def _same(existing: Any, job: PlannedJob, now: datetime, timeline: Any = None) -> bool:
    """Whether a scheduled job already is ``job``: the same future time (on the wall clock when
    a rehearsal's timeline maps event time) and the same call (the same bound method of the same
    service, with the same arguments)."""
    if job.run_at <= now or not existing.next_run_time:
        return False
    target = timeline.to_real(job.run_at) if timeline is not None else job.run_at
    if existing.next_run_time != target:
        return False
    old = existing.args[1] if len(existing.args) > 1 else None
    new = job.func
    if isinstance(old, functools.partial) and isinstance(new, functools.partial):
        return old.func == new.func and old.args == new.args and old.keywords == new.keywords
    return old == new
