"""Private stays private: where shares may come from, and which stored ones may still be shown.

The rules are pure (`bot.visibility`); this service finds the channel objects they need (from
discord.py's cache, else from Discord) and applies the server's share-channel setting. Used by
the collector (hashtag and "Add to QI Week digest") and by the digest, exports and redaction
(at show time, so a channel made private later keeps its shares out).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import discord

from bot.config import Settings
from bot.digest import Share
from bot.store import Store
from bot.store.guild_settings import get_config
from bot.visibility import everyone_can_view, share_source_problem

log = logging.getLogger(__name__)


class ShareSources:
    """Built once by the composition root (`bot.app`)."""

    def __init__(self, *, client: discord.Client, store: Store, settings: Settings) -> None:
        self.client = client
        self.store = store
        self.settings = settings

    async def channel(self, guild_id: int, channel_id: int) -> object | None:
        """A guild channel or thread from the cache, else from Discord; None when unknown."""
        guild = self.client.get_guild(guild_id)
        found = guild.get_channel_or_thread(channel_id) if guild is not None else None
        if found is None:
            try:
                found = await self.client.fetch_channel(channel_id)
            except discord.HTTPException as exc:
                log.info("channel %s of guild %s unavailable: %s", channel_id, guild_id, exc)
                return None
        return found

    async def problem(self, message: discord.Message) -> str | None:
        """Why ``message`` may not become a share (another server, a private channel, not a
        share channel), for the member; None when it may."""
        if message.guild is None or not self.settings.serves(message.guild.id):
            return "Only messages in the QI Week server can be shares."
        config = await get_config(self.store, self.settings, message.guild.id)
        channel = await self.channel(message.guild.id, message.channel.id)
        return share_source_problem(channel, config.share_channel_ids)

    async def public_channels(self, guild_id: int, channel_ids: Iterable[int]) -> set[int]:
        """Which of ``channel_ids`` @everyone can view now (unknown channels are not)."""
        return {
            channel_id
            for channel_id in set(channel_ids)
            if everyone_can_view(await self.channel(guild_id, channel_id))
        }

    async def visible(self, guild_id: int, shares: list[Share]) -> list[Share]:
        """``shares`` without those from channels @everyone can no longer view (checked now)."""
        public = await self.public_channels(guild_id, (s.channel_id for s in shares))
        hidden = sum(1 for s in shares if s.channel_id not in public)
        if hidden:
            log.info(
                "guild %s: %d shares left out, their channels are not public", guild_id, hidden
            )
        return [s for s in shares if s.channel_id in public]


__all__ = ["ShareSources"]
