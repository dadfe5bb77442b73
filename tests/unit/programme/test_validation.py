"""Validation shared by every format: missing fields, DST, derived ids."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.programme import (
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
