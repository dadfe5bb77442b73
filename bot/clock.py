"""Time helpers. Code takes a `Clock` instead of calling datetime.now(), so tests can steer it."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: an aware UTC datetime."""
    return datetime.now(UTC)


def to_db(moment: datetime) -> str:
    """An aware datetime as the ISO 8601 UTC text every table stores."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored: attach a timezone first")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def from_db(text: str) -> datetime:
    """Back from the stored text to an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


#: Internal: set only by ``python -m bot rehearse`` for the bot process it starts (a JSON
#: `Timeline`). The bot then reads event time from it and its scheduler follows it.
REHEARSAL_CLOCK_ENV = "QIWEEK_REHEARSAL_CLOCK"


class Timeline:
    """Event time compressed onto real time: a monotonic, piecewise-linear map.

    ``points`` are (real seconds after ``real_start``, event time) pairs, strictly increasing in
    both. Between points event time runs at the slope of the segment (fast overnight, slower
    around planned sends); before the first and after the last point it keeps the nearest
    segment's speed. Called, it is a `Clock`; `to_real` tells the scheduler when, on the real
    clock APScheduler waits on, an event-time moment comes.
    """

    def __init__(
        self, real_start: float, points: list[tuple[float, datetime]], *, now: Callable[[], float]
    ) -> None:
        if len(points) < 2:
            raise ValueError("a timeline needs at least two points")
        for (r0, v0), (r1, v1) in itertools.pairwise(points):
            if not (r1 > r0 and v1 > v0):
                raise ValueError("timeline points must increase in real and event time")
        self.real_start = real_start
        self.points = [(float(r), v.astimezone(UTC)) for r, v in points]
        self._now = now

    def __call__(self) -> datetime:
        return self.at(self._now() - self.real_start)

    def _segment(self, index: int) -> tuple[float, datetime, float, datetime]:
        index = max(0, min(index, len(self.points) - 2))
        (r0, v0), (r1, v1) = self.points[index], self.points[index + 1]
        return r0, v0, r1, v1

    def at(self, real_offset: float) -> datetime:
        """Event time ``real_offset`` seconds after the real start."""
        index = sum(1 for r, _ in self.points[1:-1] if r <= real_offset)
        r0, v0, r1, v1 = self._segment(index)
        speed = (v1 - v0).total_seconds() / (r1 - r0)
        return v0 + timedelta(seconds=(real_offset - r0) * speed)

    def real_offset(self, moment: datetime) -> float:
        """Seconds after the real start at which event time reads ``moment``."""
        index = sum(1 for _, v in self.points[1:-1] if v <= moment)
        r0, v0, r1, v1 = self._segment(index)
        speed = (v1 - v0).total_seconds() / (r1 - r0)
        return r0 + (moment - v0).total_seconds() / speed

    def to_real(self, moment: datetime) -> datetime:
        """The real UTC instant when event time reads ``moment``."""
        return datetime.fromtimestamp(self.real_start + self.real_offset(moment), UTC)

    def from_real(self, moment: datetime) -> datetime:
        """Event time at a real UTC instant."""
        return self.at(moment.timestamp() - self.real_start)

    def encode(self) -> str:
        return json.dumps(
            {"real_start": self.real_start, "points": [[r, v.isoformat()] for r, v in self.points]}
        )

    @classmethod
    def decode(cls, text: str, *, now: Callable[[], float] = time.time) -> Timeline:
        """From `encode`'s JSON; ValueError when it is not one."""
        try:
            data = json.loads(text)
            points = [(float(r), datetime.fromisoformat(v)) for r, v in data["points"]]
            return cls(float(data["real_start"]), points, now=now)
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a rehearsal timeline: {exc}") from None


def real_seconds_until(clock: Clock, moment: datetime) -> float:
    """Real seconds until ``clock`` reads ``moment`` (negative when it has passed).

    A wait or a `time.monotonic()` deadline is in real seconds, while ``moment`` is in the
    clock's time: under a rehearsal `Timeline` the two run at different speeds, so a wait must
    be converted here rather than computed as ``(moment - clock()).total_seconds()``.
    """
    if isinstance(clock, Timeline):
        return clock.to_real(moment).timestamp() - time.time()
    return (moment - clock()).total_seconds()
