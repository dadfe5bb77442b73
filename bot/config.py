"""One typed, immutable settings object, read from the environment (and `.env`) and validated once.

Every problem is collected and reported together, so an operator fixes the whole file in one go.
The token is held in a wrapper whose repr and str never show it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from bot.timezones import check_timezone

DEFAULT_API_BASE = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"

#: `#QIWeek`, plus `#QIWeek<event year>` added by the digest from the programme (issue 10).
DEFAULT_HASHTAGS: tuple[str, ...] = ("#QIWeek",)

_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Secret:
    """A string that never shows itself in a repr, str, log line or error."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value, for the one place that needs it (login)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class ConfigError(Exception):
    """Raised with every configuration problem at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot reads from its environment. Immutable; build with `Settings.from_env`."""

    token: Secret = field(default_factory=lambda: Secret(""))
    api_base: str = DEFAULT_API_BASE
    gateway_url: str = DEFAULT_GATEWAY_URL
    guild_id: int | None = None
    db_path: Path = Path("data/qiweek.db")
    programme_path: Path = Path("data/programme.yaml")
    timezone: str = "Europe/London"
    programme_channel_id: int | None = None
    announcements_channel_id: int | None = None
    digest_channel_id: int | None = None
    organiser_role_id: int | None = None
    daily_post_time: time = time(8, 0)
    reminder_leads: tuple[int, ...] = (15,)
    digest_time: time = time(17, 30)
    hashtags: tuple[str, ...] = DEFAULT_HASHTAGS
    share_retention_days: int = 90
    share_channel_ids: tuple[int, ...] = ()
    leave_other_guilds: bool = False
    organiser_channel_id: int | None = None
    #: Budget of DM channels opened to members never DMed before (Discord's anti-spam).
    new_dms_per_minute: int = 20
    #: Messages read back per share channel at start (shares posted while the bot was down).
    backfill_limit: int = 1000
    # Issue 12: mirror sessions as Discord scheduled events, at most this many at once.
    scheduled_events: bool = True
    events_max: int = 90

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def serves(self, guild_id: int | None) -> bool:
        """Whether the bot works in ``guild_id``: with QIWEEK_GUILD_ID set, only that server."""
        return self.guild_id is None or guild_id == self.guild_id

    def summary(self) -> str:
        """One line for `check` and the start-up log; never includes the token."""
        scope = f"guild {self.guild_id}" if self.guild_id else "global commands"
        return (
            f"configuration OK: {scope}, timezone {self.timezone}, database {self.db_path}, "
            f"programme {self.programme_path}, daily post {self.daily_post_time:%H:%M}, "
            f"digest {self.digest_time:%H:%M}, reminders {','.join(map(str, self.reminder_leads))} "
            f"min before, hashtags {' '.join(self.hashtags)}"
        )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
        require_token: bool = True,
    ) -> Settings:
        """Read and validate settings; the real environment wins over the `.env` file.

        Raises ConfigError listing every problem found.
        """
        values = read_environment(environ, env_file=env_file)
        return parse_settings(values, require_token=require_token)


def read_environment(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | os.PathLike[str] | None = ".env",
) -> dict[str, str]:
    """The raw setting strings: the `.env` file's, overridden by the real environment."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def parse_time(text: str) -> time:
    """`HH:MM` (24-hour) to a time; ValueError with the accepted form otherwise."""
    match = _TIME_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time as HH:MM (24-hour, e.g. 08:00)")
    return time(int(match.group(1)), int(match.group(2)))


def parse_leads(text: str, *, maximum: int = 1440) -> tuple[int, ...]:
    """Comma-separated positive whole minutes (`60,15`), returned largest first, de-duplicated."""
    leads: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= maximum:
            raise ValueError(
                f"{text!r} is not a list of whole minutes from 1 to {maximum}, comma-separated "
                "(e.g. 60,15)"
            )
        leads.add(int(part))
    if not leads:
        raise ValueError("at least one lead time is needed (e.g. 15)")
    return tuple(sorted(leads, reverse=True))


def parse_ids(text: str) -> tuple[int, ...]:
    """Comma-separated Discord ids (``123,456``), de-duplicated in order; ValueError otherwise."""
    ids: dict[int, None] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) <= 0:
            raise ValueError(
                f"{part!r} is not a Discord id (ids are whole numbers, comma-separated)"
            )
        ids[int(part)] = None
    return tuple(ids)


#: The settings an organiser may also change per server, and how each is checked.
SETTING_PARSERS: dict[str, Callable[[str], object]] = {
    "timezone": check_timezone,
    "daily_post_time": parse_time,
    "digest_time": parse_time,
    "reminder_leads": parse_leads,
}


def parse_each(raw: Mapping[str, tuple[str, str | None]]) -> tuple[dict[str, object], list[str]]:
    """Check each given setting (name -> (label, text); None is "not given") with its
    `SETTING_PARSERS` entry: the values that passed, and one "label: why" per one that did not.
    Shared by the environment and `/organiser setup`, so both accept the same."""
    values: dict[str, object] = {}
    problems: list[str] = []
    for name, (label, text) in raw.items():
        if text is None:
            continue
        try:
            values[name] = SETTING_PARSERS[name](text)
        except ValueError as exc:
            problems.append(f"{label}: {exc}")
    return values, problems


def parse_settings(values: Mapping[str, str], *, require_token: bool = True) -> Settings:
    """Validate raw strings into Settings, collecting every problem."""
    problems: list[str] = []
    kwargs: dict[str, object] = {}

    def get(name: str) -> str | None:
        raw = values.get(name)
        if raw is None:
            return None
        raw = raw.strip()
        return raw or None

    token = get("DISCORD_TOKEN")
    if token:
        kwargs["token"] = Secret(token)
    elif require_token:
        problems.append("DISCORD_TOKEN is not set: put the bot token in .env (see .env.example)")

    for name, key, schemes in (
        ("DISCORD_API_BASE", "api_base", ("http", "https")),
        ("DISCORD_GATEWAY_URL", "gateway_url", ("ws", "wss")),
    ):
        raw = get(name)
        if raw is None:
            continue
        parsed = urlparse(raw)
        if parsed.scheme not in schemes or not parsed.netloc:
            problems.append(
                f"{name}={raw!r} is not a URL starting with "
                f"{' or '.join(s + '://' for s in schemes)}"
            )
        else:
            kwargs[key] = raw.rstrip("/") if key == "api_base" else raw

    for name, key in (
        ("QIWEEK_GUILD_ID", "guild_id"),
        ("QIWEEK_PROGRAMME_CHANNEL_ID", "programme_channel_id"),
        ("QIWEEK_ANNOUNCEMENTS_CHANNEL_ID", "announcements_channel_id"),
        ("QIWEEK_DIGEST_CHANNEL_ID", "digest_channel_id"),
        ("QIWEEK_ORGANISER_ROLE_ID", "organiser_role_id"),
        ("QIWEEK_ORGANISER_CHANNEL_ID", "organiser_channel_id"),
    ):
        raw = get(name)
        if raw is None:
            continue
        if raw.isdigit() and int(raw) > 0:
            kwargs[key] = int(raw)
        else:
            problems.append(f"{name}={raw!r} is not a Discord id (a whole number)")

    for name, key in (("QIWEEK_DB", "db_path"), ("QIWEEK_PROGRAMME", "programme_path")):
        raw = get(name)
        if raw is not None:
            kwargs[key] = Path(raw)

    parsed, bad = parse_each(
        {
            "timezone": ("QIWEEK_TIMEZONE", get("QIWEEK_TIMEZONE")),
            "daily_post_time": ("QIWEEK_DAILY_POST_TIME", get("QIWEEK_DAILY_POST_TIME")),
            "digest_time": ("QIWEEK_DIGEST_TIME", get("QIWEEK_DIGEST_TIME")),
            "reminder_leads": ("QIWEEK_REMINDER_LEADS", get("QIWEEK_REMINDER_LEADS")),
        }
    )
    kwargs.update(parsed)
    problems.extend(bad)

    raw = get("QIWEEK_HASHTAGS")
    if raw is not None:
        tags = [t.strip() for t in raw.split(",") if t.strip()]
        bad = [t for t in tags if not re.fullmatch(r"#\w+", t)]
        if not tags or bad:
            problems.append(
                f"QIWEEK_HASHTAGS={raw!r}: each hashtag must start with # followed by letters "
                "or digits, comma-separated (e.g. #QIWeek,#QIWeek2026)"
            )
        else:
            kwargs["hashtags"] = tuple(dict.fromkeys(tags))

    raw = get("QIWEEK_SHARE_RETENTION_DAYS")
    if raw is not None:
        if raw.isdigit() and 1 <= int(raw) <= 3650:
            kwargs["share_retention_days"] = int(raw)
        else:
            problems.append(
                f"QIWEEK_SHARE_RETENTION_DAYS={raw!r} is not a whole number of days from 1 to 3650"
            )

    raw = get("QIWEEK_SHARE_CHANNEL_IDS")
    if raw is not None:
        try:
            kwargs["share_channel_ids"] = parse_ids(raw)
        except ValueError as exc:
            problems.append(f"QIWEEK_SHARE_CHANNEL_IDS: {exc}")

    raw = get("QIWEEK_LEAVE_OTHER_GUILDS")
    if raw is not None:
        if raw.lower() in ("on", "off"):
            kwargs["leave_other_guilds"] = raw.lower() == "on"
        else:
            problems.append(f"QIWEEK_LEAVE_OTHER_GUILDS={raw!r} is not on or off")
        if raw.lower() == "on" and "guild_id" not in kwargs:
            problems.append(
                "QIWEEK_LEAVE_OTHER_GUILDS=on needs QIWEEK_GUILD_ID: without it every server "
                "is served, so there is no other server to leave"
            )

    role = kwargs.get("organiser_role_id")
    if role is not None and role == kwargs.get("guild_id"):
        problems.append(
            "QIWEEK_ORGANISER_ROLE_ID is the server's own id, which is the @everyone role: every "
            "member would be an organiser. Use a dedicated organiser role's id"
        )

    for name, key, low, high, unit in (
        ("QIWEEK_NEW_DMS_PER_MINUTE", "new_dms_per_minute", 1, 1000, "DM channels a minute"),
        ("QIWEEK_BACKFILL_LIMIT", "backfill_limit", 0, 100_000, "messages per channel"),
    ):
        raw = get(name)
        if raw is None:
            continue
        if raw.isdigit() and low <= int(raw) <= high:
            kwargs[key] = int(raw)
        else:
            problems.append(f"{name}={raw!r} is not a whole number of {unit} from {low} to {high}")
    raw = get("QIWEEK_SCHEDULED_EVENTS")
    if raw is not None:
        if raw.lower() in ("on", "off"):
            kwargs["scheduled_events"] = raw.lower() == "on"
        else:
            problems.append(f"QIWEEK_SCHEDULED_EVENTS={raw!r} is not on or off")

    raw = get("QIWEEK_EVENTS_MAX")
    if raw is not None:
        if raw.isdigit() and 1 <= int(raw) <= 100:
            kwargs["events_max"] = int(raw)
        else:
            problems.append(
                f"QIWEEK_EVENTS_MAX={raw!r} is not a whole number from 1 to 100 (Discord holds at "
                "most 100 scheduled or active events per server)"
            )

    if problems:
        raise ConfigError(problems)
    return Settings(**kwargs)  # type: ignore[arg-type]
