"""Discord's size limits, and packing long lists into messages that respect them by construction.

Every renderer in the bot goes through these helpers, so nothing we send can be rejected with
50035 "Invalid Form Body", and nothing is cut silently: long lists are split across embeds and
messages instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import discord

CONTENT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TITLE = 256
EMBED_DESCRIPTION = 4096
EMBED_FIELDS = 25
FIELD_NAME = 256
FIELD_VALUE = 1024
FOOTER = 2048
AUTHOR_NAME = 256
EMBED_TOTAL = 6000
CUSTOM_ID = 100
CHOICES = 25
CHOICE_NAME = 100
CHOICE_VALUE = 100
MENTIONS_PER_LIST = 100

ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """Shorten one label (a title, a choice name) to ``limit``, marking the cut with an ellipsis.

    Only for labels whose full text is shown elsewhere; lists are split, never truncated.
    """
    text = text or ""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def chunk_text(text: str, limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` characters, preferring line then word breaks.

    Joining the pieces with the separators they were split on gives back the text: nothing is lost.
    """
    if limit <= 0:
        raise ValueError("limit must be positive")
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
            pieces.append(rest[:cut])
            rest = rest[cut:]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut + 1 :]
    if rest:
        pieces.append(rest)
    return pieces


def embed_size(embed: discord.Embed) -> int:
    """Characters that count towards Discord's 6,000-per-message embed total."""
    return len(embed)


@dataclass
class Page:
    """One message's worth of output: optional content and up to ten embeds."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)


def pack_blocks(
    blocks: Iterable[str],
    *,
    title: str,
    colour: discord.Colour | int | None = None,
    header: str | None = None,
    footer: str | None = None,
    separator: str = "\n\n",
    description_limit: int = EMBED_DESCRIPTION,
) -> list[Page]:
    """Pack text blocks (one per session, share, ...) into embeds and messages within every limit.

    Each block stays whole when it fits in one embed description; a longer one is chunked over
    consecutive embeds. The first embed carries ``title`` and ``header``; later ones say
    "(continued)". Every block appears exactly once, in order.
    """
    title = truncate(title, EMBED_TITLE - 20)
    footer = truncate(footer, FOOTER) if footer else None
    descriptions: list[str] = []
    current = header.strip() if header else ""
    if len(current) > description_limit:
        # A header longer than one description is chunked like a block: nothing over the limit.
        parts = chunk_text(current, description_limit)
        descriptions.extend(parts[:-1])
        current = parts[-1]
    for block in blocks:
        block = block.strip()
        if not block:
            continue
        candidate = f"{current}{separator}{block}" if current else block
        if len(candidate) <= description_limit:
            current = candidate
            continue
        if current:
            descriptions.append(current)
            current = ""
        if len(block) <= description_limit:
            current = block
        else:
            parts = chunk_text(block, description_limit)
            descriptions.extend(parts[:-1])
            current = parts[-1]
    if current or not descriptions:
        descriptions.append(current)

    embeds: list[discord.Embed] = []
    for index, description in enumerate(descriptions):
        embed_title = title if index == 0 else truncate(f"{title} (continued)", EMBED_TITLE)
        embed = discord.Embed(title=embed_title, description=description or None, colour=colour)
        embeds.append(embed)
    if footer:
        embeds[-1].set_footer(text=footer)
    return pack_embeds(embeds)


def _fit_footer(embed: discord.Embed) -> None:
    """Shorten the footer of an embed over the 6,000 total so that it fits (a footer is a label,
    so cutting it is fine); when even an empty footer would not do, drop it."""
    text = embed.footer.text
    if not text:
        return
    room = EMBED_TOTAL - (embed_size(embed) - len(text))
    icon = embed.footer.icon_url
    if room >= 2:
        embed.set_footer(text=truncate(text, min(room, FOOTER)), icon_url=icon)
    else:
        embed.remove_footer()


def pack_embeds(embeds: Sequence[discord.Embed]) -> list[Page]:
    """Group embeds into messages of at most ten embeds and 6,000 characters each, in order.

    An embed over the 6,000 total because of a long footer has its footer shortened; over it
    for any other reason is a renderer's bug (ValueError).
    """
    pages: list[Page] = []
    current: list[discord.Embed] = []
    total = 0
    for embed in embeds:
        if embed.footer.text and (
            len(embed.footer.text) > FOOTER or embed_size(embed) > EMBED_TOTAL
        ):
            _fit_footer(embed)
        size = embed_size(embed)
        if size > EMBED_TOTAL:
            raise ValueError(f"a single embed of {size} characters exceeds {EMBED_TOTAL}")
        if current and (len(current) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL):
            pages.append(Page(embeds=current))
            current, total = [], 0
        current.append(embed)
        total += size
    if current:
        pages.append(Page(embeds=current))
    return pages


def pack_lines(
    lines: Iterable[str], *, limit: int = CONTENT, header: str | None = None
) -> list[str]:
    """Pack lines into plain-text messages of at most ``limit`` characters each, in order."""
    messages: list[str] = []
    current = header or ""
    for line in lines:
        for piece in chunk_text(line, limit):
            candidate = f"{current}\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def check_embed(embed: discord.Embed) -> list[str]:
    """Every limit ``embed`` breaks (empty when it is valid); used by tests and as a guard."""
    problems = []
    if embed.title and len(embed.title) > EMBED_TITLE:
        problems.append("title")
    if embed.description and len(embed.description) > EMBED_DESCRIPTION:
        problems.append("description")
    if len(embed.fields) > EMBED_FIELDS:
        problems.append("fields")
    for f in embed.fields:
        if len(f.name or "") > FIELD_NAME or len(f.value or "") > FIELD_VALUE:
            problems.append(f"field {f.name!r}")
    if embed.footer.text and len(embed.footer.text) > FOOTER:
        problems.append("footer")
    if embed.author.name and len(embed.author.name) > AUTHOR_NAME:
        problems.append("author")
    if len(embed) > EMBED_TOTAL:
        problems.append("total")
    return problems
