"""The impact report's data: what the store holds, turned into figures, run charts and tables.

`ReportData` is the raw material (rows read from the store, plus attendance and feedback when the
session lifecycle records them); `build_report` is the pure step that makes a `Report` of it.
Member ids stay in `ReportData` (to count distinct members) and never reach the `Report`.

Attendance and feedback are optional throughout: ``None`` means "not recorded" (shown so), which
is different from zero. Once the lifecycle feature stores them, passing them in is all it takes
for the attendance panel and the table's columns to appear.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from bot.report.runrules import RunAnalysis, analyse

#: Below this many ratings an organisation's feedback is shown as "<5" (no mean), so no single
#: member's rating can be picked out.
SMALL_NUMBER = 5
TOP_SESSIONS = 10
TOP_SHARES = 5
SNIPPET = 200
#: A title shorter than this is too generic to say a share is about that session.
MIN_TITLE_MATCH = 10
NO_HOST = "(no host given)"
NOT_RECORDED = "not recorded"

LIMITS = (
    "Counts only what happened on Discord: registrations of interest, reminders the bot "
    "delivered, #QIWeek shares and announcements. Teams/Zoom attendance is not visible to the "
    "bot; attendance and feedback appear only where they were recorded in Discord.",
    "A registration of interest is not attendance; members may register and not come, or come "
    "without registering.",
    "Shares are those still stored: members who opted out of the digest, shares removed from "
    "it and shares older than the retention period are not counted.",
    "A share counts for a host when its text holds the title or the join link of one of the "
    "host's sessions; other mentions cannot be told apart.",
    "Cancelled sessions are left out of the per-organisation table and the top sessions.",
    "Feedback from fewer than 5 members of one organisation's sessions is shown as \u201c<5\u201d.",
    "Run rules (shift: 6 or more points on one side of the median; trend: 5 or more rising or "
    "falling, repeated values counted once) are applied only to charts of 10 or more points.",
)


class UnknownOrganisation(ValueError):
    """The organisation asked for hosts no session of the programme."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    title: str
    host: str
    start: datetime
    join_url: str = ""
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Registration:
    session_id: str
    user_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ShareInfo:
    author_id: int
    author_name: str
    content: str
    jump_url: str
    reactions: int
    created_at: datetime
    message_id: int = 0
    channel_id: int = 0


@dataclass(frozen=True)
class ReportData:
    """Everything the report is made of, as read from the store for one guild."""

    event_name: str
    sessions: Sequence[SessionInfo]
    registrations: Sequence[Registration]
    shares: Sequence[ShareInfo]
    reminders_delivered: int = 0
    announcements_sent: int = 0
    event_end: date | None = None
    #: attended members per session id; None until the lifecycle feature records attendance.
    attendance: Mapping[str, int] | None = None
    #: ratings per session id; None until the lifecycle feature records feedback.
    feedback: Mapping[str, Sequence[int]] | None = None


@dataclass(frozen=True)
class RunChart:
    """One run-chart panel: a value per day, its median and the run rules' signals."""

    title: str
    days: tuple[date, ...]
    values: tuple[int, ...]
    analysis: RunAnalysis

    @classmethod
    def of(cls, title: str, days: Sequence[date], values: Sequence[int]) -> RunChart:
        return cls(title, tuple(days), tuple(values), analyse(values))

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass(frozen=True, slots=True)
class SessionFigure:
    title: str
    host: str
    start: datetime
    registrations: int
    attended: int | None = None


@dataclass(frozen=True, slots=True)
class Feedback:
    """Feedback for a group of sessions: hidden below `SMALL_NUMBER` ratings."""

    count: int
    mean: float | None

    @classmethod
    def of(cls, ratings: Iterable[int]) -> Feedback:
        values = list(ratings)
        return cls(len(values), sum(values) / len(values) if values else None)

    @property
    def count_text(self) -> str:
        return "<5" if 0 < self.count < SMALL_NUMBER else str(self.count)

    @property
    def mean_text(self) -> str:
        if self.mean is None or self.count < SMALL_NUMBER:
            return "\u2013"
        return f"{self.mean:.1f}"


@dataclass(frozen=True, slots=True)
class OrganisationRow:
    host: str
    sessions: int
    registrations: int
    attended: int | None
    feedback: Feedback | None
    shares: int

    @property
    def attended_text(self) -> str:
        return NOT_RECORDED if self.attended is None else str(self.attended)


@dataclass(frozen=True, slots=True)
class TopShare:
    snippet: str
    author_name: str
    reactions: int
    jump_url: str
    day: date


@dataclass(frozen=True, slots=True)
class Headline:
    """The figures at the top of the report; None where a figure does not apply or is unknown."""

    members_registered: int
    registrations: int
    sessions: int
    shares: int
    contributors: int
    reminders_delivered: int | None = None
    announcements_sent: int | None = None
    attendance: int | None = None
    feedback: Feedback | None = None


@dataclass(frozen=True)
class Report:
    event_name: str
    organisation: str | None
    as_of: date
    timezone: str
    headline: Headline
    registrations: RunChart
    shares: RunChart
    attendance: RunChart | None
    top_sessions: tuple[SessionFigure, ...]
    organisations: tuple[OrganisationRow, ...]
    top_shares: tuple[TopShare, ...]
    limits: tuple[str, ...] = field(default=LIMITS)

    @property
    def charts(self) -> tuple[RunChart, ...]:
        found = (self.registrations, self.shares, self.attendance)
        return tuple(chart for chart in found if chart is not None)

    @property
    def scope(self) -> str:
        return self.organisation or "all host organisations"


# --------------------------------------------------------------------------- building


def hosts(sessions: Iterable[SessionInfo]) -> list[str]:
    """Host organisations of the (not cancelled) sessions, alphabetical, without repeats."""
    return sorted(
        {s.host.strip() or NO_HOST for s in sessions if not s.cancelled}, key=str.casefold
    )


def mentions(share: ShareInfo, session: SessionInfo) -> bool:
    """Whether a share's text names a session: its join link, or its (distinctive) title."""
    text = share.content.casefold()
    if session.join_url and session.join_url.casefold() in text:
        return True
    title = session.title.strip().casefold()
    return len(title) >= MIN_TITLE_MATCH and title in text


def daily_series(
    moments: Iterable[datetime], tz: tzinfo, *, last: date | None, today: date
) -> tuple[list[date], list[int]]:
    """Counts per local day from the first moment's day to `last` (not beyond today), zeros kept.

    Days without any count are real zeros on a run chart, so they are filled in.
    """
    counts = Counter(moment.astimezone(tz).date() for moment in moments)
    if not counts:
        return [], []
    first = min(counts)
    end = max(max(counts), last or first)
    end = max(min(end, today), first)
    days = [first + timedelta(days=n) for n in range((end - first).days + 1)]
    return days, [counts.get(day, 0) for day in days]


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1].rstrip() + "\u2026"


def _feedback(data: ReportData, session_ids: Iterable[str]) -> Feedback | None:
    if data.feedback is None:
        return None
    return Feedback.of(r for sid in session_ids for r in data.feedback.get(sid, ()))


def _attended(data: ReportData, session_ids: Iterable[str]) -> int | None:
    if data.attendance is None:
        return None
    return sum(data.attendance.get(sid, 0) for sid in session_ids)


def build_report(
    data: ReportData, *, tz: tzinfo, today: date, organisation: str | None = None
) -> Report:
    """The report of the whole server, or of one host organisation's sessions."""
    sessions = list(data.sessions)
    if organisation is not None:
        wanted = organisation.strip().casefold()
        sessions = [s for s in sessions if (s.host.strip() or NO_HOST).casefold() == wanted]
        if not sessions:
            raise UnknownOrganisation(organisation)
        organisation = sessions[0].host.strip() or NO_HOST
    ids = {s.id for s in sessions}
    registrations = [r for r in data.registrations if organisation is None or r.session_id in ids]
    shares = list(data.shares)
    if organisation is not None:
        shares = [sh for sh in shares if any(mentions(sh, s) for s in sessions)]
    active = [s for s in sessions if not s.cancelled]

    per_session = Counter(r.session_id for r in registrations)
    reg_days, reg_values = daily_series(
        (r.created_at for r in registrations), tz, last=data.event_end, today=today
    )
    share_days, share_values = daily_series(
        (s.created_at for s in shares), tz, last=data.event_end, today=today
    )
    attendance_chart = None
    if data.attendance is not None:
        by_day: Counter[date] = Counter()
        for s in active:
            day = s.start.astimezone(tz).date()
            if day <= today:
                by_day[day] += data.attendance.get(s.id, 0)
        days = sorted(by_day)
        attendance_chart = RunChart.of(
            "Attendance per session day", days, [by_day[d] for d in days]
        )

    top = sorted(active, key=lambda s: (-per_session[s.id], s.start, s.title))[:TOP_SESSIONS]
    top_sessions = tuple(
        SessionFigure(
            s.title,
            s.host,
            s.start,
            per_session[s.id],
            None if data.attendance is None else data.attendance.get(s.id, 0),
        )
        for s in top
        if per_session[s.id] > 0
    )

    rows = []
    for host in hosts(active):
        own = [s for s in active if (s.host.strip() or NO_HOST) == host]
        own_ids = [s.id for s in own]
        rows.append(
            OrganisationRow(
                host=host,
                sessions=len(own),
                registrations=sum(per_session[sid] for sid in own_ids),
                attended=_attended(data, own_ids),
                feedback=_feedback(data, own_ids),
                shares=sum(1 for sh in shares if any(mentions(sh, s) for s in own)),
            )
        )

    ranked = sorted(shares, key=lambda s: (-s.reactions, s.created_at, s.message_id))
    top_shares = tuple(
        TopShare(
            _snippet(s.content),
            s.author_name,
            s.reactions,
            s.jump_url,
            s.created_at.astimezone(tz).date(),
        )
        for s in ranked[:TOP_SHARES]
    )
    headline = Headline(
        members_registered=len({r.user_id for r in registrations}),
        registrations=len(registrations),
        sessions=len(active),
        shares=len(shares),
        contributors=len({s.author_id for s in shares}),
        reminders_delivered=data.reminders_delivered if organisation is None else None,
        announcements_sent=data.announcements_sent if organisation is None else None,
        attendance=_attended(data, [s.id for s in active]),
        feedback=_feedback(data, [s.id for s in active]),
    )
    return Report(
        event_name=data.event_name,
        organisation=organisation,
        as_of=today,
        timezone=getattr(tz, "key", str(tz)),
        headline=headline,
        registrations=RunChart.of("Registrations of interest per day", reg_days, reg_values),
        shares=RunChart.of("#QIWeek shares per day", share_days, share_values),
        attendance=attendance_chart,
        top_sessions=top_sessions,
        organisations=tuple(rows),
        top_shares=top_shares,
    )


__all__ = [
    "LIMITS",
    "NOT_RECORDED",
    "SMALL_NUMBER",
    "Feedback",
    "Headline",
    "OrganisationRow",
    "Registration",
    "Report",
    "ReportData",
    "RunChart",
    "SessionFigure",
    "SessionInfo",
    "ShareInfo",
    "TopShare",
    "UnknownOrganisation",
    "build_report",
    "daily_series",
    "hosts",
    "mentions",
]
