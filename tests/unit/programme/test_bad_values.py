"""Odd values in a programme file are problems with their place, never an exception; text longer
than Discord can show is refused in the parser, so nothing stored can break a render."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import icalendar
import pytest

from bot.digest import parse_digest_day
from bot.programme import (
    MAX_YEAR,
    MIN_YEAR,
    TEXT_LIMITS,
    DayError,
    Programme,
    ProgrammeError,
    parse_day,
    parse_programme,
)

TZ = "Europe/London"
TODAY = date(2026, 9, 14)


def problems_of(data: str | bytes, filename: str = "p.yaml") -> list[str]:
    raw = data.encode() if isinstance(data, str) else data
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(raw, filename, TZ)
    return [str(p) for p in caught.value.problems]


def yaml_session(**values: str) -> str:
    fields = {"title": "A", "start": "2026-09-14 10:00", **values}
    body = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    return (
        "sessions:\n  - title: Fine\n    start: 2026-09-14 09:00\n    end: 2026-09-14 09:30\n"
        + ("  -" + body[3:])
    )


# ------------------------------------------------------------------------ values that overflowed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("99999999999999", "line 7: duration_minutes 99999999999999 is more than 12 hours"),
        ("1e400", "line 7: duration_minutes '1e400' should be whole minutes above 0"),
        ("inf", "line 7: duration_minutes 'inf' should be whole minutes above 0"),
        (".inf", "line 7: duration_minutes inf should be whole minutes above 0"),
        ("-.inf", "line 7: duration_minutes -inf should be whole minutes above 0"),
        (".nan", "line 7: duration_minutes nan should be whole minutes above 0"),
        ("721", "line 7: duration_minutes 721 is more than 12 hours (720 minutes)"),
        ("[1, 2]", "line 7: duration_minutes should be one plain value, not a list or mapping"),
    ],
)
def test_yaml_duration_values_are_problems_with_their_line(value: str, expected: str) -> None:
    problems = problems_of(yaml_session(duration_minutes=value))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_a_duration_of_exactly_12_hours_is_fine() -> None:
    programme = parse_programme(yaml_session(duration_minutes="720").encode(), "p.yaml", TZ)
    assert programme.sessions[-1].duration_minutes == 720


@pytest.mark.parametrize(
    ("start", "shown"),
    [
        ("9999-12-31 23:30", "9999-12-31 23:30"),
        ("9999-12-31T23:30-05:00", "9999-12-31 23:30"),
        ("'9999-12-31 23:30:00'", "9999-12-31 23:30"),
        ("9999-12-31 23:30:00", "9999-12-31 23:30"),  # a YAML timestamp
        ("0001-01-01 00:10", "0001-01-01 00:10"),
        ("1999-12-31 23:00", "1999-12-31 23:00"),
        ("31/12/9999 23:30", "9999-12-31 23:30"),
    ],
)
def test_yaml_start_out_of_range_is_a_problem_with_its_line(start: str, shown: str) -> None:
    problems = problems_of(yaml_session(start=start, duration_minutes="60"))
    assert problems == [
        f"line 6: start {shown} is not in the years {MIN_YEAR}-{MAX_YEAR}: check the date"
    ]


def test_yaml_end_out_of_range_is_a_problem_with_its_line() -> None:
    problems = problems_of(yaml_session(end="9999-12-31 23:59"))
    assert problems == [
        f"line 7: end 9999-12-31 23:59 is not in the years {MIN_YEAR}-{MAX_YEAR}: check the date"
    ]


def test_years_at_the_edges_of_the_range_load() -> None:
    def alone(start: str, minutes: int) -> bytes:
        return f"- {{title: A, start: {start}, duration_minutes: {minutes}}}\n".encode()

    early = parse_programme(alone(f"{MIN_YEAR}-01-01 00:30", 30), "p.yaml", TZ)
    late = parse_programme(alone(f"{MAX_YEAR}-12-31 23:00", 59), "p.yaml", TZ)
    assert early.sessions[0].start.year == MIN_YEAR
    assert late.sessions[-1].start.year == MAX_YEAR


def test_csv_odd_values_are_problems_with_their_row() -> None:
    text = (
        "title,start,end,duration_minutes\n"
        "Fine,2026-09-14 09:00,2026-09-14 09:30,\n"
        "Far,9999-12-31 23:30,,60\n"
        "Long,2026-09-14 10:00,,99999999999999\n"
        "Forever,2026-09-14 10:00,,inf\n"
        "Huge,2026-09-14 10:00,,1e300\n"
        "Ancient,0001-01-01 00:00,0001-01-01 01:00,\n"
    )
    problems = problems_of(text, "p.csv")
    assert problems[0] == (
        f"row 3: start 9999-12-31 23:30 is not in the years {MIN_YEAR}-{MAX_YEAR}: check the date"
    )
    assert problems[1].startswith("row 4: duration_minutes 99999999999999 is more than 12 hours")
    assert problems[2] == "row 5: duration_minutes 'inf' should be whole minutes above 0"
    assert problems[3].startswith("row 6: duration_minutes 1e300 is more than 12 hours")
    assert problems[4].startswith("row 7: start 0001-01-01 00:00 is not in the years")
    assert problems[5].startswith("row 7: end 0001-01-01 01:00 is not in the years")
    assert len(problems) == 6


def _calendar(*events: icalendar.Event) -> bytes:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//test//qiweek//EN")
    cal.add("version", "2.0")
    for event in events:
        cal.add_component(event)
    return cal.to_ical()


def _raw_event(lines: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//qiweek//EN\r\n"
        "BEGIN:VEVENT\r\nUID:fine\r\nSUMMARY:Fine\r\nDTSTART:20260914T090000Z\r\n"
        "DTEND:20260914T100000Z\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


def test_ics_huge_duration_is_a_problem_with_its_event_number() -> None:
    data = _raw_event(
        "UID:long\r\nSUMMARY:Long\r\nDTSTART:20260914T100000Z\r\nDURATION:P99999999W\r\n"
    )
    problems = problems_of(data, "p.ics")
    assert len(problems) == 1
    assert problems[0].startswith("event 2: DURATION ") and "more than 12 hours" in problems[0]


def test_ics_far_start_and_duration_is_a_problem_not_an_overflow() -> None:
    data = _raw_event("UID:far\r\nSUMMARY:Far\r\nDTSTART:99991231T233000Z\r\nDURATION:PT2H\r\n")
    problems = problems_of(data, "p.ics")
    assert problems == [
        f"event 2: start 9999-12-31 23:30 is not in the years {MIN_YEAR}-{MAX_YEAR}: check the date"
    ]


def test_ics_duration_still_gives_the_end() -> None:
    event = icalendar.Event()
    event.add("summary", "Ninety")
    event.add("uid", "ninety")
    event.add("dtstart", datetime(2026, 9, 14, 9, tzinfo=UTC))
    event.add("duration", timedelta(minutes=90))
    programme = parse_programme(_calendar(event), "p.ics", TZ)
    assert programme.sessions[0].end == datetime(2026, 9, 14, 10, 30, tzinfo=UTC)
    negative = _raw_event(
        "UID:neg\r\nSUMMARY:Neg\r\nDTSTART:20260914T100000Z\r\nDURATION:-PT1H\r\n"
    )
    assert problems_of(negative, "p.ics") == [
        "event 2: DURATION -60.0 should be whole minutes above 0"
    ]


# ------------------------------------------------------------------------ lengths


@pytest.mark.parametrize(
    ("key", "label", "value"),
    [
        ("title", "title", "T" * 201),
        ("host", "host", "H" * 201),
        ("format", "format", "F" * 51),
        ("description", "description", "D" * 4001),
        ("speakers", "speaker", "Ann; " + "S" * 101),
        ("tags", "tag", "t" * 41),
    ],
)
def test_text_over_its_limit_is_a_problem_with_its_line(key: str, label: str, value: str) -> None:
    problems = problems_of(yaml_session(duration_minutes="30", **{key: f"'{value}'"}))
    limit = TEXT_LIMITS[label]
    line = 5 if key == "title" else 8
    assert problems == [
        f"line {line}: {label} is {limit + 1:,} characters; at most {limit:,} "
        "(keep it within what Discord shows)"
    ]


def test_text_at_its_limit_loads() -> None:
    values = {
        "title": "T" * TEXT_LIMITS["title"],
        "host": "H" * TEXT_LIMITS["host"],
        "format": "F" * TEXT_LIMITS["format"],
        "description": "D" * TEXT_LIMITS["description"],
        "speakers": "; ".join("S" * TEXT_LIMITS["speaker"] for _ in range(5)),
        "tags": ", ".join("t" * TEXT_LIMITS["tag"] for _ in range(20)),
        "join_url": "https://example.org/" + "j" * (TEXT_LIMITS["join_url"] - 20),
    }
    quoted = {key: f"'{value}'" for key, value in values.items()}
    programme = parse_programme(
        yaml_session(duration_minutes="30", **quoted).encode(), "p.yaml", TZ
    )
    session = programme.sessions[-1]
    assert session.title == values["title"] and len(session.join_url) == TEXT_LIMITS["join_url"]


def test_too_many_tags_and_a_join_url_too_long_for_a_link_button() -> None:
    tags = ", ".join(f"t{n}" for n in range(21))
    long_url = "https://example.org/" + "j" * 493  # 513 characters
    problems = problems_of(yaml_session(duration_minutes="30", tags=f"'{tags}'", join_url=long_url))
    assert problems[0].startswith("line 9: join_url is 513 characters") and "512" in problems[0]
    assert problems[1] == "line 8: 21 tags; at most 20"
    # Brackets are escaped (%28, %29) in a markdown link, so each counts three.
    bracketed = "https://example.org/" + "(x)" * 164  # 512 raw, 1,168 escaped
    problems = problems_of(yaml_session(duration_minutes="30", join_url=f"'{bracketed}'"))
    assert problems[0].startswith("line 8: join_url is 1,168 characters (brackets count 3)")
    assert len(problems) == 1


def test_event_text_over_its_limit_is_a_problem_with_its_line() -> None:
    text = (
        "event:\n"
        f"  name: {'N' * 101}\n"
        f"  theme: {'T' * 301}\n"
        f"  hashtag: '#{'h' * 100}'\n"
        f"  description: {'D' * 1001}\n"
        "sessions:\n  - title: A\n    start: 2026-09-14 09:00\n    duration_minutes: 30\n"
    )
    problems = problems_of(text)
    assert [p.split(":")[0] for p in problems] == ["line 2", "line 3", "line 4", "line 5"]
    assert problems[0].startswith("line 2: event name is 101 characters; at most 100")
    assert problems[1].startswith("line 3: event theme is 301 characters; at most 300")
    assert problems[2].startswith("line 4: event hashtag is 101 characters; at most 100")
    assert problems[3].startswith("line 5: event description is 1,001 characters; at most 1,000")


def test_csv_length_problem_uses_its_row() -> None:
    text = f"title,start,duration_minutes,host\nA,2026-09-14 09:00,30,{'H' * 201}\n"
    assert problems_of(text, "p.csv") == [
        "row 2: host is 201 characters; at most 200 (keep it within what Discord shows)"
    ]


def test_a_huge_bad_value_is_quoted_short() -> None:
    problems = problems_of(yaml_session(duration_minutes="30", join_url="ftp://" + "x" * 5000))
    assert len(problems) == 1 and len(problems[0]) < 200


# ------------------------------------------------------------------------ days


@pytest.mark.parametrize("text", ["9999-12-31", "0001-01-01", "1999-12-31", "2100-01-01"])
def test_parse_day_refuses_dates_out_of_range(text: str) -> None:
    with pytest.raises(DayError) as caught:
        parse_day(text, today=TODAY, programme=Programme())
    assert text in str(caught.value) and f"{MIN_YEAR}-01-01 to {MAX_YEAR}-12-31" in str(
        caught.value
    )
    with pytest.raises(ValueError) as digest:
        parse_digest_day(text, today=TODAY)
    assert text in str(digest.value) and f"{MAX_YEAR}-12-31" in str(digest.value)


def test_parse_day_edges_of_the_range() -> None:
    assert parse_day(f"{MAX_YEAR}-12-31", today=TODAY, programme=Programme()) == date(
        MAX_YEAR, 12, 31
    )
    assert parse_digest_day(f"{MIN_YEAR}-01-01", today=TODAY) == date(MIN_YEAR, 1, 1)


def test_ics_calendar_name_over_its_limit_is_a_problem() -> None:
    data = _raw_event("UID:b\r\nSUMMARY:B\r\nDTSTART:20260914T100000Z\r\nDURATION:PT1H\r\n")
    data = data.replace(b"VERSION:2.0\r\n", b"VERSION:2.0\r\nX-WR-CALNAME:" + b"N" * 101 + b"\r\n")
    assert problems_of(data, "p.ics") == [
        "file: the calendar's name (X-WR-CALNAME) is 101 characters; at most 100 "
        "(keep it within what Discord shows)"
    ]
