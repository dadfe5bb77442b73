"""Which date a member means by a ``day`` option: today, tomorrow, a weekday, or YYYY-MM-DD."""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.programme.model import (
    ACCEPTED_DAY_FORMS,
    DAY_RANGE,
    MAX_YEAR,
    MIN_YEAR,
    DayError,
    Programme,
    TzLike,
)

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ISO_DAY = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


def weekday_named(value: str) -> int | None:
    """The weekday (Monday 0) that lower-case ``value`` names: in full, or by 3+ first letters."""
    if len(value) >= 3:
        for index, name in enumerate(_WEEKDAYS):
            if name.startswith(value):
                return index
    return None


def iso_day(value: str, *, text: str | None, accepted: str) -> date | None:
    """``value`` as a ``YYYY-MM-DD`` date within the supported years; None when it is not in
    that shape, DayError (naming ``accepted``) when it is but is no usable date."""
    if not _ISO_DAY.fullmatch(value):
        return None
    try:
        year, month, day = (int(p) for p in value.split("-"))
        found = date(year, month, day)
    except ValueError:
        raise DayError(f"{text!r} is not a real date. Use {accepted}.") from None
    # The ends of the calendar would overflow a day's bounds (and no event is there).
    if not MIN_YEAR <= found.year <= MAX_YEAR:
        raise DayError(f"{text!r} is too far away: {DAY_RANGE}.")
    return found


def parse_day(text: str | None, *, today: date, programme: Programme, tz: TzLike = None) -> date:
    """The date a member means by ``/programme day``; DayError lists the accepted forms."""
    value = (text or "").strip().lower()
    if value in ("", "today"):
        return today
    if value == "tomorrow":
        return today + timedelta(days=1)
    weekday = weekday_named(value)
    if weekday is not None:
        return _weekday_in_event(weekday, today, programme, tz)
    found = iso_day(value, text=text, accepted=ACCEPTED_DAY_FORMS)
    if found is not None:
        return found
    raise DayError(f"I can't read {text!r} as a day. Use {ACCEPTED_DAY_FORMS}.")


def _weekday_in_event(weekday: int, today: date, programme: Programme, tz: TzLike) -> date:
    week = programme.event_week(tz)
    if week is None:
        monday = today - timedelta(days=today.weekday())
        return monday + timedelta(days=weekday)
    first, last = week
    candidate = first + timedelta(days=(weekday - first.weekday()) % 7)
    if candidate <= last:
        return candidate
    monday = first - timedelta(days=first.weekday())
    return monday + timedelta(days=weekday)
