"""CSV for spreadsheets: the one writer every export uses, so no cell can run as a formula.

Excel, LibreOffice and Google Sheets treat a cell that starts with ``= + - @`` (or a tab or
carriage return before one) as a formula: ``=HYPERLINK(...)`` in a session title or a share
would reach an organiser's spreadsheet as a live link or worse (OWASP "CSV injection"). Every
cell, header included, goes through :func:`safe_cell`; exports call :func:`csv_bytes` and never
``csv.writer`` themselves.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

__all__ = ["FORMULA_STARTS", "csv_bytes", "safe_cell"]

#: First characters a spreadsheet reads as the start of a formula (or that hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: object) -> str:
    """Text for one cell; a formula-like start gets a leading apostrophe so it shows as text.

    ``None`` is an empty cell. Applied to numbers too (their text is what is written).
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_bytes(header: Sequence[object], rows: Iterable[Sequence[object]]) -> bytes:
    """A CSV file, UTF-8 with a BOM (Excel then reads accents right), CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(value) for value in header])
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
