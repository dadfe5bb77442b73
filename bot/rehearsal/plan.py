"""What a rehearsal plays, decided up front from the programme and a seed (pure, no I/O).

- `build_timeline`: the compressed event time. The week runs from 18:00 on the evening before
  the first day to 45 minutes after the last day's digest. Around every planned send (daily
  posts, each reminder lead, digests, the organiser's import and announcement) event time runs
  slowly enough that Discord's real rates still fit (a 60-DM reminder fan-out at the bot's
  45 requests/s takes a few event minutes, as on the day); between them (nights, gaps) it runs
  fast. Both parts share the wall-clock budget (``--minutes``).
- `build_script`: what the simulated members and the organiser do, and when (event time).
- `changed_programme`: the programme the organiser imports on the second day (one session
  moved an hour later, one removed), so change notices happen.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from bot.clock import Timeline
from bot.programme import Programme, Session, combine_local

#: Busy windows run at least this slowly (event seconds per real second)...
MIN_BUSY_SPEED = 60.0
#: ...and get this share of the wall-clock budget when the quiet parts can go faster.
BUSY_SHARE = 0.55

FIRST_NAMES = (
    "Aisha Ben Chloe Dev Ella Farah Grace Harry Imran Jess Kofi Lena Maya Niall Olu Priya "
    "Quinn Rosa Sam Tariq Uma Vik Wen Yusuf Zara"
).split()
LAST_NAMES = (
    "Patel Jones Okafor Smith Khan Evans Murphy Chen Ali Brown Taylor Singh Wilson Hughes "
    "Roberts Ahmed Walker Wright Green Lewis"
).split()
SHARES = (
    "Our ward started a daily safety huddle this week and falls are already down",
    "Tried a PDSA cycle on discharge letters: 20 minutes saved per patient",
    "Run chart of our clinic waiting times after the new booking process",
    "Lovely session this morning, the patient partner's story stayed with me",
    "We mapped the referral pathway as a team: seven hand-offs, now four",
    "First go at a driver diagram for our pressure ulcer project",
    "Huge thanks to our porters for co-designing the new bed-move checklist",
    "Measurement for improvement finally clicked for me today",
)


@dataclass(frozen=True)
class Member:
    """A simulated member: their sandbox user name and display name."""

    name: str
    display: str
    dms_closed: bool = False


@dataclass(frozen=True)
class Action:
    """One thing a person does at an event time: ``kind`` and its arguments."""

    at: datetime
    kind: str
    who: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Week:
    """The event week as the rehearsal sees it (local days, the bot's times)."""

    programme: Programme
    tz: tzinfo
    daily_post_time: time
    digest_time: time
    reminder_leads: tuple[int, ...]

    @property
    def days(self) -> list[date]:
        """Days with sessions (each gets a daily post)."""
        return self.programme.days(self.tz)

    @property
    def event_days(self) -> list[date]:
        """Every day of the event week, Monday to Friday (each gets a digest; the last one the
        roundup), or the first to the last session's day when the programme spans more."""
        week = self.programme.event_week(self.tz)
        assert week is not None
        first, last = week
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def local(self, day: date, at: time) -> datetime:
        return combine_local(day, at, self.tz)

    @property
    def start(self) -> datetime:
        """18:00 on the evening before the first day."""
        first = min(self.days[0], self.event_days[0])
        return self.local(first - timedelta(days=1), time(18, 0))

    @property
    def end(self) -> datetime:
        """45 minutes after the last day's digest (and roundup), or its last session's end."""
        digest = self.local(self.event_days[-1], self.digest_time) + timedelta(minutes=45)
        last_end = max(s.end for s in self.programme.sessions) + timedelta(minutes=15)
        return max(digest, last_end)

    @property
    def import_at(self) -> datetime:
        """When the organiser imports the changed programme: 07:30 on the second day."""
        day = self.days[1] if len(self.days) > 1 else self.days[0]
        return self.local(day, time(7, 30))

    @property
    def announce_at(self) -> tuple[datetime, datetime]:
        """(when the organiser schedules it, when it is due): day 1 11:00 for the last day 12:15."""
        return self.local(self.days[0], time(11, 0)), self.local(self.days[-1], time(12, 15))


def busy_windows(week: Week) -> list[tuple[datetime, datetime]]:
    """Event-time intervals around planned sends, merged and clipped to the week."""
    spans: list[tuple[datetime, datetime]] = []
    for day in week.days:
        post = week.local(day, week.daily_post_time)
        spans.append((post - timedelta(minutes=3), post + timedelta(minutes=12)))
    for day in week.event_days:
        digest = week.local(day, week.digest_time)
        spans.append((digest - timedelta(minutes=3), digest + timedelta(minutes=15)))
    for session in week.programme.sessions:
        for lead in week.reminder_leads:
            due = session.start - timedelta(minutes=lead)
            spans.append((due - timedelta(minutes=6), due + timedelta(minutes=8)))
    spans.append((week.import_at - timedelta(minutes=2), week.import_at + timedelta(minutes=20)))
    due = week.announce_at[1]
    spans.append((due - timedelta(minutes=2), due + timedelta(minutes=10)))
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        start, end = max(start, week.start), min(end, week.end)
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def build_timeline(week: Week, minutes: float, real_start: float, *, now: Any) -> Timeline:
    """The compressed event time: ``minutes`` of wall-clock from `Week.start` to `Week.end`."""
    budget = max(minutes * 60.0, 10.0)
    windows = busy_windows(week)
    busy = sum((b - a).total_seconds() for a, b in windows)
    quiet = (week.end - week.start).total_seconds() - busy
    busy_speed = max(busy / (BUSY_SHARE * budget), MIN_BUSY_SPEED) if busy else MIN_BUSY_SPEED
    quiet_real = budget - busy / busy_speed
    quiet_speed = quiet / quiet_real if quiet_real > 0 else busy_speed
    if quiet_speed <= busy_speed:  # a short week: one speed throughout
        busy_speed = quiet_speed = (busy + quiet) / budget
    points: list[tuple[float, datetime]] = [(0.0, week.start)]
    real, moment = 0.0, week.start
    for start, end in windows:
        if start > moment:
            real += (start - moment).total_seconds() / quiet_speed
            points.append((real, start))
        real += (end - max(start, moment)).total_seconds() / busy_speed
        points.append((real, end))
        moment = end
    if week.end > moment:
        real += (week.end - moment).total_seconds() / quiet_speed
        points.append((real, week.end))
    return Timeline(real_start, points, now=now)


def make_members(count: int, rng: random.Random) -> list[Member]:
    """``count`` members with distinct plausible names; about 3% (at least 2) have DMs closed."""
    closed = set(rng.sample(range(count), k=min(count, max(2, round(count * 0.03)))))
    members = []
    for n in range(count):
        first = FIRST_NAMES[n % len(FIRST_NAMES)]
        last = LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]
        rounds = n // (len(FIRST_NAMES) * len(LAST_NAMES))
        display = f"{first} {last}" + (f" {rounds + 1}" if rounds else "")
        name = f"{first}.{last}{n:03d}".lower()
        members.append(Member(name, display, n in closed))
    return members


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime | None:
    if end <= start:
        return None
    return start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))


def build_script(
    week: Week, members: list[Member], changed: tuple[str, str], rng: random.Random
) -> list[Action]:
    """Every member's and the organiser's actions through the week, in event-time order.

    ``changed`` is (moved, removed) session ids: registrations for those happen before the
    organiser's import, so their registrants get the change notices.
    """
    actions: list[Action] = []
    lead = max(week.reminder_leads)
    sessions = list(week.programme.sessions)
    opened = week.start + timedelta(minutes=20)
    for number, member in enumerate(members):
        picks = rng.sample(sessions, k=min(len(sessions), rng.randint(1, 4)))
        for session in picks:
            latest = session.start - timedelta(minutes=lead + 20)
            if session.id in changed:
                latest = min(latest, week.import_at - timedelta(minutes=30))
            if number % 2 == 0:  # by command, any time before
                when = _between(rng, opened, latest)
                if when is not None:
                    actions.append(Action(when, "register", member.name, {"session": session.id}))
                continue
            # by button on the day's post, after it is posted
            day = session.start.astimezone(week.tz).date()
            posted = week.local(day, week.daily_post_time) + timedelta(minutes=15)
            when = _between(rng, posted, latest) if session.id not in changed else None
            if when is None:
                when = _between(rng, opened, latest)
                if when is not None:
                    actions.append(Action(when, "register", member.name, {"session": session.id}))
                continue
            actions.append(Action(when, "button", member.name, {"session": session.id}))
    sharers = rng.sample(members, k=max(2, len(members) // 6))
    for index, member in enumerate(sharers):
        for day in rng.sample(week.days, k=min(len(week.days), rng.randint(1, 2))):
            when = _between(rng, week.local(day, time(9, 0)), week.local(day, week.digest_time))
            assert when is not None
            text = f"{rng.choice(SHARES)} #QIWeek"
            if index % 7 == 3:
                text = f"@everyone {text}"
            actions.append(Action(when, "share", member.name, {"text": text}))
    # Someone with a share on the first day opts out of the digest, then shares again.
    quitter = sharers[0]
    first_day = week.days[0]
    actions.append(
        Action(
            week.local(first_day, time(9, 30)),
            "share",
            quitter.name,
            {"text": f"{SHARES[0]} #QIWeek"},
        )
    )
    actions.append(Action(week.local(first_day, time(10, 0)), "opt_out", quitter.name))
    actions.append(
        Action(
            week.local(first_day, time(10, 30)),
            "share",
            quitter.name,
            {"text": "Opted out, so this one should stay out of the digest #QIWeek"},
        )
    )
    for member in rng.sample(members, k=max(1, len(members) // 5)):
        day = rng.choice(week.days)
        when = _between(rng, week.local(day, time(12, 0)), week.local(day, week.digest_time))
        if when is not None:
            actions.append(Action(when, "react", member.name, {"emoji": "👏"}))
    actions.append(Action(week.import_at, "import", "organiser"))
    scheduled, due = week.announce_at
    due_text = due.astimezone(week.tz).strftime("%Y-%m-%d %H:%M")
    actions.append(Action(scheduled, "announce", "organiser", {"due": due_text}))
    actions.sort(key=lambda a: a.at)
    return actions


def pick_changes(week: Week, rng: random.Random) -> tuple[str, str]:
    """(moved, removed): two sessions starting at least 3 hours after the import."""
    later = [s for s in week.programme.sessions if s.start >= week.import_at + timedelta(hours=3)]
    if len(later) < 2:
        later = list(week.programme.sessions[-2:])
    moved, removed = rng.sample(later, k=2)
    return moved.id, removed.id


def changed_programme(programme: Programme, moved: str, removed: str) -> Programme:
    """The programme with ``moved`` an hour later and ``removed`` gone."""
    sessions: list[Session] = []
    for session in programme.sessions:
        if session.id == removed:
            continue
        if session.id == moved:
            session = replace(
                session,
                start=session.start + timedelta(hours=1),
                end=session.end + timedelta(hours=1),
            )
        sessions.append(session)
    return Programme(programme.event, tuple(sessions))


def programme_yaml(programme: Programme, tz: tzinfo) -> bytes:
    """A YAML programme file (the format `data/programme.yaml` uses) for the organiser import."""
    import yaml

    def stamp(moment: datetime) -> str:
        return moment.astimezone(tz).isoformat(timespec="minutes")

    event = programme.event
    data = {
        "event": {
            "name": event.name,
            "theme": event.theme,
            "timezone": event.timezone,
            "hashtag": event.hashtag,
            "description": event.description,
        },
        "sessions": [
            {
                key: value
                for key, value in {
                    "id": s.id,
                    "title": s.title,
                    "start": stamp(s.start),
                    "end": stamp(s.end),
                    "host": s.host,
                    "speakers": list(s.speakers),
                    "format": s.format,
                    "join_url": s.join_url,
                    "description": s.description,
                    "components": list(s.components),
                    "tags": list(s.tags),
                }.items()
                if value not in ("", [])
            }
            for s in programme.sessions
        ],
    }
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode()
