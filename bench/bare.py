"""The floor: a bare discord.py bot that answers the bot's interactions with a constant.

Same intents (`bot.client.intents()`) and the client options that cost or save work
(`chunk_guilds_at_startup=False`, `max_messages=1000`, no mentions), the same command names and
option names, the same persistent button template, and the same guild command sync at start.
It receives messages and does nothing with them but count them (so the bench knows when the
last one was dispatched).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import discord
from discord import app_commands

from bot import ids
from bot.client import intents

CHOICES = [app_commands.Choice(name=f"Session {n}", value=f"s{n:03d}") for n in range(25)]


class BareButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=ids.INTEREST_BUTTON_TEMPLATE
):
    """The "I'm interested" button, answered with a constant."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            discord.ui.Button(label="I'm interested", custom_id=ids.interest_button_id(session_id))
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str]
    ) -> BareButton:
        return cls(match["session_id"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok", ephemeral=True)


class BareBot(discord.Client):
    """discord.py and nothing else: constant answers, messages counted and dropped."""

    def __init__(
        self, guild_id: int, on_count: Callable[[int], None] | None = None, **options: Any
    ) -> None:
        super().__init__(
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            chunk_guilds_at_startup=False,
            max_messages=1000,
            **options,
        )
        self.guild_id = guild_id
        self.messages = 0
        self.on_count = on_count
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="programme", description="The QI Week sessions of a day")
        async def programme(interaction: discord.Interaction, day: str | None = None) -> None:
            await interaction.response.send_message("programme", ephemeral=True)

        @self.tree.command(name="session", description="One QI Week session in full")
        async def session(interaction: discord.Interaction, session: str) -> None:
            await interaction.response.send_message("session", ephemeral=True)

        @session.autocomplete("session")
        async def session_choices(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return CHOICES

    async def setup_hook(self) -> None:
        self.add_dynamic_items(BareButton)
        guild = discord.Object(id=self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def on_message(self, message: discord.Message) -> None:
        self.messages += 1
        if self.on_count is not None:
            self.on_count(self.messages)
