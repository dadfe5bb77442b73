"""Every CSV export goes through one escaping function: no cell reaches a sheet as a formula."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.digest import Share
from bot.render.announcements import interest_csv
from bot.render.digest import shares_csv
from bot.render.spreadsheet import FORMULA_STARTS, csv_bytes, safe_cell
from bot.store.native import SessionFigures
from bot.store.stats import SessionRegistrations

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)
HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "\uff1dHYPERLINK()",  # full-width equals sign: some spreadsheets read it as "="
]


def table(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def every_cell_is_inert(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), row


@pytest.mark.parametrize("text", HOSTILE)
def test_safe_cell_prefixes_an_apostrophe(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "", None, 12, "a=b", "café ☕", "'quoted"])
def test_safe_cell_leaves_ordinary_text(value: object) -> None:
    assert safe_cell(value) == ("" if value is None else str(value))


def test_csv_bytes_escapes_header_and_every_row() -> None:
    rows = table(csv_bytes(["=h", "ok"], [[text, "x"] for text in HOSTILE]))
    every_cell_is_inert(rows)
    assert rows[0] == ["'=h", "ok"]
    assert [row[0] for row in rows[1:]] == ["'" + text for text in HOSTILE]


def test_interest_export_escapes_session_titles_and_ids() -> None:
    registrations = [
        SessionRegistrations(f"=id{n}", text, T0, False, n) for n, text in enumerate(HOSTILE)
    ]
    registrations.append(SessionRegistrations("@gone", "-old", None, False, 1, in_programme=False))
    rows = table(interest_csv(registrations, LONDON))
    every_cell_is_inert(rows)
    assert rows[1][:2] == ["'=id0", "'" + HOSTILE[0]]
    assert rows[-1][:2] == ["'@gone", "'-old"]


def test_interest_export_with_the_event_figures_is_escaped_too() -> None:
    registrations = [SessionRegistrations("=s", HOSTILE[0], T0, False, 1)]
    rows = table(interest_csv(registrations, LONDON, figures={"=s": SessionFigures()}))
    every_cell_is_inert(rows)
    assert len(rows[0]) == 10 and rows[1][:2] == ["'=s", "'" + HOSTILE[0]]


def test_shares_export_escapes_every_member_supplied_cell() -> None:
    base = Share(
        guild_id=1,
        channel_id=2,
        message_id=3,
        author_id=4,
        author_name="name",
        content="text",
        jump_url="https://discord.com/channels/1/2/3",
        attachment_count=0,
        image_url=None,
        created_at=T0,
        reaction_count=0,
    )
    shares = [
        replace(base, message_id=10 + n, author_name=text, content=text, image_url=text)
        for n, text in enumerate(HOSTILE)
    ]
    rows = table(shares_csv(shares, LONDON))
    every_cell_is_inert(rows)
    assert len(rows) == len(HOSTILE) + 1
