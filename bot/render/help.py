"""The `/help` embed, built from the registered command tree so it never goes stale."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.render.limits import EMBED_DESCRIPTION, FIELD_VALUE, pack_lines, truncate

INTRO = (
    "I run the QI Week community server: I post each day's programme in the morning, remind you "
    "before sessions you're interested in, gather #QIWeek shares into a daily digest, and carry "
    "organisers' announcements. Shares must never contain patient-identifiable information."
)


def command_lines(
    tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None
) -> tuple[list[str], list[str], list[str]]:
    """(member lines, organiser lines, context-menu lines), one per command, sorted by name."""
    members: list[str] = []
    organisers: list[str] = []
    menus: list[str] = []
    seen: set[str] = set()
    commands = list(tree.get_commands())
    if guild is not None:
        commands += tree.get_commands(guild=guild)
    for command in commands:
        if command.name in seen:
            continue
        seen.add(command.name)
        if isinstance(command, app_commands.ContextMenu):
            menus.append(f"**{command.name}**: right-click (or long-press) a message > Apps")
            continue
        target = members
        if command.default_permissions is not None and command.default_permissions.value:
            target = organisers
        for line in _walk(command):
            target.append(line)
    return sorted(members), sorted(organisers), sorted(menus)


def _walk(command: app_commands.Command | app_commands.Group) -> list[str]:
    if isinstance(command, app_commands.Group):
        lines = []
        for child in command.commands:
            lines.extend(_walk(child))
        return lines
    params = " ".join(
        f"<{p.display_name}>" if p.required else f"[{p.display_name}]" for p in command.parameters
    )
    usage = f"/{command.qualified_name}" + (f" {params}" if params else "")
    return [f"`{usage}`: {command.description}"]


def help_embed(
    tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None = None
) -> discord.Embed:
    members, organisers, menus = command_lines(tree, guild)
    embed = discord.Embed(
        title="QI Week bot: help",
        description=truncate(INTRO, EMBED_DESCRIPTION),
        colour=discord.Colour.blue(),
    )
    for name, lines in (
        ("Commands", members),
        ("Message menus", menus),
        ("Organisers only", organisers),
    ):
        chunks = pack_lines(lines, limit=FIELD_VALUE)
        for index, chunk in enumerate(chunks):
            embed.add_field(
                name=name if index == 0 else f"{name} (more)", value=chunk, inline=False
            )
    embed.set_footer(text="Answers to your commands are only visible to you unless stated.")
    return embed
