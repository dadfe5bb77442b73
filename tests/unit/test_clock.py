"""The rehearsal's compressed timeline: event time from real time and back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import Timeline

T0 = datetime(2026, 9, 13, 17, 0, tzinfo=UTC)


def timeline(now: float = 1000.0) -> Timeline:
    # 10 real seconds for 10 event hours, then 10 real seconds for 10 event minutes.
    points = [
        (0.0, T0),
        (10.0, T0 + timedelta(hours=10)),
        (20.0, T0 + timedelta(hours=10, minutes=10)),
    ]
    return Timeline(1000.0, points, now=lambda: now)


def test_event_time_runs_at_each_segments_speed() -> None:
    assert timeline(1000.0)() == T0
    assert timeline(1005.0)() == T0 + timedelta(hours=5)
    assert timeline(1015.0)() == T0 + timedelta(hours=10, minutes=5)
    assert timeline(1030.0)() == T0 + timedelta(hours=10, minutes=20)  # last speed goes on
    assert timeline(999.0)() == T0 - timedelta(hours=1)  # and the first before the start


def test_to_real_inverts_the_clock() -> None:
    line = timeline()
    for offset in (-3.0, 0.0, 2.5, 10.0, 12.25, 40.0):
        moment = line.at(offset)
        assert line.real_offset(moment) == pytest.approx(offset)
        real = line.to_real(moment)
        assert abs(real.timestamp() - (1000.0 + offset)) < 1e-6
        assert abs((line.from_real(real) - moment).total_seconds()) < 1e-3


def test_encode_round_trips_and_bad_text_is_refused() -> None:
    line = timeline()
    again = Timeline.decode(line.encode(), now=lambda: 1015.0)
    assert again.points == line.points and again() == T0 + timedelta(hours=10, minutes=5)
    with pytest.raises(ValueError, match="rehearsal timeline"):
        Timeline.decode("{}")
    with pytest.raises(ValueError, match="increase"):
        Timeline(0.0, [(0.0, T0), (0.0, T0 + timedelta(hours=1))], now=lambda: 0.0)
