"""Who is an organiser and where they may post or ping, on real discord.py objects (a guild built
from a GUILD_CREATE-shaped payload)."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.permissions import (
    is_organiser,
    member_posting_problem,
    organiser_role_problem,
    ping_problem,
)

GUILD = 1000
VIEW, SEND, MENTION_EVERYONE, MANAGE_GUILD = 1 << 10, 1 << 11, 1 << 17, 1 << 5
ORGANISER, QUIET, BOT_ROLE, COMMS = 2001, 2002, 2003, 2004
ORGANISER_USER, COMMS_USER, ADMIN_USER = 11, 12, 13


def role(rid: int, name: str, perms: int = 0, **extra: Any) -> dict[str, Any]:
    return {"id": str(rid), "name": name, "permissions": str(perms), "position": 1, "color": 0,
            "hoist": False, "managed": False, "mentionable": True, **extra}  # fmt: skip


def member(uid: int, *roles: int) -> dict[str, Any]:
    return {"user": {"id": str(uid), "username": f"u{uid}", "discriminator": "0",
                     "avatar": None}, "roles": [str(r) for r in roles],
            "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False, "mute": False,
            "flags": 0}  # fmt: skip


@pytest.fixture
def guild() -> discord.Guild:
    intents = discord.Intents.none()
    intents.guilds = intents.members = True  # members in the payload are cached
    client = discord.Client(intents=intents)
    read_only = {"id": str(GUILD), "type": 0, "allow": "0", "deny": str(SEND)}
    data = {
        "id": str(GUILD),
        "name": "QI Week",
        "owner_id": "1",
        "roles": [
            role(GUILD, "@everyone", VIEW | SEND),
            role(ORGANISER, "organiser"),
            role(QUIET, "quiet", mentionable=False),
            role(BOT_ROLE, "bot", managed=True, tags={"bot_id": "5"}),
            role(COMMS, "comms", MENTION_EVERYONE),
        ],
        "channels": [
            {"id": "1", "type": 0, "name": "general", "position": 0, "permission_overwrites": []},
            {
                "id": "2",
                "type": 0,
                "name": "news",
                "position": 1,
                "permission_overwrites": [read_only],
            },
        ],
        "members": [
            member(ORGANISER_USER, ORGANISER),
            member(COMMS_USER, COMMS),
            member(ADMIN_USER, 2005),
        ],
        "member_count": 3,
    }
    data["roles"].append(role(2005, "admin", MANAGE_GUILD))
    return discord.Guild(data=data, state=client._connection)  # type: ignore[arg-type]


def test_organiser_role_problem(guild: discord.Guild) -> None:
    assert "@everyone can't" in str(organiser_role_problem(guild.default_role))
    assert "managed by an integration" in str(organiser_role_problem(guild.get_role(BOT_ROLE)))
    assert organiser_role_problem(guild.get_role(ORGANISER)) is None


def test_the_server_id_as_organiser_role_makes_nobody_an_organiser(guild: discord.Guild) -> None:
    organiser = guild.get_member(ORGANISER_USER)
    assert organiser is not None
    assert is_organiser(organiser, ORGANISER)
    assert not is_organiser(organiser, GUILD)  # @everyone: every member holds it
    assert is_organiser(guild.get_member(ADMIN_USER), GUILD)  # Manage Server still counts


def test_member_posting_problem(guild: discord.Guild) -> None:
    organiser = guild.get_member(ORGANISER_USER)
    assert member_posting_problem(guild.get_channel(1), organiser) is None
    assert "You can't post in <#2>" in str(member_posting_problem(guild.get_channel(2), organiser))


def test_ping_problem(guild: discord.Guild) -> None:
    organiser = guild.get_member(ORGANISER_USER)
    comms = guild.get_member(COMMS_USER)
    general = guild.get_channel(1)
    assert ping_problem(guild.get_role(ORGANISER), organiser, general) is None
    assert "not mentionable" in str(ping_problem(guild.get_role(QUIET), organiser, general))
    assert ping_problem(guild.get_role(QUIET), comms, general) is None  # Mention Everyone
    assert ping_problem(guild.get_role(QUIET), comms, None) is None
    for refused in (guild.default_role, guild.get_role(BOT_ROLE)):
        assert "never ping @everyone" in str(ping_problem(refused, comms, general))
