"""Once, even after Discord forgets the nonce (issue 10): the bot process is killed (SIGKILL)
while the fake holds the answer to a message it has already created; restarted with the fake's
nonce dedupe off (as Discord after a few minutes), it finds its own message in the channel's
history and records it as sent instead of posting again."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

from bot.sandbox import FakeDiscord
from tests.harness import (
    ROOT,
    BotRunner,
    is_reminder_post,
    now,
    reminder_posts,
    text_of,
    write_programme,
)


def process_env(runner: BotRunner, **extra: object) -> dict[str, str]:
    """The machine's environment without QIWEEK_/DISCORD_ settings, plus the bot's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QIWEEK_", "DISCORD_"))}
    env.update(runner.env(**extra))
    return env


async def start_process(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


def reminder_rows(db_path: Path) -> list[tuple[str, int | None]]:
    """The reminder's ledger rows, read from the bot's database file (WAL: safe while it runs)."""
    with sqlite3.connect(db_path) as db:
        return db.execute(
            "SELECT status, message_id FROM deliveries WHERE key LIKE 'reminder:%'"
        ).fetchall()


def posts(fake: FakeDiscord) -> list[dict[str, object]]:
    return [m for m in reminder_posts(fake) if "Safety huddle" in text_of(m)]


async def test_killed_mid_send_then_restarted_without_nonce_dedupe_posts_once(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    runner = BotRunner(fake, tmp_path)
    start = now() + timedelta(seconds=60 + 6)
    path = write_programme(
        tmp_path / "p.yaml", [{"id": "huddle", "title": "Safety huddle", "start": start}]
    )
    env = process_env(runner, QIWEEK_PROGRAMME=path, QIWEEK_REMINDER_LEADS=1)
    hold = fake.hold_after_create(
        rf"^/channels/{fake.channels['programme']}/messages$", matching=is_reminder_post
    )
    first = await start_process(env, ROOT)
    try:
        await fake.wait_for(lambda: hold.held, timeout=30, message="the reminder to be created")
        first.kill()  # SIGKILL: no clean-up, the claim stays open
        await first.wait()
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert len(posts(fake)) == 1

    fake.nonce_window = 0  # Discord has forgotten the nonce: a resend would post again
    second = await start_process(env, ROOT)
    try:
        await fake.wait_connected(timeout=30)

        def settled() -> bool:
            return reminder_rows(runner.db_path)[0][0] != "claimed"

        await fake.wait_for(settled, timeout=30, message="the open claim to be settled")
        await asyncio.sleep(1.0)  # a duplicate would be posted now
        assert len(posts(fake)) == 1
        second.terminate()
        _, err = await asyncio.wait_for(second.communicate(), 20)
    finally:
        if second.returncode is None:
            second.kill()
            await second.wait()
    assert second.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert len(posts(fake)) == 1
    # The ledger says sent, with the message found; the channel's history was read for it.
    assert reminder_rows(runner.db_path) == [("sent", int(posts(fake)[0]["id"]))]  # type: ignore[call-overload]
    assert fake.requests_to("GET", rf"^/channels/{fake.channels['programme']}/messages$")
