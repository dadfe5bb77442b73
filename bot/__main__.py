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
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from bot.config import ConfigError, Settings

if TYPE_CHECKING:
    from bot.programme import Programme
    from bot.store.guild_settings import GuildConfig

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
    return parser


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
    return _file_programme(settings.programme_path, settings.timezone)[1]


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
        problems = _file_programme(path, timezone)[1]
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
    programme = _file_programme(settings.programme_path, settings.timezone)[0]
    for likely in programme_warnings(programme) if programme is not None else []:
        print(f"warning: {settings.programme_path}: {likely}", file=sys.stderr)
    print(settings.summary())
    return EXIT_OK


@dataclass
class PreviewSection:
    """One server's preview (or the environment's, without a database): its heading lines,
    the settings in force, and its programme or the problems that kept it from loading."""

    heading: list[str]
    config: GuildConfig
    programme: Programme | None = None
    problems: list[str] = field(default_factory=list)


def _file_programme(path: Path | str, timezone: str) -> tuple[Programme | None, list[str]]:
    """The programme file parsed in ``timezone``, or the problems (never an exception)."""
    from bot.programme import ProgrammeError, load_programme

    path = Path(path)
    if not path.exists():
        return None, [f"QIWEEK_PROGRAMME: {path} does not exist"]
    try:
        return load_programme(path, timezone), []
    except ProgrammeError as exc:
        return None, [f"{path}: {problem}" for problem in exc.problems]
    except Exception as exc:  # a bug in the parser: still a listed problem, never a traceback
        log.debug("reading %s failed", path, exc_info=True)
        return None, [f"{path}: cannot be read ({type(exc).__name__}: {exc})"]


def _channels_line(config: GuildConfig) -> str:
    programme = config.programme_channel_id
    digest = config.digest_channel_id
    return (
        f"Programme channel: {programme or 'not set (daily posts and channel reminders wait)'}; "
        f"digest channel: {digest or 'not set (digests wait)'}."
    )


def _read_only_uri(path: Path) -> str:
    """A read-only SQLite URI. Without a ``-wal`` file (the bot is not running) the file is also
    opened ``immutable``, so SQLite creates no ``-wal``/``-shm`` files beside it; with one (the
    bot is running) it reads through the WAL like any reader, writing nothing."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if not Path(f"{path}-wal").exists():
        uri += "&immutable=1"
    return uri


async def _database_sections(settings: Settings, guild: int | None) -> list[PreviewSection]:
    """Each server's stored programme and settings, read-only (the database is never migrated
    or written). Empty when the database knows no server (or not ``guild``)."""
    import aiosqlite

    from bot.store import programme as programme_store
    from bot.store.guild_settings import get_config, known_guilds

    path = Path(settings.db_path)
    sections: list[PreviewSection] = []
    async with aiosqlite.connect(_read_only_uri(path), uri=True) as db:
        db.row_factory = aiosqlite.Row
        reader: Any = SimpleNamespace(db=db)  # the store's read functions need only `.db`
        guilds = sorted(await known_guilds(reader))
        if guild is not None:
            guilds = [g for g in guilds if g == guild]
        for guild_id in guilds:
            config = await get_config(reader, settings, guild_id)
            programme = await programme_store.read_stored_programme(reader, guild_id)
            source = await programme_store.programme_source(reader, guild_id)
            overridden = ", ".join(sorted(config.overridden)) or "none"
            heading = [
                f"Server {guild_id} (database {path}, read-only)",
                f"Settings: the environment's, with these set by /organiser setup: {overridden}.",
                _channels_line(config),
            ]
            problems: list[str] = []
            if programme is None:
                heading.append(
                    f"Programme: none stored yet; the bot will load {settings.programme_path}."
                )
                programme, problems = _file_programme(settings.programme_path, config.timezone)
            elif source == "import":
                heading.append("Programme: imported by an organiser (stored).")
            else:
                heading.append(f"Programme: as stored (seeded from {settings.programme_path}).")
            sections.append(PreviewSection(heading, config, programme, problems))
    return sections


def preview_sections(settings: Settings, guild: int | None = None) -> list[PreviewSection]:
    """What ``preview`` shows: a section per server stored in the database (read-only) when
    the database file exists, else one from the environment's settings and the programme file.
    """
    from bot.store.guild_settings import defaults

    path = Path(settings.db_path)
    note = f"no database at {path} yet"
    if path.is_file():
        try:
            sections = asyncio.run(_database_sections(settings, guild))
        except Exception as exc:  # sqlite3.Error and kin: fall back to the file, say why
            log.debug("reading %s failed", path, exc_info=True)
            note = f"the database {path} cannot be read ({type(exc).__name__}: {exc})"
        else:
            if sections:
                return sections
            note = (
                f"server {guild} is not in the database {path}"
                if guild is not None
                else f"the database {path} has no server yet"
            )
    config = defaults(settings, guild or 0)
    programme, problems = _file_programme(settings.programme_path, config.timezone)
    heading = [
        f"Settings from the environment ({note}); programme from {settings.programme_path}.",
        _channels_line(config),
    ]
    return [PreviewSection(heading, config, programme, problems)]


def cmd_preview(env_file: str, day: date | None, guild: int | None = None) -> int:
    settings = load_settings(env_file, require_token=False)
    if settings is None:
        return EXIT_CONFIG
    from bot.render.programme import preview_text

    code = EXIT_OK
    try:
        sections = preview_sections(settings, guild)
    except Exception as exc:  # never a traceback: say what failed
        log.debug("preview failed", exc_info=True)
        print(f"cannot preview: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for number, section in enumerate(sections):
        if number:
            print("\n" + "=" * 72 + "\n")
        if section.programme is None:
            print("\n".join(section.heading))
            print("The programme has problems:", file=sys.stderr)
            for problem in section.problems:
                print(f"  - {problem}", file=sys.stderr)
            code = EXIT_CONFIG
            continue
        config = section.config
        try:
            text = preview_text(
                section.programme,
                config.tz,
                config.daily_post_time,
                day,
                reminder_leads=config.reminder_leads,
                digest_time=config.digest_time,
                heading=section.heading,
            )
        except Exception as exc:  # a bug in rendering: still no traceback
            log.debug("preview of %s failed", section.heading[0], exc_info=True)
            print(f"{section.heading[0]}: cannot preview ({type(exc).__name__}: {exc})")
            code = EXIT_CONFIG
            continue
        print(text)
    return code


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
        return cmd_preview(args.env_file, args.day, args.guild)
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
