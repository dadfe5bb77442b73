"""Which day a member means, and the programme's day queries."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.programme import (
    DayError,
    Programme,
    load_programme,
    parse_day,
)
from tests.harness import make_session as make
from tests.harness import utc

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


@pytest.fixture(scope="module")
def sample() -> Programme:
    return load_programme(ROOT / "data" / "programme.yaml", TZ)


def test_parse_day_forms(sample: Programme) -> None:
    today = date(2026, 9, 15)
    kw = {"today": today, "programme": sample, "tz": TZ}
    assert parse_day(None, **kw) == today
    assert parse_day("", **kw) == today
    assert parse_day(" Today ", **kw) == today
    assert parse_day("tomorrow", **kw) == date(2026, 9, 16)
    assert parse_day("Friday", **kw) == date(2026, 9, 18)
    assert parse_day("mon", **kw) == date(2026, 9, 14)
    assert parse_day("WED", **kw) == date(2026, 9, 16)
    assert parse_day("saturday", **kw) == date(2026, 9, 19)
    # a weekday means the event's week even when asked weeks before
    assert parse_day("thursday", today=date(2026, 8, 1), programme=sample, tz=TZ) == date(
        2026, 9, 17
    )
    assert parse_day("2026-09-17", **kw) == date(2026, 9, 17)
    for bad in ("next week", "2026-02-30", "17/09/2026"):
        with pytest.raises(DayError) as caught:
            parse_day(bad, **kw)
        message = str(caught.value)
        assert "today" in message and "tomorrow" in message and "YYYY-MM-DD" in message
    assert issubclass(DayError, ValueError)


def test_day_queries(sample: Programme) -> None:
    assert sample.days(TZ) == [date(2026, 9, d) for d in range(14, 19)]
    assert sample.event_week(TZ) == (date(2026, 9, 14), date(2026, 9, 18))
    assert sample.next_day_with_sessions(date(2026, 9, 18), TZ) is None
    assert sample.next_day_with_sessions(date(2026, 9, 1), TZ) == date(2026, 9, 14)
    monday = sample.sessions_on(date(2026, 9, 14), TZ)
    assert monday == sorted(monday, key=lambda s: s.start)
    assert sample.sessions_on(date(2026, 9, 19), TZ) == []
    assert Programme().event_week(TZ) is None
    spread = Programme(sessions=(make("A", utc(2026, 9, 10, 9)), make("B", utc(2026, 9, 15, 9))))
    assert spread.event_week(TZ) == (date(2026, 9, 10), date(2026, 9, 15))
