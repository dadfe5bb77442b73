"""Organiser-facing embeds (settings, stats, announcement previews)."""

from __future__ import annotations

from datetime import date

import discord

from bot.programme import ProgrammeDiff, format_local_date
from bot.render.words import plural
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
    "organiser_channel_id": "Organiser alerts channel",
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


def import_counts(diff: ProgrammeDiff) -> str:
    """'2 added, 1 changed, 0 removed': what an import did (the answer and the audit trail)."""
    return f"{len(diff.added)} added, {len(diff.changed)} changed, {len(diff.removed)} removed"


def post_audit_detail(day: date, count: int, channel_name: str | None) -> str:
    """'Monday 14 September 2026: 2 messages to #programme' (no raw ids or ISO dates)."""
    where = f"#{channel_name}" if channel_name else "the programme channel"
    return f"{format_local_date(day, year=True)}: {plural(count, 'message')} to {where}"


def posted_text(day: date, channel_id: int, count: int) -> str:
    """The organiser's answer after `/organiser post-programme`."""
    return (
        f"Posted the programme for {format_local_date(day)} to <#{channel_id}> "
        f"({plural(count, 'message')})."
    )


def change_impact_text(
    members: int, sessions: int, notices: int, channel_id: int | None
) -> str | None:
    """What confirming an import sets off: DMs to registered members and channel notices."""
    if not sessions:
        return None
    what = f"{plural(sessions, 'moved or cancelled session')}"
    if members:
        text = f"Confirming will DM {plural(members, 'registered member')} about {what}"
    else:
        text = f"Confirming will DM nobody (no registered members) about {what}"
    if notices and channel_id is not None:
        text += f" and post {plural(notices, 'notice')} in <#{channel_id}>."
    else:
        text += " (no programme channel is set, so no notices are posted)."
    return text


def import_refused_header(filename: str, problems: int) -> str:
    """The head of an import refused for ``problems`` problems (listed below it)."""
    return (
        f"`{filename}` was not imported: {plural(problems, 'problem')}."
        " **Nothing was changed**; fix these and import it again."
    )
