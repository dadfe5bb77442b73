"""Finding sessions by title, host or speaker."""

from __future__ import annotations

import time as timer
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.programme import (
    SessionIndex,
    search_sessions,
)
from tests.harness import make_session as make
from tests.harness import utc

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


def test_search_ranking() -> None:
    start = utc(2026, 9, 14, 9)
    sessions = [
        make("Leadership webinar", start + timedelta(hours=5), host="Example ICB"),
        make("Café chat", start + timedelta(hours=4), speakers=("Sam Leader",)),
        make("Team leadership", start + timedelta(hours=3)),
        make("Misleading charts", start + timedelta(hours=2)),
        make("Leadership early", start + timedelta(hours=1)),
        make("Unrelated", start),
    ]
    titles = [s.title for s in search_sessions(sessions, "LEAD")]
    assert titles == [
        "Leadership early",
        "Leadership webinar",
        "Team leadership",
        "Café chat",
        "Misleading charts",
    ]
    assert [s.title for s in search_sessions(sessions, "cafe")] == ["Café chat"]
    assert [s.title for s in search_sessions(sessions, "example icb")] == ["Leadership webinar"]
    assert search_sessions(sessions, "lead", limit=2)[1].title == "Leadership webinar"
    assert search_sessions(sessions, "zzz") == []
    everything = search_sessions(sessions, "", now=start + timedelta(hours=2, minutes=30))
    assert everything[0].title == "Misleading charts"  # still running: first
    assert everything[-1].title == "Leadership early"  # ended: last


def test_search_500_sessions_is_fast() -> None:
    start = utc(2026, 9, 14, 8)
    sessions = [
        make(
            f"Session {n} on improvement topic {n % 17}",
            start + timedelta(minutes=10 * n),
            host=f"Example Trust {n % 23}",
            speakers=(f"Speaker {n}", f"Coach {n % 7}"),
        )
        for n in range(500)
    ]
    index = SessionIndex(sessions)
    began = timer.perf_counter()
    for query in ("imp", "trust 1", "coach", "session 49", "x", ""):
        for _ in range(20):
            results = index.search(query)
            assert len(results) <= 25
    per_call = (timer.perf_counter() - began) / 120
    assert per_call < 0.05
    assert index.search("session 49")[0].title.startswith("Session 49 ")
