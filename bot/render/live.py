"""What a session says when it starts ("Starting now", its thread) and ends ("How was it?").

Pure: domain -> message parts within Discord's limits. No mass mentions: nothing here pings.
"""

from __future__ import annotations

import discord
from discord.utils import escape_markdown

from bot import ids
from bot.mirror import shorten
from bot.programme import Session
from bot.render import limits
from bot.render.message import Message
from bot.render.programme import NHS_BLUE
from bot.store.native import SessionFigures

THREAD_NAME_MAX = 100
#: Discord accepts 60, 1440, 4320 or 10080 minutes; a day covers the session and the talk after.
THREAD_ARCHIVE_MINUTES = 1440
RATINGS = ("1", "2", "3", "4", "5")
ATTENDED = "a"


def thread_name(session: Session) -> str:
    """The session's title, within Discord's 100 characters."""
    return shorten(session.title, THREAD_NAME_MAX) or session.id[:THREAD_NAME_MAX]


def starting_now(session: Session) -> Message:
    """The "Starting now" post: title, host, times, and a Join button when there is a link."""
    start, end = int(session.start.timestamp()), int(session.end.timestamp())
    lines = [f"<t:{start}:t> to <t:{end}:t>"]
    if session.host:
        lines.append(f"Hosted by **{escape_markdown(session.host)}**")
    if session.speakers:
        lines.append(f"With {escape_markdown(', '.join(session.speakers))}")
    lines.append("Questions and discussion in the thread below.")
    embed = discord.Embed(
        title=shorten(f"Starting now: {session.title}", 256),
        description="\n".join(lines),
        colour=NHS_BLUE,
    )
    view = None
    if session.join_url:
        view = discord.ui.View(timeout=None)
        view.add_item(
            discord.ui.Button(style=discord.ButtonStyle.link, label="Join", url=session.join_url)
        )
    return Message(embed=embed, view=view)


class FeedbackView(discord.ui.View):
    """Buttons 1-5 and "I attended"; custom_ids carry the session (persistent, see cogs)."""

    def __init__(self, session_id: str) -> None:
        super().__init__(timeout=None)
        for answer in RATINGS:
            self.add_item(
                discord.ui.Button(
                    style=discord.ButtonStyle.secondary,
                    label=answer,
                    custom_id=ids.feedback_button_id(session_id, answer),
                    row=0,
                )
            )
        self.add_item(
            discord.ui.Button(
                style=discord.ButtonStyle.success,
                label="I attended",
                custom_id=ids.feedback_button_id(session_id, ATTENDED),
                row=1,
            )
        )


def feedback_prompt(session: Session) -> Message:
    """The end-of-session post in the thread."""
    title = escape_markdown(shorten(session.title, 200))
    return Message(
        content=(
            f"**{title}** has ended. How was it? Rate it from 1 (not useful) to 5 (very "
            "useful), and tell us if you attended. You can change your answer later."
        ),
        view=FeedbackView(session.id),
    )


def feedback_answer(title: str, rating: int | None, attended: bool) -> str:
    """The ephemeral answer to a feedback press."""
    parts = []
    if rating is not None:
        parts.append(f"your rating is {rating}/5")
    if attended:
        parts.append("you attended")
    said = " and ".join(parts) if parts else "nothing yet"
    return f"Thank you! For **{escape_markdown(title)}** we have: {said}. Press again to change it."


def figures_line(title: str, figures: SessionFigures) -> str:
    """One session's figures for `/organiser stats`."""
    mean = f", mean {figures.mean:.1f}" if figures.mean is not None else ""
    return (
        f"**{escape_markdown(shorten(title, 80))}**: {figures.registered} registered "
        f"({figures.by_command} by command or button, {figures.by_event} on Discord's Events), "
        f"{figures.attended} attended, {figures.feedback} rated{mean}"
    )


def figures_pages(rows: list[tuple[str, SessionFigures]]) -> list[limits.Page]:
    """Per-session figures, as many messages as they need (every limit respected)."""
    lines = [figures_line(title, f) for title, f in rows if not f.is_empty]
    if not lines:
        lines = ["No registrations, attendance or feedback yet."]
    return limits.pack_blocks(
        lines, title="Sessions: registered, attended, feedback", colour=NHS_BLUE, separator="\n"
    )


def interested_text(by_command: int, by_event: int) -> str:
    """The `/session` "Interested" figure from both sources."""
    total = by_command + by_event
    if not by_event:
        return str(total)
    return f"{total} ({by_command} here, {by_event} on Discord's Events)"
