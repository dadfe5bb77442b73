"""Sessions as an iCalendar (.ics) file that Outlook, Google Calendar and phones import.

Pure: the caller passes ``now`` (for DTSTAMP). Times are written in UTC (``...Z``), so no
VTIMEZONE is needed and every calendar shows them in its reader's own zone. Each session keeps
one UID (``{session_id}@qiweek-bot``), so importing an updated file updates the event instead of
adding a second copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from bot.programme import Session

PRODID = "-//qiweek-bot//QI Week programme//EN"
UID_DOMAIN = "qiweek-bot"


def session_uid(session_id: str) -> str:
    """The UID a session keeps in every calendar file the bot makes."""
    return f"{session_id}@{UID_DOMAIN}"


def _description(session: Session) -> str:
    lines: list[str] = []
    if session.host:
        lines.append(f"Host: {session.host}")
    if session.speakers:
        lines.append(f"Speakers: {', '.join(session.speakers)}")
    if session.format:
        lines.append(f"Format: {session.format}")
    if session.join_url:
        lines.append(f"Join: {session.join_url}")
    if session.description:
        if lines:
            lines.append("")
        lines.append(session.description)
    return "\n".join(lines)


def sessions_ics(
    sessions: Iterable[Session],
    *,
    calendar_name: str,
    alarm_minutes: int | None,
    now: datetime,
) -> bytes:
    """One VEVENT per session (UTC times, join link as URL and LOCATION), with an optional
    display alarm ``alarm_minutes`` before the start."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    stamp = now.astimezone(UTC).replace(microsecond=0)
    import icalendar  # imported on first use: it costs start-up time

    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", calendar_name)
    for session in sessions:
        event = icalendar.Event()
        event.add("uid", session_uid(session.id))
        event.add("dtstamp", stamp)
        event.add("dtstart", session.start.astimezone(UTC))
        event.add("dtend", session.end.astimezone(UTC))
        event.add("summary", session.title)
        if session.join_url:
            event.add("url", session.join_url)
            event.add("location", session.join_url)
        description = _description(session)
        if description:
            event.add("description", description)
        if session.format:
            event.add("categories", [session.format])
        if alarm_minutes is not None and alarm_minutes > 0:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{session.title} starts in {alarm_minutes} minutes")
            alarm.add("trigger", timedelta(minutes=-alarm_minutes))
            event.add_component(alarm)
        calendar.add_component(event)
    return calendar.to_ical()


def ics_filename(stem: str) -> str:
    """A safe attachment name: letters, digits and hyphens, ending in .ics."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in stem)
    safe = "-".join(part for part in safe.split("-") if part)[:80] or "qiweek"
    return f"{safe}.ics"


__all__ = ["PRODID", "ics_filename", "session_uid", "sessions_ics"]
