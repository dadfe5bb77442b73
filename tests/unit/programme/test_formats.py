"""The format registry and its entry points: extensions, files on disk, the sample."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.programme import (
    Problem,
    Programme,
    ProgrammeError,
    formats,
    load_programme,
    parse_programme,
    parse_programme_async,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


@pytest.fixture(scope="module")
def sample() -> Programme:
    return load_programme(ROOT / "data" / "programme.yaml", TZ)


def test_unknown_extension_and_error_message() -> None:
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(b"x", "programme.xlsx", TZ)
    assert (
        ".yaml" in str(caught.value) and ".csv" in str(caught.value) and ".ics" in str(caught.value)
    )
    error = ProgrammeError([Problem("line 12", "end is not after start"), Problem("row 3", "x")])
    assert "2 problems" in str(error)
    assert "- line 12: end is not after start" in str(error)
    assert str(Problem("line 12", "end is not after start")) == "line 12: end is not after start"


def test_load_programme_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProgrammeError) as caught:
        load_programme(tmp_path / "nope.yaml", TZ)
    assert caught.value.problems[0].place == "file"


def test_shipped_sample_programme(sample: Programme) -> None:
    assert 18 <= len(sample.sessions) <= 22
    assert "illustrative" in sample.event.name.lower()
    assert "ILLUSTRATIVE" in sample.event.description
    assert (ROOT / "data" / "programme.yaml").read_text().startswith("# ILLUSTRATIVE")
    assert sample.event.timezone == TZ and sample.event.hashtag == "#QIWeek"
    assert sample.event.theme
    covered = {c for s in sample.sessions for c in s.components}
    assert covered == {1, 2, 3, 4, 5}
    days = sample.days(TZ)
    assert days[0] == date(2026, 9, 14) and days[0].weekday() == 0
    assert days[-1] == date(2026, 9, 18) and days[-1].weekday() == 4
    assert len(days) == 5
    for session in sample.sessions:
        assert 30 <= session.duration_minutes <= 90
        assert session.join_url.startswith("https://example.org/")
        assert session.host and session.format
    friday = sample.sessions_on(date(2026, 9, 18), TZ)
    assert any(s.format == "keynote" for s in friday)
    formats = {s.format for s in sample.sessions}
    assert {"QI café", "webinar", "workshop", "poster showcase", "drop-in", "keynote"} <= formats
    assert len({s.host for s in sample.sessions}) >= 5


# ----------------------------------------------------------------------------- off the loop


async def test_parse_async_reads_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    data = (ROOT / "data" / "programme.yaml").read_bytes()
    loop_thread = threading.get_ident()
    seen: list[int] = []
    original = formats.parse_programme

    def spy(*args: object) -> object:
        seen.append(threading.get_ident())
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(formats, "parse_programme", spy)
    programme = await parse_programme_async(data, "programme.yaml", TZ, timeout=30)
    assert programme.sessions
    assert seen and seen[0] != loop_thread


async def test_parse_async_refuses_a_parse_that_runs_past_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def stuck(*args: object) -> object:
        release.wait(30)  # released below, so the worker thread ends with the test
        raise AssertionError("the result of a timed-out parse must be dropped")

    monkeypatch.setattr(formats, "parse_programme", stuck)
    try:
        with pytest.raises(ProgrammeError) as caught:
            await parse_programme_async(b"x", "slow.yaml", TZ, timeout=0.2)
    finally:
        release.set()
    assert str(caught.value.problems[0]) == (
        "file: took more than 0.2 seconds to read, so it was refused: split it or simplify it"
    )
