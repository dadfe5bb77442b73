"""REST routes of the fake Discord: users, application, gateway, guild, channels, commands."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from .wire import (
    _Req,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


class GuildRoutesMixin:
    """Guild, user and command routes; mixed into :class:`FakeDiscord`."""

    # ------------------------------------------------------------ basic routes

    async def _h_me(self: FakeDiscord, req: _Req) -> web.Response:
        return self._json(self.bot_user.user_payload() | {"verified": True, "mfa_enabled": False})

    async def _h_get_user(self: FakeDiscord, req: _Req, uid: str) -> web.Response:
        user = self._users.get(int(uid))
        if user is None:
            return self._error(404, 10013, "Unknown User")
        return self._json(user.user_payload())

    async def _h_app(self: FakeDiscord, req: _Req) -> web.Response:
        owner = self._users[self.guild.owner_id]
        return self._json(
            {
                "id": str(self.bot_user.id),
                "name": self.bot_user.username,
                "icon": None,
                "description": "Fake QI Week bot application",
                "summary": "",
                "type": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "verify_key": "00" * 32,
                "owner": owner.user_payload(),
                "team": None,
                "flags": self.application_flags,
                "bot": self.bot_user.user_payload(),
                "interactions_endpoint_url": None,
                "redirect_uris": [],
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
            }
        )

    async def _h_gateway(self: FakeDiscord, req: _Req) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _h_gateway_bot(self: FakeDiscord, req: _Req) -> web.Response:
        return self._json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _h_get_channel(self: FakeDiscord, req: _Req, cid: str) -> web.Response:
        channel = self._channels.get(int(cid))
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        return self._json(channel)

    async def _h_typing(self: FakeDiscord, req: _Req, cid: str) -> web.Response:
        if int(cid) not in self._channels:
            return self._error(404, 10003, "Unknown Channel")
        return web.Response(status=204)

    async def _h_get_guild(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        data = self._guild_create_payload(10**9)
        for key in ("members", "channels", "threads", "presences", "voice_states", "large"):
            data.pop(key, None)
        data["approximate_member_count"] = data.pop("member_count")
        return self._json(data)

    async def _h_guild_channels(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        return self._json(
            [c for c in self._channels.values() if c.get("guild_id") == str(self.guild.id)]
        )

    async def _h_guild_roles(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        return self._json(list(self._roles.values()))

    async def _h_get_member(self: FakeDiscord, req: _Req, gid: str, uid: str) -> web.Response:
        user = self._users.get(int(uid))
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        if user is None or not user.in_guild:
            return self._error(404, 10007, "Unknown Member")
        return self._json(user.member_payload())

    async def _h_list_members(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        limit = min(int(req.query.get("limit", 1)), 1000)
        after = int(req.query.get("after", 0))
        members = sorted(
            (u for u in self._users.values() if u.in_guild and u.id > after), key=lambda u: u.id
        )
        return self._json([u.member_payload() for u in members[:limit]])

    async def _h_create_dm(self: FakeDiscord, req: _Req) -> web.Response:
        body = req.json or {}
        try:
            uid = int(body["recipient_id"])
        except (KeyError, TypeError, ValueError):
            return self._reject(
                req, {"recipient_id": {"_errors": [{"code": "BASE_TYPE_REQUIRED"}]}}
            )
        if uid not in self._users:
            return self._error(400, 50033, "Invalid Recipient(s)")
        refused = self._dm_open_refused(req, uid)  # dm_rules.py: 40003
        if refused is not None:
            return refused
        return self._json(self._channels[self.dm_channel_id(uid)])

    async def _h_cmd_perms(self: FakeDiscord, req: _Req, app: str, gid: str) -> web.Response:
        return self._json([])

    # -------------------------------------------------------------- commands

    def _store_command(
        self: FakeDiscord, guild_id: int | None, cmd: dict[str, Any]
    ) -> dict[str, Any]:
        ctype = int(cmd.get("type", 1))
        key = (guild_id, cmd["name"], ctype)
        if key not in self._command_ids:
            self._command_ids[key] = self._ids.next()
        stored = copy.deepcopy(cmd) | {
            "id": str(self._command_ids[key]),
            "application_id": str(self.bot_user.id),
            "type": ctype,
            "version": str(self._ids.next()),
            "default_member_permissions": cmd.get("default_member_permissions"),
            "nsfw": bool(cmd.get("nsfw", False)),
            "description": cmd.get("description", ""),
            "options": cmd.get("options") or [],
            "name_localizations": cmd.get("name_localizations"),
            "description_localizations": cmd.get("description_localizations"),
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        else:
            stored.setdefault("integration_types", [0])
            stored.setdefault("contexts", None)
        self.commands.setdefault(guild_id, {})[(cmd["name"], ctype)] = stored
        return stored

    async def _h_get_commands(
        self: FakeDiscord, req: _Req, app: str, gid: str | None = None
    ) -> web.Response:
        guild_id = int(gid) if gid else None
        return self._json(list(self.commands.get(guild_id, {}).values()))

    async def _h_put_commands(
        self: FakeDiscord, req: _Req, app: str, gid: str | None = None
    ) -> web.Response:
        if int(app) != self.bot_user.id:
            return self._fail(req, 403, 50001, "Missing Access")
        body = req.json or []
        errors = limits.validate_commands(body)
        if errors:
            return self._reject(req, errors, body)
        guild_id = int(gid) if gid else None
        self.commands[guild_id] = {}
        return self._json([self._store_command(guild_id, c) for c in body])

    async def _h_post_command(
        self: FakeDiscord, req: _Req, app: str, gid: str | None = None
    ) -> web.Response:
        body = req.json or {}
        errors = limits.validate_commands([body])
        if errors:
            return self._reject(req, errors.get("0", errors), body)
        return self._json(self._store_command(int(gid) if gid else None, body), 201)
