"""Shared fixtures: the fake Discord server and a harness that runs the real bot against it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from bot.sandbox import FakeDiscord
from tests.harness import BotRunner

pytest_plugins = ["tests.sandbox_plugin"]


@pytest_asyncio.fixture
async def runner(fake_discord: FakeDiscord, tmp_path: Path) -> AsyncIterator[BotRunner]:
    """Starts nothing by itself: call `await runner.start()`; stopped cleanly afterwards."""
    harness = BotRunner(fake_discord, tmp_path)
    try:
        yield harness
    finally:
        await harness.stop()
