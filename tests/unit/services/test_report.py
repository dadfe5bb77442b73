"""The impact report built from a real SQLite store holding a known fortnight of data."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.clock import to_db
from bot.config import parse_settings
from bot.programme import Event, Programme, Session
from bot.report.figure import draw, png_size, render_png
from bot.report.model import UnknownOrganisation
from bot.schedule import Schedule
from bot.services.audit import AuditTrail
from bot.services.report import ReportService
from bot.services.setup import GuildSetup
from bot.store import Ledger, Store
from bot.store.interest import add_interest
from bot.store.programme import read_stored_programme, replace_programme
from bot.store.shares import opt_out

GUILD = 1001
#: Registrations per day, 3 to 14 September: six quiet days, then six rising ones.
DAILY = [1, 1, 1, 1, 1, 1, 4, 5, 6, 7, 8, 9]
FIRST_DAY = date(2026, 9, 3)
NOW = datetime(2026, 9, 14, 16, 0, tzinfo=UTC)  # Monday of the week, 17:00 in London

SESSIONS = [
    ("alpha-1", "Run charts for busy ward teams", "Alpha NHS Trust", 14),
    ("alpha-2", "Measuring what matters in discharge", "Alpha NHS Trust", 15),
    ("beta-1", "QI café", "Beta Health Board", 16),
]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Lifecycle:
    """What the lifecycle feature will provide: attendance and ratings per session."""

    async def attendance(self, guild_id: int) -> Mapping[str, int] | None:
        return {"alpha-1": 20, "alpha-2": 11, "beta-1": 4}

    async def feedback(self, guild_id: int) -> Mapping[str, Sequence[int]] | None:
        return {"alpha-1": [5, 4, 4], "alpha-2": [3, 5, 5], "beta-1": [2, 5]}


def programme() -> Programme:
    sessions = tuple(
        Session(
            id=sid,
            title=title,
            start=datetime(2026, 9, day, 9, 0, tzinfo=UTC),
            end=datetime(2026, 9, day, 10, 0, tzinfo=UTC),
            host=host,
            join_url=f"https://example.org/join/{sid}",
        )
        for sid, title, host, day in SESSIONS
    )
    return Programme(event=Event(name="QI Week Test"), sessions=sessions)


async def share(store: Store, message_id: int, author: int, text: str, reactions: int) -> None:
    await store.db.execute(
        "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name, content,"
        " jump_url, created_at, reaction_count) VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            GUILD,
            author,
            f"Author {author}",
            text,
            f"https://discord.com/channels/{GUILD}/1/{message_id}",
            to_db(NOW - timedelta(hours=message_id)),
            reactions,
        ),
    )


@pytest.fixture
async def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    clock = Clock()
    async with Store(tmp_path / "report.db", clock=clock) as store:
        await replace_programme(store, GUILD, programme(), "seed")
        user = 0
        for n, count in enumerate(DAILY):
            clock.now = datetime.combine(FIRST_DAY + timedelta(days=n), datetime.min.time(), UTC)
            clock.now += timedelta(hours=10)
            for _ in range(count):
                user += 1
                session = SESSIONS[user % 3][0]
                assert await add_interest(store, GUILD, session, user)
        clock.now = NOW
        await share(store, 1, 501, "Loved 'Run charts for busy ward teams' #QIWeek", 7)
        await share(store, 2, 502, "Join us https://example.org/join/beta-1 #QIWeek", 2)
        await share(store, 3, 503, "A general #QIWeek hello", 0)
        await share(store, 4, 504, "Opted out but popular: run charts for busy ward teams", 99)
        # A share that raced the opt-out's erase (flag set, row still there) stays out.
        await store.db.execute(
            "INSERT INTO member_prefs (guild_id, user_id, digest_opt_out, updated_at)"
            " VALUES (?, 504, 1, ?)",
            (GUILD, to_db(NOW)),
        )
        await share(store, 5, 505, "Erased by opting out", 50)
        await opt_out(store, GUILD, 505)
        ledger = Ledger(store)
        for key, kind, sent in (
            ("r1", "reminder", True),
            ("r2", "reminder", True),
            ("r3", "reminder", False),
            ("d1", "dm", True),
            ("d2", "dm", True),
            ("g1", "digest", True),
        ):
            await ledger.claim(key, kind=kind, guild_id=GUILD)
            if sent:
                await ledger.mark_sent(key)
        for status in ("sent", "late", "cancelled"):
            await store.db.execute(
                "INSERT INTO announcements (guild_id, author_id, channel_id, body, send_at,"
                " created_at, status) VALUES (?, 1, 1, 'x', ?, ?, ?)",
                (GUILD, to_db(NOW), to_db(NOW), status),
            )
        settings = parse_settings({"QIWEEK_DB": str(tmp_path / "x.db")}, require_token=False)
        audit = AuditTrail(store)
        setup = GuildSetup(store=store, settings=settings, schedule=Schedule(), audit=audit)
        yield ReportService(
            store=store,
            clock=clock,
            programme=lambda g: read_stored_programme(store, g),
            setup=setup,
            audit=audit,
        )


async def test_headline_figures_and_run_charts(service: ReportService) -> None:
    report = await service.build(GUILD)
    h = report.headline
    assert (h.registrations, h.members_registered, h.sessions) == (sum(DAILY), sum(DAILY), 3)
    assert (h.shares, h.contributors) == (3, 3)  # never the opted-out members' shares
    assert (h.reminders_delivered, h.announcements_sent) == (4, 2)
    assert h.attendance is None and h.feedback is None

    reg = report.registrations
    assert reg.days[0] == FIRST_DAY and reg.days[-1] == date(2026, 9, 14)  # up to today
    assert list(reg.values) == DAILY
    assert reg.analysis.median == 2.5 and reg.analysis.applied
    assert [(r.direction, r.start, r.end, r.points) for r in reg.analysis.shifts] == [
        ("below", 0, 5, 6),
        ("above", 6, 11, 6),
    ]
    # Six equal days count once, then six rises: a rising trend of 7 points over 12 days.
    assert [(r.direction, r.start, r.end, r.points) for r in reg.analysis.trends] == [
        ("rising", 0, 11, 7)
    ]
    shares = report.shares
    assert shares.days == (date(2026, 9, 14),) and shares.values == (3,)
    assert shares.analysis.median == 3 and not shares.analysis.applied
    assert report.attendance is None


async def test_per_organisation_table_and_top_lists(service: ReportService) -> None:
    report = await service.build(GUILD)
    rows = {r.host: r for r in report.organisations}
    per_session = {sid: 0 for sid, *_ in SESSIONS}
    for user in range(1, sum(DAILY) + 1):
        per_session[SESSIONS[user % 3][0]] += 1
    alpha = rows["Alpha NHS Trust"]
    assert (alpha.sessions, alpha.registrations, alpha.shares) == (
        2,
        per_session["alpha-1"] + per_session["alpha-2"],
        1,
    )
    assert alpha.attended is None and alpha.feedback is None
    beta = rows["Beta Health Board"]
    assert (beta.sessions, beta.registrations, beta.shares) == (1, per_session["beta-1"], 1)
    assert [s.registrations for s in report.top_sessions] == sorted(
        per_session.values(), reverse=True
    )
    assert [(s.author_name, s.reactions) for s in report.top_shares] == [
        ("Author 501", 7),
        ("Author 502", 2),
        ("Author 503", 0),
    ]


async def test_attendance_and_feedback_appear_when_recorded(service: ReportService) -> None:
    service.lifecycle = Lifecycle()
    report = await service.build(GUILD)
    assert report.headline.attendance == 35
    assert report.headline.feedback is not None and report.headline.feedback.count == 8
    rows = {r.host: r for r in report.organisations}
    alpha, beta = rows["Alpha NHS Trust"], rows["Beta Health Board"]
    assert alpha.attended == 31 and alpha.feedback is not None
    assert (alpha.feedback.count_text, alpha.feedback.mean_text) == ("6", "4.3")
    assert beta.feedback is not None
    assert (beta.feedback.count_text, beta.feedback.mean_text) == ("<5", "\u2013")
    chart = report.attendance
    assert chart is not None and chart.days == (date(2026, 9, 14),) and chart.values == (20,)
    fig = draw(report)
    assert len(fig.subfigs[0].axes) == 3  # the attendance panel joins the run charts


async def test_one_organisation_only(service: ReportService) -> None:
    report = await service.build(GUILD, "beta health board")
    assert report.organisation == "Beta Health Board"
    assert [r.host for r in report.organisations] == ["Beta Health Board"]
    assert report.headline.shares == 1 and report.headline.reminders_delivered is None
    assert [s.title for s in report.top_sessions] == ["QI café"]
    with pytest.raises(UnknownOrganisation):
        await service.build(GUILD, "Gamma Trust")
    assert await service.hosts(GUILD) == ["Alpha NHS Trust", "Beta Health Board"]


async def test_figure_holds_the_data_medians_and_signals(service: ReportService) -> None:
    report = await service.build(GUILD)
    fig = draw(report)
    reg_ax, share_ax = fig.subfigs[0].axes
    series, median = reg_ax.lines[0], reg_ax.lines[1]
    assert list(series.get_ydata()) == DAILY
    assert list(median.get_ydata()) == [2.5, 2.5]
    [trend] = reg_ax.lines[2:]
    assert len(trend.get_xdata()) == 12
    shift_points = sum(len(c.get_offsets()) for c in reg_ax.collections)
    assert shift_points == 12  # both shifts marked
    assert "run rules need 10 or more" in share_ax.get_xlabel()
    [bars] = fig.subfigs[1].axes
    assert [p.get_width() for p in bars.patches] == [s.registrations for s in report.top_sessions]
    png = render_png(report)
    assert png_size(png) == (1600, 1000)
    assert png == render_png(report)  # deterministic: no dates or versions embedded


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


async def test_html_page_tables_and_no_external_request(service: ReportService) -> None:
    service.lifecycle = Lifecycle()
    report, data = await service.html(GUILD)
    page = data.decode("utf-8")
    parser = Links()
    parser.feed(page)
    organisations, sessions, shares = parser.tables
    assert organisations[0] == [
        "Organisation",
        "Sessions",
        "Registrations",
        "Attended",
        "Feedback (n)",
        "Feedback mean",
        "Shares mentioning",
    ]
    alpha = report.organisations[0]
    assert organisations[1] == [
        "Alpha NHS Trust",
        "2",
        str(alpha.registrations),
        "31",
        "6",
        "4.3",
        "1",
    ]
    assert organisations[2][0] == "Beta Health Board" and organisations[2][4:6] == ["<5", "\u2013"]
    assert len(sessions) == 4 and sessions[1][0] == report.top_sessions[0].title
    assert [row[1] for row in shares[1:]] == ["Author 501", "Author 502", "Author 503"]
    assert "Opted out" not in page and "Erased" not in page
    # Nothing is fetched: the one image is inline, the only links are Discord's.
    assert any(u.startswith("data:image/png;base64,") for u in parser.urls)
    external = [u for u in parser.urls if "http" in u]
    assert external and all(u.startswith("https://discord.com/channels/") for u in external)
    assert not re.search(r"url\(|@import|<script|<link", page)
    assert "@page" in page and "A4" in page
    # Counts only: no member id anywhere in the page.
    for member in (501, 502, 503, 504, 505):
        assert f"/{member}" not in page and f"<@{member}>" not in page


async def test_csv_of_the_organisations(service: ReportService) -> None:
    service.lifecycle = Lifecycle()
    _, data = await service.csv(GUILD)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["organisation"] for r in rows] == ["Alpha NHS Trust", "Beta Health Board"]
    assert rows[1]["feedback_count"] == "<5" and rows[0]["attended"] == "31"
