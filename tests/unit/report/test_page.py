"""The HTML page and CSV: member text escaped, formulas defused, figures shown as stated."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.report.model import ReportData, SessionInfo, ShareInfo, build_report
from bot.report.page import organisations_csv, report_html

WHEN = datetime(2026, 9, 14, 9, tzinfo=UTC)


def report():  # type: ignore[no-untyped-def]
    sessions = [SessionInfo("s", "<b>Bold</b> session title", '=HYPERLINK("x")', WHEN)]
    shares = [
        ShareInfo(1, "<img src=http://evil>", "<script>alert(1)</script>", "javascript:x", 3, WHEN)
    ]
    data = ReportData("QI <Week>", sessions, [], shares)
    return build_report(data, tz=ZoneInfo("Europe/London"), today=date(2026, 9, 14))


def test_member_text_is_escaped_and_only_discord_links_are_links() -> None:
    page = report_html(report(), b"\x89PNG").decode()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img src=http" not in page and "&lt;img src=http://evil&gt;" in page
    assert "javascript:" not in page
    assert "<title>QI &lt;Week&gt;: impact report</title>" in page


def test_csv_cells_are_defused_like_every_export() -> None:
    rows = list(csv.reader(io.StringIO(organisations_csv(report()).decode("utf-8-sig"))))
    assert rows[0][0] == "organisation"
    assert rows[1][0] == '\'=HYPERLINK("x")'
    assert rows[1][3:6] == ["not recorded"] * 3
