"""The fake Discord's world: the guild, its roles, channels, users and DM channels."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .models import (
    FakeGuild,
    FakeUser,
)
from .realms import THREAD_TYPES
from .wire import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    BOT_PERMISSIONS,
    EVERYONE_PERMISSIONS,
    MANAGE_GUILD,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


class WorldMixin:
    """Seeded guild and the helpers tests use to shape it; mixed into :class:`FakeDiscord`."""

    # ------------------------------------------------------------------ world

    def _seed(self: FakeDiscord) -> None:
        bot_id = self._ids.next()
        self.bot_user = FakeUser(bot_id, "QI Week Bot", None, bot=True)
        guild_id = self._ids.next()
        owner = FakeUser(self._ids.next(), "owner", "Server Owner")
        self.guild = FakeGuild(guild_id, "QI Week", owner.id)
        self.roles["everyone"] = guild_id
        self._roles[guild_id] = self._role_payload(guild_id, "@everyone", EVERYONE_PERMISSIONS, 0)
        for pos, (name, perms) in enumerate(
            [("organiser", 0), ("admin", MANAGE_GUILD), ("QI Week Bot", BOT_PERMISSIONS)], start=1
        ):
            rid = self._ids.next()
            self.roles[name] = rid
            self._roles[rid] = self._role_payload(rid, name, perms, pos)
        self._roles[self.roles["QI Week Bot"]]["managed"] = True
        self._roles[self.roles["QI Week Bot"]]["tags"] = {"bot_id": str(bot_id)}
        self.bot_user.roles = [self.roles["QI Week Bot"]]
        self._add(self.bot_user, "bot")
        self._add(owner, "owner")
        for pos, name in enumerate(["general", "programme", "announcements", "digest"]):
            cid = self._ids.next()
            self.channels[name] = cid
            self._channels[cid] = {
                "id": str(cid),
                "type": 0,
                "guild_id": str(guild_id),
                "name": name,
                "position": pos,
                "permission_overwrites": [],
                "topic": None,
                "nsfw": False,
                "parent_id": None,
                "rate_limit_per_user": 0,
                "last_message_id": None,
                "flags": 0,
            }
            self._messages[cid] = []
        self.add_user("member", global_name="Member One")
        self.add_user("member2", global_name="Member Two")
        self.add_user("organiser", roles=["organiser"], global_name="Olive Organiser")
        self.add_user("admin", roles=["admin"], global_name="Ada Admin")
        self.add_user("other_bot", bot=True)

    def _role_payload(
        self: FakeDiscord, rid: int, name: str, perms: int, position: int
    ) -> dict[str, Any]:
        return {
            "id": str(rid),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(perms),
            "managed": False,
            "mentionable": True,
            "flags": 0,
        }

    def _add(self: FakeDiscord, user: FakeUser, name: str) -> None:
        self._users[user.id] = user
        self.users[name] = user.id

    def add_user(
        self: FakeDiscord,
        name: str,
        roles: tuple[str | int, ...] | list[str | int] = (),
        bot: bool = False,
        permissions: int = 0,
        *,
        global_name: str | None = None,
        dispatch: bool = True,
    ) -> FakeUser:
        """Add a guild member. ``permissions`` creates a dedicated role with those bits.

        After the bot has connected, GUILD_MEMBER_ADD is dispatched (use :meth:`add_member`
        from async code to await it; here it is scheduled on the running loop).
        """
        role_ids = [self._role_id(r) for r in roles]
        if permissions:
            rid = self._ids.next()
            self.roles[f"{name}-perms"] = rid
            self._roles[rid] = self._role_payload(
                rid, f"{name}-perms", permissions, len(self._roles)
            )
            role_ids.append(rid)
        user = FakeUser(
            self._ids.next(), name, global_name or name.title(), bot=bot, roles=role_ids
        )
        self._add(user, name)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if dispatch and self._session is not None and loop is not None:
            payload = user.member_payload() | {"guild_id": str(self.guild.id)}
            task = loop.create_task(self.dispatch("GUILD_MEMBER_ADD", payload))
            self._bg.add(task)
            task.add_done_callback(self._bg.discard)
        return user

    async def add_member(self: FakeDiscord, name: str, **kwargs: Any) -> FakeUser:
        """Async :meth:`add_user` that waits until GUILD_MEMBER_ADD has been sent."""
        user = self.add_user(name, dispatch=False, **kwargs)
        await self.dispatch(
            "GUILD_MEMBER_ADD", user.member_payload() | {"guild_id": str(self.guild.id)}
        )
        return user

    def _role_id(self: FakeDiscord, role: str | int) -> int:
        if isinstance(role, int):
            return role
        return self.roles[role]

    def user(self: FakeDiscord, ref: str | int | FakeUser) -> FakeUser:
        """Look a user up by name, id or record."""
        if isinstance(ref, FakeUser):
            return ref
        if isinstance(ref, str):
            if ref not in self.users:
                raise KeyError(f"unknown user {ref!r}; known: {sorted(self.users)}")
            return self._users[self.users[ref]]
        return self._users[int(ref)]

    def member_permissions(self: FakeDiscord, ref: str | int | FakeUser) -> int:
        """Guild-level permissions of a member, computed from @everyone and their roles."""
        user = self.user(ref)
        if user.id == self.guild.owner_id:
            return ALL_PERMISSIONS
        perms = int(self._roles[self.guild.id]["permissions"])
        for rid in user.roles:
            perms |= int(self._roles[rid]["permissions"])
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def channel(self: FakeDiscord, ref: str | int) -> dict[str, Any]:
        """Channel payload by name or id."""
        cid = self.channels[ref] if isinstance(ref, str) else int(ref)
        return self._channels[cid]

    def deny_bot(self: FakeDiscord, channel: str | int, permissions: int) -> None:
        """Overwrite `channel` so the bot's role lacks `permissions` there (set before start)."""
        self.channel(channel)["permission_overwrites"] = [
            {
                "id": str(self.roles["QI Week Bot"]),
                "type": 0,
                "allow": "0",
                "deny": str(permissions),
            }
        ]

    def _channel_id(self: FakeDiscord, ref: str | int | dict[str, Any]) -> int:
        if isinstance(ref, dict):
            return int(ref["id"])
        return self.channels[ref] if isinstance(ref, str) else int(ref)

    def dm_channel_id(self: FakeDiscord, user: str | int | FakeUser) -> int:
        """The (stable) DM channel id between the bot and a user, created on first use."""
        uid = self.user(user).id
        if uid not in self._dm_by_user:
            cid = self._ids.next()
            self._dm_by_user[uid] = cid
            self._channels[cid] = {
                "id": str(cid),
                "type": 1,
                "last_message_id": None,
                "recipients": [self._users[uid].user_payload()],
                "flags": 0,
            }
            self._messages[cid] = []
        return self._dm_by_user[uid]

    def _guild_create_payload(self: FakeDiscord, large_threshold: int) -> dict[str, Any]:
        members = [u for u in self._users.values() if u.in_guild]
        large = len(members) > large_threshold
        shown = [self.bot_user] if large else members
        return {
            "id": str(self.guild.id),
            "name": self.guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": list(self._roles.values()),
            "emojis": [],
            "stickers": [],
            "features": ["COMMUNITY"],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.channels["general"]),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-GB",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "joined_at": self.bot_user.joined_at,
            "large": large,
            "unavailable": False,
            "member_count": len(members),
            "voice_states": [],
            "members": [u.member_payload() for u in shown],
            "channels": [
                {k: v for k, v in c.items() if k != "guild_id"}
                for c in self._channels.values()
                if c.get("guild_id") == str(self.guild.id) and c["type"] not in THREAD_TYPES
            ],
            "threads": [
                dict(t)
                for t in self.threads.values()
                if t["guild_id"] == str(self.guild.id) and not t["thread_metadata"]["archived"]
            ],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": list(self.scheduled_events.values()),
            "soundboard_sounds": [],
        }
