"""Command line: `python -m bot [run|check|preview|rehearse]` (also the `qiweek-bot` script).

Exit codes: 0 success (and a clean shutdown on SIGINT/SIGTERM); 1 a configuration or programme
problem (every problem listed, no traceback); 2 bad command-line usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from datetime import date
from pathlib import Path

from bot.config import ConfigError, Settings
from bot.preview import programme_from_file

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
    sub = parser.add_subparsers(dest="command", metavar="{run,check,preview,rehearse}")
    sub.add_parser("run", parents=[common], help="connect to Discord and run the bot (the default)")
    sub.add_parser(
        "check",
        parents=[common],
        help="validate the configuration and programme; list every problem, exit 1 if any",
    )
    preview = sub.add_parser(
        "preview",
        parents=[common],
        help=(
            "print, without Discord, what the bot will post and when: the daily posts, "
            "reminders and digests of the event week (each server's stored programme and "
            "settings when the database exists, read-only; else the programme file)"
        ),
    )
    preview.add_argument("--day", type=_day_argument, help="only this day (YYYY-MM-DD)")
    preview.add_argument(
        "--guild", type=int, metavar="ID", help="only this server (default: every server)"
    )
    rehearse = sub.add_parser(
        "rehearse",
        parents=[common],
        help=(
            "play the event week in a few minutes against a built-in Discord stand-in (no token "
            "or Discord account): the real bot, simulated members, a transcript and a summary"
        ),
    )
    rehearse.add_argument(
        "--programme", type=Path, metavar="FILE", help="default: the configured one"
    )
    rehearse.add_argument(
        "--minutes", type=_positive_float, default=5.0, help="wall-clock length (default: 5)"
    )
    rehearse.add_argument(
        "--members", type=_positive_int, default=200, help="simulated members (default: 200)"
    )
    rehearse.add_argument(
        "--out", type=Path, default=Path("rehearsal"), metavar="DIR", help="default: rehearsal/"
    )
    rehearse.add_argument(
        "--seed", type=int, default=2026, help="the same seed plays the same week"
    )
    rehearse.add_argument(
        "--chaos",
        action="store_true",
        help="inject disconnects, 5xx/429 bursts, closed DMs, slow responses and kill -9 restarts",
    )
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: give more than 0 and at most 600")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 2 <= value <= 5000:
        raise argparse.ArgumentTypeError(f"{text!r}: give 2 to 5000")
    return value


def _day_argument(text: str) -> date:
    from bot.programme import DAY_RANGE, MAX_YEAR, MIN_YEAR

    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date as YYYY-MM-DD") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise argparse.ArgumentTypeError(f"{text!r} is too far away: {DAY_RANGE}")
    return day


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
    return programme_from_file(settings.programme_path, settings.timezone)[1]


def _fallback_programme_settings(env_file: str) -> tuple[Path, str]:
    """The programme path and timezone to check the programme with when some setting is
    invalid: the configured ones where they are valid, else the defaults (Europe/London)."""
    from bot.config import check_timezone, read_environment

    values = read_environment(env_file=env_file)
    defaults = Settings()
    path = (values.get("QIWEEK_PROGRAMME") or "").strip()
    timezone = (values.get("QIWEEK_TIMEZONE") or "").strip()
    try:
        timezone = check_timezone(timezone) if timezone else defaults.timezone
    except ValueError:
        timezone = defaults.timezone
    return (Path(path) if path else defaults.programme_path), timezone


# What will not happen while each channel is unset (in the environment; a server may still set
# it with /organiser setup).
_UNSET_CHANNELS = (
    (
        "QIWEEK_PROGRAMME_CHANNEL_ID",
        "programme_channel_id",
        "no daily programme posts or channel reminders",
    ),
    (
        "QIWEEK_ANNOUNCEMENTS_CHANNEL_ID",
        "announcements_channel_id",
        "/organiser announce needs its channel: option every time",
    ),
    ("QIWEEK_DIGEST_CHANNEL_ID", "digest_channel_id", "no daily #QIWeek digests"),
)


def channel_warnings(settings: Settings) -> list[str]:
    """A warning for each channel that is not set, saying what will not happen until it is."""
    return [
        f"{name} is not set: {what} until it is set (or set per server with /organiser setup)"
        for name, attribute, what in _UNSET_CHANNELS
        if getattr(settings, attribute) is None
    ]


def check_database(settings: Settings) -> list[str]:
    """Why the database cannot be used as it is (unopenable, not SQLite, newer), read-only."""
    from bot.store import database_problems

    return asyncio.run(database_problems(settings.db_path))


def cmd_check(settings_env: str) -> int:
    from bot.programme import programme_warnings

    settings = load_settings(settings_env, require_token=True)
    if settings is None:
        # Still check the programme with what can be read, so every problem is listed at once.
        path, timezone = _fallback_programme_settings(settings_env)
        problems = programme_from_file(path, timezone)[1]
    else:
        problems = check_programme(settings)
    if problems:
        print("Programme problems:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
    database = check_database(settings) if settings is not None else []
    if database:
        print("Database problems:", file=sys.stderr)
        for problem in database:
            print(f"  - {problem}", file=sys.stderr)
    if problems or database:
        return EXIT_CONFIG
    if settings is None:
        return EXIT_CONFIG
    for warning in channel_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    programme = programme_from_file(settings.programme_path, settings.timezone)[0]
    for likely in programme_warnings(programme) if programme is not None else []:
        print(f"warning: {settings.programme_path}: {likely}", file=sys.stderr)
    print(settings.summary())
    return EXIT_OK


def cmd_preview(env_file: str, day: date | None, guild: int | None = None) -> int:
    settings = load_settings(env_file, require_token=False)
    if settings is None:
        return EXIT_CONFIG
    from bot.preview import print_preview

    return print_preview(settings, day, guild)


def cmd_rehearse(args: argparse.Namespace) -> int:
    settings = load_settings(args.env_file, require_token=False)
    if settings is None:
        return EXIT_CONFIG
    from bot.rehearsal import Options, rehearse

    options = Options(args.programme, args.minutes, args.members, args.out, args.seed, args.chaos)
    return rehearse(settings, options)


async def run_bot(settings: Settings) -> int:
    """Run until closed; SIGINT/SIGTERM close the bot cleanly."""
    from bot.client import QIWeekBot
    from bot.clock import REHEARSAL_CLOCK_ENV, Clock, Timeline, utc_now
    from bot.schedule import Schedule
    from bot.signals import install_stop_handlers
    from bot.store import Store, StoreError

    # Only `rehearse` sets this (internal): the compressed event time of a rehearsal.
    rehearsal = os.environ.get(REHEARSAL_CLOCK_ENV)
    timeline = Timeline.decode(rehearsal) if rehearsal else None
    clock: Clock = timeline or utc_now
    store = Store(settings.db_path, clock=clock)
    schedule = Schedule(clock=clock, timeline=timeline)
    bot = QIWeekBot(settings=settings, store=store, schedule=schedule, clock=clock)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []

    def request_stop(signame: str) -> None:
        if not stopping:
            log.info("received %s: shutting down", signame)
            stopping.append(loop.create_task(bot.close()))

    # Not loop.add_signal_handler: its wake-up byte can be dropped under load (bot.signals).
    restore = install_stop_handlers(loop, request_stop)
    try:
        async with bot:
            await bot.start(settings.token.reveal())
    except StoreError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    finally:
        for task in stopping:
            await task
        restore()
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
        return cmd_preview(args.env_file, args.day, args.guild)
    if command == "rehearse":
        return cmd_rehearse(args)
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
