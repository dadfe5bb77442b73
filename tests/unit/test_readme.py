"""The README's invite URL asks for exactly the permissions the bot needs, computed with the
installed discord.py (which must know Create Events, 1 << 44)."""

from __future__ import annotations

import re

import discord

from tests.harness import ROOT

NEEDED = dict(
    read_messages=True,  # View Channels
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,  # the thread on each "Starting now" post
    create_events=True,  # the sessions in the server's Events list
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    mention_everyone=True,  # only when an organiser picks a role to ping
    add_reactions=True,
    external_emojis=True,
)


def test_discord_py_knows_create_events() -> None:
    assert discord.Permissions(1 << 44).create_events


def test_the_invite_url_and_the_list_match_the_permissions() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    value = discord.Permissions(**NEEDED).value
    [url_value] = re.findall(r"permissions=(\d+)", text)
    assert int(url_value) == value
    assert f"The permission integer `{value}`" in text
