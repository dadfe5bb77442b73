"""Finding sessions by title, host or speaker (autocomplete runs this on every keystroke)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.programme.model import Session, _fold


class SessionIndex:
    """Lower-cased, accent-folded search text per session, built once so each keystroke is cheap."""

    __slots__ = ("_entries",)

    def __init__(self, sessions: Sequence[Session]) -> None:
        entries = []
        for session in sorted(sessions, key=lambda s: (s.start, s.title, s.id)):
            fields = (_fold(session.title), _fold(session.host), *map(_fold, session.speakers))
            entries.append((session, fields, "\n".join(fields)))
        self._entries: list[tuple[Session, tuple[str, ...], str]] = entries

    def __len__(self) -> int:
        return len(self._entries)

    def search(self, query: str, limit: int = 25, *, now: datetime | None = None) -> list[Session]:
        """Best matches first: title starts with it, a word starts with it, then anywhere.

        An empty query lists sessions not yet ended first (when ``now`` is given), in time order.
        """
        if limit <= 0:
            return []
        needle = _fold(query.strip())
        if not needle:
            sessions = [entry[0] for entry in self._entries]
            if now is not None:
                sessions.sort(key=lambda s: s.has_ended(now))
            return sessions[:limit]
        ranked: list[tuple[int, int, Session]] = []
        for position, (session, fields, haystack) in enumerate(self._entries):
            if needle not in haystack:
                continue
            ranked.append((_rank(needle, fields), position, session))
        ranked.sort(key=lambda item: (item[0], item[1]))
        return [session for _, _, session in ranked[:limit]]


def _rank(needle: str, fields: tuple[str, ...]) -> int:
    if fields[0].startswith(needle):
        return 0
    found = False
    for text in fields:
        at = text.find(needle)
        while at != -1:
            found = True
            if at == 0 or not text[at - 1].isalnum():
                return 1
            at = text.find(needle, at + 1)
    return 2 if found else 3


def search_sessions(
    sessions: Sequence[Session], query: str, limit: int = 25, *, now: datetime | None = None
) -> list[Session]:
    """Sessions matching ``query`` in title, host or speakers; see :class:`SessionIndex`."""
    return SessionIndex(sessions).search(query, limit, now=now)
