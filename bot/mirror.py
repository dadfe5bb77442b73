"""Sessions as Discord scheduled events (issue 12), the pure part: what each event says, which
sessions are in the rolling window, and what to do to make the server match.

Discord's rules (taught to the sandbox in bot/sandbox/routes_events.py): an EXTERNAL event needs
a name (1-100), a location (1-100), start and end; a description holds at most 1,000
characters; a server holds at most 100 SCHEDULED or ACTIVE events. The window is the next
sessions in time order, at most `QIWEEK_EVENTS_MAX` and never more than the room the server
has left.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.programme import Session

NAME_MAX = 100
LOCATION_MAX = 100
DESCRIPTION_MAX = 1000
SERVER_CAP = 100
EVENT_URL = "https://discord.com/events/{guild_id}/{event_id}"


def event_url(guild_id: int, event_id: int) -> str:
    return EVENT_URL.format(guild_id=guild_id, event_id=event_id)


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters, ending "..." at a word boundary where one is near."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "..."


@dataclass(frozen=True, slots=True)
class EventSpec:
    """The fields of one session's event, within Discord's limits."""

    session_id: str
    name: str
    start: datetime
    end: datetime
    location: str
    description: str

    @property
    def fingerprint(self) -> str:
        data = [self.name, self.start.isoformat(), self.end.isoformat(), self.location]
        data.append(self.description)
        return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def event_spec(session: Session) -> EventSpec:
    """Name = title; location = the join link when it fits (else the host, link described)."""
    link = session.join_url.strip()
    if link and len(link) <= LOCATION_MAX:
        location = link
    else:
        location = shorten(session.host or "Online", LOCATION_MAX)
    lines = []
    if session.host:
        lines.append(f"Host: {session.host}")
    if session.speakers:
        lines.append(f"Speakers: {', '.join(session.speakers)}")
    if session.format:
        lines.append(f"Format: {session.format}")
    if session.component_names:
        lines.append(f"NHS IMPACT: {'; '.join(session.component_names)}")
    if link:
        lines.append(f"Join: {link}")
    head = "\n".join(lines)
    body = " ".join(session.description.split())
    if body:
        room = DESCRIPTION_MAX - len(head) - 2
        # The facts (host, link) always fit; the free text gives way.
        description = f"{head}\n\n{shorten(body, room)}" if room > 20 else head
    else:
        description = head
    if len(description) > DESCRIPTION_MAX:
        description = shorten(description, DESCRIPTION_MAX)
    return EventSpec(
        session_id=session.id,
        name=shorten(session.title, NAME_MAX) or session.id[:NAME_MAX],
        start=session.start,
        end=session.end,
        location=location,
        description=description,
    )


def window(sessions: Iterable[Session], now: datetime, size: int) -> list[Session]:
    """The next `size` sessions not yet over, in time order (running ones first)."""
    upcoming = sorted((s for s in sessions if s.end > now), key=lambda s: (s.start, s.id))
    return upcoming[: max(size, 0)]


def room(configured_max: int, others_uncompleted: int) -> int:
    """How many bot events may be scheduled or active: the setting, within the server's cap."""
    return max(0, min(configured_max, SERVER_CAP - others_uncompleted))


@dataclass(frozen=True, slots=True)
class Live:
    """A bot event as the server has it: its session and whether it is still uncompleted."""

    event_id: int
    session_id: str
    fingerprint: str
    status: int  # 1 scheduled, 2 active, 3 completed, 4 canceled


@dataclass
class Plan:
    """What to do on the server, in this order: end, cancel, edit, then create."""

    cancel: list[int] = field(default_factory=list)  # session removed or cancelled
    drop: list[int] = field(default_factory=list)  # still on, but out of the window
    edit: list[tuple[int, EventSpec]] = field(default_factory=list)
    create: list[EventSpec] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.cancel or self.drop or self.edit or self.create)


def plan_sync(
    *,
    sessions: Sequence[Session],
    live: Mapping[str, Live],
    now: datetime,
    size: int,
) -> Plan:
    """Make the bot's uncompleted events be exactly the window's sessions.

    `live`: the bot's uncompleted events by session id. A session not yet started and without
    an event is created; one that already started is not (Discord refuses a start in the past).
    """
    plan = Plan()
    by_id = {s.id: s for s in sessions}
    wanted = window(sessions, now, size)
    wanted_ids = {s.id for s in wanted}
    for session_id, event in live.items():
        if event.status not in (1, 2):
            continue
        if session_id not in by_id:
            plan.cancel.append(event.event_id)
        elif session_id not in wanted_ids and event.status == 1:
            plan.drop.append(event.event_id)
    for session in wanted:
        spec = event_spec(session)
        event = live.get(session.id)
        if event is not None and event.status in (1, 2):
            if event.fingerprint != spec.fingerprint:
                plan.edit.append((event.event_id, spec))
        elif session.start > now:
            plan.create.append(spec)
    return plan
