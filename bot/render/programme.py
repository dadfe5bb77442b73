"""Programme rendering: sessions and days as Discord embeds, plus the plain-text preview.

Every time shown on Discord is a timestamp (``<t:unix:t>``) so each member sees their own clock;
every list goes through :mod:`bot.render.limits`, so a long day is split, never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

import discord
from discord.utils import escape_markdown, format_dt

from bot import ids
from bot.programme import (
    IMPACT_COMPONENTS,
    IMPACT_SHORT_NAMES,
    Programme,
    Session,
    TzLike,
    combine_local,
    format_local_date,
    resolve_tz,
)
from bot.render import limits
from bot.render.limits import Page

__all__ = [
    "NHS_BLUE",
    "SELECT_OPTIONS",
    "DayPart",
    "day_heading",
    "day_pages",
    "day_parts",
    "interest_select_view",
    "no_sessions_text",
    "preview_text",
    "session_block",
    "session_choice_name",
    "session_embed",
    "session_embeds",
    "session_pages",
    "session_view",
]

NHS_BLUE = 0x005EB8
SELECT_OPTIONS = 25  # Discord: options per select menu
SELECT_LABEL = 100
SELECT_DESCRIPTION = 100
SELECT_PLACEHOLDER = 150
LINK_BUTTON_URL = 512  # Discord: a link button's url; longer links stay in the embed
_DESCRIPTION_MIN_IN_MAIN = 200


def _link(url: str) -> str:
    """A URL safe inside a markdown link target (a bracket or space would end the link early)."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _time_range(session: Session, *, with_date: bool = False) -> str:
    start = format_dt(session.start, "f" if with_date else "t")
    return f"{start}–{format_dt(session.end, 't')}"


def session_block(session: Session, *, with_date: bool = False) -> str:
    """One session as a compact markdown block for lists (a day, a member's sessions)."""
    lines = [f"{_time_range(session, with_date=with_date)} **{escape_markdown(session.title)}**"]
    meta = " · ".join(escape_markdown(x) for x in (session.host, session.format) if x)
    if meta:
        lines.append(meta)
    if session.speakers:
        lines.append("Speakers: " + escape_markdown(", ".join(session.speakers)))
    if session.components:
        names = ", ".join(IMPACT_SHORT_NAMES.get(c, str(c)) for c in session.components)
        lines.append(f"NHS IMPACT: {names}")
    if session.join_url:
        lines.append(f"[Join]({_link(session.join_url)})")
    return "\n".join(lines)


def day_heading(programme: Programme, day: date) -> str:
    """'QI Week programme — Monday 14 September'."""
    return f"{programme.event.name} programme — {format_local_date(day)}"


def day_pages(
    programme: Programme,
    day: date,
    tz: TzLike = None,
    *,
    heading: str | None = None,
    today: date | None = None,
) -> list[Page]:
    """A day's programme as messages within every Discord limit, every session present, in order.

    A day without sessions gives one embed saying so and naming the next day with sessions.
    """
    zone = resolve_tz(tz if tz is not None else programme.event.timezone)
    sessions = programme.sessions_on(day, zone)
    title = heading or day_heading(programme, day)
    event = programme.event
    header_lines = []
    if event.theme:
        header_lines.append(f"Theme: **{escape_markdown(event.theme)}**")
    if sessions:
        count = len(sessions)
        header_lines.append(
            f"{count} session{'s' if count != 1 else ''} · times are shown in your own time zone"
        )
    else:
        header_lines.append(no_sessions_text(programme, day, zone, today or day))
    footer = f"Share what you learn with {event.hashtag}" if event.hashtag else None
    return limits.pack_blocks(
        (session_block(s) for s in sessions),
        title=title,
        colour=NHS_BLUE,
        header="\n".join(header_lines),
        footer=footer,
    )


@dataclass
class DayPart:
    """One message of a day's programme and the sessions it lists (for its "interested" select)."""

    page: Page
    sessions: list[Session] = field(default_factory=list)


def day_parts(
    programme: Programme,
    day: date,
    tz: TzLike = None,
    *,
    heading: str | None = None,
    today: date | None = None,
) -> list[DayPart]:
    """A day's programme as messages that each list at most 25 sessions (one select menu's
    worth) and respect every embed limit; every session appears once, in time order.

    The first message carries the heading, theme and count; later ones say "(continued)"; the
    footer (the hashtag) closes the last. A day without sessions is one part saying so.
    """
    zone = resolve_tz(tz if tz is not None else programme.event.timezone)
    sessions = programme.sessions_on(day, zone)
    if not sessions:
        pages = day_pages(programme, day, zone, heading=heading, today=today)
        return [DayPart(page=page) for page in pages]
    title = heading or day_heading(programme, day)
    continued = limits.truncate(f"{title} (continued)", limits.EMBED_TITLE)
    event = programme.event
    header_lines = []
    if event.theme:
        header_lines.append(f"Theme: **{escape_markdown(event.theme)}**")
    count = len(sessions)
    header_lines.append(
        f"{count} session{'s' if count != 1 else ''} · times are shown in your own time zone"
    )
    header = "\n".join(header_lines)
    footer = f"Share what you learn with {event.hashtag}" if event.hashtag else None
    blocks = {s.id: session_block(s) for s in sessions}

    def pack(group: Sequence[Session], first: bool, with_footer: bool) -> list[Page]:
        return limits.pack_blocks(
            (blocks[s.id] for s in group),
            title=title,
            colour=NHS_BLUE,
            header=header if first else None,
            footer=footer if with_footer else None,
        )

    groups: list[list[Session]] = []
    current: list[Session] = []
    for session in sessions:
        trial = [*current, session]
        fits = len(trial) <= SELECT_OPTIONS and len(pack(trial, not groups, True)) == 1
        if current and not fits:
            groups.append(current)
            current = [session]
        else:
            current = trial
    groups.append(current)

    parts: list[DayPart] = []
    for index, group in enumerate(groups):
        pages = pack(group, index == 0, index == len(groups) - 1)
        for number, page in enumerate(pages):
            if index > 0 or number > 0:
                for embed in page.embeds:
                    embed.title = continued
            # A session too long for one message spills over; its select stays on the first.
            parts.append(DayPart(page=page, sessions=list(group) if number == 0 else []))
    return parts


def _local_label(session: Session, zone: TzLike) -> datetime:
    return session.start.astimezone(resolve_tz(zone))


def session_choice_name(session: Session, tz: TzLike = None) -> str:
    """An autocomplete choice: 'Mon 14 Sep 12:30 · Title', within Discord's 100 characters.

    Choices are plain text (no Discord timestamps), so the time is the server's local time.
    """
    local = _local_label(session, tz)
    return limits.truncate(
        f"{local:%a} {local.day} {local:%b %H:%M} · {session.title}", limits.CHOICE_NAME
    )


def interest_select_view(
    day: date, part: int, sessions: Sequence[Session], tz: TzLike = None
) -> discord.ui.View | None:
    """The "I'm interested in…" select of one daily-post message (None when it lists nothing).

    Its custom_id is `bot.ids.interest_select_id(day, part)` and each option's value a session
    id; the interest feature handles the choice (the view here only draws it).
    """
    if not sessions:
        return None
    if len(sessions) > SELECT_OPTIONS:
        raise ValueError(f"a select holds at most {SELECT_OPTIONS} options")
    options = []
    for session in sessions:
        local = _local_label(session, tz)
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
    url = _link(session.join_url)
    if url and len(url) <= LINK_BUTTON_URL:
        view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label="Join", url=url))
    return view


def _no_sessions(day: date, today: date) -> str:
    if day == today:
        return f"No sessions today ({format_local_date(day)})"
    if (day - today).days == 1:
        return f"No sessions tomorrow ({format_local_date(day)})"
    return f"No sessions on {format_local_date(day)}"


def no_sessions_text(programme: Programme, day: date, tz: TzLike, today: date) -> str:
    """Why a day is empty and where to look instead: the next day, or the event's dates."""
    lead = _no_sessions(day, today)
    week = programme.event_week(tz)
    if week is None:
        return f"{lead}: no programme is loaded yet."
    first, last = week
    dates = f"{format_local_date(first)} to {format_local_date(last, year=True)}"
    event = programme.event.name
    if day < first:
        return f"{lead}. {event} runs {dates}."
    if day > last:
        return f"{lead}: {event} ran {dates}."
    following = programme.next_day_with_sessions(day, tz)
    if following is None:
        return f"{lead}, and none later: {event} ran {dates}."
    return f"{lead}. Next: {format_local_date(following)}."


def _field_chunks(text: str) -> list[str]:
    return limits.chunk_text(text, limits.FIELD_VALUE)


def session_embeds(
    session: Session, tz: TzLike = None, *, interested: int = 0
) -> list[discord.Embed]:
    """The whole session: a main embed, then continuation embeds for a very long description.

    Each embed passes ``limits.check_embed``; nothing of the description or speakers is lost.
    """
    del tz  # times are Discord timestamps: each reader sees their own zone
    title = limits.truncate(session.title, limits.EMBED_TITLE)
    main = discord.Embed(title=title, colour=NHS_BLUE, url=session.join_url or None)
    when = (
        f"{format_dt(session.start, 'F')} – {format_dt(session.end, 't')}\n"
        f"{format_dt(session.start, 'R')} · {session.duration_minutes} minutes"
    )
    main.add_field(name="When", value=when, inline=False)
    if session.host:
        main.add_field(name="Host", value=limits.truncate(session.host, limits.FIELD_VALUE))
    if session.format:
        main.add_field(name="Format", value=limits.truncate(session.format, limits.FIELD_VALUE))
    overflow: list[str] = []
    if session.speakers:
        chunks = _field_chunks(", ".join(session.speakers))
        main.add_field(name="Speakers", value=chunks[0], inline=False)
        if len(chunks) > 1:
            overflow.append("**Speakers (continued)**\n" + "\n".join(chunks[1:]))
    if session.components:
        names = "\n".join(f"{c}. {IMPACT_COMPONENTS.get(c, str(c))}" for c in session.components)
        main.add_field(name="NHS IMPACT components", value=names, inline=False)
    if session.join_url:
        main.add_field(
            name="Join", value=f"[Join the session]({_link(session.join_url)})", inline=False
        )
    main.add_field(name="Interested", value=str(interested))
    if session.tags:
        tags = ", ".join(session.tags)
        main.add_field(name="Tags", value=limits.truncate(tags, limits.FIELD_VALUE))
    main.set_footer(text=limits.truncate(f"Session id: {session.id}", limits.FOOTER))

    description = session.description.strip()
    rest = ""
    if description:
        budget = min(limits.EMBED_DESCRIPTION - 30, limits.EMBED_TOTAL - len(main) - 60)
        if len(description) <= budget:
            main.description = description
        elif budget >= _DESCRIPTION_MIN_IN_MAIN:
            first = limits.chunk_text(description, budget)[0]
            main.description = first + "\n*(continued below)*"
            rest = description[len(first) :].lstrip()
        else:
            main.description = "*(description below)*"
            rest = description
    embeds = [main]
    continued = limits.truncate(f"{session.title} (continued)", limits.EMBED_TITLE)
    pieces = [*overflow, *(limits.chunk_text(rest, limits.EMBED_DESCRIPTION) if rest else [])]
    for piece in pieces:
        embeds.append(discord.Embed(title=continued, description=piece, colour=NHS_BLUE))
    return embeds


def session_embed(session: Session, tz: TzLike = None, *, interested: int = 0) -> discord.Embed:
    """The main embed of :func:`session_embeds`; send :func:`session_pages` to lose nothing."""
    return session_embeds(session, tz, interested=interested)[0]


def session_pages(session: Session, tz: TzLike = None, *, interested: int = 0) -> list[Page]:
    """The whole session as messages (one, unless the description is longer than ~5,000)."""
    return limits.pack_embeds(session_embeds(session, tz, interested=interested))


def preview_text(programme: Programme, tz: TzLike, post_time: time, day: date | None = None) -> str:
    """Plain text for ``python -m bot preview``: each daily post, when it goes out, its sessions."""
    zone = resolve_tz(tz if tz is not None else programme.event.timezone)
    event = programme.event
    lines = [event.name]
    if event.theme:
        lines.append(f"Theme: {event.theme}")
    if event.description:
        lines.append(event.description)
    lines.append(f"Times in {zone}. Daily programme post at {post_time:%H:%M}.")
    days = programme.days(zone)
    if day is not None:
        days = [d for d in days if d == day]
        if not days:
            lines.append("")
            lines.append(f"{format_local_date(day, year=True)}: no sessions, so no daily post.")
            return "\n".join(lines)
    if not days:
        lines.append("")
        lines.append("No sessions: no daily posts.")
        return "\n".join(lines)
    for each in days:
        sessions = programme.sessions_on(each, zone)
        posted: datetime = combine_local(each, post_time, zone).astimezone(zone)
        count = len(sessions)
        messages = len(day_parts(programme, each, zone))
        lines.append("")
        lines.append(
            f"{format_local_date(each, year=True)} — daily post at "
            f"{posted:%H:%M %Z}: {count} session{'s' if count != 1 else ''} in {messages} "
            f"message{'s' if messages != 1 else ''}"
        )
        for session in sessions:
            start = session.start.astimezone(zone)
            end = session.end.astimezone(zone)
            detail = " · ".join(x for x in (session.host, session.format) if x)
            line = f"  {start:%H:%M}–{end:%H:%M}  {session.title}"
            lines.append(f"{line} ({detail})" if detail else line)
    return "\n".join(lines)
