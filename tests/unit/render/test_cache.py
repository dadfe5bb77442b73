"""`DayRenders`: a repeated `/programme` page is a dict lookup, and each thing a page depends on
(programme, day, timezone, "today", page, sessions still to come) gives a new one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.programme import Programme, Session
from bot.render.cache import DayRenders

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 9, 14)
EARLY = datetime(2026, 9, 14, 5, tzinfo=UTC)
GUILD = 1


def _programme(count: int, title: str = "Huddle") -> Programme:
    start = datetime(2026, 9, 14, 7, tzinfo=UTC)
    return Programme(
        sessions=tuple(
            Session(
                id=f"s{n:03d}",
                title=f"{title} {n}",
                start=start + timedelta(minutes=5 * n),
                end=start + timedelta(minutes=5 * n + 30),
            )
            for n in range(count)
        )
    )


async def test_a_repeated_page_is_the_same_object_until_what_it_depends_on_changes() -> None:
    renders = DayRenders()
    programme = _programme(30)  # 10 a page (PAGE_SESSIONS)
    first = renders.page(GUILD, programme, MONDAY, LONDON, MONDAY, EARLY, 2)
    assert first.number == 2 and first.total == 3
    assert renders.page(GUILD, programme, MONDAY, LONDON, MONDAY, EARLY, 2) is first
    # A stale number is clamped before the look-up: the last page, from the same entry.
    last = renders.page(GUILD, programme, MONDAY, LONDON, MONDAY, EARLY, 3)
    assert renders.page(GUILD, programme, MONDAY, LONDON, MONDAY, EARLY, 9) is last
    # A session of page 2 has started: its select offers one fewer.
    later = programme.sessions[10].start
    started = renders.page(GUILD, programme, MONDAY, LONDON, MONDAY, later, 2)
    assert started is not first and first.view is not None and started.view is not None
    options = [len(v.children[0].options) for v in (first.view, started.view)]  # type: ignore[attr-defined]
    assert options == [10, 9]
    assert renders.page(GUILD, programme, MONDAY, LONDON, MONDAY, later, 2) is started
    assert renders.page(GUILD, programme, MONDAY, LONDON, MONDAY, EARLY, 1) is not first
    # Another timezone, another "today", another programme object: rendered again.
    other_tz = renders.page(GUILD, programme, MONDAY, ZoneInfo("Asia/Tokyo"), MONDAY, EARLY, 2)
    assert other_tz is not first
    tomorrow = MONDAY + timedelta(days=1)
    assert renders.page(GUILD, programme, MONDAY, LONDON, tomorrow, EARLY, 2) is not first
    renamed = _programme(30, title="Renamed")
    new = renders.page(GUILD, renamed, MONDAY, LONDON, MONDAY, EARLY, 2)
    assert new is not first and "Renamed" in (new.embeds[0].description or "")
    # Another guild with the same programme has its own entries.
    assert renders.page(GUILD + 1, renamed, MONDAY, LONDON, MONDAY, EARLY, 2) is not new
