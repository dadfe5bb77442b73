"""Who may run organiser commands: written once, used by every organiser command and menu."""

from __future__ import annotations

import discord


def is_organiser(member: discord.abc.User, organiser_role_id: int | None) -> bool:
    """True for a member holding the organiser role or the Manage Server permission."""
    if not isinstance(member, discord.Member):
        return False
    if member.guild_permissions.manage_guild:
        return True
    if organiser_role_id is None or organiser_role_id == member.guild.id:
        # The guild's own id is @everyone: never make every member an organiser.
        return False
    return any(r.id == organiser_role_id for r in member.roles)


def who_may(organiser_role_id: int | None) -> str:
    """The sentence a refused member reads."""
    if organiser_role_id:
        return (
            f"Only organisers may do this: members with the <@&{organiser_role_id}> role or the "
            "Manage Server permission."
        )
    return "Only organisers may do this: members with the Manage Server permission."
