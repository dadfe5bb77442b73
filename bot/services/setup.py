"""`/organiser setup` and every feature's view of a server's settings.

The cog hands over what the organiser typed (and which chosen channels the bot cannot post
in, a Discord permission fact only the cog sees); this service validates the rest, stores the
change, records it in the audit trail and re-plans the server at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

import discord

from bot.config import SETTING_PARSERS, Settings, parse_each
from bot.errors import UserFacingError
from bot.permissions import is_organiser
from bot.schedule import Schedule
from bot.services.audit import AuditTrail
from bot.store import Store
from bot.store.guild_settings import GuildConfig, get_config, update_config
from bot.visibility import parse_channel_list


@dataclass(frozen=True)
class SetupRequest:
    """What the organiser chose: channel and role ids, and settings as typed."""

    channels: dict[str, int] = field(default_factory=dict)
    channel_problems: dict[str, str] = field(default_factory=dict)
    organiser_role_id: int | None = None
    #: Why the chosen role cannot be the organiser role (@everyone, managed), seen by the cog.
    organiser_role_problem: str | None = None
    #: Whether the organiser asking holds Manage Server (needed to change the organiser role).
    manages_server: bool = False
    text: dict[str, str | None] = field(default_factory=dict)


def audit_value(name: str, value: object) -> str:
    """A setting's value as the audit trail shows it: channels and roles as mentions."""
    if name.endswith("_channel_id"):
        return f"<#{value}>"
    if name == "organiser_role_id":
        return f"<@&{value}>"
    if name == "share_channel_ids" and isinstance(value, tuple):
        return " ".join(f"<#{v}>" for v in value) or "none"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


class GuildSetup:
    """Reads and changes a server's settings."""

    def __init__(
        self, *, store: Store, settings: Settings, schedule: Schedule, audit: AuditTrail
    ) -> None:
        self.store = store
        self.settings = settings
        self.schedule = schedule
        self.audit = audit

    async def config(self, guild_id: int) -> GuildConfig:
        """The settings in force (stored values over the environment's defaults)."""
        return await get_config(self.store, self.settings, guild_id)

    async def is_organiser(self, guild_id: int, user: discord.abc.User) -> bool:
        """The organiser role of this server, or Manage Server."""
        config = await self.config(guild_id)
        return is_organiser(user, config.organiser_role_id)

    def validate(self, request: SetupRequest) -> dict[str, object]:
        """The changes to store; UserFacingError listing every problem (nothing is stored)."""
        changes: dict[str, object] = {}
        problems = [f"`{name}`: {why}" for name, why in request.channel_problems.items()]
        changes.update({f"{name}_id": value for name, value in request.channels.items()})
        if request.organiser_role_id is not None:
            problem = request.organiser_role_problem
            if problem is None and not request.manages_server:
                problem = (
                    "Only members with the Manage Server permission may change the organiser "
                    "role (organisers could otherwise hand organiser rights to anyone)."
                )
            if problem is not None:
                problems.append(f"`organiser_role`: {problem}")
            else:
                changes["organiser_role_id"] = request.organiser_role_id
        share_channels = request.text.get("share_channels")
        if share_channels is not None:
            try:
                changes["share_channel_ids"] = parse_channel_list(share_channels)
            except ValueError as exc:
                problems.append(f"`share_channels`: {exc}")
        parsed, bad = parse_each(
            {name: (f"`{name}`", request.text.get(name)) for name in SETTING_PARSERS}
        )
        changes.update(parsed)
        problems.extend(bad)
        if problems:
            raise UserFacingError("Nothing was changed.\n" + "\n".join(problems))
        return changes

    async def apply(self, guild_id: int, user_id: int, changes: dict[str, object]) -> None:
        """Store validated changes, record them, and re-plan the server with them at once."""
        if not changes:
            return
        await update_config(self.store, guild_id, **changes)
        detail = ", ".join(f"{k}={audit_value(k, v)}" for k, v in changes.items())
        await self.audit.record(guild_id, user_id, "setup", detail)
        await self.schedule.replan(guild_id)


__all__ = ["GuildSetup", "SetupRequest", "audit_value"]
