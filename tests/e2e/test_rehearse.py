"""`python -m bot rehearse` as a real process: the week played against the sandbox, compressed.

Each test runs the whole command (the rehearsal starts the bot as its own child process) on a
two-day programme in about a minute of wall-clock, and checks what it wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from bot.programme import load_programme
from tests.harness import ROOT, TEST_DATA

TWO_DAYS = TEST_DATA / "rehearsal" / "two-days.yaml"


class TextOf(HTMLParser):
    """All text of a page, and the ids of its sections."""

    def __init__(self) -> None:
        super().__init__()
        self.chunks: list[str] = []
        self.sections: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section" and values.get("id"):
            self.sections.append(str(values["id"]))
        if tag == "a" and str(values.get("href", "")).startswith("#"):
            self.links.append(str(values["href"])[1:])

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def rehearse(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], TextOf, str]:
    out = tmp_path / "out"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    command = [sys.executable, "-m", "bot", "rehearse", "--programme", str(TWO_DAYS)]
    proc = subprocess.run(
        [*command, "--out", str(out), *args],
        cwd=tmp_path,  # no .env there: none is needed
        env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert (out / "summary.json").exists(), proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    page = TextOf()
    page.feed((out / "transcript.html").read_text(encoding="utf-8"))
    return proc.returncode, summary, page, proc.stdout + proc.stderr


def test_a_short_rehearsal_plays_the_whole_programme_once(tmp_path: Path) -> None:
    code, summary, page, output = rehearse(tmp_path, "--minutes", "1", "--members", "20")
    assert code == 0, output
    programme = load_programme(TWO_DAYS, "Europe/London")
    titles = [s.title for s in programme.sessions]
    assert summary["sessions"] == 6 and summary["days"] == 2 and summary["members"] == 20
    # A daily post on each day with sessions; a digest on each day of the event week (Monday
    # to Friday), the roundup with Friday's.
    assert summary["daily_posts"] == 2 and summary["roundups"] == 1
    assert summary["digests"] == summary["event_days"] == 5
    # One session removed by the organiser's import: a 15-minute reminder for each other one.
    assert summary["reminders"] == 5
    # Once seen failing under a full-suite load (announcements 0, exit 0): say why next time.
    assert summary["change_notices"] >= 1 and summary["announcements"] == 1, summary["warnings"]
    assert summary["duplicates"] == 0 and summary["failed_sends"] == 0
    assert summary["missing"] == [] and summary["failed"] == []
    assert summary["dms"] > 0 and summary["first_contact_dms"] > 0
    # The new-DM budget counts event time: sign-ups spread over days never meet it, so no
    # member is mentioned instead of DMed for it (only the closed-DM members are).
    assert summary["mentioned_dm_restricted"] == 0
    assert "dm_budget" not in " ".join(summary["skipped"])
    # Issue 12: each remaining session starts with a post, its thread and a feedback prompt,
    # mirrored as scheduled events, never more at once than QIWEEK_EVENTS_MAX.
    assert summary["starting_now"] == summary["threads"] == summary["feedback_prompts"] == 5
    assert summary["scheduled_events"] >= 5
    assert 0 < summary["scheduled_events_most_at_once"] <= summary["events_max"]
    assert summary["wall_seconds"] < 120
    assert "Rehearsal summary" in output
    text = " ".join(page.chunks)
    for title in titles:
        assert title in text, title
    assert "Monday 14 September 2026" in text and "Tuesday 15 September 2026" in text
    assert set(page.links) == set(page.sections) and len(page.sections) > 4  # sidebar to each
    assert "# programme" in text and "# digest" in text
    assert text.count("🧵") >= 2 * 5  # each session's thread, in the sidebar and as a section


def test_a_chaos_rehearsal_loses_and_doubles_nothing(tmp_path: Path) -> None:
    code, summary, _, output = rehearse(
        tmp_path, "--minutes", "1", "--members", "20", "--chaos", "--seed", "7"
    )
    faults = summary["faults"]
    assert faults["kill"] >= 2 and faults["gateway"] >= 3 and faults["dm_open_40003"] == 1
    assert summary["event"]["bot_starts"] == 1 + faults["kill"]
    assert summary["duplicates"] == 0, output
    # Nothing silently missing: every expected send has a ledger row that is sent (and present
    # in the sandbox) or skipped with its reason; anything else is counted as failed.
    assert summary["missing"] == [], summary["missing"]
    assert summary["daily_posts"] == 2 and summary["digests"] == 5 and summary["roundups"] == 1
    # Nothing failed and no claim was left open (a kill -9 mid-send is resumed with its nonce).
    assert summary["failed_sends"] == len(summary["failed"]) == 0, summary["failed"]
    not_done = [key for key in summary["ledger"] if key.endswith((":failed", ":claimed"))]
    assert not_done == [], not_done
    assert code == 0, output
    # The injected 40003 is handled: an organiser alert, the members then not DMed skipped
    # with their reason (and mentioned in the channel), none failed.
    assert summary["alert_kinds"].get("dm_restricted", 0) >= 1
    assert any(reason.endswith("dm_restricted") for reason in summary["skipped"])


def test_a_programme_with_problems_is_refused_with_each_problem(tmp_path: Path) -> None:
    bad = TEST_DATA / "programme" / "bad.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "rehearse", "--programme", str(bad), "--out", "out"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "cannot be rehearsed" in proc.stderr and "start is missing" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out" / "summary.json").exists()
