"""Channel permission overwrites, private channels and a second guild for the fake Discord.

Discord computes a member's permissions in a channel in a fixed order (developer docs, Topics >
Permissions > "Permission Overwrites"): the server owner and Administrator have everything;
otherwise start from @everyone's role permissions OR the member's roles', then apply the
channel's @everyone overwrite (deny, then allow), then every overwrite of a role the member holds
(all denies, then all allows), then the member's own overwrite; without View Channel no channel
permission applies. Threads follow their parent. Channels do not inherit from their category at
run time (a "synced" channel holds a copy of the category's overwrites), nor does the fake.

REST follows the same rule: posting where the bot cannot View Channel answers 403 50001 "Missing
Access", and without Send Messages 403 50013 "Missing Permissions". Overwrite changes reach the
bot as CHANNEL_UPDATE events, new channels as CHANNEL_CREATE, a new server as GUILD_CREATE, and
leaving one (DELETE /users/@me/guilds/{id}) as GUILD_DELETE.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .models import FakeGuild, FakeUser, now_iso
from .wire import ADMINISTRATOR, ALL_PERMISSIONS, BOT_PERMISSIONS, EVERYONE_PERMISSIONS

if TYPE_CHECKING:
    from aiohttp import web

    from .server import FakeDiscord, _Req

#: Announcement, public and private threads: not channels of their own for permissions.
THREAD_TYPES = (10, 11, 12)
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
#: Permissions that apply in a channel (the "T, V, S" column of Discord's permission table):
#: without View Channel a member has none of them there; server-wide ones (Manage Server, ...)
#: are unaffected.
CHANNEL_PERMISSIONS = 0x1E64FDB3F7FF51
ROLE, MEMBER = 0, 1


def compute_permissions(
    *,
    guild_id: int,
    base: int,
    member_id: int,
    member_roles: Iterable[int],
    overwrites: Iterable[dict[str, Any]],
    is_owner: bool = False,
) -> int:
    """A member's permissions in a channel, as Discord computes them (see the module doc).

    ``base`` is @everyone's role permissions OR the member's roles'; ``overwrites`` are the
    channel's ``permission_overwrites`` (``id``, ``type`` 0 role / 1 member, ``allow``,
    ``deny`` as strings).
    """
    if is_owner or base & ADMINISTRATOR:
        return ALL_PERMISSIONS
    perms = base
    roles = set(member_roles)
    listed = list(overwrites)
    for ow in listed:
        if int(ow["type"]) == ROLE and int(ow["id"]) == guild_id:
            perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
    allow = deny = 0
    for ow in listed:
        if int(ow["type"]) == ROLE and int(ow["id"]) in roles and int(ow["id"]) != guild_id:
            allow |= int(ow["allow"])
            deny |= int(ow["deny"])
    perms = (perms & ~deny) | allow
    for ow in listed:
        if int(ow["type"]) == MEMBER and int(ow["id"]) == member_id:
            perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
    if not perms & VIEW_CHANNEL:
        return perms & ~CHANNEL_PERMISSIONS
    return perms


@dataclass
class ExtraGuild:
    """A server other than the seeded one: its own @everyone, roles, members and channels."""

    guild: FakeGuild
    roles: dict[int, dict[str, Any]]
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids
    channels: dict[str, int] = field(default_factory=dict)


class RealmsMixin:
    """Overwrites, private channels and more servers; mixed into FakeDiscord."""

    # ----------------------------------------------------------- permissions

    def _guild_roles_for(self: FakeDiscord, guild_id: int) -> dict[int, dict[str, Any]]:
        if guild_id == self.guild.id:
            return self._roles
        return self.extra_guilds[guild_id].roles

    def _member_roles_in(self: FakeDiscord, user: FakeUser, guild_id: int) -> list[int]:
        if guild_id == self.guild.id:
            return list(user.roles) if user.in_guild else []
        return list(self.extra_guilds[guild_id].members.get(user.id, []))

    def channel_permissions(self: FakeDiscord, user: str | int | FakeUser, channel: Any) -> int:
        """What ``user`` may do in ``channel`` (name, id or payload), overwrites applied."""
        who = self.user(user)
        data = channel if isinstance(channel, dict) else self.channel(channel)
        if data.get("parent_id") and int(data.get("type", 0)) in THREAD_TYPES:
            data = self._channels[int(data["parent_id"])]
        guild_id = int(data["guild_id"])
        roles = self._guild_roles_for(guild_id)
        member_roles = self._member_roles_in(who, guild_id)
        base = int(roles[guild_id]["permissions"])
        for rid in member_roles:
            if rid in roles:
                base |= int(roles[rid]["permissions"])
        owner = self.guild.owner_id if guild_id == self.guild.id else None
        if guild_id != self.guild.id:
            owner = self.extra_guilds[guild_id].guild.owner_id
        return compute_permissions(
            guild_id=guild_id,
            base=base,
            member_id=who.id,
            member_roles=member_roles,
            overwrites=data.get("permission_overwrites") or [],
            is_owner=who.id == owner,
        )

    def _post_refusal(self: FakeDiscord, channel: dict[str, Any]) -> tuple[int, str] | None:
        """Discord's refusal of a message the bot may not post in ``channel`` (else None)."""
        if not channel.get("guild_id"):
            return None
        perms = self.channel_permissions(self.bot_user, channel)
        if not perms & VIEW_CHANNEL:
            return 50001, "Missing Access"
        if not perms & SEND_MESSAGES:
            return 50013, "Missing Permissions"
        return None

    # ------------------------------------------------------------- overwrites

    def overwrite(
        self: FakeDiscord, target: str | int, *, allow: int = 0, deny: int = 0
    ) -> dict[str, Any]:
        """An overwrite for a role (by name, ``"everyone"``, or id) or a member (by name)."""
        if isinstance(target, str) and target in self.roles:
            return {
                "id": str(self.roles[target]),
                "type": ROLE,
                "allow": str(allow),
                "deny": str(deny),
            }
        if isinstance(target, str):
            uid = self.user(target).id
            return {"id": str(uid), "type": MEMBER, "allow": str(allow), "deny": str(deny)}
        kind = ROLE if int(target) in self._roles or int(target) == self.guild.id else MEMBER
        return {"id": str(target), "type": kind, "allow": str(allow), "deny": str(deny)}

    async def set_overwrites(
        self: FakeDiscord, channel: str | int, overwrites: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Replace a channel's overwrites (an admin edits the channel): CHANNEL_UPDATE."""
        data = self.channel(channel)
        data["permission_overwrites"] = copy.deepcopy(overwrites)
        await self.dispatch("CHANNEL_UPDATE", copy.deepcopy(data))
        return data

    def private_overwrites(self: FakeDiscord, *allowed: str) -> list[dict[str, Any]]:
        """@everyone may not view; ``allowed`` roles/members and the bot may view and post."""
        both = VIEW_CHANNEL | SEND_MESSAGES
        return [
            self.overwrite("everyone", deny=VIEW_CHANNEL),
            self.overwrite("QI Week Bot", allow=both),
            *(self.overwrite(name, allow=both) for name in allowed),
        ]

    async def make_private(self: FakeDiscord, channel: str | int, *allowed: str) -> dict[str, Any]:
        """Make ``channel`` staff-only: only ``allowed`` (role or member names) and the bot."""
        return await self.set_overwrites(channel, self.private_overwrites(*allowed))

    async def add_channel(
        self: FakeDiscord,
        name: str,
        *,
        private_to: tuple[str, ...] | None = None,
        overwrites: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A new text channel in the seeded server (CHANNEL_CREATE); ``private_to`` makes it
        viewable only by those roles/members (and the bot)."""
        if private_to is not None:
            overwrites = self.private_overwrites(*private_to)
        data = self._text_channel(self.guild.id, name, len(self.channels), overwrites or [])
        self.channels[name] = int(data["id"])
        await self.dispatch("CHANNEL_CREATE", copy.deepcopy(data))
        return data

    async def add_thread(
        self: FakeDiscord, parent: str | int, name: str, *, private: bool = False
    ) -> dict[str, Any]:
        """A thread in ``parent`` (THREAD_CREATE), public or private; it follows its parent's
        permissions (a private one is also hidden from members not added to it)."""
        parent_data = self.channel(parent)
        tid = self._ids.next()
        data: dict[str, Any] = {
            "id": str(tid),
            "type": 12 if private else 11,
            "guild_id": parent_data["guild_id"],
            "parent_id": parent_data["id"],
            "owner_id": str(self.bot_user.id),
            "name": name,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": now_iso(),
                "locked": False,
            },
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        self._channels[tid] = data
        self.threads[tid] = data  # routes_threads.py keeps every thread here too
        self._messages[tid] = []
        self.channels[name] = tid
        await self.dispatch("THREAD_CREATE", copy.deepcopy(data) | {"newly_created": True})
        return data

    def _text_channel(
        self: FakeDiscord,
        guild_id: int,
        name: str,
        position: int,
        overwrites: list[dict[str, Any]],
    ) -> dict[str, Any]:
        cid = self._ids.next()
        data: dict[str, Any] = {
            "id": str(cid),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": copy.deepcopy(overwrites),
            "topic": None,
            "nsfw": False,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        self._channels[cid] = data
        self._messages[cid] = []
        return data

    # ---------------------------------------------------------- other servers

    def create_guild(self: FakeDiscord, name: str, *, members: tuple[str, ...] = ()) -> ExtraGuild:
        """Another server the bot is in (before start: it is in READY; after: see add_guild).

        It has @everyone, the bot's managed role, a ``general`` channel and ``members`` (new
        users, named ``<member>`` in :attr:`users`)."""
        guild_id = self._ids.next()
        owner = FakeUser(self._ids.next(), f"{name}-owner", None, in_guild=False)
        self._add(owner, f"{name}-owner")
        extra = ExtraGuild(FakeGuild(guild_id, name, owner.id), roles={})
        extra.roles[guild_id] = self._role_payload(guild_id, "@everyone", EVERYONE_PERMISSIONS, 0)
        bot_role = self._ids.next()
        extra.roles[bot_role] = self._role_payload(bot_role, "QI Week Bot", BOT_PERMISSIONS, 1)
        extra.roles[bot_role]["managed"] = True
        extra.roles[bot_role]["tags"] = {"bot_id": str(self.bot_user.id)}
        extra.members[self.bot_user.id] = [bot_role]
        extra.members[owner.id] = []
        for member in members:
            user = FakeUser(self._ids.next(), member, member.title(), in_guild=False)
            self._add(user, member)
            extra.members[user.id] = []
        general = self._text_channel(guild_id, "general", 0, [])
        extra.channels["general"] = int(general["id"])
        self.extra_guilds[guild_id] = extra
        return extra

    async def add_guild(
        self: FakeDiscord, name: str, *, members: tuple[str, ...] = ()
    ) -> ExtraGuild:
        """The bot is added to another server while running (GUILD_CREATE, a join)."""
        extra = self.create_guild(name, members=members)
        payload = self._extra_guild_payload(extra)
        # A join carries no "unavailable" (False means a server of READY coming in lazily).
        payload.pop("unavailable", None)
        await self.dispatch("GUILD_CREATE", payload)
        return extra

    def _extra_guild_payload(self: FakeDiscord, extra: ExtraGuild) -> dict[str, Any]:
        payload = self._guild_create_payload(10**9)
        gid = extra.guild.id
        members = [self._users[uid] for uid in extra.members]
        payload.update(
            {
                "id": str(gid),
                "name": extra.guild.name,
                "owner_id": str(extra.guild.owner_id),
                "roles": list(extra.roles.values()),
                "system_channel_id": str(extra.channels["general"]),
                "member_count": len(members),
                "large": False,
                "members": [
                    u.member_payload() | {"roles": [str(r) for r in extra.members[u.id]]}
                    for u in members
                ],
                "channels": [
                    {k: v for k, v in c.items() if k != "guild_id"}
                    for c in self._channels.values()
                    if c.get("guild_id") == str(gid)
                ],
                "guild_scheduled_events": [],
            }
        )
        return payload

    async def _h_leave_guild(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        guild_id = int(gid)
        if guild_id not in self.extra_guilds:
            if guild_id == self.guild.id:
                self.left_guilds.append(guild_id)
                return self._fail(req, 400, 0, "the fake never lets the bot leave its main server")
            return self._error(404, 10004, "Unknown Guild")
        self.extra_guilds.pop(guild_id)
        self.left_guilds.append(guild_id)
        await self.dispatch("GUILD_DELETE", {"id": gid})
        from aiohttp import web

        return web.Response(status=204)


__all__ = ["ExtraGuild", "RealmsMixin", "compute_permissions"]
