"""The report's picture: run charts with their medians and signals, and the top sessions.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state), so it is safe
in a worker thread (`asyncio.to_thread`) and needs no display. Only DejaVu Sans, which ships with
matplotlib, is used. The PNG carries no date or version metadata, so the same report always gives
the same bytes.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.report.model import Report, RunChart

#: 16 x 10 inches at 100 dpi: 1600 x 1000 pixels, large type so it reads on a phone.
SIZE_INCHES = (16.0, 10.0)
#: The HTML page's run charts: 1,300 x 520 pixels, shown about 19 cm wide on A4.
PAGE_INCHES = (13.0, 5.2)
DPI = 100
NHS_BLUE = "#005EB8"
NHS_DARK_BLUE = "#003087"
SHIFT_COLOUR = "#ED8B00"  # NHS warm yellow/orange
TREND_COLOUR = "#AE2573"  # NHS pink
MEDIAN_COLOUR = "#425563"
LABEL_MAX = 48
TOP_SLOTS = 10
SCOPE_MAX = 60


def _short(text: str, limit: int = LABEL_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _run_chart(ax, chart: RunChart) -> None:  # type: ignore[no-untyped-def]
    # Room above the axes for the legend (two rows), so it never hides a point.
    ax.set_title(
        chart.title, fontsize=17, loc="left", color=NHS_DARK_BLUE, fontweight="bold", pad=52
    )
    ax.tick_params(labelsize=13)
    ax.grid(axis="y", color="#E8EDEE")
    ax.spines[["top", "right"]].set_visible(False)
    if not chart.values:
        ax.text(
            0.5,
            0.5,
            "No data yet",
            ha="center",
            va="center",
            fontsize=16,
            transform=ax.transAxes,
            color=MEDIAN_COLOUR,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return
    days = list(chart.days)
    ax.plot(
        days,
        chart.values,
        color=NHS_BLUE,
        marker="o",
        markersize=7,
        linewidth=2.5,
        label="Per day",
        zorder=3,
    )
    analysis = chart.analysis
    if analysis.median is not None:
        ax.axhline(
            analysis.median,
            color=MEDIAN_COLOUR,
            linestyle="--",
            linewidth=2,
            label=f"Median {analysis.median:g}",
            zorder=2,
        )
    for n, run in enumerate(analysis.trends):
        xs = [days[i] for i in run.indices]
        ys = [chart.values[i] for i in run.indices]
        ax.plot(
            xs,
            ys,
            color=TREND_COLOUR,
            linewidth=7,
            alpha=0.45,
            solid_capstyle="round",
            label="Trend: 5+ rising or falling" if n == 0 else None,
            zorder=2,
        )
    for n, run in enumerate(analysis.shifts):
        xs = [days[i] for i in run.indices]
        ys = [chart.values[i] for i in run.indices]
        ax.scatter(
            xs,
            ys,
            s=150,
            color=SHIFT_COLOUR,
            edgecolors=NHS_DARK_BLUE,
            zorder=4,
            label="Shift: 6+ on one side of the median" if n == 0 else None,
        )
    if not analysis.applied:
        ax.set_xlabel(
            f"{len(chart.values)} days: run rules need 10 or more", fontsize=12, color=MEDIAN_COLOUR
        )
    top = max(max(chart.values) * 1.1, 1)
    # A little room below zero and at the sides, so a point at 0 or on the last day shows whole.
    ax.set_ylim(bottom=-0.04 * top, top=top)
    ax.margins(x=0.03)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=7))
    ax.xaxis.set_major_formatter(DateFormatter("%d %b"))
    ax.legend(
        fontsize=12,
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncol=2,
        frameon=False,
        borderaxespad=0.2,
    )


def _top_sessions(ax, report: Report) -> None:  # type: ignore[no-untyped-def]
    title = "Top sessions by registrations of interest"
    ax.set_title(title, fontsize=17, loc="left", color=NHS_DARK_BLUE, fontweight="bold")
    ax.spines[["top", "right"]].set_visible(False)
    top = report.top_sessions
    if not top:
        ax.text(
            0.5,
            0.5,
            "No registrations yet",
            ha="center",
            va="center",
            fontsize=16,
            transform=ax.transAxes,
            color=MEDIAN_COLOUR,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return
    labels = [_short(s.title) for s in top]
    values = [s.registrations for s in top]
    positions = list(range(len(top)))
    ax.barh(positions, values, color=NHS_BLUE, height=0.7)
    ax.set_yticks(positions, labels, fontsize=13)
    # Ten slots whatever the count, so two sessions get bars as thick as ten would.
    ax.set_ylim(TOP_SLOTS - 0.5, -0.5)
    ax.tick_params(axis="x", labelsize=12)
    for y, value in zip(positions, values, strict=True):
        ax.text(value, y, f" {value}", va="center", fontsize=13, color=NHS_DARK_BLUE)
    ax.set_xlim(0, max(values) * 1.12)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Registrations of interest", fontsize=13)


def draw(report: Report) -> Figure:
    """The report figure: one run chart per series on top, the top sessions underneath."""
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    charts = report.charts
    # Two sub-figures lay out on their own: the bar chart's long labels never squeeze the runs.
    top, bottom = fig.subfigures(2, 1, height_ratios=(1.1, 1))
    for ax, chart in zip(top.subplots(1, len(charts), squeeze=False)[0], charts, strict=True):
        _run_chart(ax, chart)
    _top_sessions(bottom.subplots(), report)
    attendance = "" if report.attendance is not None else " \u00b7 attendance: not recorded"
    fig.suptitle(
        f"{_short(report.event_name, SCOPE_MAX)}\n{_short(report.scope, SCOPE_MAX)} \u00b7 "
        f"to {report.as_of:%d %b %Y}{attendance}",
        fontsize=18,
        fontweight="bold",
        color=NHS_DARK_BLUE,
    )
    return fig


def draw_run_charts(report: Report) -> Figure:
    """The run charts alone, narrower so their text stays legible across an A4 page (the page
    shows the top sessions as a table)."""
    fig = Figure(figsize=PAGE_INCHES, dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    charts = report.charts
    for ax, chart in zip(fig.subplots(1, len(charts), squeeze=False)[0], charts, strict=True):
        _run_chart(ax, chart)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def render_png(report: Report) -> bytes:
    """The report figure as PNG bytes (1600 x 1000); blocking, so run it in a thread."""
    return _png(draw(report))


def render_run_charts_png(report: Report) -> bytes:
    """The run charts alone as PNG bytes (for the HTML page); blocking."""
    return _png(draw_run_charts(report))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (checked by tests and the cog's summary)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


__all__ = [
    "DPI",
    "PAGE_INCHES",
    "SIZE_INCHES",
    "draw",
    "draw_run_charts",
    "png_size",
    "render_png",
    "render_run_charts_png",
]
