"""`python -m bot preview`: what the bot will post and when, without Discord.

Each server's stored programme and settings are read through a read-only `Store` (the database
is never created, migrated or written, so a running bot's file is safe); without a database the
environment's settings and the programme file are shown instead. Problems are listed, never a
traceback: the organiser running this is checking their week, not debugging the bot.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.programme import Programme
    from bot.store.guild_settings import GuildConfig

EXIT_OK = 0
EXIT_PROBLEMS = 1

log = logging.getLogger(__name__)


@dataclass
class PreviewSection:
    """One server's preview (or the environment's, without a database): its heading lines,
    the settings in force, and its programme or the problems that kept it from loading."""

    heading: list[str]
    config: GuildConfig
    programme: Programme | None = None
    problems: list[str] = field(default_factory=list)


def programme_from_file(path: Path | str, timezone: str) -> tuple[Programme | None, list[str]]:
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


async def _database_sections(settings: Settings, guild: int | None) -> list[PreviewSection]:
    """Each server's stored programme and settings, read-only (the database is never migrated
    or written). Empty when the database knows no server (or not ``guild``)."""
    from bot.store import Store
    from bot.store import programme as programme_store
    from bot.store.guild_settings import get_config, known_guilds

    path = Path(settings.db_path)
    sections: list[PreviewSection] = []
    async with Store(path, read_only=True) as store:
        guilds = sorted(await known_guilds(store))
        if guild is not None:
            guilds = [g for g in guilds if g == guild]
        for guild_id in guilds:
            config = await get_config(store, settings, guild_id)
            programme = await programme_store.read_stored_programme(store, guild_id)
            source = await programme_store.programme_source(store, guild_id)
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
                programme, problems = programme_from_file(settings.programme_path, config.timezone)
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
    programme, problems = programme_from_file(settings.programme_path, config.timezone)
    heading = [
        f"Settings from the environment ({note}); programme from {settings.programme_path}.",
        _channels_line(config),
    ]
    return [PreviewSection(heading, config, programme, problems)]


def print_preview(settings: Settings, day: date | None, guild: int | None = None) -> int:
    """Print the preview to stdout (problems to stderr); 0 when every section rendered."""
    from bot.render.programme import preview_text

    code = EXIT_OK
    try:
        sections = preview_sections(settings, guild)
    except Exception as exc:  # never a traceback: say what failed
        log.debug("preview failed", exc_info=True)
        print(f"cannot preview: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
    for number, section in enumerate(sections):
        if number:
            print("\n" + "=" * 72 + "\n")
        if section.programme is None:
            print("\n".join(section.heading))
            print("The programme has problems:", file=sys.stderr)
            for problem in section.problems:
                print(f"  - {problem}", file=sys.stderr)
            code = EXIT_PROBLEMS
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
            code = EXIT_PROBLEMS
            continue
        print(text)
    return code
