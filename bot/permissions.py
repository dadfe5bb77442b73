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


def organiser_role_problem(role: discord.Role) -> str | None:
    """Why ``role`` cannot be the organiser role, or None when it can.

    @everyone would make every member an organiser; a managed role (a bot's or an
    integration's) cannot be given to people, so nobody could hold it on purpose.
    """
    if role.is_default():
        return (
            "@everyone can't be the organiser role: every member would become an organiser. "
            "Choose a role only organisers hold."
        )
    if role.managed:
        return (
            f"{role.mention} is managed by an integration (a bot's or a subscription's role), so "
            "it can't be given to organisers. Choose a role only organisers hold."
        )
    return None


def member_posting_problem(channel: discord.abc.GuildChannel, member: discord.Member) -> str | None:
    """Why ``member`` (the organiser asking) may not post in ``channel``, or None.

    The bot posts with its own permissions; this keeps an organiser from using it to post where
    they themselves may not (a read-only or staff channel).
    """
    perms = channel.permissions_for(member)
    if perms.view_channel and perms.send_messages:
        return None
    return (
        f"You can't post in {channel.mention} yourself (you need View Channel and Send Messages "
        "there), so the bot won't post there for you. Choose a channel you can post in."
    )


def ping_problem(
    role: discord.Role, member: discord.Member, channel: discord.abc.GuildChannel | None
) -> str | None:
    """Why ``member`` may not ping ``role``, or None: the role must be mentionable by everyone,
    or the member could mention it themselves (Mention Everyone, in ``channel`` when known)."""
    if role.is_default() or role.managed:
        return (
            "Choose a role members can hold for `ping:`; announcements never ping @everyone or "
            "a bot's own role."
        )
    if role.mentionable:
        return None
    perms = channel.permissions_for(member) if channel is not None else member.guild_permissions
    if perms.mention_everyone:
        return None
    return (
        f"{role.mention} is not mentionable and you lack the Mention Everyone permission, so "
        "you couldn't ping it yourself; the bot won't either. Choose a mentionable role, or ask "
        "a server admin."
    )
