"""End to end: a schedule-change notice survives a restart in the middle of its fan-out.

The notice is stored before the fan-out starts; the `changes` planner resumes it at the next
start (which sees no programme diff), so every member is told exactly once and the programme
channel gets exactly one notice.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.programme import load_programme
from bot.sandbox import FakeDiscord
from bot.store import Store
from bot.store import changes as changes_store
from bot.store.programme import pending_changes, replace_programme
from tests.harness import (
    BotRunner,
    import_programme,
    now,
    register,
    reminder_dms,
    wait_quiet,
    write_programme,
)


def notices(fake: FakeDiscord) -> list[dict[str, Any]]:
    return [m for m in fake.bot_messages("programme") if "Programme change" in m["content"]]


async def test_a_change_notice_stopped_mid_fanout_is_resumed_at_the_next_start(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    names = [f"nurse{i:02d}" for i in range(20)]
    for name in names:
        fake.add_user(name)
    first = now() + timedelta(hours=3)
    sessions = [{"id": "huddle", "title": "Safety huddle", "start": first}]
    path = write_programme(tmp_path / "p.yaml", sessions)
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await register(fake, names, "huddle")

    moved = first + timedelta(hours=1)
    sessions[0]["start"] = moved
    new_file = write_programme(tmp_path / "new.yaml", sessions)
    # A slow Discord: 5 requests a second, so 20 DMs (40 requests) take about 8 s.
    fake.set_global_rate_limit(5)
    await import_programme(fake, new_file.name, new_file.read_bytes())

    def reached() -> int:
        return sum(1 for name in names if reminder_dms(fake, name))

    await fake.wait_for(lambda: reached() >= 3, timeout=20, message="the fan-out to begin")
    pending = await changes_store.pending_notices(bot.store, fake.guild.id)
    assert [(n.session_id, n.kind, n.new_start) for n in pending] == [("huddle", "moved", moved)]
    await runner.stop()  # the fan-out is cancelled mid-way; its claims stay open
    stopped_at = reached()
    assert 3 <= stopped_at < len(names)
    assert notices(fake) == []  # the channel notice comes after the DMs

    fake.set_global_rate_limit(None)
    # The same programme (no diff at this start): only the stored notice can resume the work.
    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(lambda: reached() == len(names), timeout=20, message="every member")
    await fake.wait_for(lambda: notices(fake), timeout=10, message="the channel notice")

    await wait_quiet(runner.bot)  # anything duplicated would have arrived by then
    assert await changes_store.pending_notices(bot.store, fake.guild.id) == []  # done
    assert {name: len(reminder_dms(fake, name)) for name in names} == dict.fromkeys(names, 1)
    moved_ts = f"<t:{int(moved.timestamp())}:f>"
    assert all(moved_ts in reminder_dms(fake, name)[0]["content"] for name in names)
    assert len(notices(fake)) == 1
    assert (await bot.ledger.counts(fake.guild.id, "change-dm")) == {"sent": len(names)}
    assert (await bot.ledger.counts(fake.guild.id, "change")) == {"sent": 1}

    # A further restart finds nothing to do.
    await runner.restart(QIWEEK_PROGRAMME=path)
    await wait_quiet(runner.bot)
    assert {name: len(reminder_dms(fake, name)) for name in names} == dict.fromkeys(names, 1)
    assert len(notices(fake)) == 1


async def test_a_change_stored_just_before_a_stop_is_announced_at_the_next_start(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    """The process died right after the new programme's commit, before any change listener
    ran: the outbox row stored in that same transaction is replayed at the next start."""
    fake = fake_discord
    names = ["ward1", "ward2", "ward3"]
    for name in names:
        fake.add_user(name)
    first = now() + timedelta(hours=3)
    sessions = [
        {"id": "huddle", "title": "Safety huddle", "start": first},
        {"id": "cafe", "title": "QI cafe", "start": first + timedelta(hours=2)},
    ]
    path = write_programme(tmp_path / "p.yaml", sessions)
    await runner.start(QIWEEK_PROGRAMME=path)
    await register(fake, names, "huddle")
    await runner.stop()
    assert all(reminder_dms(fake, name) == [] for name in names)

    moved = first + timedelta(hours=1)
    sessions[0]["start"] = moved
    changed = load_programme(write_programme(tmp_path / "new.yaml", sessions), "Europe/London")
    async with Store(runner.db_path) as store:
        diff = await replace_programme(store, fake.guild.id, changed, "import")
        assert [new.id for _, new in diff.moved] == ["huddle"]
        assert len(await pending_changes(store, fake.guild.id)) == 1

    bot = await runner.start(QIWEEK_PROGRAMME=path)
    await fake.wait_for(
        lambda: all(reminder_dms(fake, name) for name in names), timeout=20, message="every member"
    )
    await fake.wait_for(lambda: notices(fake), timeout=10, message="the channel notice")
    await wait_quiet(runner.bot)  # anything duplicated would have arrived by then
    assert await pending_changes(bot.store, fake.guild.id) == []
    assert await changes_store.pending_notices(bot.store, fake.guild.id) == []
    assert {name: len(reminder_dms(fake, name)) for name in names} == dict.fromkeys(names, 1)
    moved_ts = f"<t:{int(moved.timestamp())}:f>"
    assert all(moved_ts in reminder_dms(fake, name)[0]["content"] for name in names)
    assert len(notices(fake)) == 1
    assert (await bot.ledger.counts(fake.guild.id, "change-dm")) == {"sent": len(names)}

    # A further restart sends nothing.
    await runner.restart(QIWEEK_PROGRAMME=path)
    await wait_quiet(runner.bot)
    assert {name: len(reminder_dms(fake, name)) for name in names} == dict.fromkeys(names, 1)
    assert len(notices(fake)) == 1
