"""The report model's pure pieces: daily series, share matching, small-number suppression."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.report.model import (
    Feedback,
    ReportData,
    SessionInfo,
    ShareInfo,
    build_report,
    daily_series,
    hosts,
    mentions,
)

LONDON = ZoneInfo("Europe/London")


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 9, day, hour, tzinfo=UTC)


def test_daily_series_fills_quiet_days_and_stops_at_today() -> None:
    days, values = daily_series(
        [at(3), at(3), at(6)], LONDON, last=date(2026, 9, 18), today=date(2026, 9, 8)
    )
    assert days[0] == date(2026, 9, 3) and days[-1] == date(2026, 9, 8)
    assert values == [2, 0, 0, 1, 0, 0]
    # 23:30 UTC on the 5th is 00:30 on the 6th in London (BST).
    assert daily_series([at(5, 23)], LONDON, last=None, today=date(2026, 9, 30)) == (
        [date(2026, 9, 6)],
        [1],
    )
    assert daily_series([], LONDON, last=None, today=date(2026, 9, 30)) == ([], [])


def test_a_share_mentions_a_session_by_link_or_distinctive_title() -> None:
    session = SessionInfo("s", "Run charts for wards", "Trust", at(14), "https://example.org/j/s")
    cafe = SessionInfo("c", "QI café", "Trust", at(14))

    def share(text: str) -> ShareInfo:
        return ShareInfo(1, "A", text, "https://discord.com/x", 0, at(14))

    assert mentions(share("See https://example.org/j/s today"), session)
    assert mentions(share("loved RUN CHARTS FOR WARDS!"), session)
    assert not mentions(share("run charts"), session)
    assert not mentions(share("great QI café"), cafe)  # too short a title to tell


def test_feedback_under_five_is_shown_as_less_than_five_without_a_mean() -> None:
    assert (Feedback.of([5, 4]).count_text, Feedback.of([5, 4]).mean_text) == ("<5", "\u2013")
    five = Feedback.of([5, 4, 3, 4, 4])
    assert (five.count_text, five.mean_text) == ("5", "4.0")
    assert Feedback.of([]).count_text == "0"


def test_hosts_leave_out_cancelled_sessions_and_name_missing_hosts() -> None:
    sessions = [
        SessionInfo("a", "A", "Beta", at(14)),
        SessionInfo("b", "B", "alpha", at(14)),
        SessionInfo("c", "C", "Gone", at(14), cancelled=True),
        SessionInfo("d", "D", " ", at(14)),
    ]
    assert hosts(sessions) == ["(no host given)", "alpha", "Beta"]


def test_an_empty_store_gives_an_empty_report() -> None:
    data = ReportData("QI Week", [], [], [])
    report = build_report(data, tz=LONDON, today=date(2026, 9, 14))
    assert report.registrations.values == () and report.registrations.analysis.median is None
    assert report.top_sessions == () and report.organisations == () and report.top_shares == ()
