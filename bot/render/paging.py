"""`/programme` as ONE ephemeral message that pages through the day (issue 15).

A long day is several parts (`day_parts`: at most `bot.render.cache.PAGE_SESSIONS` sessions
each, every embed limit kept).
Sending each as its own message costs a round trip per part and gives the member walls of
text; instead page k shows part k with its "I'm interested" select and, when the day has more
than one part, a row of buttons: "◀ Previous", a disabled "Page k of n", "Next ▶". The buttons
carry the day and the page they show (`bot.ids.programme_page_id`), so they are stateless and
keep working after a restart; a press is answered by editing the message (UPDATE_MESSAGE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import discord

from bot import ids
from bot.programme import TzLike, format_local_date
from bot.render.components import interest_select_view
from bot.render.programme import DayPart

PREVIOUS = "◀ Previous"
NEXT = "Next ▶"


def page_label(number: int, total: int) -> str:
    """The disabled button between Previous and Next."""
    return f"Page {number} of {total}"


def page_number(requested: int, total: int) -> int:
    """``requested`` within 1..``total``: a stale button (the day has shrunk since the message
    was drawn) shows the last page rather than failing."""
    return max(1, min(requested, total))


class DrawnEmbed(discord.Embed):
    """An embed of a cached page: shared by every member who asks for the page and never
    changed, so it is serialised once (`to_dict`, called by discord.py on every send)."""

    __slots__ = ("_drawn",)

    @classmethod
    def of(cls, embed: discord.Embed) -> DrawnEmbed:
        data = embed.to_dict()
        drawn = cls.from_dict(data)
        drawn._drawn = data  # from_dict only reads it; nothing changes either afterwards
        return drawn

    def to_dict(self) -> Any:
        return self._drawn


class DrawnView(discord.ui.View):
    """A cached page's components, serialised once. Only drawn: the features handle them by
    custom_id, so it is stopped at once (discord.py then never stores it or times it out)."""

    def __init__(self, items: Sequence[discord.ui.Item[Any]]) -> None:
        super().__init__(timeout=None)
        for item in items:
            self.add_item(item)
        self._drawn = super().to_components()
        self.stop()

    def to_components(self) -> list[dict[str, Any]]:
        return self._drawn


@dataclass(frozen=True)
class DayPage:
    """Page ``number`` of ``total`` of a day: its embeds and components (None: no components).

    Shared by every member who asks for the same page (`bot.render.cache`): never change it.
    """

    embeds: list[discord.Embed]
    view: discord.ui.View | None
    number: int
    total: int
    has_sessions: bool

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``InteractionResponse.send_message``."""
        kwargs: dict[str, Any] = {"embeds": self.embeds}
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs

    def edit_kwargs(self, content: str | None = None) -> dict[str, Any]:
        """Keyword arguments of ``InteractionResponse.edit_message``: every field is given, so
        nothing of the page shown before is left behind (a note, a select, the buttons)."""
        return {"content": content, "embeds": self.embeds, "view": self.view}


def paging_buttons(day: date, number: int, total: int) -> list[discord.ui.Button[Any]]:
    """Previous (disabled on page 1), the page label (always disabled), Next (disabled on the
    last page). Their custom_ids differ (pages k-1, k, k+1), as Discord requires."""
    iso = day.isoformat()
    return [
        discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label=PREVIOUS,
            custom_id=ids.programme_page_id(iso, number - 1),
            disabled=number <= 1,
        ),
        discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label=page_label(number, total),
            custom_id=ids.programme_page_id(iso, number),
            disabled=True,
        ),
        discord.ui.Button(
            style=discord.ButtonStyle.secondary,
            label=NEXT,
            custom_id=ids.programme_page_id(iso, number + 1),
            disabled=number >= total,
        ),
    ]


def day_page(
    parts: Sequence[DayPart], day: date, requested: int, tz: TzLike, *, now: datetime
) -> DayPage:
    """Page ``requested`` (clamped, see `page_number`) of a day rendered as ``parts``.

    The select offers the part's sessions not started by ``now``; a one-part day has no
    buttons, so it looks exactly like the single message it always was. The page is cached and
    sent again and again, so its embeds and view are serialised once (`DrawnEmbed`,
    `DrawnView`).
    """
    if not parts:
        raise ValueError("a day has at least one part")
    total = len(parts)
    number = page_number(requested, total)
    part = parts[number - 1]
    select = interest_select_view(day, number, part.sessions, tz, now=now)
    items: list[discord.ui.Item[Any]] = list(select.children) if select is not None else []
    if total > 1:
        items.extend(paging_buttons(day, number, total))
    return DayPage(
        embeds=[DrawnEmbed.of(embed) for embed in part.page.embeds],
        view=DrawnView(items) if items else None,
        number=number,
        total=total,
        has_sessions=any(p.sessions for p in parts),
    )


def changed_note(day: date, requested: int, shown: DayPage) -> str | None:
    """What a page press says above the page when the programme changed under the message:
    the day has no sessions any more, or fewer pages than the one asked for."""
    if not shown.has_sessions:
        return (
            f"The programme has changed: there are no sessions on "
            f"{format_local_date(day, year=True)} any more."
        )
    if requested > shown.total:
        pages = f"{shown.total} page{'s' if shown.total != 1 else ''}"
        return f"The programme has changed: this day now has {pages}, so here is the last."
    return None


__all__ = [
    "NEXT",
    "PREVIOUS",
    "DayPage",
    "changed_note",
    "day_page",
    "page_label",
    "page_number",
    "paging_buttons",
]
