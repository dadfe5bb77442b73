"""The persistent components drawn under programme messages: the daily post's "I'm interested
in…" select and a session's "I'm interested" and Join buttons. Drawn only: the interest feature
handles them by their stable custom_ids (`bot.ids`), so they work after a restart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import discord

from bot import ids
from bot.programme import Session, TzLike, link_target, resolve_tz
from bot.render import limits

SELECT_OPTIONS = 25  # Discord: options per select menu
SELECT_LABEL = 100
SELECT_DESCRIPTION = 100
LINK_BUTTON_URL = 512  # Discord: a link button's url; longer links stay in the embed


def interest_select_view(
    day: date,
    part: int,
    sessions: Sequence[Session],
    tz: TzLike = None,
    *,
    now: datetime | None = None,
) -> discord.ui.View | None:
    """The "I'm interested in…" select of one daily-post message (None when it lists nothing).

    With ``now``, sessions that have started by then are left out (None if none remain).
    Its custom_id is `bot.ids.interest_select_id(day, part)` and each option's value a session
    id; the interest feature handles the choice (the view here only draws it).
    """
    if now is not None:
        sessions = [s for s in sessions if s.start > now]
    if not sessions:
        return None
    if len(sessions) > SELECT_OPTIONS:
        raise ValueError(f"a select holds at most {SELECT_OPTIONS} options")
    options = []
    for session in sessions:
        local = session.start.astimezone(resolve_tz(tz))
        detail = " · ".join(x for x in (f"{local:%H:%M %Z}", session.host) if x)
        options.append(
            discord.SelectOption(
                label=limits.truncate(session.title, SELECT_LABEL),
                value=session.id,
                description=limits.truncate(detail, SELECT_DESCRIPTION),
            )
        )
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Select(
            custom_id=ids.interest_select_id(day.isoformat(), part),
            placeholder="I'm interested in…",
            min_values=1,
            max_values=len(options),
            options=options,
        )
    )
    return view


def session_view(session: Session) -> discord.ui.View:
    """Under a session: a link button to join (when it has a link) and the persistent
    "I'm interested" button (custom_id `bot.ids.interest_button_id`)."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            style=discord.ButtonStyle.primary,
            label="I'm interested",
            emoji="⭐",
            custom_id=ids.interest_button_id(session.id),
        )
    )
    url = link_target(session.join_url)
    if url and len(url) <= LINK_BUTTON_URL:
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label="Join", url=url))
    return view


__all__ = ["interest_select_view", "session_view"]
