"""A post interrupted on a day that is now over: its claim is closed as skipped, never left open.

A claim an earlier run made and never confirmed is resumed (with its nonce) while the send is
still useful; once its day is over it is recorded as skipped with the reason, so the ledger
never holds a "claimed" row for ever. A claim of the running process (in flight) is left alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings
from bot.delivery import Delivery, FanoutContext
from bot.delivery.keys import daily_key
from bot.programme import Event, Programme, Session
from bot.schedule import Schedule
from bot.services.audit import AuditTrail
from bot.services.digest import DigestService
from bot.services.programme import ProgrammeService
from bot.services.sources import ShareSources
from bot.store import Ledger, Store
from bot.store import programme as programme_store

GUILD = 4242
MONDAY = date(2026, 9, 14)
TUESDAY_NOON = datetime(2026, 9, 15, 11, 0, tzinfo=UTC)  # 12:00 BST


def _clock() -> datetime:
    return TUESDAY_NOON


def _programme() -> Programme:
    sessions = []
    for offset in range(3):  # Monday, Tuesday, Wednesday, 10:00 BST
        start = datetime(2026, 9, 14, 9, tzinfo=UTC) + timedelta(days=offset)
        sessions.append(
            Session(
                id=f"s{offset}", title=f"Day {offset}", start=start, end=start + timedelta(1 / 24)
            )
        )
    return Programme(event=Event(name="QI Week"), sessions=tuple(sessions))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "qiweek.db", clock=_clock) as s:
        await programme_store.replace_programme(s, GUILD, _programme(), "seed")
        yield s


async def _leave_claimed(store: Store, key: str, owner: str = "crashed-run") -> None:
    """A row as a run that died mid-send leaves it: claimed, never confirmed."""
    await store.db.execute(
        "INSERT INTO deliveries (key, guild_id, kind, status, owner, claimed_at, updated_at)"
        " VALUES (?, ?, 'daily', 'claimed', ?, '2026-09-14T07:00:00+00:00',"
        " '2026-09-14T07:00:00+00:00')",
        (key, GUILD, owner),
    )


def _delivery(ledger: Ledger) -> Delivery:
    """The delivery module without a Discord client: planning and closing never send."""
    return Delivery(None, ledger, FanoutContext())  # type: ignore[arg-type]


async def _status(ledger: Ledger, key: str) -> tuple[str, str | None] | None:
    row = await ledger.get(key)
    return None if row is None else (row.status, row.reason)


async def test_plan_daily_closes_an_interrupted_post_of_a_past_day(store: Store) -> None:
    ledger = Ledger(store)
    service = ProgrammeService(
        store=store,
        delivery=_delivery(ledger),
        settings=Settings(),
        schedule=Schedule(clock=_clock),
        clock=_clock,
        audit=AuditTrail(store),
    )
    monday = daily_key(GUILD, MONDAY)
    await _leave_claimed(store, monday)
    await _leave_claimed(store, f"{monday}:1")
    await ledger.claim(f"{monday}:2", kind="daily", guild_id=GUILD)  # this part went out ...
    await ledger.mark_sent(f"{monday}:2", 7)  # ... and stays sent

    jobs = await service.plan_daily(GUILD, TUESDAY_NOON)

    assert [job.id for job in jobs] == ["2026-09-15", "2026-09-16"]
    for key in (monday, f"{monday}:1"):
        status = await _status(ledger, key)
        assert status is not None and status[0] == "skipped", key
        assert status[1].startswith("missed: the day is over")
    assert await _status(ledger, f"{monday}:2") == ("sent", None)
    # Planning again changes nothing more.
    assert [job.id for job in await service.plan_daily(GUILD, TUESDAY_NOON)] == [
        "2026-09-15",
        "2026-09-16",
    ]


async def test_a_late_daily_job_closes_its_claim_when_the_day_is_over(store: Store) -> None:
    ledger = Ledger(store)
    service = ProgrammeService(
        store=store,
        delivery=_delivery(ledger),
        settings=Settings(),
        schedule=Schedule(clock=_clock),
        clock=_clock,
        audit=AuditTrail(store),
    )
    monday = daily_key(GUILD, MONDAY)
    await _leave_claimed(store, monday)
    await service._daily_job(GUILD, MONDAY)
    status = await _status(ledger, monday)
    assert status is not None and status[0] == "skipped"


def digest_service(store: Store, ledger: Ledger) -> DigestService:
    """A digest service on the test's store and clock; no Discord client (nothing is sent)."""

    async def programmes(guild_id: int) -> Programme | None:
        return await programme_store.read_stored_programme(store, guild_id)

    return DigestService(
        client=None,  # type: ignore[arg-type]
        store=store,
        settings=Settings(),
        delivery=_delivery(ledger),
        schedule=Schedule(clock=_clock),
        clock=_clock,
        programmes=programmes,
        audit=AuditTrail(store),
        sources=ShareSources(client=None, store=store, settings=Settings()),  # type: ignore[arg-type]
    )


async def test_digest_of_a_past_day_closes_every_claimed_part(store: Store) -> None:
    ledger = Ledger(store)
    service = digest_service(store, ledger)
    prefix = f"digest:{GUILD}:{MONDAY.isoformat()}"
    await _leave_claimed(store, f"{prefix}:1")
    await _leave_claimed(store, f"{prefix}:2")

    await service.plan(GUILD, TUESDAY_NOON)

    for key in (f"{prefix}:1", f"{prefix}:2"):
        status = await _status(ledger, key)
        assert status is not None and status[0] == "skipped", key
    # And the scheduled job of that day, run late, does not reopen anything.
    assert await service.run_daily(GUILD, MONDAY) == 0
    assert (await _status(ledger, f"{prefix}:1") or ("",))[0] == "skipped"


async def test_digest_run_late_closes_the_claim_itself(store: Store) -> None:
    ledger = Ledger(store)
    service = digest_service(store, ledger)
    key = f"digest:{GUILD}:{MONDAY.isoformat()}:1"
    await _leave_claimed(store, key)
    assert await service.run_daily(GUILD, MONDAY) == 0
    status = await _status(ledger, key)
    assert status is not None and status[0] == "skipped"
