"""YAML files: every field, problems with their lines."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.programme import (
    Event,
    parse_programme,
)
from tests.harness import programme_problems as problems_of
from tests.harness import utc, yaml_alias_bomb

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


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
        "line 3: 'Mars/Olympus_Mons' is not a known timezone "
        "(use an IANA name such as Europe/London)",
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


def test_yaml_key_given_twice() -> None:
    text = "sessions:\n  - title: A\n    start: 2026-09-14 09:00\n    title: B\n    end: x\n"
    problems = problems_of(text)
    assert problems[0] == "line 4: title is given twice (first at line 2)"
    assert problems[1].startswith("line 5: end 'x' is not a time I can read")


# ----------------------------------------------------------------------------- hostile files


def _refused_within(data: bytes, filename: str, *, megabytes: float) -> list[str]:
    """The problems ``data`` is refused with, failing if reading it used more than ``megabytes``
    (tracemalloc's peak: the hostile files took gigabytes before they were bounded)."""
    tracemalloc.start()
    try:
        problems = problems_of(data, filename)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < megabytes * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MB"
    return problems


def test_yaml_alias_bomb_is_refused_at_its_first_alias() -> None:
    bomb = yaml_alias_bomb()
    assert len(bomb) < 1100
    problems = _refused_within(bomb, "bomb.yaml", megabytes=20)
    assert problems == ["line 5: aliases (*name) are not accepted: write each value out in full"]


def test_yaml_nested_deeper_than_any_programme_is_a_problem_not_recursion() -> None:
    # 1 MB of brackets: PyYAML's scanner alone took quadratic time on these before the cap.
    flow = "sessions:\n  - title: " + "[" * 500_000 + "]" * 500_000 + "\n"
    block = "sessions:\n" + "".join(" " * i + "a:\n" for i in range(1400))
    for text in (flow, block):
        started = time.perf_counter()
        problems = _refused_within(text.encode(), "deep.yaml", megabytes=50)
        assert time.perf_counter() - started < 5  # generous: it takes milliseconds
        assert len(problems) == 1 and "nested more than 20 levels deep" in problems[0]


def test_yaml_nested_values_are_refused_before_becoming_text() -> None:
    text = (
        "event:\n  name: {a: 1}\nsessions:\n"
        "  - title: {big: [1, 2, 3]}\n    start: 2026-09-14 10:00\n    duration_minutes: 30\n"
        "    speakers: [[Ann, Bob]]\n    host: [Ann]\n"
        "  - {title: B, start: [2026-09-14 10:00], end: 2026-09-14 11:00}\n"
        "  - ? [complex, key]\n    : value\n"
    )
    assert problems_of(text) == [
        "line 2: event name should be one plain value, not a list or mapping",
        "line 4: title should be one plain value, not a list or mapping",
        "line 7: speakers should be text or a list of plain values, not a list or mapping",
        "line 8: host should be one plain value, not a list or mapping",
        "line 9: start should be one plain value, not a list or mapping",
        "line 10: a key should be a plain name, not a list or mapping",
        "line 10: title is missing",
        "line 10: start is missing",
        "line 10: end (or duration_minutes) is missing",
    ]
