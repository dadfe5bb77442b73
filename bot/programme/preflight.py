"""Pre-flight warnings: what is legal in a programme but likely a mistake.

``python -m bot check`` prints these without failing (a problem refuses the file; a warning only
asks the organiser to look again). Each names the session and where it is in its file.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, time, timedelta
from urllib.parse import urlsplit

from bot.programme.model import Programme, Session, TzLike, format_local_date, resolve_tz

#: Discord allows 100 scheduled events per server; the bot leaves room for the organisers' own.
#: Mirrors the default of ``QIWEEK_EVENTS_MAX`` (the scheduled-events cap).
DEFAULT_EVENTS_MAX = 90
#: A session starting in this stretch of the local night is usually a timezone slip.
NIGHT_STARTS = time(22, 0)
NIGHT_ENDS = time(6, 30)

#: The kinds of warning, in the order they are listed.
KINDS = (
    "no-link",
    "not-https",
    "host-overlap",
    "night",
    "outside-week",
    "too-many",
    "same-title",
)


@dataclass(frozen=True)
class ProgrammeWarning:
    """One likely mistake: its kind (see ``KINDS``), where it is, and what to check."""

    kind: str
    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


def event_week(programme: Programme, tz: TzLike = None) -> tuple[date, date] | None:
    """Monday to Friday of the week holding the first session (the event has no declared
    days, so its first session decides; one on a Saturday or Sunday is a warm-up for the week
    that follows); None for an empty programme."""
    days = programme.days(tz)
    if not days:
        return None
    first = days[0]
    monday = first - timedelta(days=first.weekday())
    if first.weekday() >= 5:
        monday += timedelta(days=7)
    return monday, monday + timedelta(days=4)


def programme_warnings(
    programme: Programme, tz: TzLike = None, *, events_max: int = DEFAULT_EVENTS_MAX
) -> list[ProgrammeWarning]:
    """Every warning for ``programme`` in ``tz`` (default: the event's timezone), by kind, then
    in the programme's time order. ``events_max`` is the scheduled-events cap (room per 7 days)."""
    zone = resolve_tz(tz if tz is not None else programme.event.timezone)
    found: list[ProgrammeWarning] = []

    def warn(kind: str, session: Session, message: str) -> None:
        found.append(ProgrammeWarning(kind, programme.place_of(session), message))

    sessions = programme.sessions
    for session in sessions:
        if not session.join_url:
            warn("no-link", session, f"{session.title!r} has no join link (join_url)")
        elif urlsplit(session.join_url).scheme.lower() != "https":
            warn(
                "not-https",
                session,
                f"the join link of {session.title!r} is not https: {session.join_url[:100]}",
            )

    by_host: dict[str, list[Session]] = defaultdict(list)
    for session in sessions:
        if session.host.strip():
            by_host[session.host.strip().casefold()].append(session)
    for hosted in by_host.values():
        for index, later in enumerate(hosted):
            for earlier in hosted[:index]:
                if earlier.start < later.end and later.start < earlier.end:
                    warn(
                        "host-overlap",
                        later,
                        f"{later.title!r} overlaps {earlier.title!r} "
                        f"({programme.place_of(earlier)}), both hosted by {later.host}",
                    )

    for session in sessions:
        local = session.start.astimezone(zone)
        if local.time() >= NIGHT_STARTS or local.time() < NIGHT_ENDS:
            warn(
                "night",
                session,
                f"{session.title!r} starts at {local:%H:%M} {_zone_name(zone)}, in the night: "
                "is the time or the timezone wrong?",
            )

    week = event_week(programme, zone)
    if week is not None:
        monday, friday = week
        for session in sessions:
            day = session.local_date(zone)
            if not monday <= day <= friday:
                warn(
                    "outside-week",
                    session,
                    f"{session.title!r} is on {format_local_date(day, year=True)}, outside the "
                    f"event's week ({format_local_date(monday)} to "
                    f"{format_local_date(friday, year=True)}, the week of the first session)",
                )

    crowded = _most_in_a_week(sessions)
    if crowded is not None and crowded[1] > events_max:
        first, count = crowded
        warn(
            "too-many",
            first,
            f"{count} sessions in the 7 days from {first.title!r}; the scheduled-events cap "
            f"leaves room for {events_max} (QIWEEK_EVENTS_MAX): the rest get no Discord event",
        )

    seen: dict[tuple[date, str], Session] = {}
    for session in sessions:
        key = (session.local_date(zone), " ".join(session.title.casefold().split()))
        if key in seen:
            first_one = seen[key]
            warn(
                "same-title",
                session,
                f"{session.title!r} is on the same day as a session with the same title "
                f"({programme.place_of(first_one)}): a duplicate?",
            )
        else:
            seen[key] = session

    order = {kind: index for index, kind in enumerate(KINDS)}
    return sorted(found, key=lambda w: order[w.kind])  # stable: time order within a kind


def _most_in_a_week(sessions: tuple[Session, ...]) -> tuple[Session, int] | None:
    """The session opening the busiest 7-day window (starts within [start, start + 7 days)),
    and how many sessions that window holds; sessions are in time order."""
    best: tuple[Session, int] | None = None
    end = 0
    for index, first in enumerate(sessions):
        end = max(end, index)
        while end < len(sessions) and sessions[end].start < first.start + timedelta(days=7):
            end += 1
        count = end - index
        if best is None or count > best[1]:
            best = (first, count)
    return best


def _zone_name(zone: object) -> str:
    return getattr(zone, "key", None) or str(zone)
