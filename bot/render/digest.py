"""Rendering the shares digest: Discord embeds for the daily and weekly posts, CSV and Markdown
exports for organisers.

Pure: shares and the timezone come in, pages, bytes or text go out. Every embed goes through
``bot.render.limits`` so a busy day is split over several messages and no share is ever dropped.
Members' words pass through :func:`bot.digest.sanitize`; senders must still use
``discord.AllowedMentions.none()``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, tzinfo

import discord

from bot.digest import (
    DigestStats,
    Share,
    digest_stats,
    escape_text,
    local_day,
    rank_shares,
    sanitize,
    shares_on,
    snippet,
    weekly_stats,
)
from bot.render import limits
from bot.render.spreadsheet import csv_bytes
from bot.render.words import plural

__all__ = [
    "CSV_COLUMNS",
    "PRIVACY_REMINDER",
    "digest_markdown",
    "digest_pages",
    "opted_out_text",
    "posted_digest_text",
    "remove_refused_text",
    "share_block",
    "share_notice",
    "shares_csv",
    "weekly_pages",
]

PRIVACY_REMINDER = (
    "Shares must never contain patient-identifiable information. /digest-opt-out removes yours."
)
DIGEST_COLOUR = discord.Colour(0x005EB8)  # NHS blue
SNIPPET_LIMIT = 300
AUTHOR_LIMIT = 64
CSV_COLUMNS = (
    "date",
    "time",
    "channel_id",
    "message_id",
    "author_id",
    "author_name",
    "content",
    "jump_url",
    "attachments",
    "image_url",
    "reactions",
)
_INLINE_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_DISCORD_TOKEN = re.compile(r"<(@!?|@&|#)\d{15,21}>")
_TOKEN_WORDS = {"@": "@member", "@!": "@member", "@&": "@role", "#": "#channel"}


def _day_label(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _figures(stats: DigestStats) -> str:
    return (
        f"**{plural(stats.shares, 'share')}** from "
        f"**{plural(stats.contributors, 'contributor')}** in "
        f"**{plural(stats.channels, 'channel')}**"
    )


def _inline(text: str) -> str:
    """Escape inline markdown in organiser text that sits mid-sentence (a hashtag label)."""
    return _INLINE_MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def _author(share: Share) -> str:
    name = " ".join(share.author_name.split()) or "A member"
    return sanitize(limits.truncate(name, AUTHOR_LIMIT))


def _jump(share: Share) -> str:
    # Discord builds jump URLs itself; strip anything that could close the masked link early.
    return share.jump_url.strip().replace(")", "%29").replace(" ", "%20")


def share_block(share: Share, rank: int) -> str:
    """One share as an embed block: who, where, when, a snippet and the link to the full text."""
    unix = int(share.created_at.timestamp())
    head = f"**{rank}. {_author(share)}** in <#{share.channel_id}> at <t:{unix}:t>"
    lines = [head]
    text = snippet(share.content, SNIPPET_LIMIT)
    if text:
        lines.append(f"> {text}")
    extras = [f"👏 {plural(share.reaction_count, 'reaction')}"]
    if share.attachment_count:
        extras.append(f"📎 {plural(share.attachment_count, 'attachment')}")
    extras.append(f"[Jump to message]({_jump(share)})")
    lines.append(" · ".join(extras))
    return "\n".join(lines)


def share_notice(
    *, event_name: str, channel_id: int, digest_channel_id: int | None, guild_name: str
) -> str:
    """The one-off DM to a member whose first share was collected: what happens and their choice.

    Plain text within the 2,000-character content limit; it names no one but the member's own
    channel, and is sent with no mentions allowed anyway.
    """
    where = f" in <#{digest_channel_id}>" if digest_channel_id else ""
    text = (
        f"Thanks for sharing in {_inline(guild_name)}! Your message in <#{channel_id}> will "
        f"appear in the daily {_inline(event_name)} digest{where}, with your name, a snippet and "
        "a link to it.\n\n"
        "**Please remember: shares must never contain patient-identifiable information** "
        "(names, photos of patients or wards, or details that together could identify someone).\n\n"
        "Changed your mind? `/digest-opt-out` in the server removes everything of yours the "
        "digest has stored and stops collecting your messages (`/digest-opt-in` resumes). To take "
        "out a single message, right-click it (or long-press on a phone) and choose Apps > "
        "Remove from digest.\n\nYou will only get this message once."
    )
    return limits.truncate(text, limits.CONTENT)


def digest_pages(
    shares: Iterable[Share],
    *,
    day: date,
    tz: tzinfo,
    event_name: str,
    hashtag_label: str,
    today: date | None = None,
    last_day: date | None = None,
) -> list[limits.Page]:
    """The daily digest: headline figures, then every share of ``day``, most-reacted first.

    Shares outside the local day are ignored. Split over as many messages as needed; a quiet day
    still gets one friendly embed, so the post always goes out. A quiet day that is over (before
    ``today``) or the event's ``last_day`` gets no "next digest" invitation: none is coming for it.
    """
    todays = rank_shares(shares_on(shares, day, tz))
    title = f"{event_name} digest: {_day_label(day)}"
    label = _inline(hashtag_label)
    if not todays:
        closed = (today is not None and day < today) or (last_day is not None and day >= last_day)
        description = (
            f"No {label} shares on {_day_label(day)}."
            if closed
            else (
                f"No {label} shares yet for {_day_label(day)}. Post what you are doing or "
                f"learning with {label} and it will appear in the next digest."
            )
        )
        embed = discord.Embed(
            title=limits.truncate(title, limits.EMBED_TITLE),
            description=description,
            colour=DIGEST_COLOUR,
        )
        embed.set_footer(text=PRIVACY_REMINDER)
        return [limits.Page(embeds=[embed])]
    header = f"{_figures(digest_stats(todays))} shared with {label}. Most-reacted first."
    return limits.pack_blocks(
        (share_block(share, rank) for rank, share in enumerate(todays, start=1)),
        title=title,
        colour=DIGEST_COLOUR,
        header=header,
        footer=PRIVACY_REMINDER,
    )


def weekly_pages(
    shares: Iterable[Share],
    *,
    days: list[date],
    tz: tzinfo,
    event_name: str,
    top_n: int = 10,
) -> list[limits.Page]:
    """The weekly roundup: the week's figures, shares per day, and the week's top shares."""
    wanted = set(days)
    week = [s for s in shares if local_day(s, tz) in wanted]
    per_day = weekly_stats(week, tz, days=days)
    header = f"{_figures(digest_stats(week))} across the week."
    day_lines = "\n".join(
        f"**{_day_label(d)}**: {plural(stats.shares, 'share')} from "
        f"{plural(stats.contributors, 'contributor')}"
        for d, stats in per_day.items()
    )
    blocks = [f"__Shares per day__\n{day_lines}"] if day_lines else []
    top = rank_shares(week)[: max(0, top_n)]
    if top:
        blocks.append(f"__Top {plural(len(top), 'share')} of the week__")
        blocks.extend(share_block(share, rank) for rank, share in enumerate(top, start=1))
    else:
        blocks.append("No shares this week yet.")
    return limits.pack_blocks(
        blocks,
        title=f"{event_name}: the week in shares",
        colour=DIGEST_COLOUR,
        header=header,
        footer=PRIVACY_REMINDER,
    )


def shares_csv(shares: Iterable[Share], tz: tzinfo) -> bytes:
    """All shares as CSV in posting order (see :func:`bot.render.spreadsheet.csv_bytes`)."""
    rows = []
    for share in sorted(shares, key=lambda s: (s.created_at, s.message_id)):
        local = share.created_at.astimezone(tz)
        rows.append(
            (
                local.date().isoformat(),
                local.strftime("%H:%M"),
                share.channel_id,
                share.message_id,
                share.author_id,
                share.author_name,
                share.content,
                share.jump_url,
                share.attachment_count,
                share.image_url,
                share.reaction_count,
            )
        )
    return csv_bytes(CSV_COLUMNS, rows)


def _plain_tokens(text: str) -> str:
    """Discord mention tokens mean nothing in a newsletter; show what they stand for."""
    return _DISCORD_TOKEN.sub(lambda m: _TOKEN_WORDS[m.group(1)], text)


def _markdown_quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def digest_markdown(
    shares: Iterable[Share],
    *,
    days: Sequence[date],
    tz: tzinfo,
    event_name: str,
) -> str:
    """A newsletter-ready Markdown digest of one day or several: figures and every share, linked.

    Text is markdown-escaped but keeps ``@everyone`` readable (a newsletter pings no one).
    """
    ordered = sorted(set(days))
    items = list(shares)
    wanted = set(ordered)
    covered = [s for s in items if local_day(s, tz) in wanted]
    if len(ordered) == 1:
        title = f"# {escape_text(event_name)} digest: {_day_label(ordered[0])}"
    else:
        title = f"# {escape_text(event_name)} digest"
    out = [title, ""]
    if len(ordered) > 1:
        span = f"{_day_label(ordered[0])} to {_day_label(ordered[-1])}"
        out += [f"{_figures(digest_stats(covered))}, {span}.", ""]
    for day in ordered:
        todays = rank_shares(shares_on(covered, day, tz))
        if len(ordered) > 1:
            out += [f"## {_day_label(day)}", ""]
        if not todays:
            out += ["_No shares this day._", ""]
            continue
        out += [f"{_figures(digest_stats(todays))}.", ""]
        for rank, share in enumerate(todays, start=1):
            local = share.created_at.astimezone(tz)
            name = escape_text(" ".join(share.author_name.split()) or "A member")
            details = [f"{local:%H:%M}", plural(share.reaction_count, "reaction")]
            if share.attachment_count:
                details.append(plural(share.attachment_count, "attachment"))
            out.append(f"{rank}\\. **{name}** ({', '.join(details)})")
            out.append("")
            text = _plain_tokens(share.content.replace("\r\n", "\n").replace("\r", "\n"))
            text = escape_text(text.strip())
            if text:
                out += [_markdown_quote(text), ""]
            out += [f"[Read the full post on Discord]({_jump(share)})", ""]
    out.append(f"_{PRIVACY_REMINDER}_")
    return "\n".join(out).rstrip() + "\n"


def posted_digest_text(day: date, channel_id: int | None, count: int) -> str:
    """The organiser's answer after `/organiser post-digest`."""
    return (
        f"Posted the digest of {day:%A} {day.day} {day:%B} in <#{channel_id}> "
        f"({plural(count, 'message')})."
    )


def opted_out_text(erased: int) -> str:
    """The answer to `/digest-opt-out`: how many stored shares were erased."""
    return (
        f"Done: you're opted out of the digest. Erased {plural(erased, 'stored share')} of "
        "yours, and your messages won't be collected from now on. `/digest-opt-in` resumes at "
        "any time."
    )


def remove_refused_text(organiser_role_id: int | None) -> str:
    """Why a member may not remove someone else's share from the digest, and who may."""
    role = (
        f" (members with the <@&{organiser_role_id}> role or Manage Server)"
        if organiser_role_id
        else " (members with Manage Server)"
    )
    return (
        "Only the message's author or an organiser" + role + " may remove it from the "
        "digest. If something should come out, ask them."
    )
