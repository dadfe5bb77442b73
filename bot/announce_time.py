"""Reading the `at` option of `/organiser announce`: when a scheduled announcement goes out.

Pure (no Discord, no database) so every form and every refusal is unit-tested. Organisers type
wall-clock times in the server's timezone; the result is an aware UTC datetime, DST-correct.

Accepted forms:
- ``HH:MM``: today at that time, or tomorrow when it has already passed today;
- ``YYYY-MM-DD HH:MM``: that date and time;
- ``in 90m``, ``in 2h``, ``in 1h30m`` (spaces allowed, ``min``/``hr`` spellings too).
A time in the past, one more than 60 days ahead, or a wall-clock time that does not exist (the
hour skipped when the clocks go forward) is refused with a message saying what is accepted.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

MAX_AHEAD = timedelta(days=60)

ACCEPTED = (
    "Use `HH:MM` (today, or tomorrow if that time has passed), `YYYY-MM-DD HH:MM`, "
    "or `in 90m` / `in 2h` / `in 1h30m`; times are in the server's timezone ({tz})."
)

_CLOCK = re.compile(r"^(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)$")
_DATE_TIME = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})(?:\s+|t)(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)$"
)
_RELATIVE = re.compile(
    r"^in\s*(?:(?P<h>\d{1,4})\s*(?:h|hr|hrs|hour|hours))?\s*"
    r"(?:(?P<m>\d{1,5})\s*(?:m|min|mins|minute|minutes))?$"
)


class AtError(ValueError):
    """An `at` value that cannot be used; the message is shown to the organiser as is."""


def _zone(tz: tzinfo | str) -> tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def local_instant(day: date, at: time, tz: tzinfo | str) -> datetime:
    """The UTC instant of a wall-clock time; AtError for a time the clocks skip.

    An ambiguous time (the repeated hour in autumn) is read as the first one, like a person would.
    """
    zone = _zone(tz)
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=zone, fold=0)
    try:
        instant = aware.astimezone(UTC)
        back = instant.astimezone(zone).replace(tzinfo=None)
    except OverflowError:
        # The last hours of year 9999 west of Greenwich (or the first east) have no UTC instant.
        raise AtError(_too_far()) from None
    if back != naive:
        raise AtError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {_zone_name(zone)}: the clocks go forward "
            "then. Pick a time outside the skipped hour."
        )
    return instant


def parse_at(text: str, *, now: datetime, tz: tzinfo | str) -> datetime:
    """When `text` means, as an aware UTC datetime strictly after `now` and within 60 days."""
    zone = _zone(tz)
    accepted = ACCEPTED.format(tz=_zone_name(zone))
    raw = " ".join((text or "").strip().lower().split())
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    if not raw:
        raise AtError(f"`at` is empty. {accepted}")

    if match := _CLOCK.match(raw):
        at = time(int(match["h"]), int(match["m"]))
        today = now.astimezone(zone).date()
        when = local_instant(today, at, zone)
        if when <= now:
            when = local_instant(today + timedelta(days=1), at, zone)
    elif match := _DATE_TIME.match(raw):
        try:
            day = date(int(match["y"]), int(match["mo"]), int(match["d"]))
        except ValueError:
            raise AtError(f"`{text.strip()}` is not a real date. {accepted}") from None
        when = local_instant(day, time(int(match["h"]), int(match["m"])), zone)
        if when <= now:
            raise AtError(
                f"{day:%Y-%m-%d} {int(match['h']):02d}:{match['m']} has already passed "
                f"(it is now {now.astimezone(zone):%Y-%m-%d %H:%M} in {_zone_name(zone)}). "
                "Choose a time in the future, or leave `at` out to send it now."
            )
    elif (match := _RELATIVE.match(raw)) and (match["h"] or match["m"]):
        try:
            delay = timedelta(hours=int(match["h"] or 0), minutes=int(match["m"] or 0))
        except OverflowError:
            raise AtError(_too_far()) from None
        if delay < timedelta(minutes=1):
            raise AtError(
                "`in` needs at least 1 minute, e.g. `in 10m`; leave `at` out to send it now."
            )
        if delay > MAX_AHEAD:
            raise AtError(_too_far())
        when = now + delay
    else:
        raise AtError(f"I can't read `{text.strip()[:50]}` as a time. {accepted}")

    if when - now > MAX_AHEAD:
        raise AtError(_too_far())
    return when


def _too_far() -> str:
    days = MAX_AHEAD.days
    return (
        f"That is more than {days} days ahead: announcements can be scheduled up to {days} days "
        "ahead."
    )


__all__ = ["ACCEPTED", "MAX_AHEAD", "AtError", "local_instant", "parse_at"]
