"""Organiser alerts: stored, logged, posted at most once an hour per kind, never pinging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.config import parse_settings
from bot.services.alerts import AlertsService, alert_message
from bot.store import Ledger, Store
from bot.store.guild_settings import update_config

GUILD = 1001


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Channel:
    """Stands in for the organiser channel: records what would be posted."""

    def __init__(self, channel_id: int) -> None:
        self.id = channel_id
        self.sent: list[dict[str, Any]] = []

    async def send(self, content: str, **kwargs: Any) -> Any:
        self.sent.append({"content": content, **kwargs})
        return discord.Object(id=len(self.sent))


class Client:
    def __init__(self) -> None:
        self.channels: dict[int, Channel] = {}

    def get_partial_messageable(self, channel_id: int, **_: Any) -> Channel:
        return self.channels.setdefault(channel_id, Channel(channel_id))


@pytest.fixture
async def store(tmp_path: Path):
    clock = Clock()
    async with Store(tmp_path / "alerts.db", clock=clock) as s:
        yield s


def service(store: Store, client: Client, **env: str) -> AlertsService:
    settings = parse_settings({"DISCORD_TOKEN": "x", **env})
    return AlertsService(
        client=client,  # type: ignore[arg-type]
        store=store,
        ledger=Ledger(store),
        settings=settings,
        clock=store.clock,
    )


async def test_without_a_channel_alerts_are_logged_and_kept(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client()
    alerts = service(store, client)
    alert = await alerts.raise_(GUILD, "db_write", "disk full")
    assert not alert.posted and client.channels == {}
    assert "disk full" in caplog.text
    [latest] = await alerts.latest(GUILD)
    assert (latest.kind, latest.text, latest.posted) == ("db_write", "disk full", False)


async def test_each_kind_is_posted_at_most_once_an_hour(store: Store) -> None:
    client = Client()
    alerts = service(store, client, QIWEEK_ORGANISER_CHANNEL_ID="555")
    clock: Clock = store.clock  # type: ignore[assignment]
    assert (await alerts.raise_(GUILD, "dm_restricted", "40003")).posted
    assert not (await alerts.raise_(GUILD, "dm_restricted", "again")).posted
    assert (await alerts.raise_(GUILD, "fanout_late", "late")).posted  # another kind
    clock.now += timedelta(minutes=61)
    assert (await alerts.raise_(GUILD, "dm_restricted", "an hour later")).posted
    sent = client.channels[555].sent
    assert [m["content"] for m in sent] == [
        alert_message("dm_restricted", "40003"),
        alert_message("fanout_late", "late"),
        alert_message("dm_restricted", "an hour later"),
    ]
    assert all(m["allowed_mentions"].to_dict() == {"parse": []} for m in sent)
    assert await Ledger(store).counts(GUILD, "alert") == {"sent": 3}
    assert len(await alerts.latest(GUILD, 10)) == 4


async def test_the_setup_channel_wins_over_the_environment(store: Store) -> None:
    client = Client()
    alerts = service(store, client, QIWEEK_ORGANISER_CHANNEL_ID="555")
    await update_config(store, GUILD, organiser_channel_id=777)
    await alerts.raise_(GUILD, "programme_file", "row 3: no start")
    assert 555 not in client.channels and len(client.channels[777].sent) == 1
