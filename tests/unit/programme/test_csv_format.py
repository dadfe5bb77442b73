"""Spreadsheet (CSV) files: columns by name, problems by row."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from bot.programme import (
    load_programme,
)
from tests.harness import programme_problems as problems_of
from tests.harness import utc

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


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
