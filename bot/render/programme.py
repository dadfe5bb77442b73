"""Programme rendering: sessions and days as Discord embeds, plus the plain-text preview.

Every time shown on Discord is a timestamp (``<t:unix:t>``) so each member sees their own clock;
every list goes through :mod:`bot.render.limits`, so a long day is split, never cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import discord
from discord.utils import escape_markdown, format_dt

from bot.programme import (
    IMPACT_COMPONENTS,
    IMPACT_SHORT_NAMES,
    Programme,
    Session,
    TzLike,
    combine_local,
    format_local_date,
    link_target,
    resolve_tz,
)
from bot.render import limits
from bot.render.components import SELECT_OPTIONS
from bot.render.limits import Page

__all__ = [
    "NHS_BLUE",
    "SELECT_OPTIONS",
    "DayPart",
    "ambiguous_session_text",
    "day_heading",
    "day_pages",
    "day_parts",
    "no_sessions_text",
    "preview_text",
    "session_block",
    "session_choice_name",
    "session_embed",
    "session_embeds",
    "session_pages",
]

NHS_BLUE = 0x005EB8
_DESCRIPTION_MIN_IN_MAIN = 200


def _link(url: str) -> str:
    """A URL safe inside a markdown link target (a bracket or space would end the link early)."""
    return link_target(url)


def _join_field(url: str) -> str:
    """The "Join" field: a markdown link, within a field's 1,024 by construction. The parser
    keeps links to 512 characters; one stored before that falls back to the title's link."""
    value = f"[Join the session]({_link(url)})"
    if len(value) <= limits.FIELD_VALUE:
        return value
    return "The link is too long to show here: open the session's title above to join."


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
    """'QI Week programme — Monday 14 September' (with the year for a day outside the
    event's year, so a date typed for another year is never mistaken for this one)."""
    week = programme.event_week()
    other_year = week is not None and day.year not in (week[0].year, week[1].year)
    return f"{programme.event.name} programme — {format_local_date(day, year=other_year)}"


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
    per_part: int = SELECT_OPTIONS,
) -> list[DayPart]:
    """A day's programme as messages that each list at most ``per_part`` sessions (25 by
    default: one select menu's worth) and respect every embed limit; every session appears
    once, in time order.

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
        fits = (
            len(trial) <= min(per_part, SELECT_OPTIONS) and len(pack(trial, not groups, True)) == 1
        )
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
    """An autocomplete choice: 'Mon 14 Sep 12:30 BST · Title', within Discord's 100 characters.

    Choices are plain text (no Discord timestamps), so the time is the server's local time,
    named by its zone's abbreviation (as the daily post's select does).
    """
    local = _local_label(session, tz)
    return limits.truncate(
        f"{local:%a} {local.day} {local:%b %H:%M %Z} · {session.title}", limits.CHOICE_NAME
    )


def ambiguous_session_text(value: str, matches: Sequence[Session], *, limit: int = 10) -> str:
    """The answer to typed text matching several sessions: each with its day and time (Discord
    timestamps) and title, so the member can pick the right one from the suggestions."""
    shown = escape_markdown(limits.truncate(value.strip(), 80))
    lines = [f"'{shown}' matches {len(matches)} sessions:"]
    for session in matches[:limit]:
        title = escape_markdown(limits.truncate(session.title, 100))
        lines.append(f"• {format_dt(session.start, 'f')} **{title}**")
    if len(matches) > limit:
        lines.append(f"• …and {len(matches) - limit} more")
    lines.append("— pick one from the suggestions as you type.")
    return "\n".join(lines)


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
    session: Session,
    tz: TzLike = None,
    *,
    interested: int | str = 0,
    event_url: str | None = None,
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
        main.add_field(name="Join", value=_join_field(session.join_url), inline=False)
    main.add_field(name="Interested", value=str(interested))
    if event_url:
        main.add_field(
            name="In the server's Events",
            value=f"[Open the event]({event_url}) and press Interested there too: Discord "
            "then tells you when it starts.",
            inline=False,
        )
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


def session_pages(
    session: Session,
    tz: TzLike = None,
    *,
    interested: int | str = 0,
    event_url: str | None = None,
) -> list[Page]:
    """The whole session as messages (one, unless the description is longer than ~5,000)."""
    return limits.pack_embeds(
        session_embeds(session, tz, interested=interested, event_url=event_url)
    )


def _leads_text(leads: Sequence[int]) -> str:
    ordered = sorted(set(leads), reverse=True)
    if not ordered:
        return "none"
    words = [str(n) for n in ordered]
    joined = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{joined} minute{'s' if ordered != [1] else ''} before each session"


def preview_text(
    programme: Programme,
    tz: TzLike,
    post_time: time,
    day: date | None = None,
    *,
    reminder_leads: Sequence[int] = (),
    digest_time: time | None = None,
    heading: Sequence[str] = (),
) -> str:
    """Plain text for ``python -m bot preview``: what the bot will post and when, day by day.

    For each day in ``tz``: the daily post (its time, its sessions, how many messages), each
    reminder (``lead`` minutes before a session: DMs to the members interested, then the
    programme channel) and the digest (each day of the event week; the weekly roundup after the
    last). ``day`` keeps one day. ``heading`` lines come first (which server, which settings).
    """
    zone = resolve_tz(tz if tz is not None else programme.event.timezone)
    event = programme.event
    lines = [*heading, event.name]
    if event.theme:
        lines.append(f"Theme: {event.theme}")
    if event.description:
        lines.append(event.description)
    lines.append(f"Times in {zone}.")
    lines.append(f"Daily programme post: {post_time:%H:%M} on each day with sessions.")
    leads = sorted({int(n) for n in reminder_leads if int(n) > 0}, reverse=True)
    if leads:
        lines.append(
            f"Reminders: {_leads_text(leads)} (DMs to the members interested, then a post in "
            "the programme channel)."
        )
    else:
        lines.append("Reminders: none (no reminder leads are set).")
    week = programme.event_week(zone)
    if digest_time is not None:
        if week is None:
            lines.append("Digest: none planned (no event week without sessions).")
        else:
            lines.append(
                f"Digest: {digest_time:%H:%M} on each day of the event week; the weekly roundup "
                "follows the last day's."
            )

    # (local time, order, text) per day: the post, then reminders, then the digest at a tie.
    plan: dict[date, list[tuple[datetime, int, list[str]]]] = {}

    def add(moment: datetime, order: int, text: list[str]) -> None:
        local = moment.astimezone(zone)
        plan.setdefault(local.date(), []).append((local, order, text))

    for each in programme.days(zone):
        sessions = programme.sessions_on(each, zone)
        count = len(sessions)
        messages = len(day_parts(programme, each, zone))
        text = [
            f"daily post: {count} session{'s' if count != 1 else ''} in {messages} "
            f"message{'s' if messages != 1 else ''}"
        ]
        for session in sessions:
            start = session.start.astimezone(zone)
            end = session.end.astimezone(zone)
            detail = " · ".join(x for x in (session.host, session.format) if x)
            line = f"  {start:%H:%M}–{end:%H:%M}  {session.title}"
            text.append(f"{line} ({detail})" if detail else line)
        add(combine_local(each, post_time, zone), 0, text)
    for session in programme.sessions:
        start = session.start.astimezone(zone)
        for lead in leads:
            text = [f"reminder, {lead} min before {start:%H:%M}: {session.title}"]
            add(session.start - timedelta(minutes=lead), 1, text)
    if digest_time is not None and week is not None:
        first, last = week
        for offset in range((last - first).days + 1):
            each = first + timedelta(days=offset)
            what = "digest of the day's shares"
            if each == last:
                what += ", then the weekly roundup"
            add(combine_local(each, digest_time, zone), 2, [what])

    days = sorted(plan)
    if day is not None:
        days = [d for d in days if d == day]
        if not days:
            lines.append("")
            lines.append(f"{format_local_date(day, year=True)}: nothing is posted that day.")
            return "\n".join(lines)
    if not days:
        lines.append("")
        lines.append("No sessions: nothing is posted.")
        return "\n".join(lines)
    for each in days:
        lines.append("")
        label = format_local_date(each, year=True)
        if week is not None and not programme.sessions_on(each, zone):
            inside = week[0] <= each <= week[1]
            label += " (no sessions)" if inside else ""
        lines.append(label)
        for local, _, text in sorted(plan[each], key=lambda item: (item[0], item[1])):
            prefix = f"  {local:%H:%M %Z}  "
            lines.append(prefix + text[0])
            lines.extend(" " * len(prefix) + extra for extra in text[1:])
    return "\n".join(lines)
