"""Organiser-facing embeds (settings, stats, announcement previews)."""

from __future__ import annotations

import discord

from bot.store.guild_settings import SETTING_NAMES, GuildConfig

LABELS = {
    "programme_channel_id": "Programme channel",
    "announcements_channel_id": "Announcements channel",
    "digest_channel_id": "Digest channel",
    "organiser_role_id": "Organiser role",
    "timezone": "Timezone",
    "daily_post_time": "Daily programme post",
    "digest_time": "Daily digest",
    "reminder_leads": "Reminders (minutes before)",
    "share_channel_ids": "Share channels",
}


def setting_value(config: GuildConfig, name: str) -> str:
    value = getattr(config, name)
    if value is None:
        return "not set"
    if name == "share_channel_ids":
        return " ".join(f"<#{v}>" for v in value) or "every channel @everyone can view"
    if name.endswith("channel_id"):
        return f"<#{value}>"
    if name == "organiser_role_id":
        return f"<@&{value}>"
    if name in ("daily_post_time", "digest_time"):
        return f"{value:%H:%M} ({config.timezone})"
    if name == "reminder_leads":
        return ", ".join(str(v) for v in value)
    return str(value)


def settings_embed(
    config: GuildConfig, *, title: str, changed: set[str] | None = None
) -> discord.Embed:
    changed = changed or set()
    embed = discord.Embed(title=title, colour=discord.Colour.green())
    for name in SETTING_NAMES:
        marker = " (changed)" if name in changed else ""
        source = "server setting" if name in config.overridden else "default"
        embed.add_field(
            name=f"{LABELS[name]}{marker}",
            value=f"{setting_value(config, name)} · {source}",
            inline=True,
        )
    embed.set_footer(text="Change any of these with /organiser setup; changes apply at once.")
    return embed
