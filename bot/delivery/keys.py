"""Ledger keys: one builder per kind of send, and the one parser. No key string is made or
read anywhere else.

A key names one send exactly, so the same send planned twice (a restart, a re-plan) has the
same key and the ledger lets it out once. Its first word is its kind (the `deliveries.kind`
column, what `/organiser stats` counts). Times are stored as `bot.clock.to_db` text, which
contains colons: the parser anchors each kind's fields by pattern, not by splitting.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date, datetime

from bot.clock import to_db


class Kind(enum.StrEnum):
    """Every kind of automatic send."""

    DAILY = "daily"
    DIGEST = "digest"
    WEEKLY = "weekly"
    REMINDER = "reminder"
    REMINDER_MENTIONS = "reminder-mentions"
    DM = "dm"
    CHANGE = "change"
    CHANGE_DM = "change-dm"
    SHARE_NOTICE = "share-notice"
    ANNOUNCEMENT = "announcement"
    ANNOUNCEMENT_DM = "announcement-dm"
    ANNOUNCEMENT_MISSED = "announcement-missed"
    ANNOUNCEMENT_FAILED = "announcement-failed"
    FIRST_DM = "first-dm"
    ALERT = "alert"
    LIVE = "live"  # issue 12: "Starting now"
    LIVE_THREAD = "live-thread"  # its thread (not a message: the ledger keeps it once)
    FEEDBACK = "feedback"  # "How was it?" in the thread
    CROSSPOST = "crosspost"  # an announcement published to following servers


# ----------------------------------------------------------------------------- builders


def daily_key(guild_id: int, day: date, part: int | None = None) -> str:
    """One server's daily programme post for one day; ``part`` names one of its messages."""
    key = f"{Kind.DAILY}:{guild_id}:{day.isoformat()}"
    return key if part is None else f"{key}:{part}"


def digest_key(guild_id: int, day: date, part: int) -> str:
    """One message (``part``, from 1) of a day's #QIWeek digest."""
    return f"{Kind.DIGEST}:{guild_id}:{day.isoformat()}:{part}"


def weekly_key(guild_id: int, day: date, part: int) -> str:
    """One message of the weekly roundup, posted on the event's last ``day``."""
    return f"{Kind.WEEKLY}:{guild_id}:{day.isoformat()}:{part}"


def reminder_key(guild_id: int, session_id: str, lead: int, start: datetime) -> str:
    """The channel reminder of a session at one lead (minutes), for one start time."""
    return f"{Kind.REMINDER}:{guild_id}:{session_id}:{lead}:{to_db(start)}"


def reminder_mentions_key(
    guild_id: int, session_id: str, lead: int, start: datetime, part: int
) -> str:
    """Further channel messages of one reminder, when closed-DM mentions need more than one."""
    return f"{Kind.REMINDER_MENTIONS}:{guild_id}:{session_id}:{lead}:{to_db(start)}:{part}"


def dm_key(guild_id: int, session_id: str, lead: int, start: datetime, user_id: int) -> str:
    """One member's reminder DM."""
    return f"{Kind.DM}:{guild_id}:{session_id}:{lead}:{to_db(start)}:{user_id}"


def change_key(guild_id: int, session_id: str, digest: str, part: int | None = None) -> str:
    """The channel notice of one change (``digest`` names it); ``part`` for further messages."""
    key = f"{Kind.CHANGE}:{guild_id}:{session_id}:{digest}"
    return key if part is None else f"{key}:{part}"


def change_dm_key(guild_id: int, session_id: str, digest: str, user_id: int) -> str:
    """One member's DM about one change."""
    return f"{Kind.CHANGE_DM}:{guild_id}:{session_id}:{digest}:{user_id}"


def change_dm_prefix(guild_id: int, session_id: str, digest: str) -> str:
    """What every `change_dm_key` of one change starts with (to find those left unconfirmed)."""
    return f"{Kind.CHANGE_DM}:{guild_id}:{session_id}:{digest}:"


def share_notice_key(guild_id: int, user_id: int, attempt: int | None = None) -> str:
    """The one-off DM telling a member their share was collected; ``attempt`` names a later
    try after one that ended without the DM (see `bot.services.first_contact.retry_key`)."""
    key = f"{Kind.SHARE_NOTICE}:{guild_id}:{user_id}"
    return key if attempt is None else f"{key}:{attempt}"


def first_dm_key(guild_id: int, user_id: int, attempt: int | None = None) -> str:
    """The sign-up confirmation DM (first contact, issue 10); ``attempt`` as above."""
    key = f"{Kind.FIRST_DM}:{guild_id}:{user_id}"
    return key if attempt is None else f"{key}:{attempt}"


def alert_key(guild_id: int, alert_id: int) -> str:
    """An organiser alert's post (`bot.services.alerts`)."""
    return f"{Kind.ALERT}:{guild_id}:{alert_id}"


def announcement_key(announcement_id: int) -> str:
    """An announcement's channel post."""
    return f"{Kind.ANNOUNCEMENT}:{announcement_id}"


def announcement_dm_key(announcement_id: int, user_id: int) -> str:
    """An announcement's DM to one member registered for its session."""
    return f"{Kind.ANNOUNCEMENT_DM}:{announcement_id}:{user_id}"


def announcement_missed_key(announcement_id: int) -> str:
    """The DM telling an announcement's author it was missed."""
    return f"{Kind.ANNOUNCEMENT_MISSED}:{announcement_id}"


def announcement_failed_key(announcement_id: int) -> str:
    """The DM telling an announcement's author it failed."""
    return f"{Kind.ANNOUNCEMENT_FAILED}:{announcement_id}"


def live_key(guild_id: int, session_id: str, start: datetime) -> str:
    """A session's "Starting now" post, for one start time."""
    return f"{Kind.LIVE}:{guild_id}:{session_id}:{to_db(start)}"


def live_thread_key(guild_id: int, session_id: str, start: datetime) -> str:
    """The thread opened on a session's "Starting now" post (its row holds the thread id)."""
    return f"{Kind.LIVE_THREAD}:{guild_id}:{session_id}:{to_db(start)}"


def feedback_key(guild_id: int, session_id: str, start: datetime) -> str:
    """A session's "How was it?" post in its thread."""
    return f"{Kind.FEEDBACK}:{guild_id}:{session_id}:{to_db(start)}"


def crosspost_key(guild_id: int, channel_id: int, message_id: int) -> str:
    """The publication of one announcement in an Announcement channel."""
    return f"{Kind.CROSSPOST}:{guild_id}:{channel_id}:{message_id}"


def crosspost_prefix(guild_id: int, channel_id: int) -> str:
    """What every `crosspost_key` of one channel starts with (Discord's hourly budget)."""
    return f"{Kind.CROSSPOST}:{guild_id}:{channel_id}:"


# ----------------------------------------------------------------------------- parsing

_ID = r"(?P<guild>\d+)"
_DAY = r"(?P<day>\d{4}-\d{2}-\d{2})"
_START = r"(?P<start>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2})"
_SESSION = r"(?P<session>.+?)"
_PART = r"(?::(?P<part>\d+))"

_PATTERNS: dict[Kind, re.Pattern[str]] = {
    kind: re.compile(f"{re.escape(kind.value)}:{body}$")
    for kind, body in (
        (Kind.DAILY, f"{_ID}:{_DAY}{_PART}?"),
        (Kind.DIGEST, f"{_ID}:{_DAY}{_PART}"),
        (Kind.WEEKLY, f"{_ID}:{_DAY}{_PART}"),
        (Kind.REMINDER, rf"{_ID}:{_SESSION}:(?P<lead>\d+):{_START}"),
        (Kind.REMINDER_MENTIONS, rf"{_ID}:{_SESSION}:(?P<lead>\d+):{_START}{_PART}"),
        (Kind.DM, rf"{_ID}:{_SESSION}:(?P<lead>\d+):{_START}:(?P<user>\d+)"),
        (Kind.CHANGE, rf"{_ID}:{_SESSION}:(?P<digest>[0-9a-f]{{12}}){_PART}?"),
        (Kind.CHANGE_DM, rf"{_ID}:{_SESSION}:(?P<digest>[0-9a-f]{{12}}):(?P<user>\d+)"),
        (Kind.SHARE_NOTICE, rf"{_ID}:(?P<user>\d+)(?::(?P<attempt>\d+))?"),
        (Kind.FIRST_DM, rf"{_ID}:(?P<user>\d+)(?::(?P<attempt>\d+))?"),
        (Kind.ALERT, rf"{_ID}:(?P<alert>\d+)"),
        (Kind.ANNOUNCEMENT, r"(?P<announcement>\d+)"),
        (Kind.ANNOUNCEMENT_DM, r"(?P<announcement>\d+):(?P<user>\d+)"),
        (Kind.ANNOUNCEMENT_MISSED, r"(?P<announcement>\d+)"),
        (Kind.ANNOUNCEMENT_FAILED, r"(?P<announcement>\d+)"),
        (Kind.LIVE, rf"{_ID}:{_SESSION}:{_START}"),
        (Kind.LIVE_THREAD, rf"{_ID}:{_SESSION}:{_START}"),
        (Kind.FEEDBACK, rf"{_ID}:{_SESSION}:{_START}"),
        (Kind.CROSSPOST, rf"{_ID}:(?P<channel>\d+):(?P<message>\d+)"),
    )
}


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """A key read back: its kind and its named fields (as text; absent ones are None)."""

    kind: Kind
    fields: dict[str, str | None]

    def int(self, name: str) -> int | None:
        value = self.fields.get(name)
        return int(value) if value is not None else None


def parse_key(key: str) -> ParsedKey:
    """The kind and fields of a ledger key; ValueError for a key no builder makes."""
    word = key.split(":", 1)[0]
    try:
        kind = Kind(word)
    except ValueError:
        raise ValueError(f"not a ledger key: {key!r}") from None
    match = _PATTERNS[kind].match(key)
    if match is None:
        raise ValueError(f"malformed {kind} key: {key!r}")
    return ParsedKey(kind, match.groupdict())


def kind_of(key: str) -> Kind:
    """A key's kind (its first word)."""
    return parse_key(key).kind


__all__ = [
    "Kind",
    "ParsedKey",
    "alert_key",
    "announcement_dm_key",
    "announcement_failed_key",
    "announcement_key",
    "announcement_missed_key",
    "change_dm_key",
    "change_dm_prefix",
    "change_key",
    "crosspost_key",
    "crosspost_prefix",
    "daily_key",
    "digest_key",
    "dm_key",
    "feedback_key",
    "first_dm_key",
    "kind_of",
    "live_key",
    "live_thread_key",
    "parse_key",
    "reminder_key",
    "reminder_mentions_key",
    "share_notice_key",
    "weekly_key",
]
