"""The one message type every renderer returns: what `Messageable.send` gets, minus the nonce
(added by `bot.delivery`, derived from the send's ledger key)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import discord


def allow_only(user_ids: Sequence[int]) -> discord.AllowedMentions:
    """Mentions allowed for exactly these users (none when empty): never a role or @everyone."""
    if not user_ids:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False,
        roles=False,
        replied_user=False,
        users=[discord.Object(id=u) for u in user_ids],
    )


@dataclass(frozen=True)
class Message:
    """One message: text, an embed, drawn-only components, and who it may ping.

    ``mention_ids`` are the users the text mentions; unless ``allowed_mentions`` says otherwise
    (an announcement pinging a role), exactly those may be pinged, and nobody when empty.
    """

    content: str | None = None
    embed: discord.Embed | None = None
    view: discord.ui.View | None = None
    mention_ids: tuple[int, ...] = ()
    allowed_mentions: discord.AllowedMentions | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `Messageable.send` (the sender adds the nonce)."""
        allowed = self.allowed_mentions
        kwargs: dict[str, Any] = {
            "allowed_mentions": allowed if allowed is not None else allow_only(self.mention_ids)
        }
        if self.content:
            kwargs["content"] = self.content
        if self.embed is not None:
            kwargs["embed"] = self.embed
        if self.view is not None:
            kwargs["view"] = self.view
        return kwargs


__all__ = ["Message", "allow_only"]
