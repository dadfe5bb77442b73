"""One timezone validator for the environment, ``/organiser setup`` and programme files.

Only names in the IANA database that zoneinfo lists are accepted. Asking ``ZoneInfo`` directly is
not enough: ``Europe`` is a directory (``IsADirectoryError``), and ``right/...`` (leap-second
clocks, off by ~27 s) and ``posix/...`` are files zoneinfo would load but nobody means.
"""

from __future__ import annotations

import functools
from zoneinfo import ZoneInfo, available_timezones

ACCEPTED_TIMEZONES = "an IANA name such as Europe/London"


class TimezoneError(ValueError):
    """A timezone name that is not one we accept; the message says what is accepted."""


def check_timezone(name: str) -> str:
    """The canonical IANA name for ``name``; TimezoneError (a ValueError) otherwise.

    Case does not matter when it matches exactly one IANA name (``europe/london`` gives
    ``Europe/London``); the canonical spelling is returned, so it is what is stored and shown.
    """
    cleaned = name.strip()
    if cleaned in _timezone_names():
        return cleaned
    matches = _by_folded_name().get(cleaned.casefold(), ())
    if len(matches) == 1:
        return matches[0]
    shown = cleaned if len(cleaned) <= 60 else cleaned[:59] + "…"
    if cleaned.casefold().startswith(("right/", "posix/")):
        raise TimezoneError(
            f"{shown!r} is a variant of the timezone database, not a timezone: use the name "
            f"without {cleaned.split('/', 1)[0]}/ (e.g. Europe/London)"
        )
    raise TimezoneError(f"{shown!r} is not a known timezone (use {ACCEPTED_TIMEZONES})")


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for a name :func:`check_timezone` accepts; TimezoneError otherwise."""
    return ZoneInfo(check_timezone(name))


@functools.cache
def _timezone_names() -> frozenset[str]:
    # available_timezones() lists real zones only (no directories, no right/ or posix/ copies).
    return frozenset(available_timezones())


@functools.cache
def _by_folded_name() -> dict[str, tuple[str, ...]]:
    found: dict[str, list[str]] = {}
    for name in _timezone_names():
        found.setdefault(name.casefold(), []).append(name)
    return {folded: tuple(names) for folded, names in found.items()}
