"""Test-side actions: what a human does in the Discord client, sent to the bot over the gateway."""

# The public API takes explicit timeout= arguments (test ergonomics).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import secrets
from typing import TYPE_CHECKING, Any

from .models import AttachmentUpload, FakeUser, Interaction, now_iso

if TYPE_CHECKING:
    from .server import FakeDiscord

UserRef = str | int | FakeUser
ChannelRef = str | int | dict[str, Any] | None

_USER, _CHANNEL, _ROLE, _MENTIONABLE, _ATTACHMENT = 6, 7, 8, 9, 11


def _walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for comp in components or []:
        found.append(comp)
        found.extend(_walk_components(comp.get("components") or []))
        if comp.get("component"):
            found.extend(_walk_components([comp["component"]]))
        if comp.get("accessory"):
            found.extend(_walk_components([comp["accessory"]]))
    return found


class ActionsMixin:
    """Dispatch helpers (interactions, messages, reactions); mixed into :class:`FakeDiscord`."""

    # ------------------------------------------------------------ attachments

    def attachment(
        self: FakeDiscord,
        filename: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> AttachmentUpload:
        """Register a file the test gives to the bot; served at /attachments/{id}/{filename}."""
        upload = AttachmentUpload(filename, data, content_type, self._ids.next())
        self._uploads[upload.id] = upload
        return upload

    def _attachment_payload(self: FakeDiscord, upload: AttachmentUpload) -> dict[str, Any]:
        if upload.id == 0 or upload.id not in self._uploads:
            upload.id = self._ids.next()
            self._uploads[upload.id] = upload
        url = f"{self.base_url}/attachments/{upload.id}/{upload.filename}"
        return {
            "id": str(upload.id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": upload.content_type,
            "ephemeral": True,
        }

    # ------------------------------------------------------ interaction plumbing

    def _member_with_perms(self: FakeDiscord, user: FakeUser) -> dict[str, Any]:
        return user.member_payload() | {"permissions": str(self.member_permissions(user))}

    def _channel_for(self: FakeDiscord, channel: ChannelRef) -> dict[str, Any]:
        if channel is None:
            return self._channels[self.channels["general"]]
        return self._channels[self._channel_id(channel)]

    def _base_interaction(
        self: FakeDiscord, itype: int, user: FakeUser, channel: dict[str, Any], locale: str
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self._ids.next()),
            "application_id": str(self.bot_user.id),
            "type": itype,
            "token": "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48),
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": channel["id"],
            "channel": copy.deepcopy(channel),
        }
        if channel.get("guild_id"):
            gid = int(channel["guild_id"])  # the seeded server, or another (realms.py)
            member = user.member_payload()
            if gid != self.guild.id:
                member["roles"] = [str(r) for r in self._member_roles_in(user, gid)]
            payload.update(
                {
                    "guild_id": str(gid),
                    "guild": {
                        "id": str(gid),
                        "locale": "en-GB",
                        "features": ["COMMUNITY"],
                    },
                    "guild_locale": "en-GB",
                    "member": member
                    | {"permissions": str(self.channel_permissions(user, channel))},
                    "app_permissions": str(self.channel_permissions(self.bot_user, channel)),
                    "authorizing_integration_owners": {"0": str(gid)},
                    "context": 0,
                }
            )
            payload["channel"]["permissions"] = str(self.channel_permissions(user, channel))
        else:
            payload.update(
                {
                    "user": user.user_payload(),
                    "app_permissions": "0",
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        return payload

    async def _send_interaction(
        self: FakeDiscord,
        payload: dict[str, Any],
        user: FakeUser,
        channel: dict[str, Any],
        message_id: int | None = None,
    ) -> Interaction:
        await self._live_session()
        it = Interaction(
            self,
            payload=payload,
            user_id=user.id,
            channel_id=int(channel["id"]),
            message_id=message_id,
        )
        self._interactions[it.id] = it
        self._by_token[it.token] = it
        self.interactions.append(it)
        it.dispatched_at = asyncio.get_running_loop().time()
        await self.dispatch("INTERACTION_CREATE", payload)
        return it

    def _find_command(
        self: FakeDiscord, name: str, ctype: int, guild: int | None = None
    ) -> tuple[dict[str, Any], int | None]:
        """The command as synced to ``guild`` (the seeded server by default), else globally."""
        for guild_id in (guild or self.guild.id, None):
            cmd = self.commands.get(guild_id, {}).get((name, ctype))
            if cmd is not None:
                return cmd, guild_id
        known = sorted(n for cmds in self.commands.values() for (n, t) in cmds if t == ctype)
        raise LookupError(f"command {name!r} (type {ctype}) was not synced; synced: {known}")

    def _option_value(
        self: FakeDiscord, spec: dict[str, Any], value: Any, resolved: dict[str, Any]
    ) -> Any:
        otype = spec["type"]
        if otype == 3:
            return str(value)
        if otype == 4:
            return int(value)
        if otype == 10:
            return float(value)
        if otype == 5:
            return bool(value)
        if otype == _ATTACHMENT:
            if not isinstance(value, AttachmentUpload):
                raise TypeError(f"option {spec['name']!r} needs fake.attachment(filename, bytes)")
            data = self._attachment_payload(value)
            resolved.setdefault("attachments", {})[data["id"]] = data
            return data["id"]
        if otype in (_USER, _MENTIONABLE) and (
            isinstance(value, (str, FakeUser)) or (isinstance(value, int) and value in self._users)
        ):
            user = self.user(value)
            resolved.setdefault("users", {})[str(user.id)] = user.user_payload()
            if user.in_guild:
                member = self._member_with_perms(user)
                member.pop("user")
                resolved.setdefault("members", {})[str(user.id)] = member
            return str(user.id)
        if otype in (_ROLE, _MENTIONABLE):
            rid = self._role_id(value)
            resolved.setdefault("roles", {})[str(rid)] = copy.deepcopy(self._roles[rid])
            return str(rid)
        if otype == _CHANNEL:
            channel = self._channels[self._channel_id(value)]
            data = {
                k: channel[k]
                for k in ("id", "name", "type", "parent_id", "guild_id")
                if k in channel
            }
            data["permissions"] = str(self.member_permissions(self.bot_user))
            resolved.setdefault("channels", {})[channel["id"]] = data
            return channel["id"]
        raise TypeError(f"unsupported option type {otype} for {spec['name']!r}")

    def _build_options(
        self: FakeDiscord,
        specs: list[dict[str, Any]],
        given: dict[str, Any],
        resolved: dict[str, Any],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {s["name"]: s for s in specs}
        unknown = set(given) - set(by_name)
        if unknown:
            raise TypeError(f"unknown option(s) {sorted(unknown)}; command has {sorted(by_name)}")
        if focused is None:
            missing = [s["name"] for s in specs if s.get("required") and s["name"] not in given]
            if missing:
                raise TypeError(f"missing required option(s) {missing}")
        options = []
        for name, value in given.items():
            spec = by_name[name]
            if name == focused:
                options.append(
                    {"name": name, "type": spec["type"], "value": str(value), "focused": True}
                )
            else:
                options.append(
                    {
                        "name": name,
                        "type": spec["type"],
                        "value": self._option_value(spec, value, resolved),
                    }
                )
        return options

    def _command_data(
        self: FakeDiscord,
        command: str,
        given: dict[str, Any],
        focused: str | None,
        guild: int | None = None,
    ) -> dict[str, Any]:
        parts = command.split()
        cmd, guild_id = self._find_command(parts[0], 1, guild)
        resolved: dict[str, Any] = {}
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": 1}
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        specs = cmd.get("options") or []
        container = data
        for part in parts[1:]:
            sub = next((s for s in specs if s["name"] == part and s["type"] in (1, 2)), None)
            if sub is None:
                names = [s["name"] for s in specs if s["type"] in (1, 2)]
                raise LookupError(f"no subcommand {part!r} in {command!r}; have {names}")
            node = {"name": sub["name"], "type": sub["type"], "options": []}
            container["options"] = [node]
            container = node
            specs = sub.get("options") or []
        if any(s["type"] in (1, 2) for s in specs):
            raise LookupError(f"{command!r} is a group; name a subcommand")
        container["options"] = self._build_options(specs, given, resolved, focused)
        if resolved:
            data["resolved"] = resolved
        return data

    # --------------------------------------------------------------- commands

    async def slash(
        self: FakeDiscord,
        user: UserRef,
        command: str,
        /,
        *,
        channel: ChannelRef = None,
        locale: str = "en-GB",
        **options: Any,
    ) -> Interaction:
        """Invoke a synced slash command (``"group sub"`` for subcommands) with keyword options.

        User/role/channel options take an id (users also a name); attachments take
        :meth:`attachment`. An option literally named ``channel`` goes in
        ``slash_options={"channel": ...}``; ``channel=`` picks where the command is run.
        """
        extra = options.pop("slash_options", None) or {}
        options.update(extra)
        who = self.user(user)
        where = self._channel_for(channel)
        payload = self._base_interaction(2, who, where, locale)
        payload["data"] = self._command_data(command, options, None, _guild_of(where))
        return await self._send_interaction(payload, who, where)

    async def autocomplete(
        self: FakeDiscord,
        user: UserRef,
        command: str,
        /,
        *,
        focused: str,
        channel: ChannelRef = None,
        timeout: float = 3.0,
        **options: Any,
    ) -> list[dict[str, Any]]:
        """Send an autocomplete interaction (type 4); return the choices of the type 8 answer."""
        extra = options.pop("slash_options", None) or {}
        options.update(extra)
        options.setdefault(focused, "")
        who = self.user(user)
        where = self._channel_for(channel)
        payload = self._base_interaction(4, who, where, "en-GB")
        payload["data"] = self._command_data(command, options, focused, _guild_of(where))
        it = await self._send_interaction(payload, who, where)
        response = await it.response(timeout)
        if response["type"] != 8:
            raise AssertionError(f"autocomplete answered with type {response['type']}, not 8")
        return list(response["data"].get("choices") or [])

    async def context_menu(
        self: FakeDiscord,
        user: UserRef,
        name: str,
        target: dict[str, Any] | UserRef,
        /,
        *,
        channel: ChannelRef = None,
    ) -> Interaction:
        """Invoke a message (target = message dict) or user (target = user ref) context menu."""
        who = self.user(user)
        is_message = isinstance(target, dict)
        if is_message:
            assert isinstance(target, dict)
            msg = self.message(target["id"]) or target
            where = self._channels[int(msg["channel_id"])]
        else:
            where = self._channel_for(channel)
        cmd, guild_id = self._find_command(name, 3 if is_message else 2, _guild_of(where))
        data: dict[str, Any] = {"id": cmd["id"], "name": cmd["name"], "type": cmd["type"]}
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        if is_message:
            data["target_id"] = msg["id"]
            data["resolved"] = {"messages": {msg["id"]: self._public(msg)}}
        else:
            resolved: dict[str, Any] = {}
            data["target_id"] = self._option_value(
                {"type": _USER, "name": "target"}, target, resolved
            )
            data["resolved"] = resolved
        payload = self._base_interaction(2, who, where, "en-GB")
        payload["data"] = data
        return await self._send_interaction(payload, who, where)

    # ------------------------------------------------------------- components

    async def _component(
        self: FakeDiscord,
        user: UserRef,
        message: dict[str, Any],
        custom_id: str,
        component_type: int,
        values: list[str] | None,
    ) -> Interaction:
        who = self.user(user)
        msg = self.message(message["id"]) or message
        comps = [c for c in _walk_components(msg.get("components") or []) if c.get("custom_id")]
        match = next((c for c in comps if c["custom_id"] == custom_id), None)
        if match is None:
            raise LookupError(
                f"no component {custom_id!r} on message {msg['id']}; "
                f"have {[c['custom_id'] for c in comps]}"
            )
        if match.get("disabled"):
            raise AssertionError(f"component {custom_id!r} is disabled")
        where = self._channels[int(msg["channel_id"])]
        payload = self._base_interaction(3, who, where, "en-GB")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = list(values)
        payload["data"] = data
        payload["message"] = self._public(msg)
        return await self._send_interaction(payload, who, where, message_id=int(msg["id"]))

    async def click(
        self: FakeDiscord, user: UserRef, message: dict[str, Any], custom_id: str
    ) -> Interaction:
        """Click a button (component type 2) on a message the bot sent."""
        return await self._component(user, message, custom_id, 2, None)

    async def select(
        self: FakeDiscord, user: UserRef, message: dict[str, Any], custom_id: str, values: list[str]
    ) -> Interaction:
        """Choose values in a string select (component type 3)."""
        return await self._component(user, message, custom_id, 3, values)

    def _modal_spec(self: FakeDiscord, custom_id: str) -> dict[str, Any] | None:
        for it in reversed(self.interactions):
            for cb in it.callbacks:
                if cb["type"] == 9 and cb["data"].get("custom_id") == custom_id:
                    return cb["data"]
        return None

    async def submit_modal(
        self: FakeDiscord,
        user: UserRef,
        custom_id: str,
        values: dict[str, str],
        /,
        *,
        message: dict[str, Any] | None = None,
        channel: ChannelRef = None,
    ) -> Interaction:
        """Submit a modal (interaction type 5); text inputs by custom_id.

        Mirrors the layout (action rows or labels) of the modal the bot last sent with this id.
        """
        who = self.user(user)
        spec = self._modal_spec(custom_id)
        components: list[dict[str, Any]] = []
        remaining = dict(values)
        if spec is not None:
            for top in spec.get("components") or []:
                inputs = _walk_components([top])
                text = next((c for c in inputs if c.get("type") == 4), None)
                if text is None or text.get("custom_id") not in remaining:
                    continue
                value = {
                    "type": 4,
                    "custom_id": text["custom_id"],
                    "value": remaining.pop(text["custom_id"]),
                }
                if top.get("type") == 18:
                    components.append({"type": 18, "id": top.get("id", 0), "component": value})
                else:
                    components.append({"type": 1, "components": [value]})
            if remaining:
                raise LookupError(f"modal {custom_id!r} has no text input(s) {sorted(remaining)}")
        else:
            components = [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                for k, v in values.items()
            ]
        if message is not None:
            msg = self.message(message["id"]) or message
            where = self._channels[int(msg["channel_id"])]
        else:
            where = self._channel_for(channel)
        payload = self._base_interaction(5, who, where, "en-GB")
        payload["data"] = {"custom_id": custom_id, "components": components}
        message_id = None
        if message is not None:
            payload["message"] = self._public(msg)
            message_id = int(msg["id"])
        return await self._send_interaction(payload, who, where, message_id=message_id)

    # --------------------------------------------------------------- messages

    async def post_message(
        self: FakeDiscord,
        user: UserRef,
        channel: str | int | dict[str, Any],
        content: str,
        /,
        *,
        attachments: int | list[AttachmentUpload] = 0,
        reply_to: dict[str, Any] | None = None,
        embeds: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A member posts a message; MESSAGE_CREATE is dispatched. Returns the stored message."""
        who = self.user(user)
        cid = self._channel_id(channel)
        if isinstance(attachments, int):
            uploads = [
                AttachmentUpload(f"file{i}.txt", f"attachment {i}".encode(), "text/plain")
                for i in range(attachments)
            ]
        else:
            uploads = list(attachments)
        files = [(u.filename, u.data, u.content_type) for u in uploads]
        payload: dict[str, Any] = {"content": content, "embeds": embeds or []}
        if reply_to is not None:
            payload["message_reference"] = {"message_id": reply_to["id"], "channel_id": str(cid)}
        msg = self._new_message(cid, payload, files, who)
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    async def dm_bot(self: FakeDiscord, user: UserRef, content: str) -> dict[str, Any]:
        """A user sends the bot a direct message."""
        who = self.user(user)
        return await self.post_message(who, self.dm_channel_id(who), content)

    async def edit_message(
        self: FakeDiscord, message: dict[str, Any], content: str
    ) -> dict[str, Any]:
        """The author edits a message (MESSAGE_UPDATE)."""
        msg = self.message(message["id"])
        if msg is None:
            raise LookupError(f"message {message['id']} does not exist")
        msg["content"] = content
        msg["edited_timestamp"] = now_iso(self.clock)
        self._resolve_mentions(msg, None, ["users", "roles", "everyone"])
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return msg

    async def delete_message(self: FakeDiscord, message: dict[str, Any]) -> None:
        """The author (or a moderator) deletes a message (MESSAGE_DELETE)."""
        msg = self.message(message["id"])
        if msg is None:
            raise LookupError(f"message {message['id']} does not exist")
        self._remove_message(msg)
        await self._dispatch_delete(msg)

    async def react(self: FakeDiscord, user: UserRef, message: dict[str, Any], emoji: str) -> None:
        """A member adds a unicode reaction (MESSAGE_REACTION_ADD)."""
        who = self.user(user)
        msg = self.message(message["id"])
        if msg is None:
            raise LookupError(f"message {message['id']} does not exist")
        em = {"id": None, "name": emoji}
        self.reactions.append({"op": "add", "message_id": msg["id"], "emoji": emoji, "by": who.id})
        if self._add_reaction(msg, em, who.id):
            event = self._reaction_event(msg, em, who.id)
            if msg.get("guild_id"):
                event["member"] = who.member_payload()
                event["message_author_id"] = msg["author"]["id"]
            await self.dispatch("MESSAGE_REACTION_ADD", event)

    async def unreact(
        self: FakeDiscord, user: UserRef, message: dict[str, Any], emoji: str
    ) -> None:
        """A member removes their reaction (MESSAGE_REACTION_REMOVE)."""
        who = self.user(user)
        msg = self.message(message["id"])
        if msg is None:
            raise LookupError(f"message {message['id']} does not exist")
        em = {"id": None, "name": emoji}
        self.reactions.append(
            {"op": "remove", "message_id": msg["id"], "emoji": emoji, "by": who.id}
        )
        if self._remove_reaction(msg, em, who.id):
            await self.dispatch("MESSAGE_REACTION_REMOVE", self._reaction_event(msg, em, who.id))

    async def remove_member(self: FakeDiscord, user: UserRef) -> None:
        """A member leaves the guild (GUILD_MEMBER_REMOVE)."""
        who = self.user(user)
        who.in_guild = False
        await self.dispatch(
            "GUILD_MEMBER_REMOVE", {"guild_id": str(self.guild.id), "user": who.user_payload()}
        )


def _guild_of(channel: dict[str, Any]) -> int | None:
    """The server a channel belongs to (None for a DM)."""
    return int(channel["guild_id"]) if channel.get("guild_id") else None
