"""Rendered days kept per guild and programme: `/programme` answers from memory.

Rendering a 100-session day (embeds packed within Discord's limits, a select per message) takes
milliseconds; hundreds of members ask for the same day in the same minutes. A day is rendered
once per (programme, day, timezone, "today") and each page of the one-message answer
(`bot.render.paging`: a part, its select and the paging buttons) once per set of the part's
sessions still to come. The programme is immutable and a new one is a new object (the
programme service re-reads it after any change), so an entry is found only for the very
programme it was rendered from: an import is seen by the next request without any explicit
invalidation, a timezone change (`/organiser setup`) is part of the key, and so is the date.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from bot.programme import Programme
from bot.render import limits
from bot.render.paging import DayPage, day_page, page_number
from bot.render.programme import DayPart, day_parts, session_choice_name

#: Sessions on one page of `/programme` (the daily post's parts hold up to 25). Ten can be read
#: on a phone without a long scroll, and the page's select offers the same ten; a page is then
#: ~4 KB instead of ~11 KB, which Discord echoes back and discord.py parses on every answer.
PAGE_SESSIONS = 10
#: Days kept per guild before the oldest are dropped (a week of days x a few "today"s).
MAX_DAYS = 32
#: Pages kept per guild (days x pages x how many of a page's sessions are still to come).
MAX_PAGES = 1024
#: Autocomplete answers kept per guild (typed prefixes are few; a flood is simply re-done).
MAX_CHOICES = 2048


class _GuildRenders:
    __slots__ = ("choices", "days", "pages", "programme")

    def __init__(self, programme: Programme) -> None:
        self.programme = programme
        self.choices: dict[tuple[str, tzinfo], list[tuple[str, str]]] = {}
        self.days: dict[tuple[date, tzinfo, date], list[DayPart]] = {}
        self.pages: dict[tuple[date, tzinfo, date, int, tuple[str, ...]], DayPage] = {}


class DayRenders:
    """The rendered days of each guild's current programme (see the module's docstring)."""

    def __init__(self) -> None:
        self._guilds: dict[int, _GuildRenders] = {}

    def _entry(self, guild_id: int, programme: Programme) -> _GuildRenders:
        entry = self._guilds.get(guild_id)
        if entry is None or entry.programme is not programme:
            entry = self._guilds[guild_id] = _GuildRenders(programme)
        return entry

    def forget(self, guild_id: int) -> None:
        """Drop a guild's renders (not needed for correctness; frees memory)."""
        self._guilds.pop(guild_id, None)

    def parts(
        self, guild_id: int, programme: Programme, day: date, tz: tzinfo, today: date
    ) -> list[DayPart]:
        """The day's `/programme` pages (`day_parts`, `PAGE_SESSIONS` sessions each), rendered
        once. Callers must not change what they get."""
        entry = self._entry(guild_id, programme)
        key = (day, tz, today)
        found = entry.days.get(key)
        if found is None:
            if len(entry.days) >= MAX_DAYS:
                entry.days.clear()
                entry.pages.clear()
            found = entry.days[key] = day_parts(
                programme, day, tz, today=today, per_part=PAGE_SESSIONS
            )
        return found

    def page(
        self,
        guild_id: int,
        programme: Programme,
        day: date,
        tz: tzinfo,
        today: date,
        now: datetime,
        requested: int,
    ) -> DayPage:
        """Page ``requested`` of the day (`bot.render.paging.day_page`, clamped to the pages
        there are), rendered once per page and set of the part's sessions not started by
        ``now`` (the select offers only those). Callers must not change what they get."""
        entry = self._entry(guild_id, programme)
        parts = self.parts(guild_id, programme, day, tz, today)
        number = page_number(requested, len(parts))
        remaining = tuple(s.id for s in parts[number - 1].sessions if s.start > now)
        key = (day, tz, today, number, remaining)
        found = entry.pages.get(key)
        if found is None:
            if len(entry.pages) >= MAX_PAGES:
                entry.pages.clear()
            found = entry.pages[key] = day_page(parts, day, number, tz, now=now)
        return found

    def choices(
        self,
        guild_id: int,
        programme: Programme,
        query: str,
        tz: tzinfo,
        now: datetime,
        limit: int = limits.CHOICES,
    ) -> list[tuple[str, str]]:
        """`/session` autocomplete: (name, session id) of the best matches for ``query``.

        Typed text ranks the same whatever the time, so its answer is kept (per programme and
        timezone); the empty query lists sessions still to come first, so it is worked out
        each time (cheap: no matching).
        """
        entry = self._entry(guild_id, programme)
        key = (query, tz)
        found = entry.choices.get(key)
        if found is None:
            sessions = programme.index.search(query, limit, now=now)
            found = [(session_choice_name(s, tz), s.id) for s in sessions]
            if query.strip():
                if len(entry.choices) >= MAX_CHOICES:
                    entry.choices.clear()
                entry.choices[key] = found
        return found


__all__ = ["MAX_CHOICES", "MAX_DAYS", "MAX_PAGES", "DayRenders"]
