"""Programme files as a spreadsheet export (CSV, tab- or semicolon-separated): one row a session.

Columns are matched by name (with a few common aliases), so their order does not matter; problems
name the spreadsheet's row number.
"""

from __future__ import annotations

import csv
import io
import re

from bot.programme.model import SESSION_KEYS, Event, Problem, Programme, ProgrammeError, resolve_tz
from bot.programme.validation import ProgrammeFormat, _build_programme, _Raw, decode_text

_CSV_ALIASES = {
    "join_link": "join_url",
    "joining_link": "join_url",
    "url": "join_url",
    "link": "join_url",
    "speaker": "speakers",
    "component": "components",
    "impact_components": "components",
    "duration": "duration_minutes",
    "duration_mins": "duration_minutes",
}


def _csv_programme(text: str, filename: str, default_tz: str) -> Programme:
    problems: list[Problem] = []
    first_line = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first_line:
        delimiter = "\t" if "\t" in first_line else (";" if ";" in first_line else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise ProgrammeError(
            [Problem(f"row {reader.line_num}", f"malformed CSV: {exc}")], filename
        ) from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ProgrammeError(
            [Problem("row 1", "no header row: name the columns title, start, end, ...")],
            filename,
        )
    columns: dict[str, int] = {}
    for index, name in enumerate(rows[0]):
        key = re.sub(r"[\s\-]+", "_", name.strip().lower())
        key = _CSV_ALIASES.get(key, key)
        if key in SESSION_KEYS and key not in columns:
            columns[key] = index
    missing = [c for c in ("title", "start") if c not in columns]
    if "end" not in columns and "duration_minutes" not in columns:
        missing.append("end or duration_minutes")
    if missing:
        raise ProgrammeError(
            [
                Problem(
                    "row 1",
                    f"missing column(s): {', '.join(missing)}; the header needs title, start, "
                    "and end or duration_minutes",
                )
            ],
            filename,
        )
    raws: list[_Raw] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        raw = _Raw(place=f"row {number}")
        for key, index in columns.items():
            if index < len(row):
                raw.values[key] = row[index]
        raws.append(raw)
    zone = resolve_tz(default_tz)
    return _build_programme(raws, Event(timezone=default_tz), zone, problems, filename)


def _read(data: bytes, filename: str, default_tz: str) -> Programme:
    return _csv_programme(decode_text(data, filename), filename, default_tz)


FORMAT = ProgrammeFormat(label="CSV", extensions=(".csv",), parse=_read)
