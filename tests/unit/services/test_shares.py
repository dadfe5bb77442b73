"""ShareCollector rules that need no Discord connection: a failing share write is retried, then
reported (logged and passed to the organiser-alert hook), never lost silently."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from bot.digest import Share
from bot.services import shares as shares_module
from bot.services.shares import ShareCollector

SHARE = Share(
    guild_id=1,
    channel_id=2,
    message_id=3,
    author_id=4,
    author_name="Ann",
    content="#QIWeek hello",
    jump_url="https://discord.com/channels/1/2/3",
    attachment_count=0,
    image_url=None,
    created_at=datetime(2026, 9, 14, 9, 0, tzinfo=UTC),
    reaction_count=0,
)


def service() -> ShareCollector:
    nothing: Any = None
    digest: Any = SimpleNamespace(matcher=None, sources=None, settings=None)
    delivery: Any = SimpleNamespace(client=None)
    return ShareCollector(nothing, delivery, digest, nothing)


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shares_module, "SHARE_WRITE_RETRY_DELAYS", (0, 0))


async def test_a_share_write_that_fails_briefly_is_retried() -> None:
    attempts: list[int] = []

    async def write() -> bool:
        attempts.append(1)
        if len(attempts) < 3:
            raise sqlite3.OperationalError("database or disk is full")
        return True

    assert await service()._write_share(SHARE, write) is True
    assert len(attempts) == 3


async def test_a_share_write_that_keeps_failing_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    svc = service()
    reported: list[tuple[int, str]] = []

    async def alert(guild_id: int, kind: str, detail: str) -> None:
        assert kind == "db_write"
        reported.append((guild_id, detail))

    svc.alert = alert

    async def write() -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    with caplog.at_level(logging.ERROR), pytest.raises(sqlite3.OperationalError):
        await svc._write_share(SHARE, write)
    assert reported and reported[0][0] == 1
    assert SHARE.jump_url in reported[0][1] and "disk is full" in reported[0][1]
    assert any(SHARE.jump_url in r.getMessage() for r in caplog.records)


async def test_other_errors_are_not_retried() -> None:
    attempts: list[int] = []

    async def write() -> bool:
        attempts.append(1)
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        await service()._write_share(SHARE, write)
    assert len(attempts) == 1
