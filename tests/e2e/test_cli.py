"""The command line: `check`, `preview`, and `run` as a real process against the fake Discord."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.sandbox import FakeDiscord
from tests.harness import ROOT

EPHEMERAL = 64


def clean_env(**values: str) -> dict[str, str]:
    """The machine's environment without any QIWEEK_/DISCORD_ settings, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QIWEEK_", "DISCORD_"))}
    env.update(values)
    return env


def fake_env(fake: FakeDiscord, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a bot process pointed at the fake Discord, with its own database."""
    return clean_env(
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        QIWEEK_GUILD_ID=str(fake.guild.id),
        QIWEEK_DB=str(tmp_path / "bot.db"),
        QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"),
        **extra,
    )


async def start_bot(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    """Start `python <args>` (the bot) with its output captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await start_bot(env, cwd, "-m", "bot", *args)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_check_without_token_exits_1_naming_it(tmp_path: Path) -> None:
    code, _, err = await run_cli(
        "check", "--env-file", str(tmp_path / "none"), env=clean_env(), cwd=ROOT
    )
    assert code == 1
    assert "DISCORD_TOKEN" in err
    assert "Traceback" not in err


async def test_check_lists_every_problem(tmp_path: Path) -> None:
    env = clean_env(
        QIWEEK_TIMEZONE="Atlantis/Capital",
        QIWEEK_DIGEST_TIME="5pm",
        QIWEEK_PROGRAMME=str(tmp_path / "missing.yaml"),
    )
    code, _, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 1
    for needle in ("DISCORD_TOKEN", "QIWEEK_TIMEZONE", "QIWEEK_DIGEST_TIME"):
        assert needle in err
    assert "Traceback" not in err


async def test_check_passes_with_a_one_line_summary(tmp_path: Path) -> None:
    env = clean_env(
        DISCORD_TOKEN="abc.def.ghi", QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml")
    )
    code, out, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.count("\n") == 1 and out.startswith("configuration OK")
    assert "abc.def.ghi" not in out + err


@pytest.mark.parametrize("kind", ["newer", "garbage", "folder"])
async def test_check_reports_an_unusable_database_clearly(tmp_path: Path, kind: str) -> None:
    import sqlite3

    from bot.store.migrations import MIGRATIONS

    db = tmp_path / "bot.db"
    if kind == "newer":
        with sqlite3.connect(db) as raw:
            raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    elif kind == "garbage":
        db.write_bytes(b"not a database at all " * 100)
    else:
        db.mkdir()
    before = db.read_bytes() if db.is_file() else None
    env = clean_env(
        DISCORD_TOKEN="abc.def.ghi",
        QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"),
        QIWEEK_DB=str(db),
    )
    code, _, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 1
    assert "Database problems:" in err and str(db) in err
    expected = {"newer": "upgrade qiweek-bot", "garbage": "qiweek-bot database", "folder": "folder"}
    assert expected[kind] in err
    assert "Traceback" not in err
    if before is not None:
        assert db.read_bytes() == before  # check never writes the database


async def test_preview_prints_the_daily_posts(tmp_path: Path) -> None:
    env = clean_env(QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"))
    code, out, err = await run_cli("preview", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "08:00" in out and "Monday 14 September" in out
    assert "Settings from the environment (no database at data/qiweek.db yet)" in out
    assert not (tmp_path / "data").exists()  # preview never creates the database


async def test_preview_prints_reminders_and_digests_per_day(tmp_path: Path) -> None:
    env = clean_env(
        QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"),
        QIWEEK_REMINDER_LEADS="60,15",
        QIWEEK_DIGEST_TIME="18:00",
        QIWEEK_DAILY_POST_TIME="07:45",
    )
    code, out, err = await run_cli("preview", "--day", "2026-09-14", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "Monday 14 September 2026" in out and "Tuesday 15 September" not in out
    assert "  07:45 BST  daily post: 4 sessions in 1 message" in out
    assert "  08:30 BST  reminder, 60 min before 09:30: Welcome to QI Week" in out
    assert "  09:15 BST  reminder, 15 min before 09:30: Welcome to QI Week" in out
    assert out.count("reminder, 60 min before") == 4 and out.count("reminder, 15 min") == 4
    assert "  18:00 BST  digest of the day's shares" in out
    assert "weekly roundup" in out  # the header says when the roundup goes
    code, friday, err = await run_cli("preview", "--day", "2026-09-18", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "18:00 BST  digest of the day's shares, then the weekly roundup" in friday


BAD_VALUES = """\
sessions:
  - title: Forever
    start: 2026-09-14 10:00
    duration_minutes: 99999999999999
  - title: Infinite
    start: 2026-09-14 11:00
    duration_minutes: inf
  - title: Far away
    start: 9999-12-31 23:30
    duration_minutes: 60
"""


async def test_check_and_preview_list_odd_values_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(BAD_VALUES)
    env = clean_env(DISCORD_TOKEN="abc.def.ghi", QIWEEK_PROGRAMME=str(path))
    code, _, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 1
    assert "Traceback" not in err and "OverflowError" not in err
    assert f"{path}: line 4: duration_minutes 99999999999999 is more than 12 hours" in err
    assert f"{path}: line 7: duration_minutes 'inf' should be whole minutes above 0" in err
    assert f"{path}: line 9: start 9999-12-31 23:30 is not in the years" in err
    code, _, err = await run_cli("preview", env=env, cwd=tmp_path)
    assert code == 1
    assert "Traceback" not in err and "line 9: start 9999-12-31 23:30" in err
    code, _, err = await run_cli("preview", "--day", "9999-12-31", env=env, cwd=tmp_path)
    assert code == 2 and "Traceback" not in err and "too far away" in err


STORED = """\
event:
  name: Stored Week
sessions:
  - title: Stored session
    start: 2026-09-15 14:00
    duration_minutes: 30
"""


async def _make_database(path: Path) -> None:
    from bot.config import Settings
    from bot.programme import load_programme, parse_programme
    from bot.store import Store
    from bot.store import programme as programme_store
    from bot.store.guild_settings import update_config

    async with Store(path) as store:
        sample = load_programme(ROOT / "data" / "programme.yaml", "Europe/London")
        await programme_store.replace_programme(store, 111, sample, "seed")
        await update_config(
            store,
            111,
            daily_post_time=Settings().daily_post_time.replace(hour=9, minute=15),
            reminder_leads=(30,),
            programme_channel_id=555,
        )
        imported = parse_programme(STORED.encode(), "stored.yaml", "Europe/London")
        await programme_store.replace_programme(store, 222, imported, "import")


async def test_preview_reads_each_server_from_the_database_read_only(tmp_path: Path) -> None:
    db = tmp_path / "qiweek.db"
    await _make_database(db)
    before = db.read_bytes()
    files = sorted(os.listdir(tmp_path))
    env = clean_env(
        QIWEEK_DB=str(db),
        QIWEEK_PROGRAMME=str(tmp_path / "no-such-file.yaml"),  # not needed: both are stored
        QIWEEK_DIGEST_TIME="17:00",
    )
    code, out, err = await run_cli("preview", env=env, cwd=tmp_path)
    assert code == 0, err
    first, second = out.split("=" * 72)
    assert first.startswith(f"Server 111 (database {db}, read-only)")
    assert "daily_post_time, programme_channel_id, reminder_leads" in first
    assert "Programme channel: 555; digest channel: not set" in first
    assert "  09:15 BST  daily post: 4 sessions" in first
    assert "  09:00 BST  reminder, 30 min before 09:30: Welcome to QI Week" in first
    assert "  17:00 BST  digest of the day's shares" in first
    assert "Server 222" in second and "imported by an organiser" in second
    assert "Stored Week" in second and "14:00–14:30  Stored session" in second
    assert "  08:00 BST  daily post: 1 session in 1 message" in second
    assert "  13:45 BST  reminder, 15 min before 14:00: Stored session" in second

    code, only, err = await run_cli("preview", "--guild", "222", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "Server 222" in only and "Server 111" not in only
    code, missing, err = await run_cli("preview", "--guild", "333", env=env, cwd=tmp_path)
    assert code == 1 and "server 333 is not in the database" in missing
    assert "no-such-file.yaml does not exist" in err and "Traceback" not in err

    # Read-only: the file's bytes are unchanged and no journal files were created beside it.
    assert db.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == files


async def test_run_connects_answers_help_and_stops_cleanly_on_sigterm(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    env = fake_env(fake_discord, tmp_path, PYTHONWARNINGS="always", PYTHONASYNCIODEBUG="0")
    proc = await start_bot(env, tmp_path, "-X", "dev", "-m", "bot")
    try:
        await fake_discord.wait_for(
            lambda: any(c["name"] == "help" for c in fake_discord.synced_commands()),
            timeout=20,
            message="the bot process never synced its commands",
        )
        await fake_discord.wait_connected(timeout=20)
        it = await fake_discord.slash("member", "help")
        response = await it.response(timeout=3)
        assert response["data"]["flags"] & EPHEMERAL
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    log = out.decode() + err.decode()
    assert proc.returncode == 0, log
    assert "shutting down" in log
    for bad in ("Traceback", "Task was destroyed", "Unclosed", "never awaited", "ResourceWarning"):
        assert bad not in log, log
    assert fake_discord.token not in log


@pytest.mark.parametrize("signame", ["SIGINT"])
async def test_sigint_also_exits_0(fake_discord: FakeDiscord, tmp_path: Path, signame: str) -> None:
    proc = await start_bot(fake_env(fake_discord, tmp_path), tmp_path, "-m", "bot", "run")
    try:
        await fake_discord.wait_connected(timeout=20)
        await fake_discord.wait_for(lambda: fake_discord.synced_commands(), timeout=20)
        proc.send_signal(getattr(signal, signame))
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()


async def test_check_lists_programme_problems_even_when_a_setting_is_bad(tmp_path: Path) -> None:
    bad = tmp_path / "programme.yaml"
    bad.write_text("sessions:\n  - id: x\n    title: X\n    start: not a time\n")
    env = clean_env(
        DISCORD_TOKEN="abc.def.ghi",
        QIWEEK_DAILY_POST_TIME="8am",
        QIWEEK_TIMEZONE="Atlantis/Capital",
        QIWEEK_PROGRAMME=str(bad),
    )
    code, _, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 1
    assert "QIWEEK_DAILY_POST_TIME" in err and "QIWEEK_TIMEZONE" in err
    assert "Programme problems:" in err and str(bad) in err
    assert "Traceback" not in err


async def test_check_warns_about_each_unset_channel(tmp_path: Path) -> None:
    env = clean_env(
        DISCORD_TOKEN="abc.def.ghi",
        QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"),
        QIWEEK_DIGEST_CHANNEL_ID="123456789012345678",
    )
    code, out, err = await run_cli("check", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.startswith("configuration OK")
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert "QIWEEK_PROGRAMME_CHANNEL_ID is not set: no daily programme posts" in warnings[0]
    assert "QIWEEK_ANNOUNCEMENTS_CHANNEL_ID is not set" in warnings[1]
    assert all("/organiser setup" in line for line in warnings)


async def test_check_warns_about_likely_mistakes_with_their_place_and_exits_0(
    tmp_path: Path,
) -> None:
    # 95 tidy sessions Monday to Friday (over the 90 the scheduled-events cap leaves room for),
    # then one likely mistake of each kind, at known rows.
    rows = ["title,start,end,host,join_url"]
    for day in range(14, 19):
        for n in range(19):
            start = datetime(2026, 9, day, 9) + timedelta(minutes=25 * n)
            end = start + timedelta(minutes=20)
            rows.append(
                f"Day {day} talk {n},{start:%Y-%m-%d %H:%M},{end:%Y-%m-%d %H:%M},,https://x.org/{n}"
            )
    mistakes = [
        ("no-link", "No link,2026-09-14 18:00,2026-09-14 18:30,Team B,"),
        ("not-https", "Plain,2026-09-14 18:00,2026-09-14 18:30,Team C,http://example.org/p"),
        ("host-overlap", "First,2026-09-15 18:00,2026-09-15 19:00,Team D,https://x.org/d1"),
        ("host-overlap", "Second,2026-09-15 18:30,2026-09-15 19:30,Team D,https://x.org/d2"),
        ("night", "Night,2026-09-16 23:00,2026-09-16 23:30,Team E,https://x.org/e"),
        ("outside-week", "Saturday,2026-09-19 10:00,2026-09-19 11:00,Team F,https://x.org/f"),
        ("same-title", "Day 17 talk 0,2026-09-17 18:00,2026-09-17 18:30,Team G,https://x.org/g"),
    ]
    rows.extend(row for _, row in mistakes)
    path = tmp_path / "mistakes.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    first_mistake_row = len(rows) - len(mistakes) + 1  # spreadsheet rows count from 1
    env = clean_env(DISCORD_TOKEN="abc.def.ghi", QIWEEK_PROGRAMME=str(path))

    code, out, err = await run_cli("check", env=env, cwd=tmp_path)

    assert code == 0, err
    assert out.startswith("configuration OK")
    warnings = [line for line in err.splitlines() if line.startswith(f"warning: {path}: ")]
    expected = {
        f"row {first_mistake_row}: 'No link' has no join link",
        f"row {first_mistake_row + 1}: the join link of 'Plain' is not https",
        f"row {first_mistake_row + 3}: 'Second' overlaps 'First' (row {first_mistake_row + 2})",
        f"row {first_mistake_row + 4}: 'Night' starts at 23:00 Europe/London",
        f"row {first_mistake_row + 5}: 'Saturday' is on Saturday 19 September 2026, outside",
        "row 2: 102 sessions in the 7 days from 'Day 14 talk 0'; the scheduled-events cap "
        "leaves room for 90",
        f"row {first_mistake_row + 6}: 'Day 17 talk 0' is on the same day as a session with the "
        f"same title (row {2 + 3 * 19})",
    }
    for needle in expected:
        assert any(needle in line for line in warnings), (needle, warnings)
    assert len(warnings) == len(expected), warnings
    assert "Traceback" not in err


async def test_run_with_an_unusable_database_exits_1_with_one_clear_line(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    env = fake_env(fake_discord, tmp_path)
    (tmp_path / "bot.db").write_bytes(b"this is not an SQLite database " * 100)
    proc = await start_bot(env, tmp_path, "-m", "bot")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode() + err.decode()
    assert proc.returncode == 1, text
    assert "cannot open the database" in text and "bot.db" in text
    assert "Traceback" not in text
