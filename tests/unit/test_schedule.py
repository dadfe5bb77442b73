"""The schedule is rebuilt from planners; past times are caught up; replans never duplicate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from bot.schedule import PlannedJob, Schedule


@pytest.fixture
async def schedule():
    s = Schedule()
    s.start()
    yield s
    s.shutdown()


async def test_jobs_run_at_their_time_and_past_ones_catch_up(schedule: Schedule) -> None:
    ran: list[str] = []
    done = asyncio.Event()

    def job(name: str):
        async def run() -> None:
            ran.append(name)
            if len(ran) == 2:
                done.set()

        return run

    async def planner(guild_id: int, now: datetime) -> list[PlannedJob]:
        return [
            PlannedJob("soon", now + timedelta(seconds=0.3), job("soon")),
            PlannedJob("missed", now - timedelta(hours=1), job("missed")),
        ]

    schedule.register("test", planner)
    assert await schedule.replan(7) == 2
    await asyncio.wait_for(done.wait(), 5)
    assert ran == ["missed", "soon"]


async def test_replan_replaces_and_removes(schedule: Schedule) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    wanted = ["a", "b"]

    async def planner(guild_id: int, now: datetime) -> list[PlannedJob]:
        async def noop() -> None:
            return None

        return [PlannedJob(name, later, noop) for name in wanted]

    schedule.register("feat", planner)
    await schedule.replan(1)
    await schedule.replan(1)
    assert [j for j, _ in schedule.jobs(1)] == ["feat:1:a", "feat:1:b"]
    wanted[:] = ["b"]
    await schedule.replan(1)
    assert [j for j, _ in schedule.jobs(1)] == ["feat:1:b"]
    assert schedule.jobs(2) == []


async def test_a_failing_planner_does_not_stop_others(schedule: Schedule) -> None:
    async def broken(guild_id: int, now: datetime) -> list[PlannedJob]:
        raise RuntimeError("bad planner")

    async def fine(guild_id: int, now: datetime) -> list[PlannedJob]:
        async def noop() -> None:
            return None

        return [PlannedJob("x", now + timedelta(hours=1), noop)]

    schedule.register("broken", broken)
    schedule.register("fine", fine)
    assert await schedule.replan(3) == 1


def test_planner_names_cannot_hold_colons() -> None:
    with pytest.raises(ValueError):
        Schedule().register("a:b", None)  # type: ignore[arg-type]


async def test_a_replan_leaves_unchanged_jobs_alone(schedule: Schedule) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    times = {"a": later, "b": later}

    class Service:
        async def run(self, name: str) -> None:
            return None

    service = Service()

    async def planner(guild_id: int, now: datetime) -> list[PlannedJob]:
        return [PlannedJob(n, at, partial(service.run, n)) for n, at in times.items()]

    schedule.register("feat", planner)
    await schedule.replan(1)
    before = {job.id: job for job in schedule.scheduler.get_jobs()}
    added: list[str] = []
    original = schedule.scheduler.add_job

    def spy(*args: object, **kwargs: object) -> object:
        added.append(str(kwargs["id"]))
        return original(*args, **kwargs)

    schedule.scheduler.add_job = spy  # type: ignore[method-assign]
    times["b"] = later + timedelta(minutes=5)
    await schedule.replan(1)
    assert added == ["feat:1:b"]  # only the job whose time changed was touched
    assert schedule.scheduler.get_job("feat:1:a") is not None
    assert dict(schedule.jobs(1))["feat:1:b"] == times["b"]
    # Another service instance (a reloaded cog) is a different call: re-added.
    service = Service()
    await schedule.replan(1)
    assert added == ["feat:1:b", "feat:1:a", "feat:1:b"]
    assert set(before) == {"feat:1:a", "feat:1:b"}


async def test_with_a_timeline_jobs_run_when_compressed_event_time_reaches_them() -> None:
    import time

    from bot.clock import Timeline

    event_start = datetime(2026, 9, 14, 7, 0, tzinfo=UTC)
    # One event hour per real second.
    points = [(0.0, event_start), (10.0, event_start + timedelta(hours=10))]
    line = Timeline(time.time(), points, now=time.time)
    schedule = Schedule(clock=line, timeline=line)
    schedule.start()
    ran: list[datetime] = []
    done = asyncio.Event()

    async def post() -> None:
        ran.append(line())
        done.set()

    eight = event_start + timedelta(hours=1)

    async def planner(guild_id: int, now: datetime) -> list[PlannedJob]:
        return [PlannedJob("daily", eight, post)]

    schedule.register("feat", planner)
    try:
        await schedule.replan(1)
        [(_, planned)] = schedule.jobs(1)
        assert abs((planned - eight).total_seconds()) < 1  # reported in event time
        await asyncio.wait_for(done.wait(), 5)  # one real second, not one hour
        assert eight <= ran[0] < eight + timedelta(minutes=5)
    finally:
        schedule.shutdown()
