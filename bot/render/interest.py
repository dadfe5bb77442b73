"""The words and layout of registrations, `/my-sessions`, reminders and change notices.

Every time is a Discord timestamp, so each member reads their own clock. Channel messages that
mention members (those whose DMs are closed) allow exactly those users and split at 100 mentions
or 2,000 characters, whichever comes first; everything else allows no mention at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import discord
from discord.utils import escape_markdown, format_dt

from bot.programme import Session
from bot.render import limits
from bot.render.components import session_view
from bot.render.message import Message
from bot.render.programme import NHS_BLUE, session_block

TITLE_MAX = 200  # a session title inside a sentence; the full one is in /session
UNDO_BUTTON = "Changed your mind? Press the button again, or use `/not-interested`."
UNDO_COMMAND = "To undo: `/not-interested`."


def title(session: Session) -> str:
    return f"**{escape_markdown(limits.truncate(session.title, TITLE_MAX))}**"


def when(session: Session) -> str:
    return f"{format_dt(session.start, 'f')} ({format_dt(session.start, 'R')})"


def minutes_text(minutes: int) -> str:
    """'15 minutes', '1 hour', '2 hours', '90 minutes'."""
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def leads_text(leads: Sequence[int]) -> str:
    """'1 hour and 15 minutes' for (60, 15)."""
    parts = [minutes_text(m) for m in sorted(leads, reverse=True)]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def setting_text(setting: str, guild_leads: Sequence[int]) -> str:
    """What a member's `/reminders` setting means for them, in one sentence."""
    if setting == "off":
        return (
            "Your reminders are **off**: no DMs (the programme channel still posts reminders). "
            "`/reminders default` turns them back on."
        )
    if setting == "mention":
        return (
            f"No DMs: you'll be **mentioned in the programme channel** reminder "
            f"{leads_text(guild_leads)} before each of your sessions. "
            "`/reminders default` switches back to DMs."
        )
    if setting.isdigit():
        return f"I'll DM you **{minutes_text(int(setting))}** before each of your sessions."
    if not guild_leads:
        return "This server sends no reminders."
    return (
        f"I'll DM you **{leads_text(guild_leads)}** before each of your sessions "
        "(the server's reminder times)."
    )


def _dm_line(setting: str, guild_leads: Sequence[int]) -> str:
    if setting == "off":
        return "Your reminders are off (`/reminders`), so no DM will come."
    if setting == "mention":
        return (
            f"You'll be mentioned in the programme channel {leads_text(guild_leads)} before it "
            "starts (your `/reminders` setting: no DMs)."
        )
    if setting.isdigit():
        return f"I'll DM you {minutes_text(int(setting))} before it starts."
    return f"I'll DM you {leads_text(guild_leads)} before it starts."


CLOSED_NOTE = (
    "Your DMs looked closed last time, so you'll be mentioned in the programme channel instead "
    "(allow DMs from server members to get reminders privately)."
)
#: The answer when the first-contact DM just failed with 50007 (issue 10).
CLOSED_NOW = (
    "⚠️ I couldn't DM you: your direct messages from this server are closed. To get reminders "
    "privately, open them: tap the server name > **Privacy Settings** > turn on **Direct "
    "Messages**. Until then you'll be **mentioned in the programme channel** instead."
)
FIRST_DM_SENT = "I've sent you a DM: your reminders will arrive there."


def first_contact_dm(session: Session, setting: str, guild_leads: Sequence[int]) -> str:
    """The one short confirmation DM at sign-up: where reminders will come, how to change it."""
    lead = leads_text([int(setting)] if setting.isdigit() else guild_leads) or "shortly"
    return (
        f"👋 You registered interest in **{escape_markdown(limits.truncate(session.title, 200))}**"
        f". You'll be reminded here {lead} before it (and before any other session you register "
        "for). `/reminders` in the server changes when, or whether, I DM you; `/not-interested` "
        "stops one session's reminders."
    )


def registered_text(
    session: Session,
    *,
    changed: bool,
    setting: str,
    guild_leads: Sequence[int],
    dm_closed: bool = False,
    via_button: bool = False,
    first_contact: str | None = None,
) -> str:
    """The answer to `/interested` or the button. `first_contact` is what the sign-up DM did
    (``sent``, ``closed``, or None when none was sent now)."""
    if changed:
        head = f"✅ You're registered for {title(session)}, {when(session)}."
    else:
        head = f"You're already registered for {title(session)}, {when(session)}."
    lines = [head, _dm_line(setting, guild_leads)]
    if first_contact == "closed":
        lines.append(CLOSED_NOW)
    elif first_contact == "sent":
        lines.append(FIRST_DM_SENT)
    elif dm_closed and setting not in ("off", "mention"):
        lines.append(CLOSED_NOTE)
    lines.append(UNDO_BUTTON if via_button else UNDO_COMMAND)
    lines.append("All your sessions, with a calendar file: `/my-sessions`.")
    return "\n".join(lines)


def unregistered_text(session_title: str, *, changed: bool, via_button: bool = False) -> str:
    """The answer to `/not-interested` or the button pressed a second time."""
    name = f"**{escape_markdown(limits.truncate(session_title, TITLE_MAX))}**"
    if not changed:
        return f"You weren't registered for {name}, so nothing changed."
    again = "Press the button again" if via_button else "Use `/interested`"
    return (
        f"You're no longer registered for {name}: no reminder will come for it.\n"
        f"{again} to register again."
    )


def started_text(session: Session) -> str:
    return (
        f"{title(session)} has already started ({format_dt(session.start, 'R')}), so it can't "
        "be registered for any more. `/programme` shows what is still to come."
    )


def unknown_session_text(value: str) -> str:
    shown = escape_markdown(limits.truncate(value, 80))
    return (
        f"I can't find a session `{shown}`. Start typing part of its title, host or speaker and "
        "pick it from the list; `/programme` shows each day's sessions."
    )


def pick_text(
    *,
    added: Sequence[Session],
    already: Sequence[Session],
    started: Sequence[Session],
    unknown: Sequence[str],
    setting: str,
    guild_leads: Sequence[int],
) -> list[str]:
    """The answer to the daily post's "I'm interested in…" select: one message or more (up to
    25 sessions of long titles can exceed 2,000 characters; nothing is cut), none if empty."""
    lines: list[str] = []
    if added:
        lines.append("✅ You're registered for:")
        lines += [f"• {title(s)}, {format_dt(s.start, 'f')}" for s in added]
    if already:
        lines.append("Already registered: " + ", ".join(title(s) for s in already))
    if started:
        lines.append("Already started, so not registered: " + ", ".join(title(s) for s in started))
    if unknown:
        lines.append(f"{len(unknown)} choice(s) are no longer in the programme.")
    if added or already:
        lines.append(_dm_line(setting, guild_leads).replace("it starts", "each starts"))
        lines.append("To undo: `/not-interested`. All yours: `/my-sessions`.")
    return limits.pack_lines(lines)


NO_SESSIONS = (
    "You haven't registered for any sessions yet. Use `/interested` (start typing a title) or "
    "press ⭐ **I'm interested** under a session in `/programme`, `/session` or the daily post."
)


def my_sessions_pages(
    sessions: Sequence[Session],
    cancelled: Sequence[Session],
    *,
    setting: str,
    guild_leads: Sequence[int],
    event_name: str = "QI Week",
    now: datetime | None = None,
    dm_closed: bool = False,
) -> list[limits.Page]:
    """The member's sessions in time order, then the cancelled ones, split to Discord's limits.

    With ``now``, sessions that have ended or started are marked so, and the reminder promise
    is made only for those still to come (none when every session has started).
    """
    count = len(sessions)
    upcoming = [s for s in sessions if now is None or s.start > now]
    header = [
        f"{count} session{'s' if count != 1 else ''} · times are shown in your own time zone",
    ]
    if upcoming:
        promise = setting_text(setting, guild_leads)
        if dm_closed and setting not in ("off", "mention"):
            promise += (
                " Your DMs from this server looked closed last time, so you'll be **mentioned "
                "in the programme channel** instead until they work again."
            )
        if len(upcoming) < count:
            promise += " Sessions that have started get no more reminders."
        header.append(promise)
    elif sessions:
        header.append("All of these have started or ended, so no reminders will come for them.")
    if sessions:
        header.append("The attached `.ics` file adds them to Outlook, Google or your phone.")

    def block(session: Session) -> str:
        text = session_block(session, with_date=True)
        if now is None or session.start > now:
            return text
        state = "ended" if session.end <= now else "started, no reminders"
        first, _, rest = text.partition("\n")
        return f"{first} *({state})*" + (f"\n{rest}" if rest else "")

    blocks = [block(s) for s in sessions]
    if cancelled:
        blocks.append("**Cancelled** (kept for the record, no reminders):")
        blocks += [
            f"~~{escape_markdown(s.title)}~~ · was {format_dt(s.start, 'f')}" for s in cancelled
        ]
    return limits.pack_blocks(
        blocks,
        title=f"Your {event_name} sessions",
        colour=NHS_BLUE,
        header="\n".join(header),
        footer="Undo one with /not-interested · change reminders with /reminders",
    )


# --------------------------------------------------------------------------- reminders


#: Discord's limit on a link button's url; a longer join link is shown in the text or an embed.
LINK_BUTTON_URL = 512
#: The longest join link shown at all (in an embed description, with room for the rest); a
#: longer one is named as too long rather than cut into a broken URL.
LINK_SHOWN_MAX = 3500
LINK_TOO_LONG = "the join link is too long to show in Discord: ask the organisers for it"
DM_FOOTER = (
    "-# You registered interest in this session. `/not-interested` stops its reminders; "
    "`/reminders` changes when (or whether) I DM you."
)


def _link(url: str) -> str:
    """A URL safe inside a markdown link target (a space or bracket would end it early)."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _direct_message(lines: Sequence[str], url: str, footer: str | None = None) -> Message:
    """A DM of `lines` with the join link: in the text when it all fits in 2,000 characters,
    else in an embed; a button too when the link fits one. Every line is bounded (titles 200,
    meta 300, before escaping), so without the link the text is well under 2,000: nothing cut."""
    tail = [footer] if footer else []
    view = join_view_url(url)
    if not url:
        return Message("\n".join([*lines, *tail]), None, view)
    inline = "\n".join([*lines, f"Join: {url}", *tail])
    if len(inline) <= limits.CONTENT:
        return Message(inline, None, view)
    if len(url) <= LINK_SHOWN_MAX:
        embed = discord.Embed(
            title="Join the session", description=f"[Join the session]({_link(url)})"
        )
        embed.colour = NHS_BLUE
        return Message("\n".join([*lines, "Join: the link is below.", *tail]), embed, view)
    return Message("\n".join([*lines, f"Join: {LINK_TOO_LONG}.", *tail]), None, view)


def reminder_dm_message(session: Session) -> Message:
    """The reminder DM: what, when (timestamps, so it reads right however late it arrives),
    the join link (text, button, or embed when very long), how to stop."""
    lines = [
        f"⏰ {title(session)} starts {format_dt(session.start, 't')} "
        f"({format_dt(session.start, 'R')})."
    ]
    meta = " · ".join(x for x in (session.host, session.format) if x)
    if meta:
        lines.append(escape_markdown(limits.truncate(meta, 300)))
    return _direct_message(lines, session.join_url, DM_FOOTER)


def join_view_url(url: str) -> discord.ui.View | None:
    """A link button to `url` (None without one, or when longer than a button allows: the
    text or an embed carries it then); link buttons need no handler."""
    url = _link(url)
    if not url or len(url) > LINK_BUTTON_URL:
        return None
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(style=discord.ButtonStyle.link, label="Join", url=url))
    view.stop()
    return view


def join_view(session: Session) -> discord.ui.View | None:
    """A DM's link button to join the session (see `join_view_url`)."""
    return join_view_url(session.join_url)


def mention_chunks(
    user_ids: Sequence[int], *, prefix: str = "", suffix: str = ""
) -> list[tuple[str, tuple[int, ...]]]:
    """Mentions split into messages of at most 100 users and 2,000 characters each."""
    chunks: list[tuple[str, tuple[int, ...]]] = []
    current: list[int] = []

    def text(ids: Sequence[int]) -> str:
        return f"{prefix}{' '.join(f'<@{u}>' for u in ids)}{suffix}"

    for user_id in dict.fromkeys(user_ids):
        candidate = [*current, user_id]
        if current and (
            len(candidate) > limits.MENTIONS_PER_LIST or len(text(candidate)) > limits.CONTENT
        ):
            chunks.append((text(current), tuple(current)))
            candidate = [user_id]
        current = candidate
    if current:
        chunks.append((text(current), tuple(current)))
    return chunks


CLOSED_SUFFIX = " — here is your reminder."


def minutes_left(session: Session, lead: int, now: datetime | None) -> int:
    """Whole minutes until the session starts as a reminder says it: the lead when the reminder
    is on time (a few seconds either side), fewer when it was caught up late; at least 1."""
    if now is None:
        return lead
    seconds = (session.start - now).total_seconds()
    return max(1, min(lead, math.ceil(seconds / 60)))


def reminder_embed(
    session: Session, lead: int, interested: int, *, now: datetime | None = None
) -> discord.Embed:
    """The channel reminder post: title (the real time left), start, interest, join link.

    Within Discord's limits at any size: the title is truncated (the full one is in
    `/session`), the description is bounded (meta 500, link at most `LINK_SHOWN_MAX`), and a
    link too long for Discord is named, never cut into a broken URL.
    """
    left = minutes_left(session, lead, now)
    url = _link(session.join_url)
    embed = discord.Embed(
        title=limits.truncate(f"Starting in {minutes_text(left)}: {session.title}", 256),
        colour=NHS_BLUE,
        url=url if url and len(url) <= LINK_BUTTON_URL else None,
    )
    lines = [
        f"{format_dt(session.start, 'F')} ({format_dt(session.start, 'R')})",
        f"⭐ {interested} interested",
    ]
    meta = " · ".join(x for x in (session.host, session.format) if x)
    if meta:
        lines.append(escape_markdown(limits.truncate(meta, 500)))
    if url:
        lines.append(
            f"[Join the session]({url})" if len(url) <= LINK_SHOWN_MAX else f"({LINK_TOO_LONG})"
        )
    embed.description = "\n".join(lines)
    return embed


def reminder_messages(
    session: Session,
    lead: int,
    interested: int,
    closed: Sequence[int],
    *,
    with_post: bool,
    now: datetime | None = None,
) -> list[Message]:
    """The channel part of one reminder.

    At a server lead (`with_post`): the reminder post (embed, join and interest buttons), whose
    text mentions the first members with closed DMs; further messages mention the rest. At a
    member's own lead: only the mention messages.
    """
    if with_post:
        chunks = mention_chunks(closed, suffix=CLOSED_SUFFIX)
        view = session_view(session)
        view.stop()  # drawn only: the interest feature handles the button by its custom_id
        first_text, first_ids = chunks[0] if chunks else (None, ())
        messages = [
            Message(
                content=first_text,
                embed=reminder_embed(session, lead, interested, now=now),
                view=view,
                mention_ids=first_ids,
            )
        ]
        messages += [Message(content=t, mention_ids=ids) for t, ids in chunks[1:]]
        return messages
    prefix = (
        f"⏰ {title(session)} starts {format_dt(session.start, 't')} "
        f"({format_dt(session.start, 'R')}). "
    )
    return [
        Message(content=t, mention_ids=ids)
        for t, ids in mention_chunks(closed, prefix=prefix, suffix=CLOSED_SUFFIX)
    ]


# --------------------------------------------------------------------------- changes


def change_text(old: Session, new: Session | None) -> str:
    """What changed about one session, in one sentence."""
    if new is None:
        return (
            f"{title(old)} ({format_dt(old.start, 'f')}) has been cancelled: it is no longer in "
            "the programme."
        )
    renamed = f" (now {title(new)})" if new.title != old.title else ""
    return (
        f"{title(old)}{renamed} has moved from {format_dt(old.start, 'f')} to "
        f"{format_dt(new.start, 'f')}–{format_dt(new.end, 't')} ({format_dt(new.start, 'R')})."
    )


def change_dm_message(old: Session, new: Session | None) -> Message:
    """The DM to each member registered for a session that moved or was cancelled."""
    lines = ["📅 A session you registered for has changed.", change_text(old, new)]
    if new is None:
        lines.append("Your registration is kept for the record; no reminders will come for it.")
        return _direct_message(lines, "")
    lines.append("You're still registered, and reminders follow the new time.")
    return _direct_message(lines, new.join_url)


def change_messages(
    old: Session, new: Session | None, *, interested: int, closed: Sequence[int]
) -> list[Message]:
    """The programme channel's one notice of a change (plus mentions of closed-DM members)."""
    body = f"📅 **Programme change.** {change_text(old, new)}"
    if interested:
        body += (
            f"\n⭐ {interested} registered: they are told by DM "
            "(anyone whose DMs are closed is mentioned below)."
        )
    # Bounded by construction (two titles of 200 and a few timestamps): never cut.
    messages = [Message(content=body)]
    messages += [
        Message(content=t, mention_ids=ids)
        for t, ids in mention_chunks(
            closed, suffix=" — your DMs are closed: a session you registered for changed (above)."
        )
    ]
    return messages


__all__ = [
    "NO_SESSIONS",
    "Message",
    "change_dm_message",
    "change_messages",
    "change_text",
    "join_view",
    "join_view_url",
    "leads_text",
    "mention_chunks",
    "minutes_left",
    "minutes_text",
    "my_sessions_pages",
    "pick_text",
    "registered_text",
    "reminder_dm_message",
    "reminder_embed",
    "reminder_messages",
    "setting_text",
    "started_text",
    "unknown_session_text",
    "unregistered_text",
]
