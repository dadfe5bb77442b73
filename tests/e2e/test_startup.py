"""Start-up (issue 15): the command tree is synced only when it changed, and nothing heavy
(matplotlib, icalendar) is imported before the commands are synced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.client import discover_extensions
from bot.sandbox import FakeDiscord
from tests.harness import BotRunner

ROOT = Path(__file__).resolve().parents[2]


def command_puts(fake: FakeDiscord) -> int:
    return len([r for r in fake.requests_to("PUT", r"/commands$") if r.status == 200])


async def test_an_unchanged_tree_is_not_synced_again_and_a_changed_one_is(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start()
    assert command_puts(fake_discord) == 1
    await runner.restart()
    assert command_puts(fake_discord) == 1  # same tree: no second PUT
    names = {c["name"] for c in fake_discord.requests_to("PUT", r"/commands$")[-1].json}
    assert "programme" in names

    # A different tree (here: without /help) is synced at once...
    fewer = [name for name in discover_extensions() if name != "cogs.help"]
    await runner.restart(extensions=fewer)
    assert command_puts(fake_discord) == 2
    # ...and so is the full one again afterwards.
    await runner.restart()
    assert command_puts(fake_discord) == 3
    full = {c["name"] for c in fake_discord.requests_to("PUT", r"/commands$")[-1].json}
    assert full == names


async def test_a_failed_sync_is_retried_at_the_next_start(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start()
    fewer = [name for name in discover_extensions() if name != "cogs.help"]
    fake_discord.inject("PUT", r"/commands$", 400, code=50035, message="Invalid Form Body")
    with pytest.raises(Exception):  # noqa: B017  (the start fails: the sync was refused)
        await runner.restart(extensions=fewer)
    await runner.stop()
    assert command_puts(fake_discord) == 1
    await runner.start(extensions=fewer)
    assert command_puts(fake_discord) == 2  # the refused tree is synced at the next start


def test_heavy_libraries_are_not_imported_at_start() -> None:
    code = (
        "import importlib, sys\n"
        "from bot.client import QIWeekBot, discover_extensions\n"
        "for name in discover_extensions():\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('matplotlib', 'icalendar') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
