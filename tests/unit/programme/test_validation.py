"""Validation shared by every format: missing fields, DST, derived ids."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.programme import (
    ProgrammeError,
    parse_programme,
)
from tests.harness import programme_problems as problems_of
from tests.harness import utc

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


def test_no_sessions_and_missing_end() -> None:
    assert problems_of("event:\n  name: Empty\n") == [
        "file: no sessions found: the programme needs at least one"
    ]
    assert problems_of("sessions:\n  - title: A\n    start: 2026-09-14 09:00\n") == [
        "line 2: end (or duration_minutes) is missing"
    ]


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


def test_duplicate_derived_ids() -> None:
    text = """\
sessions:
  - {title: QI café, start: 2026-09-14 12:30, duration_minutes: 30}
  - {title: QI Cafe, start: 2026-09-14 12:30, duration_minutes: 45}
"""
    assert problems_of(text) == ["line 3: duplicate id '2026-09-14-1230-qi-cafe' (first at line 2)"]


# ----------------------------------------------------------------------------- caps


def test_at_most_50_problems_are_listed_then_how_many_more() -> None:
    rows = "".join(f"S{n},not a time,,30\n" for n in range(120))
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(f"title,start,end,duration_minutes\n{rows}".encode(), "p.csv", TZ)
    error = caught.value
    assert error.total == 120
    assert len(error.problems) == 51
    assert str(error.problems[0]).startswith("row 2: start 'not a time' is not a time")
    assert str(error.problems[-1]) == "…: and 70 more problems not listed"
    assert str(error).startswith("p.csv: 120 problems in the programme")


def test_more_than_2000_sessions_is_one_problem() -> None:
    rows = "".join(f"S{n},2026-09-14 10:00,,30\n" for n in range(2001))
    problems = problems_of(f"title,start,end,duration_minutes\n{rows}", "p.csv")
    assert problems == ["file: 2,001 sessions; at most 2,000 (is this the right file?)"]
    yaml_text = "sessions:\n" + "  - {title: A}\n" * 2001
    assert problems_of(yaml_text) == [
        "line 2: 2,001 sessions; at most 2,000 (is this the right file?)"
    ]
    fine = "".join(f"S{n},2026-09-14 10:00,,30\n" for n in range(2000))
    programme = parse_programme(f"title,start,end,duration_minutes\n{fine}".encode(), "p.csv", TZ)
    assert len(programme.sessions) == 2000


def test_an_event_spanning_more_than_31_days_is_a_problem() -> None:
    text = (
        "title,start,end\n"
        "First,2026-09-14 10:00,2026-09-14 11:00\n"
        "Typo,2026-10-16 10:00,2026-10-16 11:00\n"
    )
    assert problems_of(text, "p.csv") == [
        "row 3: the sessions span 32 days, from 'First' (row 2) to 'Typo'; at most 31 "
        "(check the dates: a wrong month or year?)"
    ]
    ok = text.replace("2026-10-16", "2026-10-14")
    assert len(parse_programme(ok.encode(), "p.csv", TZ).sessions) == 2
