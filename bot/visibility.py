"""Private stays private: which channels shares may come from.

A share is reposted to the whole server (digest, roundup, exports), so it may only come from a
channel @everyone can view, and, when the server lists share channels, from one of those (or a
thread in one). A thread follows its parent; a private thread never qualifies. Computed from
discord.py's channel objects (its ``permissions_for`` on the @everyone role applies the role's
server permissions, then the channel's @everyone overwrite, as Discord does).
"""

from __future__ import annotations

from collections.abc import Iterable

import discord

__all__ = [
    "everyone_can_view",
    "parse_channel_list",
    "share_source_problem",
]


def _parent(channel: object) -> object | None:
    """The channel whose permissions govern ``channel`` (a thread's parent, else itself)."""
    if isinstance(channel, discord.Thread):
        if channel.type is discord.ChannelType.private_thread:
            return None
        return channel.parent
    return channel


def everyone_can_view(channel: object) -> bool:
    """Whether every member of the server can see ``channel`` (False when unknown)."""
    target = _parent(channel)
    if not isinstance(target, discord.abc.GuildChannel):
        return False
    return target.permissions_for(target.guild.default_role).view_channel


def share_source_problem(channel: object, share_channel_ids: Iterable[int]) -> str | None:
    """Why a message in ``channel`` may not become a share, for the member; None when it may."""
    allowed = tuple(share_channel_ids)
    channel_id = getattr(channel, "id", None)
    if isinstance(channel, discord.Thread) and channel.type is discord.ChannelType.private_thread:
        return (
            "That message is in a private thread. The digest is shown to everyone, so it only "
            "takes messages that every member can already read."
        )
    if not everyone_can_view(channel):
        where = f"<#{channel_id}>" if channel_id else "that channel"
        return (
            f"That message is in {where}, which not every member can see. The digest is shown "
            "to everyone, so it only takes messages from channels every member can read."
        )
    if allowed:
        parent = _parent(channel)
        ids = {channel_id, getattr(parent, "id", None)}
        if not ids & set(allowed):
            listed = ", ".join(f"<#{c}>" for c in allowed)
            return f"On this server the digest only takes messages posted in {listed}."
    return None


def parse_channel_list(text: str) -> tuple[int, ...]:
    """Channel mentions or ids, separated by spaces or commas (``<#1> <#2>``, ``1,2``).

    ``none`` (or ``all``) means no list: every channel @everyone can view. ValueError says what
    is accepted.
    """
    cleaned = text.strip()
    if cleaned.lower() in ("none", "all", "-"):
        return ()
    ids: dict[int, None] = {}
    for part in cleaned.replace(",", " ").split():
        raw = part.removeprefix("<#").removesuffix(">")
        if not raw.isdigit() or int(raw) <= 0:
            raise ValueError(
                f"`{part[:40]}` is not a channel. Give channels as #mentions or ids separated by "
                "spaces (e.g. #shares #general), or `none` for every public channel."
            )
        ids[int(raw)] = None
    if not ids:
        raise ValueError("Give at least one channel, or `none` for every public channel.")
    return tuple(ids)
