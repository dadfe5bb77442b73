"""Recognising the bot's own earlier send in a channel's history (pure parts)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import discord

from bot.delivery.recovery import carries, same_message


def message(content: str = "", embeds: list[discord.Embed] | None = None, nonce: Any = None):
    return SimpleNamespace(content=content, embeds=embeds or [], nonce=nonce)


def test_the_nonce_discord_echoes_identifies_the_send() -> None:
    assert carries(message(nonce="abc"), "abc")  # type: ignore[arg-type]
    assert not carries(message(nonce="abd"), "abc")  # type: ignore[arg-type]
    assert not carries(message(), "abc")  # type: ignore[arg-type]


def test_without_a_nonce_content_and_embeds_must_match_exactly() -> None:
    embed = discord.Embed(title="Starting in 15 minutes", description="Safety huddle")
    sent = message("<@1> here", [discord.Embed(title=embed.title, description=embed.description)])
    assert same_message(sent, {"content": "<@1> here", "embed": embed})  # type: ignore[arg-type]
    assert not same_message(sent, {"content": "<@2> here", "embed": embed})  # type: ignore[arg-type]
    other = discord.Embed(title="Starting in 14 minutes", description="Safety huddle")
    assert not same_message(sent, {"content": "<@1> here", "embeds": [other]})  # type: ignore[arg-type]
    assert not same_message(sent, {"content": "<@1> here"})  # type: ignore[arg-type]
