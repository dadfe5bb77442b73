"""Pytest fixtures for the fake Discord server (register with ``pytest_plugins``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import discord
import pytest
import pytest_asyncio
import yarl

from bot.sandbox import FakeDiscord


@pytest_asyncio.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    """A started :class:`FakeDiscord`; stopped (and checked for unknown routes) afterwards."""
    fake = FakeDiscord(heartbeat_interval_ms=41250)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
    assert not fake.unknown_routes, (
        f"bot called routes the fake does not know: {fake.unknown_routes}"
    )


@pytest.fixture
def discord_endpoints(fake_discord: FakeDiscord) -> Iterator[FakeDiscord]:
    """Point discord.py's REST base and gateway URL at the fake; restore afterwards."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake_discord.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake_discord.gateway_url)
    try:
        yield fake_discord
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@asynccontextmanager
async def connected(fake: FakeDiscord, client: discord.Client) -> AsyncIterator[discord.Client]:
    """Log `client` in to the fake, connect it to the gateway and wait until ready; close after.

    Point discord.py at the fake first (the `discord_endpoints` fixture does).
    """
    task: asyncio.Task[None] | None = None
    try:
        await client.login(fake.token)
        task = asyncio.create_task(client.connect(reconnect=True))
        await asyncio.wait_for(client.wait_until_ready(), 5)
        yield client
    finally:
        await client.close()
        if task is not None:
            await asyncio.wait_for(task, 5)
