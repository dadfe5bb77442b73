"""The command line: `check`, `preview`, and `run` as a real process against the fake Discord."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.fakediscord import FakeDiscord
from tests.harness import ROOT

EPHEMERAL = 64


def clean_env(**values: str) -> dict[str, str]:
    """The machine's environment without any QIWEEK_/DISCORD_ settings, plus `values`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QIWEEK_", "DISCORD_"))}
    env.update(values)
    return env


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
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


async def test_preview_prints_the_daily_posts(tmp_path: Path) -> None:
    env = clean_env(QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"))
    code, out, err = await run_cli("preview", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "08:00" in out and "Monday 14 September" in out


async def test_run_connects_answers_help_and_stops_cleanly_on_sigterm(
    fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    env = clean_env(
        DISCORD_TOKEN=fake_discord.token,
        DISCORD_API_BASE=fake_discord.api_base,
        DISCORD_GATEWAY_URL=fake_discord.gateway_url,
        QIWEEK_GUILD_ID=str(fake_discord.guild.id),
        QIWEEK_DB=str(tmp_path / "bot.db"),
        QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"),
        PYTHONWARNINGS="always",
        PYTHONASYNCIODEBUG="0",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-X",
        "dev",
        "-m",
        "bot",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
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
    env = clean_env(
        DISCORD_TOKEN=fake_discord.token,
        DISCORD_API_BASE=fake_discord.api_base,
        DISCORD_GATEWAY_URL=fake_discord.gateway_url,
        QIWEEK_GUILD_ID=str(fake_discord.guild.id),
        QIWEEK_DB=str(tmp_path / "bot.db"),
        QIWEEK_PROGRAMME=str(ROOT / "data" / "programme.yaml"),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
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
