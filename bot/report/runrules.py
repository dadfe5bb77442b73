"""The run-chart rules of NHS England's "Making data count", on a plain list of numbers.

- **Median**: the centre line of every run chart.
- **Shift**: 6 or more consecutive points all above, or all below, the median. A point exactly
  on the median neither counts towards nor breaks a shift (it is skipped).
- **Trend**: 5 or more consecutive points all rising, or all falling. Equal consecutive values
  neither add to nor break a trend: a plateau is part of the run but counts as one point, so
  ``1, 2, 2, 3, 4, 5`` is a rising trend of 5 points spanning 6 days. The turning point belongs
  to both the run that ends there and the one that starts there.
- The rules are only applied with at least 10 points: fewer cannot show a signal reliably.

Pure and small so the report, the figure and the tests share one reading of the rules.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

SHIFT_POINTS = 6
TREND_POINTS = 5
MIN_POINTS = 10


@dataclass(frozen=True, slots=True)
class Run:
    """A shift or trend: the positions of its points in the series, and which way it goes.

    `direction` is ``"above"``/``"below"`` for a shift and ``"rising"``/``"falling"`` for a
    trend; `points` is how many points count towards the rule (median points and repeated
    values excluded), `indices` every position drawn as part of it.
    """

    kind: str
    direction: str
    indices: tuple[int, ...]
    points: int

    @property
    def start(self) -> int:
        return self.indices[0]

    @property
    def end(self) -> int:
        return self.indices[-1]


@dataclass(frozen=True, slots=True)
class RunAnalysis:
    """A series' median and the signals found (none when the rules were not applied)."""

    median: float | None
    applied: bool
    shifts: tuple[Run, ...] = ()
    trends: tuple[Run, ...] = ()

    @property
    def signals(self) -> tuple[Run, ...]:
        return self.shifts + self.trends


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def find_shifts(
    values: Sequence[float], median: float, min_points: int = SHIFT_POINTS
) -> list[Run]:
    """Runs of `min_points` or more points on one side of `median`; points on it are skipped."""
    runs: list[Run] = []
    side = 0
    indices: list[int] = []

    def close() -> None:
        if side and len(indices) >= min_points:
            direction = "above" if side > 0 else "below"
            runs.append(Run("shift", direction, tuple(indices), len(indices)))

    for i, value in enumerate(values):
        s = _sign(value - median)
        if s == 0:
            continue  # on the median: neither counts nor breaks
        if s == side:
            indices.append(i)
        else:
            close()
            side, indices = s, [i]
    close()
    return runs


def find_trends(values: Sequence[float], min_points: int = TREND_POINTS) -> list[Run]:
    """Runs of `min_points` or more distinct points all rising or all falling (ties skipped)."""
    runs: list[Run] = []
    if not values:
        return runs
    start = 0  # first index of the current run
    plateau = 0  # first index of the latest value (where the value last changed)
    direction = 0
    count = 1  # distinct values in the current run

    def close(end: int) -> None:
        if direction and count >= min_points:
            name = "rising" if direction > 0 else "falling"
            runs.append(Run("trend", name, tuple(range(start, end + 1)), count))

    for i in range(1, len(values)):
        step = _sign(values[i] - values[i - 1])
        if step == 0:
            continue  # a repeated value: neither adds to nor breaks the run
        if direction in (0, step):
            direction = step
            count += 1
        else:
            close(i - 1)
            # The turning point (the whole plateau of it) starts the new run.
            start, direction, count = plateau, step, 2
        plateau = i
    close(len(values) - 1)
    return runs


def analyse(values: Sequence[float], min_points: int = MIN_POINTS) -> RunAnalysis:
    """The median always (when there is a point); shifts and trends only with enough points."""
    if not values:
        return RunAnalysis(median=None, applied=False)
    median = float(statistics.median(values))
    if len(values) < min_points:
        return RunAnalysis(median=median, applied=False)
    return RunAnalysis(
        median=median,
        applied=True,
        shifts=tuple(find_shifts(values, median)),
        trends=tuple(find_trends(values)),
    )


__all__ = [
    "MIN_POINTS",
    "SHIFT_POINTS",
    "TREND_POINTS",
    "Run",
    "RunAnalysis",
    "analyse",
    "find_shifts",
    "find_trends",
]
