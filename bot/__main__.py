"""Command line: `python -m bot [run|check|preview]` (also the `qiweek-bot` console script).

Exit codes: 0 success (and a clean shutdown on SIGINT/SIGTERM); 1 a configuration or programme
problem (every problem listed, no traceback); 2 bad command-line usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import date
from pathlib import Path

from bot.config import ConfigError, Settings

EXIT_OK = 0
EXIT_CONFIG = 1

log = logging.getLogger("bot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qiweek-bot",
        description=(
            "The QI Week Discord bot. Settings come from the environment and .env "
            "(see .env.example)."
        ),
        epilog="Exit codes: 0 ok; 1 configuration or programme problems (all listed); 2 usage.",
    )
    parser.add_argument(
        "--env-file", default=".env", help="read settings from this file too (default: .env)"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env-file", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="{run,check,preview}")
    sub.add_parser("run", parents=[common], help="connect to Discord and run the bot (the default)")
    sub.add_parser(
        "check",
        parents=[common],
        help="validate the configuration and programme; list every problem, exit 1 if any",
    )
    preview = sub.add_parser(
        "preview",
        parents=[common],
        help="print, without Discord, the daily posts the bot will make and when",
    )
    preview.add_argument("--day", type=date.fromisoformat, help="only this day (YYYY-MM-DD)")
    return parser


def load_settings(env_file: str, *, require_token: bool) -> Settings | None:
    try:
        return Settings.from_env(env_file=env_file, require_token=require_token)
    except ConfigError as exc:
        print("Configuration problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


def check_programme(settings: Settings) -> list[str]:
    """Every problem in the configured programme file ([] when it loads)."""
    from bot.programme import ProgrammeError, load_programme

    path = Path(settings.programme_path)
    if not path.exists():
        return [f"QIWEEK_PROGRAMME: {path} does not exist"]
    try:
        load_programme(path, settings.timezone)
    except ProgrammeError as exc:
        return [f"{path}: {problem}" for problem in exc.problems]
    return []


def cmd_check(settings_env: str) -> int:
    settings = load_settings(settings_env, require_token=True)
    problems: list[str] = []
    if settings is None:
        # Still check the programme with what can be read, so every problem is listed at once.
        try:
            partial = Settings.from_env(env_file=settings_env, require_token=False)
        except ConfigError:
            return EXIT_CONFIG
        problems = check_programme(partial)
    else:
        problems = check_programme(settings)
    if problems:
        print("Programme problems:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if settings is None:
        return EXIT_CONFIG
    print(settings.summary())
    return EXIT_OK


def cmd_preview(env_file: str, day: date | None) -> int:
    settings = load_settings(env_file, require_token=False)
    if settings is None:
        return EXIT_CONFIG
    from bot.programme import ProgrammeError, load_programme
    from bot.render.programme import preview_text

    path = Path(settings.programme_path)
    if not path.exists():
        print(f"no programme loaded: {path} does not exist", file=sys.stderr)
        return EXIT_CONFIG
    try:
        programme = load_programme(path, settings.timezone)
    except ProgrammeError as exc:
        print(f"{path} has problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    print(preview_text(programme, settings.tz, settings.daily_post_time, day))
    return EXIT_OK


async def run_bot(settings: Settings) -> int:
    """Run until closed; SIGINT/SIGTERM close the bot cleanly."""
    from bot.client import QIWeekBot
    from bot.schedule import Schedule
    from bot.store import Store, StoreError

    store = Store(settings.db_path)
    bot = QIWeekBot(settings=settings, store=store, schedule=Schedule())
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def request_stop(signame: str) -> None:
        if not stopping:
            log.info("received %s: shutting down", signame)
            stopping.append(loop.create_task(bot.close()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)
    try:
        async with bot:
            await bot.start(settings.token.reveal())
    except StoreError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    finally:
        for task in stopping:
            await task
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    command = args.command or "run"
    if command == "check":
        return cmd_check(args.env_file)
    if command == "preview":
        return cmd_preview(args.env_file, args.day)
    settings = load_settings(args.env_file, require_token=True)
    if settings is None:
        return EXIT_CONFIG
    log.info("%s", settings.summary())
    import discord

    try:
        return asyncio.run(run_bot(settings))
    except discord.LoginFailure:
        log.error("Discord refused the token: check DISCORD_TOKEN in .env")
        return EXIT_CONFIG
    except discord.PrivilegedIntentsRequired:
        log.error(
            "Discord refused the intents: switch on the Message Content and Server Members "
            "intents in the Developer Portal (Bot page)"
        )
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
