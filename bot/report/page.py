"""The report as one self-contained HTML page, and its per-organisation table as CSV.

The page makes no request of its own: CSS is inline and the figure is a base64 PNG in a data
URI. The only links are the Discord links of the top shares. It prints on A4 (``@page``), with
tables and the figure kept whole across page breaks. Every member-written text is escaped.
"""

from __future__ import annotations

import base64
from html import escape

from bot.render.spreadsheet import csv_bytes
from bot.report.model import NOT_RECORDED, Headline, OrganisationRow, Report

CSV_COLUMNS = (
    "organisation",
    "sessions_hosted",
    "registrations",
    "attended",
    "feedback_count",
    "feedback_mean",
    "shares_mentioning",
)

_CSS = """
@page { size: A4; margin: 15mm 14mm; }
* { box-sizing: border-box; }
body { font-family: Arial, Helvetica, sans-serif; color: #231f20; margin: 0 auto;
  max-width: 190mm; font-size: 11pt; line-height: 1.35; }
h1 { color: #003087; font-size: 20pt; margin: 0 0 2mm; }
h2 { color: #005EB8; font-size: 14pt; margin: 7mm 0 2mm; break-after: avoid;
  page-break-after: avoid; }
p.meta { color: #425563; margin: 0 0 4mm; }
.figures { display: grid; grid-template-columns: repeat(4, 1fr); gap: 3mm; }
.figure { border: 1px solid #d8dde0; border-left: 4px solid #005EB8; padding: 2mm 3mm;
  break-inside: avoid; page-break-inside: avoid; }
.figure b { display: block; font-size: 16pt; color: #003087; }
.figure span { font-size: 9.5pt; color: #425563; }
img { width: 100%; height: auto; display: block; border: 1px solid #d8dde0; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
figcaption { font-size: 9.5pt; color: #425563; margin-top: 1mm; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; break-inside: auto; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border-bottom: 1px solid #d8dde0; padding: 1.2mm 1.5mm; text-align: left;
  vertical-align: top; }
th { background: #E8EDEE; }
td.n, th.n { text-align: right; white-space: nowrap; }
ul.limits { font-size: 9.5pt; color: #425563; padding-left: 5mm; }
.section { break-inside: avoid; page-break-inside: avoid; }
.new-page { break-before: page; page-break-before: always; }
a { color: #005EB8; }
"""


def _figure(value: object, label: str) -> str:
    return f'<div class="figure"><b>{escape(str(value))}</b><span>{escape(label)}</span></div>'


def headline_figures(headline: Headline) -> list[tuple[str, str]]:
    """(value, label) of each headline figure, "not recorded" where the bot has no data."""
    feedback = headline.feedback
    rows = [
        (str(headline.members_registered), "members registered interest"),
        (str(headline.registrations), "registrations of interest"),
        (str(headline.sessions), "sessions in the programme"),
    ]
    if headline.reminders_delivered is not None:
        rows.append((str(headline.reminders_delivered), "reminders delivered"))
    rows += [
        (str(headline.shares), "#QIWeek shares"),
        (str(headline.contributors), "members who shared"),
    ]
    if headline.announcements_sent is not None:
        rows.append((str(headline.announcements_sent), "announcements sent"))
    rows.append(
        (NOT_RECORDED if headline.attendance is None else str(headline.attendance), "attendance")
    )
    if feedback is None:
        rows.append((NOT_RECORDED, "feedback"))
    else:
        rows.append((f"{feedback.mean_text} ({feedback.count_text})", "feedback mean (ratings)"))
    return rows


def organisation_cells(row: OrganisationRow) -> list[str]:
    """One row of the per-organisation table, as shown (and exported)."""
    feedback = row.feedback
    return [
        row.host,
        str(row.sessions),
        str(row.registrations),
        row.attended_text,
        NOT_RECORDED if feedback is None else feedback.count_text,
        NOT_RECORDED if feedback is None else feedback.mean_text,
        str(row.shares),
    ]


def _table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    def cell(tag: str, i: int, text: str) -> str:
        cls = ' class="n"' if i in numeric else ""
        return f"<{tag}{cls}>{text}</{tag}>"

    head = "".join(cell("th", i, escape(h)) for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell("td", i, value) for i, value in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _link(url: str, text: str) -> str:
    """A link only to Discord (a share's message); anything else is shown as text."""
    if url.startswith(("https://discord.com/", "https://ptb.discord.com/", "https://canary.")):
        return f'<a href="{escape(url)}">{escape(text)}</a>'
    return escape(text)


def report_html(report: Report, png: bytes) -> bytes:
    """The whole report as one UTF-8 HTML document with the figure embedded."""
    image = base64.b64encode(png).decode("ascii")
    figures = "".join(_figure(v, label) for v, label in headline_figures(report.headline))
    charts = "; ".join(
        f"{c.title}: median {c.analysis.median:g} over {len(c.values)} days"
        for c in report.charts
        if c.analysis.median is not None
    )
    org_rows = [[escape(v) for v in organisation_cells(r)] for r in report.organisations]
    org_table = (
        _table(
            [
                "Organisation",
                "Sessions",
                "Registrations",
                "Attended",
                "Feedback (n)",
                "Feedback mean",
                "Shares mentioning",
            ],
            org_rows,
            {1, 2, 3, 4, 5, 6},
        )
        if org_rows
        else "<p>No sessions in the programme.</p>"
    )
    session_rows = [
        [escape(s.title), escape(s.host), str(s.registrations)] for s in report.top_sessions
    ]
    sessions_table = (
        _table(["Session", "Host", "Registrations"], session_rows, {2})
        if session_rows
        else "<p>No registrations yet.</p>"
    )
    share_rows = [
        [escape(s.snippet), escape(s.author_name), str(s.reactions), _link(s.jump_url, "open")]
        for s in report.top_shares
    ]
    shares_table = (
        _table(["Share", "Shared by", "Reactions", "Message"], share_rows, {2})
        if share_rows
        else "<p>No shares stored.</p>"
    )
    limits = "".join(f"<li>{escape(text)}</li>" for text in report.limits)
    title = f"{report.event_name}: impact report"
    page = f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="meta">Figures for {escape(report.scope)} up to {report.as_of:%A %d %B %Y}
({escape(report.timezone)}). Counts only: no member is identified except the authors of the
top shares, who posted them publicly with #QIWeek.</p>
<h2>Headline figures</h2>
<div class="figures">{figures}</div>
<h2>Run charts</h2>
<figure><img alt="Run charts of registrations and shares per day with their medians"
src="data:image/png;base64,{image}">
<figcaption>Dashed line: median. Orange points: a shift (6 or more days on one side of the
median). Pink band: a trend (5 or more days rising or falling). {escape(charts)}.</figcaption>
</figure>
<h2 class="new-page">Host organisations</h2>
{org_table}
<div class="section">
<h2>Top sessions</h2>
{sessions_table}
</div>
<div class="section">
<h2>Top shares of the week</h2>
{shares_table}
</div>
<div class="section">
<h2>What these figures can and cannot tell</h2>
<ul class="limits">{limits}</ul>
</div>
</body>
</html>
"""
    return page.encode("utf-8")


def organisations_csv(report: Report) -> bytes:
    """The per-organisation table as CSV, through the one writer every export uses
    (:func:`bot.render.spreadsheet.csv_bytes`: UTF-8 with a BOM, no cell runs as a formula)."""
    return csv_bytes(CSV_COLUMNS, [organisation_cells(row) for row in report.organisations])


__all__ = [
    "CSV_COLUMNS",
    "headline_figures",
    "organisation_cells",
    "organisations_csv",
    "report_html",
]
