"""`/help`: what the bot does and one line per command, generated from the live command tree."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.client import QIWeekBot
from bot.render.help import help_embed


class Help(commands.Cog):
    def __init__(self, bot: QIWeekBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description="What the QI Week bot does and how to use it")
    async def help(self, interaction: discord.Interaction) -> None:
        embed = help_embed(self.bot.tree, guild=interaction.guild)
        await interaction.response.send_message(embed=embed, ephemeral=True)


async def setup(bot: QIWeekBot) -> None:
    await bot.add_cog(Help(bot))
