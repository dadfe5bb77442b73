"""The programme core: formats, validation with places, DST, slugs, diff, days and search."""

from __future__ import annotations

import time as timer
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from bot.programme import (
    IMPACT_COMPONENTS,
    DayError,
    Event,
    Problem,
    Programme,
    ProgrammeError,
    Session,
    SessionIndex,
    derive_session_id,
    diff_programmes,
    load_programme,
    parse_component,
    parse_day,
    parse_programme,
    search_sessions,
    slugify,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def problems_of(data: str | bytes, filename: str = "p.yaml") -> list[str]:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(raw, filename, TZ)
    return [str(p) for p in caught.value.problems]


def make(title: str, start: datetime, minutes: int = 60, **kwargs: object) -> Session:
    sid = kwargs.pop("id", None) or derive_session_id(title, start, TZ)
    return Session(
        id=str(sid), title=title, start=start, end=start + timedelta(minutes=minutes), **kwargs
    )


# ----------------------------------------------------------------------------- YAML


YAML_OK = """\
event:
  name: Test Week
  theme: QI is for Everyone
  hashtag: QIWeekTest
sessions:
  - title: "QI café: welcome"
    start: 2026-09-14 12:30
    end: 2026-09-14 13:15
    host: Example Community NHS Trust
    speakers: [Jordan Placeholder, Avery Sample]
    format: QI café
    join_url: https://example.org/cafe
    description: Lunchtime chat.
    components: [1, "investing in people and culture"]
    tags: opening; cafe
  - id: Keynote 2026!
    title: Keynote
    start: 2026-09-18T14:00:00+01:00
    duration_minutes: 60
    speakers: "Dr A; Dr B"
    components: 5
  - title: Parsed by YAML
    start: 2026-09-15 10:00:00
    end: 2026-09-15 11:00:00
"""


def test_yaml_loads_every_field() -> None:
    programme = parse_programme(YAML_OK.encode(), "week.yaml", TZ)
    assert programme.event == Event(
        name="Test Week", theme="QI is for Everyone", timezone=TZ, hashtag="#QIWeekTest"
    )
    cafe, parsed, keynote = programme.sessions
    assert cafe.id == "2026-09-14-1230-qi-cafe-welcome"
    assert cafe.start == utc(2026, 9, 14, 11, 30)
    assert cafe.end == utc(2026, 9, 14, 12, 15)
    assert cafe.speakers == ("Jordan Placeholder", "Avery Sample")
    assert cafe.components == (1, 2)
    assert cafe.tags == ("opening", "cafe")
    assert cafe.join_url == "https://example.org/cafe"
    assert cafe.format == "QI café" and cafe.description == "Lunchtime chat."
    assert keynote.id == "keynote-2026"
    assert keynote.start == utc(2026, 9, 18, 13) and keynote.duration_minutes == 60
    assert keynote.speakers == ("Dr A", "Dr B") and keynote.components == (5,)
    # "2026-09-15 10:00:00" is a YAML timestamp: a naive datetime, read as local time.
    assert parsed.start == utc(2026, 9, 15, 9)
    assert programme.get("keynote-2026") is keynote and programme.get("nope") is None


def test_yaml_bare_list_and_file_timezone() -> None:
    text = "event:\n  timezone: America/New_York\nsessions:\n"
    text += "  - {title: A, start: 2026-09-14 09:00, duration_minutes: 30}\n"
    programme = parse_programme(text.encode(), "x.yml", TZ)
    assert programme.event.timezone == "America/New_York"
    assert programme.sessions[0].start == utc(2026, 9, 14, 13)
    bare = parse_programme(
        b"- {title: A, start: 2026-09-14 09:00, end: 2026-09-14 10:00}", "b.yaml", TZ
    )
    assert bare.sessions[0].start == utc(2026, 9, 14, 8)
    assert bare.event.timezone == TZ


def test_yaml_problems_have_lines_and_all_are_reported() -> None:
    problems = problems_of((DATA / "bad.yaml").read_bytes(), "bad.yaml")
    assert problems == [
        "line 3: unknown timezone 'Mars/Olympus_Mons': use an IANA name such as Europe/London",
        "line 5: start is missing",
        "line 9: end is not after start",
        "line 10: join_url 'ftp://example.org/x' is not an http(s) link",
        problems[4],
        "line 12: title is missing",
    ]
    assert problems[4].startswith("line 11: unknown component 9: use a number 1-5 or a component")
    assert "Building a shared purpose and vision" in problems[4]


def test_malformed_yaml_gives_line() -> None:
    problems = problems_of("sessions:\n  - title: A\n    start: [unclosed\n")
    assert len(problems) == 1
    assert problems[0].startswith("line ") and "malformed YAML" in problems[0]


def test_yaml_unknown_key_and_bad_values() -> None:
    text = """\
sessions:
  - title: A
    start: 14/09/2026 at noon
    end: 2026-09-14
    speeker: typo
  - title: B
    start: 2026-09-14 09:00
    end: 2026-09-14 23:00
  - title: C
    start: 2026-09-14 09:00
    duration_minutes: -5
"""
    problems = problems_of(text)
    assert problems[0].startswith("line 5: unknown key 'speeker'")
    assert problems[1].startswith("line 3: start '14/09/2026 at noon' is not a time I can read")
    assert "YYYY-MM-DD HH:MM" in problems[1] and "ISO 8601" in problems[1]
    assert problems[2].startswith("line 4: end 2026-09-14 has no time of day")
    assert problems[3].startswith("line 8: session lasts 14.0 hours")
    assert problems[4].startswith("line 11: duration_minutes -5 should be whole minutes")
    assert len(problems) == 5


def test_no_sessions_and_missing_end() -> None:
    assert problems_of("event:\n  name: Empty\n") == [
        "file: no sessions found: the programme needs at least one"
    ]
    assert problems_of("sessions:\n  - title: A\n    start: 2026-09-14 09:00\n") == [
        "line 2: end (or duration_minutes) is missing"
    ]


def test_unknown_extension_and_error_message() -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(b"x", "programme.xlsx", TZ)
    assert (
        ".yaml" in str(caught.value) and ".csv" in str(caught.value) and ".ics" in str(caught.value)
    )
    error = ProgrammeError([Problem("line 12", "end is not after start"), Problem("row 3", "x")])
    assert "2 problems" in str(error)
    assert "- line 12: end is not after start" in str(error)
    assert str(Problem("line 12", "end is not after start")) == "line 12: end is not after start"


def test_load_programme_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProgrammeError) as caught:
        load_programme(tmp_path / "nope.yaml", TZ)
    assert caught.value.problems[0].place == "file"


# ----------------------------------------------------------------------------- CSV


def test_csv_with_bom_quoting_and_unknown_columns() -> None:
    programme = load_programme(DATA / "spreadsheet.csv", TZ)
    cafe, poster, workshop = programme.sessions
    assert cafe.title == 'QI café: "what is QI?"'
    assert cafe.description == "A relaxed lunchtime chat,\nover two lines."
    assert cafe.speakers == ("Jordan Placeholder", "Avery Sample")
    assert cafe.components == (2, 4)
    assert cafe.join_url == "https://example.org/cafe"
    assert cafe.start == utc(2026, 9, 14, 11, 30)
    assert poster.start == utc(2026, 9, 14, 13) and poster.speakers == ()
    assert workshop.start == utc(2026, 9, 15, 9)
    assert workshop.host == "Example Acute Hospitals NHS Foundation Trust"


def test_csv_problems_use_spreadsheet_rows() -> None:
    text = (
        "\ufefftitle,start,duration_minutes,join_url,components,id\n"
        "A,2026-09-14 09:00,30,https://example.org/a,1,same\n"
        ",2026-09-14 10:00,30,,,\n"
        "C,2026-09-14 10:00,abc,www.example.org,Leadership;Nonsense,\n"
        "D,2026-09-14 11:00,30,,,same\n"
    )
    assert problems_of(text.encode("utf-8"), "p.csv") == [
        "row 3: title is missing",
        "row 4: duration_minutes 'abc' should be whole minutes above 0",
        "row 4: join_url 'www.example.org' is not an http(s) link",
        problems_of(text.encode("utf-8"), "p.csv")[3],
        "row 5: duplicate id 'same' (first at row 2)",
    ]
    assert problems_of(text.encode(), "p.csv")[3].startswith("row 4: unknown component 'Nonsense'")


def test_csv_missing_columns() -> None:
    problems = problems_of(b"Title,Host\nA,B\n", "p.csv")
    assert len(problems) == 1
    assert problems[0].startswith("row 1: missing column(s): start, end or duration_minutes")


def test_csv_not_utf8() -> None:
    problems = problems_of(
        "title,start,end\nCaf\xe9,2026-09-14 09:00,x\n".encode("cp1252"), "p.csv"
    )
    assert problems[0].startswith("file: not UTF-8")


# ----------------------------------------------------------------------------- ICS


def _calendar(*events: icalendar.Event) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//test//qiweek//EN")
    cal.add("version", "2.0")
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


def _event(**props: object) -> icalendar.Event:
    event = icalendar.Event()
    for key, value in props.items():
        event.add(key.replace("_", "-"), value)
    return event


def test_ics_reads_outlook_style_events() -> None:
    long_uid = "040000008200E00074C5B7101A82E00800000000" + "A1B2C3D4" * 8
    organizer = icalendar.vCalAddress("mailto:qi.team@example.org")
    organizer.params["CN"] = "Example ICB"
    first = _event(
        summary="QI café",
        dtstart=datetime(2026, 9, 14, 12, 30, tzinfo=LONDON),
        dtend=datetime(2026, 9, 14, 13, 15, tzinfo=LONDON),
        location="https://example.org/teams/cafe",
        description="Bring lunch.",
        uid=long_uid,
    )
    first.add("organizer", organizer)
    second = _event(
        summary="Workshop",
        dtstart=datetime(2026, 9, 15, 10, 0),  # floating: the default timezone
        duration=timedelta(minutes=90),
        location="Microsoft Teams Meeting",
        url="https://example.org/workshop",
        organizer=icalendar.vCalAddress("mailto:improvement.hub@example.org"),
        uid="short-uid@example.org",
    )
    programme = parse_programme(_calendar(first, second), "export.ics", TZ)
    cafe, workshop = programme.sessions
    assert cafe.title == "QI café" and cafe.host == "Example ICB"
    assert cafe.start == utc(2026, 9, 14, 11, 30) and cafe.end == utc(2026, 9, 14, 12, 15)
    assert cafe.join_url == "https://example.org/teams/cafe"
    assert cafe.description == "Bring lunch."
    assert len(cafe.id) <= 60 and set(cafe.id) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    again = parse_programme(_calendar(first, second), "export.ics", TZ)
    assert again.sessions[0].id == cafe.id  # stable across imports
    assert workshop.start == utc(2026, 9, 15, 9) and workshop.duration_minutes == 90
    assert workshop.join_url == "https://example.org/workshop"
    assert workshop.host == "improvement.hub"
    assert workshop.id == "short-uid-example-org"


def test_ics_problems_use_event_numbers() -> None:
    good = _event(
        summary="Fine",
        dtstart=datetime(2026, 9, 14, 9, tzinfo=UTC),
        dtend=datetime(2026, 9, 14, 10, tzinfo=UTC),
        uid="a",
    )
    all_day = _event(summary="Whole day", dtstart=date(2026, 9, 15), uid="b")
    no_title = _event(
        dtstart=datetime(2026, 9, 16, 9, tzinfo=UTC),
        dtend=datetime(2026, 9, 16, 8, tzinfo=UTC),
        location="Room 4",
        uid="c",
    )
    assert problems_of(_calendar(good, all_day, no_title), "x.ics") == [
        "event 2: all-day events are not sessions: give a start time",
        "event 3: title is missing",
        "event 3: end is not after start",
    ]


def test_ics_garbage() -> None:
    problems = problems_of(b"this is not a calendar", "x.ics")
    assert problems[0].startswith("file: not a readable calendar")


# ----------------------------------------------------------------------------- DST


def test_dst_autumn_and_spring() -> None:
    text = """\
sessions:
  - {title: Before, start: 2026-10-24 09:00, duration_minutes: 60}
  - {title: After, start: 2026-10-26 09:00, duration_minutes: 60}
  - {title: Ambiguous, start: 2026-10-25 01:30, duration_minutes: 30}
  - {title: Across, start: 2026-10-25 00:30, end: 2026-10-25 03:30}
"""
    programme = parse_programme(text.encode(), "p.yaml", TZ)
    by_title = {s.title: s for s in programme.sessions}
    assert by_title["Before"].start == utc(2026, 10, 24, 8)
    assert by_title["After"].start == utc(2026, 10, 26, 9)
    assert by_title["Ambiguous"].start == utc(2026, 10, 25, 0, 30)  # first 01:30 (BST)
    assert by_title["Across"].duration_minutes == 240  # the clocks went back an hour
    assert [s.title for s in programme.sessions_on(date(2026, 10, 25), TZ)] == [
        "Across",
        "Ambiguous",
    ]
    gap = problems_of(
        "sessions:\n  - {title: Gap, start: 2026-03-29 01:30, duration_minutes: 30}\n"
    )
    assert gap == [
        "line 2: 2026-03-29 01:30 does not exist in Europe/London (the clocks go forward then)"
    ]


# ----------------------------------------------------------------------------- slugs


def test_slugs() -> None:
    assert slugify("  QI Café: What's new?  ") == "qi-cafe-what-s-new"
    long = slugify("word " * 40)
    assert len(long) <= 60 and not long.endswith("-")
    start = datetime(2026, 9, 14, 11, 30, tzinfo=UTC)
    sid = derive_session_id(
        "QI café: a very long title about improvement in practice today", start, TZ
    )
    assert sid.startswith("2026-09-14-1230-qi-cafe-")
    assert len(sid) <= 60
    assert sid == derive_session_id(
        "QI café: a very long title about improvement in practice today", start, LONDON
    )


def test_duplicate_derived_ids() -> None:
    text = """\
sessions:
  - {title: QI café, start: 2026-09-14 12:30, duration_minutes: 30}
  - {title: QI Cafe, start: 2026-09-14 12:30, duration_minutes: 45}
"""
    assert problems_of(text) == ["line 3: duplicate id '2026-09-14-1230-qi-cafe' (first at line 2)"]


# ----------------------------------------------------------------------------- components


def test_components_by_number_and_name() -> None:
    assert len(IMPACT_COMPONENTS) == 5
    assert parse_component(3) == 3 and parse_component("4") == 4
    assert parse_component("Component 2") == 2
    assert parse_component("Building improvement capability and capacity") == 4
    assert parse_component("building a shared purpose and vision") == 1
    assert parse_component("Developing leadership behaviours (for improvement)") == 3
    assert parse_component("Embedding improvement into management systems and processes") == 5
    assert parse_component("investing in people & culture") == 2
    assert parse_component("Building") is None  # ambiguous
    assert parse_component(6) is None and parse_component("zero") is None


# ----------------------------------------------------------------------------- diff


def test_diff_programmes() -> None:
    start = utc(2026, 9, 14, 11)
    a = make("A", start, id="a")
    b = make("B", start + timedelta(hours=1), id="b")
    c = make("C", start + timedelta(hours=2), id="c")
    b_moved = make("B", start + timedelta(hours=3), id="b")
    c_renamed = make("C prime", start + timedelta(hours=2), id="c", host="Example ICB")
    d = make("D", start + timedelta(hours=4), id="d")
    assert diff_programmes([a, b, c], [a, b, c]).is_empty
    assert "No changes" in diff_programmes([a], [a]).summary()
    diff = diff_programmes([a, b, c], [b_moved, c_renamed, d])
    assert diff.added == (d,)
    assert diff.removed == (a,)
    assert diff.changed == ((c, c_renamed), (b, b_moved))
    assert diff.moved == ((b, b_moved),)
    summary = diff.summary()
    assert "1 added, 2 changed, 1 removed" in summary
    assert f"<t:{int(b.start.timestamp())}:f>" in summary
    local = diff.summary(TZ)
    assert "~ B: moved from Mon 14 Sep 13:00 to Mon 14 Sep 15:00" in local
    assert "~ C prime: title, host changed" in local
    assert "+ D" in local and "- A" in local


def test_reloading_same_file_is_empty_diff() -> None:
    one = load_programme(ROOT / "data" / "programme.yaml", TZ)
    two = load_programme(ROOT / "data" / "programme.yaml", TZ)
    assert diff_programmes(one.sessions, two.sessions).is_empty


# ----------------------------------------------------------------------------- days


@pytest.fixture(scope="module")
def sample() -> Programme:
    return load_programme(ROOT / "data" / "programme.yaml", TZ)


def test_parse_day_forms(sample: Programme) -> None:
    today = date(2026, 9, 15)
    kw = {"today": today, "programme": sample, "tz": TZ}
    assert parse_day(None, **kw) == today
    assert parse_day("", **kw) == today
    assert parse_day(" Today ", **kw) == today
    assert parse_day("tomorrow", **kw) == date(2026, 9, 16)
    assert parse_day("Friday", **kw) == date(2026, 9, 18)
    assert parse_day("mon", **kw) == date(2026, 9, 14)
    assert parse_day("WED", **kw) == date(2026, 9, 16)
    assert parse_day("saturday", **kw) == date(2026, 9, 19)
    # a weekday means the event's week even when asked weeks before
    assert parse_day("thursday", today=date(2026, 8, 1), programme=sample, tz=TZ) == date(
        2026, 9, 17
    )
    assert parse_day("2026-09-17", **kw) == date(2026, 9, 17)
    for bad in ("next week", "2026-02-30", "17/09/2026"):
        with pytest.raises(DayError) as caught:
            parse_day(bad, **kw)
        message = str(caught.value)
        assert "today" in message and "tomorrow" in message and "YYYY-MM-DD" in message
    assert issubclass(DayError, ValueError)


def test_day_queries(sample: Programme) -> None:
    assert sample.days(TZ) == [date(2026, 9, d) for d in range(14, 19)]
    assert sample.event_week(TZ) == (date(2026, 9, 14), date(2026, 9, 18))
    assert sample.next_day_with_sessions(date(2026, 9, 18), TZ) is None
    assert sample.next_day_with_sessions(date(2026, 9, 1), TZ) == date(2026, 9, 14)
    monday = sample.sessions_on(date(2026, 9, 14), TZ)
    assert monday == sorted(monday, key=lambda s: s.start)
    assert sample.sessions_on(date(2026, 9, 19), TZ) == []
    assert Programme().event_week(TZ) is None
    spread = Programme(sessions=(make("A", utc(2026, 9, 10, 9)), make("B", utc(2026, 9, 15, 9))))
    assert spread.event_week(TZ) == (date(2026, 9, 10), date(2026, 9, 15))


def test_session_requires_aware_times() -> None:
    with pytest.raises(ValueError):
        Session(id="x", title="x", start=datetime(2026, 9, 14, 9), end=datetime(2026, 9, 14, 10))
    session = make("A", datetime(2026, 9, 14, 9, tzinfo=LONDON), components=(1,))
    assert session.start.tzinfo is UTC
    assert session.local_start(TZ).hour == 9
    assert Session.from_dict(session.to_dict()) == session


# ----------------------------------------------------------------------------- search


def test_search_ranking() -> None:
    start = utc(2026, 9, 14, 9)
    sessions = [
        make("Leadership webinar", start + timedelta(hours=5), host="Example ICB"),
        make("Café chat", start + timedelta(hours=4), speakers=("Sam Leader",)),
        make("Team leadership", start + timedelta(hours=3)),
        make("Misleading charts", start + timedelta(hours=2)),
        make("Leadership early", start + timedelta(hours=1)),
        make("Unrelated", start),
    ]
    titles = [s.title for s in search_sessions(sessions, "LEAD")]
    assert titles == [
        "Leadership early",
        "Leadership webinar",
        "Team leadership",
        "Café chat",
        "Misleading charts",
    ]
    assert [s.title for s in search_sessions(sessions, "cafe")] == ["Café chat"]
    assert [s.title for s in search_sessions(sessions, "example icb")] == ["Leadership webinar"]
    assert search_sessions(sessions, "lead", limit=2)[1].title == "Leadership webinar"
    assert search_sessions(sessions, "zzz") == []
    everything = search_sessions(sessions, "", now=start + timedelta(hours=2, minutes=30))
    assert everything[0].title == "Misleading charts"  # still running: first
    assert everything[-1].title == "Leadership early"  # ended: last


def test_search_500_sessions_is_fast() -> None:
    start = utc(2026, 9, 14, 8)
    sessions = [
        make(
            f"Session {n} on improvement topic {n % 17}",
            start + timedelta(minutes=10 * n),
            host=f"Example Trust {n % 23}",
            speakers=(f"Speaker {n}", f"Coach {n % 7}"),
        )
        for n in range(500)
    ]
    index = SessionIndex(sessions)
    began = timer.perf_counter()
    for query in ("imp", "trust 1", "coach", "session 49", "x", ""):
        for _ in range(20):
            results = index.search(query)
            assert len(results) <= 25
    per_call = (timer.perf_counter() - began) / 120
    assert per_call < 0.05
    assert index.search("session 49")[0].title.startswith("Session 49 ")


# ----------------------------------------------------------------------------- the sample


def test_shipped_sample_programme(sample: Programme) -> None:
    assert 18 <= len(sample.sessions) <= 22
    assert "illustrative" in sample.event.name.lower()
    assert "ILLUSTRATIVE" in sample.event.description
    assert (ROOT / "data" / "programme.yaml").read_text().startswith("# ILLUSTRATIVE")
    assert sample.event.timezone == TZ and sample.event.hashtag == "#QIWeek"
    assert sample.event.theme
    covered = {c for s in sample.sessions for c in s.components}
    assert covered == {1, 2, 3, 4, 5}
    days = sample.days(TZ)
    assert days[0] == date(2026, 9, 14) and days[0].weekday() == 0
    assert days[-1] == date(2026, 9, 18) and days[-1].weekday() == 4
    assert len(days) == 5
    for session in sample.sessions:
        assert 30 <= session.duration_minutes <= 90
        assert session.join_url.startswith("https://example.org/")
        assert session.host and session.format
    friday = sample.sessions_on(date(2026, 9, 18), TZ)
    assert any(s.format == "keynote" for s in friday)
    formats = {s.format for s in sample.sessions}
    assert {"QI café", "webinar", "workshop", "poster showcase", "drop-in", "keynote"} <= formats
    assert len({s.host for s in sample.sessions}) >= 5


def test_ics_outlook_export_with_windows_timezone() -> None:
    programme = load_programme(DATA / "outlook.ics", TZ)
    cafe, after = programme.sessions
    assert programme.event.name == "QI Week calendar"
    assert cafe.start == utc(2026, 9, 14, 11, 30)  # BST
    assert after.start == utc(2026, 10, 26, 9)  # GMT, after the clocks went back
    assert cafe.host == "Example ICB QI Team"
    assert cafe.join_url.startswith("https://teams.microsoft.com/")
    assert len(cafe.id) <= 60 and cafe.id.startswith("040000008200e00074c5b7101a82e008")
    assert cafe.description == "Join on Teams\n\nAgenda"


def test_yaml_key_given_twice() -> None:
    text = "sessions:\n  - title: A\n    start: 2026-09-14 09:00\n    title: B\n    end: x\n"
    problems = problems_of(text)
    assert problems[0] == "line 4: title is given twice (first at line 2)"
    assert problems[1].startswith("line 5: end 'x' is not a time I can read")
