"""Which channels shares may come from, on real discord.py objects (a guild built from a
GUILD_CREATE-shaped payload): public channels, private ones, threads following their parent."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bot.visibility import everyone_can_view, parse_channel_list, share_source_problem

GUILD = 1000
VIEW = 1 << 10
SEND = 1 << 11
STAFF = 2000
EVERYONE_PERMS = VIEW | SEND | (1 << 16)


def channel(cid: int, *, overwrites: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "id": str(cid),
        "type": 0,
        "name": f"c{cid}",
        "position": 0,
        "permission_overwrites": overwrites or [],
        "parent_id": None,
    }


def thread(tid: int, parent: int, *, private: bool = False) -> dict[str, Any]:
    return {
        "id": str(tid),
        "type": 12 if private else 11,
        "name": f"t{tid}",
        "guild_id": str(GUILD),
        "parent_id": str(parent),
        "owner_id": "1",
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-09-14T09:00:00+00:00",
            "locked": False,
        },
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
    }


def hide(role: int) -> dict[str, Any]:
    return {"id": str(role), "type": 0, "allow": "0", "deny": str(VIEW)}


@pytest.fixture
def guild() -> discord.Guild:
    client = discord.Client(intents=discord.Intents.none())
    data = {
        "id": str(GUILD),
        "name": "QI Week",
        "owner_id": "1",
        "roles": [
            {
                "id": str(GUILD),
                "name": "@everyone",
                "permissions": str(EVERYONE_PERMS),
                "position": 0,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            },
            {
                "id": str(STAFF),
                "name": "staff",
                "permissions": "0",
                "position": 1,
                "color": 0,
                "hoist": False,
                "managed": False,
                "mentionable": False,
            },
        ],
        "channels": [
            channel(1),
            channel(
                2,
                overwrites=[
                    hide(GUILD),
                    {"id": str(STAFF), "type": 0, "allow": str(VIEW), "deny": "0"},
                ],
            ),
            channel(3, overwrites=[{"id": str(GUILD), "type": 0, "allow": "0", "deny": str(SEND)}]),
            channel(4, overwrites=[hide(STAFF)]),  # hidden from a role, not from everyone
        ],
        "threads": [thread(11, 1), thread(12, 2), thread(13, 1, private=True)],
        "members": [],
        "emojis": [],
        "stickers": [],
        "features": [],
        "member_count": 1,
    }
    return discord.Guild(data=data, state=client._connection)  # type: ignore[arg-type]


def test_everyone_can_view_follows_overwrites_and_thread_parents(guild: discord.Guild) -> None:
    seen = {
        cid: everyone_can_view(guild.get_channel_or_thread(cid)) for cid in (1, 2, 3, 4, 11, 12, 13)
    }
    assert seen == {1: True, 2: False, 3: True, 4: True, 11: True, 12: False, 13: False}
    assert not everyone_can_view(None)  # a channel the bot cannot find is never public


def test_share_source_problem_says_why(guild: discord.Guild) -> None:
    assert share_source_problem(guild.get_channel(1), ()) is None
    assert "not every member can see" in str(share_source_problem(guild.get_channel(2), ()))
    assert "private thread" in str(share_source_problem(guild.get_thread(13), ()))
    assert "not every member can see" in str(share_source_problem(guild.get_thread(12), ()))
    # With share channels: only those, and threads inside them; never a private one.
    assert share_source_problem(guild.get_channel(1), (1,)) is None
    assert share_source_problem(guild.get_thread(11), (1,)) is None
    assert "only takes messages posted in <#3>" in str(
        share_source_problem(guild.get_channel(1), (3,))
    )
    assert "not every member can see" in str(share_source_problem(guild.get_channel(2), (2,)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("<#12> <#34>", (12, 34)), ("12, 34,12", (12, 34)), ("none", ()), ("ALL", ())],
)
def test_parse_channel_list(text: str, expected: tuple[int, ...]) -> None:
    assert parse_channel_list(text) == expected


@pytest.mark.parametrize("text", ["#general", "<#12> sometimes", " , "])
def test_parse_channel_list_refuses_what_is_not_a_channel(text: str) -> None:
    with pytest.raises(ValueError, match="channel"):
        parse_channel_list(text)
