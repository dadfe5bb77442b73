"""Time helpers. Code takes a `Clock` instead of calling datetime.now(), so tests can steer it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: an aware UTC datetime."""
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    """An aware datetime as the ISO 8601 UTC text every table stores."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored: attach a timezone first")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(text: str) -> datetime:
    """Back from the stored text to an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)
