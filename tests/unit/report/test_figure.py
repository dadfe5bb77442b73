"""The figure: its size, the empty case and the PNG header reader."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from bot.report.figure import (
    draw,
    draw_run_charts,
    png_size,
    render_png,
    render_run_charts_png,
)
from bot.report.model import ReportData, build_report


def test_an_empty_report_still_draws_at_full_size() -> None:
    report = build_report(ReportData("QI Week", [], [], []), tz=ZoneInfo("UTC"), today=date.today())
    fig = draw(report)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts.count("No data yet") == 2 and "No registrations yet" in texts
    assert png_size(render_png(report)) == (1600, 1000)


def test_png_size_refuses_what_is_not_a_png() -> None:
    with pytest.raises(ValueError):
        png_size(b"GIF89a" + bytes(30))


def test_the_page_run_charts_are_narrower_and_hold_only_the_charts() -> None:
    report = build_report(ReportData("QI Week", [], [], []), tz=ZoneInfo("UTC"), today=date.today())
    assert len(draw_run_charts(report).axes) == 2
    assert png_size(render_run_charts_png(report)) == (1300, 520)
