"""FakeDiscord: an aiohttp server speaking Discord's REST and gateway protocols on 127.0.0.1."""

# The public API takes explicit timeout= arguments (test ergonomics).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import copy
import json
import re
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from . import limits
from .actions import ActionsMixin
from .gateway import GatewayConnection, GatewayMixin, GatewaySession
from .models import (
    AttachmentUpload,
    Delay,
    FakeGuild,
    FakeUser,
    Fault,
    Interaction,
    Rejection,
    RequestRecord,
    Snowflakes,
    now_iso,
)
from .realms import ExtraGuild, RealmsMixin

MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1
EVERYONE_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 18)  # use external emojis
    | (1 << 31)  # use application commands
    | (1 << 38)  # send messages in threads
)
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | (1 << 13) | (1 << 17) | (1 << 33) | (1 << 44)
EPHEMERAL = 64
LOADING = 128

Handler = Callable[..., Awaitable[web.StreamResponse]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Req:
    """A parsed REST request handed to route handlers."""

    def __init__(self, request: web.Request, path: str, record: RequestRecord) -> None:
        self.request = request
        self.method = request.method
        self.path = path
        self.query = dict(request.query)
        self.json: Any = record.json
        self.files: list[tuple[str, bytes, str]] = []
        self.record = record


class FakeDiscord(GatewayMixin, ActionsMixin, RealmsMixin):
    """A wire-level fake Discord (REST under ``/api/v10`` plus gateway at ``/gateway``).

    Args:
        heartbeat_interval_ms: HELLO heartbeat interval sent to the client.
        interaction_deadline: seconds after dispatch when the first callback fails with 10062.
        token_lifetime: seconds an interaction token accepts follow-ups and edits.
    """

    def __init__(
        self,
        *,
        heartbeat_interval_ms: int = 41250,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 900.0,
    ) -> None:
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.interaction_deadline = interaction_deadline
        self.token_lifetime = token_lifetime
        self.token = "fake-token"
        self.port = 0
        self.api_base = ""
        self.gateway_url = ""
        self.base_url = ""
        self.application_flags = (1 << 15) | (1 << 19) | (1 << 13)  # gateway intents "limited" set
        self.allowed_intents = (1 << 1) | (1 << 8) | (1 << 15)
        self._ids = Snowflakes()
        self._runner: web.AppRunner | None = None
        self._conns: set[GatewayConnection] = set()
        self._session: GatewaySession | None = None
        self._connected = asyncio.Event()
        self._bg: set[asyncio.Task[Any]] = set()

        # Recording
        self.requests: list[RequestRecord] = []
        self.unknown_routes: list[tuple[str, str]] = []
        self.rejected: list[Rejection] = []
        self.events: list[dict[str, Any]] = []
        self.gateway_received: list[dict[str, Any]] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.gateway_connects = 0
        self.identifies = 0
        self.resumes = 0
        self.count_429 = 0
        self.reactions: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []
        self.interactions: list[Interaction] = []

        # Faults
        self._faults: list[Fault] = []
        self._delays: list[Delay] = []
        self._closed_dms: set[int] = set()
        self._global_limit: int | None = None
        self._global_window: deque[float] = deque()

        # World
        self._users: dict[int, FakeUser] = {}
        self.users: dict[str, int] = {}
        self.roles: dict[str, int] = {}
        self.channels: dict[str, int] = {}
        self._roles: dict[int, dict[str, Any]] = {}
        self._channels: dict[int, dict[str, Any]] = {}
        self._dm_by_user: dict[int, int] = {}
        self._messages: dict[int, list[dict[str, Any]]] = {}
        self._message_index: dict[int, dict[str, Any]] = {}
        self._nonces: dict[tuple[int, str], int] = {}
        self._uploads: dict[int, AttachmentUpload] = {}
        self._interactions: dict[int, Interaction] = {}
        self._by_token: dict[str, Interaction] = {}
        self.commands: dict[int | None, dict[tuple[str, int], dict[str, Any]]] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self.scheduled_events: dict[int, dict[str, Any]] = {}
        self.extra_guilds: dict[int, ExtraGuild] = {}  # servers beyond the seeded one (realms.py)
        self.left_guilds: list[int] = []
        self._seed()
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ world

    def _seed(self) -> None:
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

    def _role_payload(self, rid: int, name: str, perms: int, position: int) -> dict[str, Any]:
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

    def _add(self, user: FakeUser, name: str) -> None:
        self._users[user.id] = user
        self.users[name] = user.id

    def add_user(
        self,
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

    async def add_member(self, name: str, **kwargs: Any) -> FakeUser:
        """Async :meth:`add_user` that waits until GUILD_MEMBER_ADD has been sent."""
        user = self.add_user(name, dispatch=False, **kwargs)
        await self.dispatch(
            "GUILD_MEMBER_ADD", user.member_payload() | {"guild_id": str(self.guild.id)}
        )
        return user

    def _role_id(self, role: str | int) -> int:
        if isinstance(role, int):
            return role
        return self.roles[role]

    def user(self, ref: str | int | FakeUser) -> FakeUser:
        """Look a user up by name, id or record."""
        if isinstance(ref, FakeUser):
            return ref
        if isinstance(ref, str):
            if ref not in self.users:
                raise KeyError(f"unknown user {ref!r}; known: {sorted(self.users)}")
            return self._users[self.users[ref]]
        return self._users[int(ref)]

    def member_permissions(self, ref: str | int | FakeUser) -> int:
        """Guild-level permissions of a member, computed from @everyone and their roles."""
        user = self.user(ref)
        if user.id == self.guild.owner_id:
            return ALL_PERMISSIONS
        perms = int(self._roles[self.guild.id]["permissions"])
        for rid in user.roles:
            perms |= int(self._roles[rid]["permissions"])
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def channel(self, ref: str | int) -> dict[str, Any]:
        """Channel payload by name or id."""
        cid = self.channels[ref] if isinstance(ref, str) else int(ref)
        return self._channels[cid]

    def deny_bot(self, channel: str | int, permissions: int) -> None:
        """Overwrite `channel` so the bot's role lacks `permissions` there (set before start)."""
        self.channel(channel)["permission_overwrites"] = [
            {
                "id": str(self.roles["QI Week Bot"]),
                "type": 0,
                "allow": "0",
                "deny": str(permissions),
            }
        ]

    def _channel_id(self, ref: str | int | dict[str, Any]) -> int:
        if isinstance(ref, dict):
            return int(ref["id"])
        return self.channels[ref] if isinstance(ref, str) else int(ref)

    def dm_channel_id(self, user: str | int | FakeUser) -> int:
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

    def _guild_create_payload(self, large_threshold: int) -> dict[str, Any]:
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
                if c.get("guild_id") == str(self.guild.id)
            ],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": list(self.scheduled_events.values()),
            "soundboard_sounds": [],
        }

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Bind to a free port on 127.0.0.1 and start serving."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        app.router.add_get("/attachments/{aid}/{filename}", self._serve_attachment)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._api_handler)
        app.router.add_route("*", "/{tail:.*}", self._other_handler)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        self.port = _free_port()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_base = f"{self.base_url}/api/v10"
        self.gateway_url = f"ws://127.0.0.1:{self.port}/gateway"

    async def stop(self) -> None:
        """Close every websocket and shut the server down."""
        for conn in list(self._conns):
            await conn.ws.close(code=1001, message=b"Server shutting down")
        for task in list(self._bg):
            task.cancel()
        if self._bg:
            await asyncio.gather(*self._bg, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- queries

    def messages(
        self, channel: str | int, *, ephemeral: bool | None = None
    ) -> list[dict[str, Any]]:
        """Messages currently in a channel (oldest first); filter on ephemeral if given."""
        cid = self._channel_id(channel)
        msgs = self._messages.get(cid, [])
        if ephemeral is None:
            return list(msgs)
        return [m for m in msgs if bool(m.get("ephemeral")) == ephemeral]

    def bot_messages(self, channel: str | int) -> list[dict[str, Any]]:
        """Non-ephemeral messages the bot authored in a channel."""
        return [
            m
            for m in self.messages(channel, ephemeral=False)
            if m["author"]["id"] == str(self.bot_user.id)
        ]

    def dms(self, user: str | int | FakeUser) -> list[dict[str, Any]]:
        """Messages in the DM channel with ``user`` (empty if the bot never opened one)."""
        uid = self.user(user).id
        cid = self._dm_by_user.get(uid)
        return list(self._messages.get(cid, [])) if cid else []

    def message(self, message_id: int | str) -> dict[str, Any] | None:
        """A stored message by id (None if unknown or deleted)."""
        return self._message_index.get(int(message_id))

    def requests_to(self, method: str, path_regex: str) -> list[RequestRecord]:
        """Recorded requests matching a method and a path regex (searched)."""
        pat = re.compile(path_regex)
        return [r for r in self.requests if r.method == method and pat.search(r.path)]

    def synced_commands(self, guild: int | str | None = "any") -> list[dict[str, Any]]:
        """Commands as synced by the bot (guild id, None for global, "any" for both)."""
        if guild == "any":
            return [c for cmds in self.commands.values() for c in cmds.values()]
        return list(self.commands.get(guild, {}).values())  # type: ignore[arg-type]

    async def wait_for(
        self, predicate: Callable[[], Any], timeout: float = 5.0, message: str = ""
    ) -> Any:
        """Poll ``predicate()`` until truthy; return its value or raise AssertionError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if loop.time() >= deadline:
                last = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-5:]]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {message or predicate!r}; "
                    f"last requests={last}; unknown_routes={self.unknown_routes}; "
                    f"rejected={self.rejected[-3:]}"
                )
            await asyncio.sleep(0.01)

    # ----------------------------------------------------------------- faults

    def inject(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        code: int | None = None,
        message: str | None = None,
    ) -> Fault:
        """Answer the next ``times`` requests matching (method, path regex) with ``status``."""
        fault = Fault(
            method.upper(), re.compile(path_regex), status, times, retry_after, code, message
        )
        self._faults.append(fault)
        return fault

    def drop(self, method: str, path_regex: str, times: int = 1) -> Fault:
        """Close the connection of the next ``times`` matching requests without answering.

        The request is not handled (nothing is stored), as when a connection drops on the way;
        the client sees a server disconnect. Recorded with status 444.
        """
        return self.inject(method, path_regex, 0, times=times)

    def delay(
        self, method: str, path_regex: str, seconds: float, times: int | None = None
    ) -> Delay:
        """Hold matching requests ``seconds`` before handling them (all, or the next ``times``).

        For latency and concurrency: with requests held, overlapping ones show in
        :meth:`max_in_flight`. The hold is not cancelled if the client gives up meanwhile, so a
        request abandoned mid-flight is still handled, as Discord would. Faults and rate limits
        apply after the hold. Set the returned record's ``times`` to its ``hits`` to stop.
        """
        held = Delay(method.upper(), re.compile(path_regex), seconds, times)
        self._delays.append(held)
        return held

    def max_in_flight(self, method: str, path_regex: str) -> int:
        """Most requests matching (method, path regex) that the fake was handling at once."""
        steps: list[tuple[float, int]] = []
        for r in self.requests_to(method, path_regex):
            steps.append((r.at, 1))
            steps.append((r.done_at or float("inf"), -1))
        peak = current = 0
        for _, step in sorted(steps):  # at equal times an end sorts before a start
            current += step
            peak = max(peak, current)
        return peak

    def close_dms(self, user: str | int | FakeUser) -> None:
        """Make DMs to ``user`` fail with 403 / 50007."""
        self._closed_dms.add(self.user(user).id)

    def open_dms(self, user: str | int | FakeUser) -> None:
        """Undo :meth:`close_dms`."""
        self._closed_dms.discard(self.user(user).id)

    def set_global_rate_limit(self, per_second: int | None) -> None:
        """Enforce a global limit (requests per rolling second) on bot-token REST requests."""
        self._global_limit = per_second
        self._global_window.clear()

    # ------------------------------------------------------------ REST plumbing

    def _json(
        self, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> web.Response:
        # discord.py's json_or_text wants exactly "application/json" (no charset).
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)

    def _error(self, status: int, code: int, message: str) -> web.Response:
        return self._json({"message": message, "code": code}, status)

    def _reject(self, req: _Req, errors: dict[str, Any], body: Any = None) -> web.Response:
        self.rejected.append(
            Rejection(req.method, req.path, 400, 50035, "Invalid Form Body", errors, body)
        )
        return self._json({"code": 50035, "message": "Invalid Form Body", "errors": errors}, 400)

    def _fail(self, req: _Req, status: int, code: int, message: str) -> web.Response:
        self.rejected.append(Rejection(req.method, req.path, status, code, message, None, req.json))
        return self._error(status, code, message)

    def _rate_limit_response(
        self, retry_after: float, *, is_global: bool, scope: str, bucket: str
    ) -> web.Response:
        headers = {
            "X-RateLimit-Limit": "50" if is_global else "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Scope": scope,
            "Retry-After": str(max(1, int(retry_after + 0.999))),
            "Via": "1.1 google",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        if is_global:
            body["code"] = 0
        return self._json(body, 429, headers)

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        upload = self._uploads.get(int(request.match_info["aid"]))
        if upload is None or upload.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=upload.data, content_type=upload.content_type)

    async def _other_handler(self, request: web.Request) -> web.StreamResponse:
        self.unknown_routes.append((request.method, request.path))
        return self._json({"message": "404: Not Found", "code": 0}, 404)

    async def _parse_body(self, request: web.Request, req: _Req) -> None:
        ctype = request.content_type
        if ctype == "multipart/form-data":
            reader = await request.multipart()
            payload: Any = None
            files: list[tuple[str, bytes, str]] = []
            while True:
                part = await reader.next()
                if part is None:
                    break
                name = part.name or ""  # type: ignore[union-attr]
                data = await part.read()  # type: ignore[union-attr]
                if name == "payload_json":
                    payload = json.loads(bytes(data).decode())
                elif name.startswith("files[") or name.startswith("file"):
                    content_type = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
                    files.append((part.filename or name, bytes(data), content_type))  # type: ignore[union-attr]
            req.json = payload
            req.files = files
            req.record.json = payload
            req.record.files = [(f[0], f[1]) for f in files]
        elif request.can_read_body:
            raw = await request.read()
            if raw:
                try:
                    req.json = json.loads(raw)
                except ValueError:
                    req.json = raw.decode(errors="replace")
                req.record.json = req.json

    async def _api_handler(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        record = RequestRecord(
            method=request.method,
            path=path,
            query=dict(request.query),
            json=None,
            files=[],
            headers=dict(request.headers),
            at=time.monotonic(),
        )
        self.requests.append(record)
        req = _Req(request, path, record)
        await self._parse_body(request, req)
        for held in self._delays:
            if (
                (held.times is None or held.hits < held.times)
                and held.method == req.method
                and held.pattern.search(path)
            ):
                held.hits += 1
                await asyncio.sleep(held.seconds)
                break
        response = await self._route(req)
        record.status = response.status
        record.done_at = time.monotonic()
        return response

    async def _route(self, req: _Req) -> web.StreamResponse:
        for method, pattern, handler, kind in self._routes:
            if method != req.method:
                continue
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            if kind == "bot":
                auth = req.request.headers.get("Authorization")
                if auth != f"Bot {self.token}":
                    return self._fail(req, 401, 0, "401: Unauthorized")
            for fault in self._faults:
                if (
                    fault.hits < fault.times
                    and fault.method == req.method
                    and fault.pattern.search(req.path)
                ):
                    fault.hits += 1
                    if fault.status == 0:
                        return self._drop_connection(req)
                    return self._fault_response(fault)
            if kind == "bot" and self._global_limit:
                now = time.monotonic()
                while self._global_window and now - self._global_window[0] >= 1.0:
                    self._global_window.popleft()
                if len(self._global_window) >= self._global_limit:
                    self.count_429 += 1
                    retry = max(0.001, 1.0 - (now - self._global_window[0]))
                    return self._rate_limit_response(
                        retry, is_global=True, scope="global", bucket="global"
                    )
                self._global_window.append(now)
            return await handler(req, **match.groupdict())
        self.unknown_routes.append((req.method, req.path))
        return self._json({"message": "404: Not Found", "code": 0}, 404)

    def _drop_connection(self, req: _Req) -> web.Response:
        """Close the connection unanswered (see :meth:`drop`); aiohttp ignores the response."""
        transport = req.request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=444)

    def _fault_response(self, fault: Fault) -> web.Response:
        if fault.status == 429:
            self.count_429 += 1
            return self._rate_limit_response(
                fault.retry_after if fault.retry_after is not None else 0.1,
                is_global=False,
                scope="user",
                bucket=f"fake{abs(hash(fault.pattern.pattern)) % 10**8:08d}",
            )
        code = fault.code if fault.code is not None else 0
        message = fault.message or {
            500: "500: Internal Server Error",
            502: "502: Bad Gateway",
            403: "Missing Permissions",
            404: "404: Not Found",
        }.get(fault.status, f"{fault.status}: injected")
        return self._error(fault.status, code, message)

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler, str]]:
        sf = r"(?P<{}>\d+)"
        app = sf.format("app")
        gid = sf.format("gid")
        cid = sf.format("cid")
        mid = sf.format("mid")
        tok = r"(?P<token>[^/]+)"
        table: list[tuple[str, str, Handler, str]] = [
            ("GET", "/users/@me", self._h_me, "bot"),
            ("GET", rf"/users/{sf.format('uid')}", self._h_get_user, "bot"),
            ("GET", "/oauth2/applications/@me", self._h_app, "bot"),
            ("GET", "/applications/@me", self._h_app, "bot"),
            ("GET", "/gateway", self._h_gateway, "bot"),
            ("GET", "/gateway/bot", self._h_gateway_bot, "bot"),
            ("GET", rf"/applications/{app}/commands", self._h_get_commands, "bot"),
            ("PUT", rf"/applications/{app}/commands", self._h_put_commands, "bot"),
            ("POST", rf"/applications/{app}/commands", self._h_post_command, "bot"),
            ("GET", rf"/applications/{app}/guilds/{gid}/commands", self._h_get_commands, "bot"),
            ("PUT", rf"/applications/{app}/guilds/{gid}/commands", self._h_put_commands, "bot"),
            ("POST", rf"/applications/{app}/guilds/{gid}/commands", self._h_post_command, "bot"),
            (
                "GET",
                rf"/applications/{app}/guilds/{gid}/commands/permissions",
                self._h_cmd_perms,
                "bot",
            ),
            ("POST", "/users/@me/channels", self._h_create_dm, "bot"),
            ("DELETE", rf"/users/@me/guilds/{gid}", self._h_leave_guild, "bot"),
            ("GET", rf"/channels/{cid}", self._h_get_channel, "bot"),
            ("POST", rf"/channels/{cid}/typing", self._h_typing, "bot"),
            ("GET", rf"/channels/{cid}/messages", self._h_history, "bot"),
            ("POST", rf"/channels/{cid}/messages", self._h_post_message, "bot"),
            ("GET", rf"/channels/{cid}/messages/{mid}", self._h_get_message, "bot"),
            ("PATCH", rf"/channels/{cid}/messages/{mid}", self._h_edit_message, "bot"),
            ("DELETE", rf"/channels/{cid}/messages/{mid}", self._h_delete_message, "bot"),
            ("GET", rf"/channels/{cid}/pins", self._h_pins, "bot"),
            (
                "PUT",
                rf"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/@me",
                self._h_react,
                "bot",
            ),
            (
                "DELETE",
                rf"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)/(?P<who>@me|\d+)",
                self._h_unreact,
                "bot",
            ),
            (
                "GET",
                rf"/channels/{cid}/messages/{mid}/reactions/(?P<emoji>[^/]+)",
                self._h_reaction_users,
                "bot",
            ),
            ("GET", rf"/guilds/{gid}", self._h_get_guild, "bot"),
            ("GET", rf"/guilds/{gid}/channels", self._h_guild_channels, "bot"),
            ("GET", rf"/guilds/{gid}/roles", self._h_guild_roles, "bot"),
            ("GET", rf"/guilds/{gid}/members", self._h_list_members, "bot"),
            ("GET", rf"/guilds/{gid}/members/{sf.format('uid')}", self._h_get_member, "bot"),
            ("GET", rf"/guilds/{gid}/scheduled-events", self._h_list_events, "bot"),
            ("POST", rf"/guilds/{gid}/scheduled-events", self._h_create_event, "bot"),
            (
                "GET",
                rf"/guilds/{gid}/scheduled-events/{sf.format('eid')}",
                self._h_get_event,
                "bot",
            ),
            (
                "PATCH",
                rf"/guilds/{gid}/scheduled-events/{sf.format('eid')}",
                self._h_edit_event,
                "bot",
            ),
            (
                "DELETE",
                rf"/guilds/{gid}/scheduled-events/{sf.format('eid')}",
                self._h_delete_event,
                "bot",
            ),
            ("POST", rf"/interactions/{sf.format('iid')}/{tok}/callback", self._h_callback, "cb"),
            ("POST", rf"/webhooks/{app}/{tok}", self._h_followup, "webhook"),
            (
                "GET",
                rf"/webhooks/{app}/{tok}/messages/(?P<wmid>@original|\d+)",
                self._h_wh_get,
                "webhook",
            ),
            (
                "PATCH",
                rf"/webhooks/{app}/{tok}/messages/(?P<wmid>@original|\d+)",
                self._h_wh_edit,
                "webhook",
            ),
            (
                "DELETE",
                rf"/webhooks/{app}/{tok}/messages/(?P<wmid>@original|\d+)",
                self._h_wh_delete,
                "webhook",
            ),
        ]
        return [(m, re.compile(p), h, k) for m, p, h, k in table]

    # ------------------------------------------------------------ basic routes

    async def _h_me(self, req: _Req) -> web.Response:
        return self._json(self.bot_user.user_payload() | {"verified": True, "mfa_enabled": False})

    async def _h_get_user(self, req: _Req, uid: str) -> web.Response:
        user = self._users.get(int(uid))
        if user is None:
            return self._error(404, 10013, "Unknown User")
        return self._json(user.user_payload())

    async def _h_app(self, req: _Req) -> web.Response:
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

    async def _h_gateway(self, req: _Req) -> web.Response:
        return self._json({"url": self.gateway_url})

    async def _h_gateway_bot(self, req: _Req) -> web.Response:
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

    async def _h_get_channel(self, req: _Req, cid: str) -> web.Response:
        channel = self._channels.get(int(cid))
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        return self._json(channel)

    async def _h_typing(self, req: _Req, cid: str) -> web.Response:
        if int(cid) not in self._channels:
            return self._error(404, 10003, "Unknown Channel")
        return web.Response(status=204)

    async def _h_get_guild(self, req: _Req, gid: str) -> web.Response:
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        data = self._guild_create_payload(10**9)
        for key in ("members", "channels", "threads", "presences", "voice_states", "large"):
            data.pop(key, None)
        data["approximate_member_count"] = data.pop("member_count")
        return self._json(data)

    async def _h_guild_channels(self, req: _Req, gid: str) -> web.Response:
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        return self._json(
            [c for c in self._channels.values() if c.get("guild_id") == str(self.guild.id)]
        )

    async def _h_guild_roles(self, req: _Req, gid: str) -> web.Response:
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        return self._json(list(self._roles.values()))

    async def _h_get_member(self, req: _Req, gid: str, uid: str) -> web.Response:
        user = self._users.get(int(uid))
        if int(gid) != self.guild.id:
            return self._error(404, 10004, "Unknown Guild")
        if user is None or not user.in_guild:
            return self._error(404, 10007, "Unknown Member")
        return self._json(user.member_payload())

    async def _h_list_members(self, req: _Req, gid: str) -> web.Response:
        limit = min(int(req.query.get("limit", 1)), 1000)
        after = int(req.query.get("after", 0))
        members = sorted(
            (u for u in self._users.values() if u.in_guild and u.id > after), key=lambda u: u.id
        )
        return self._json([u.member_payload() for u in members[:limit]])

    async def _h_create_dm(self, req: _Req) -> web.Response:
        body = req.json or {}
        try:
            uid = int(body["recipient_id"])
        except (KeyError, TypeError, ValueError):
            return self._reject(
                req, {"recipient_id": {"_errors": [{"code": "BASE_TYPE_REQUIRED"}]}}
            )
        if uid not in self._users:
            return self._error(400, 50033, "Invalid Recipient(s)")
        return self._json(self._channels[self.dm_channel_id(uid)])

    async def _h_cmd_perms(self, req: _Req, app: str, gid: str) -> web.Response:
        return self._json([])

    # -------------------------------------------------------------- commands

    def _store_command(self, guild_id: int | None, cmd: dict[str, Any]) -> dict[str, Any]:
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

    async def _h_get_commands(self, req: _Req, app: str, gid: str | None = None) -> web.Response:
        guild_id = int(gid) if gid else None
        return self._json(list(self.commands.get(guild_id, {}).values()))

    async def _h_put_commands(self, req: _Req, app: str, gid: str | None = None) -> web.Response:
        if int(app) != self.bot_user.id:
            return self._fail(req, 403, 50001, "Missing Access")
        body = req.json or []
        errors = limits.validate_commands(body)
        if errors:
            return self._reject(req, errors, body)
        guild_id = int(gid) if gid else None
        self.commands[guild_id] = {}
        return self._json([self._store_command(guild_id, c) for c in body])

    async def _h_post_command(self, req: _Req, app: str, gid: str | None = None) -> web.Response:
        body = req.json or {}
        errors = limits.validate_commands([body])
        if errors:
            return self._reject(req, errors.get("0", errors), body)
        return self._json(self._store_command(int(gid) if gid else None, body), 201)

    # -------------------------------------------------------------- messages

    def _public(self, msg: dict[str, Any]) -> dict[str, Any]:
        """The message as sent over the wire (without the fake's private keys)."""
        data = {k: v for k, v in msg.items() if k not in ("allowed_mentions", "ephemeral")}
        data["attachments"] = [
            {k: v for k, v in a.items() if k != "bytes"} for a in msg.get("attachments", [])
        ]
        data["reactions"] = [
            {k: v for k, v in r.items() if k != "_users"} for r in msg.get("reactions", [])
        ]
        return copy.deepcopy(data)

    def _resolve_mentions(
        self, msg: dict[str, Any], allowed: dict[str, Any] | None, default_parse: list[str]
    ) -> None:
        content = msg.get("content") or ""
        parse = default_parse if allowed is None else (allowed.get("parse") or [])
        allowed_users = {int(u) for u in (allowed or {}).get("users") or []}
        allowed_roles = {int(r) for r in (allowed or {}).get("roles") or []}
        users = []
        for uid in dict.fromkeys(int(x) for x in re.findall(r"<@!?(\d+)>", content)):
            if uid in self._users and ("users" in parse or uid in allowed_users):
                users.append(self._users[uid].user_payload())
        roles = [
            str(rid)
            for rid in dict.fromkeys(int(x) for x in re.findall(r"<@&(\d+)>", content))
            if rid in self._roles and ("roles" in parse or rid in allowed_roles)
        ]
        msg["mentions"] = users
        msg["mention_roles"] = roles
        msg["mention_everyone"] = "everyone" in parse and (
            "@everyone" in content or "@here" in content
        )

    def _build_attachments(
        self, payload: dict[str, Any], files: list[tuple[str, bytes, str]]
    ) -> list[dict[str, Any]]:
        result = []
        specs = payload.get("attachments") or []
        by_index = {str(s.get("id")): s for s in specs if isinstance(s, dict)}
        for index, (filename, data, content_type) in enumerate(files):
            spec = by_index.get(str(index), {})
            aid = self._ids.next()
            name = spec.get("filename") or filename
            self._uploads[aid] = AttachmentUpload(name, data, content_type, aid)
            url = f"{self.base_url}/attachments/{aid}/{name}"
            result.append(
                {
                    "id": str(aid),
                    "filename": name,
                    "description": spec.get("description"),
                    "size": len(data),
                    "url": url,
                    "proxy_url": url,
                    "content_type": content_type,
                    "bytes": data,
                }
            )
        return result

    def _new_message(
        self,
        channel_id: int,
        payload: dict[str, Any],
        files: list[tuple[str, bytes, str]],
        author: FakeUser,
        *,
        ephemeral: bool = False,
        interaction: Interaction | None = None,
        msg_type: int = 0,
        default_parse: list[str] | None = None,
    ) -> dict[str, Any]:
        channel = self._channels[channel_id]
        mid = self._ids.next()
        flags = int(payload.get("flags") or 0)
        if ephemeral:
            flags |= EPHEMERAL
        msg: dict[str, Any] = {
            "id": str(mid),
            "type": msg_type,
            "channel_id": str(channel_id),
            "author": author.user_payload(),
            "content": payload.get("content") or "",
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._build_attachments(payload, files),
            "embeds": copy.deepcopy(payload.get("embeds") or []),
            "components": copy.deepcopy(payload.get("components") or []),
            "reactions": [],
            "pinned": False,
            "flags": flags,
            "allowed_mentions": copy.deepcopy(payload.get("allowed_mentions")),
            "ephemeral": ephemeral,
        }
        if channel.get("guild_id"):
            msg["guild_id"] = channel["guild_id"]
            if author.in_guild:
                msg["member"] = author.member_payload(with_user=False)
        if payload.get("nonce") is not None:
            msg["nonce"] = payload["nonce"]
        if payload.get("poll"):
            msg["poll"] = copy.deepcopy(payload["poll"])
        ref = payload.get("message_reference")
        if ref and ref.get("message_id"):
            msg["message_reference"] = {
                "type": 0,
                "message_id": str(ref["message_id"]),
                "channel_id": str(ref.get("channel_id") or channel_id),
                **({"guild_id": channel["guild_id"]} if channel.get("guild_id") else {}),
            }
            target = self.message(ref["message_id"])
            msg["referenced_message"] = self._public(target) if target else None
            if msg_type == 0:
                msg["type"] = 19
        if interaction is not None:
            msg["application_id"] = str(self.bot_user.id)
            msg["webhook_id"] = str(self.bot_user.id)
            msg["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self._users[interaction.user_id].user_payload(),
                "authorizing_integration_owners": {"0": str(self.guild.id)},
            }
        if author.bot and author.id == self.bot_user.id:
            default = default_parse if default_parse is not None else ["users", "roles", "everyone"]
        else:
            default = ["users", "roles", "everyone"]
        self._resolve_mentions(msg, payload.get("allowed_mentions"), default)
        self._messages.setdefault(channel_id, []).append(msg)
        self._message_index[mid] = msg
        channel["last_message_id"] = str(mid)
        return msg

    def _apply_edit(
        self, msg: dict[str, Any], payload: dict[str, Any], files: list[tuple[str, bytes, str]]
    ) -> None:
        for key in ("content", "embeds", "components", "poll"):
            if key in payload:
                value = payload[key]
                msg[key] = (
                    copy.deepcopy(value) if value is not None else ("" if key == "content" else [])
                )
        if "flags" in payload and payload["flags"] is not None:
            keep = int(msg.get("flags") or 0) & (EPHEMERAL)
            msg["flags"] = (int(payload["flags"]) & ~(EPHEMERAL | LOADING)) | keep
        else:
            msg["flags"] = int(msg.get("flags") or 0) & ~LOADING
        if "allowed_mentions" in payload:
            msg["allowed_mentions"] = copy.deepcopy(payload["allowed_mentions"])
        if "attachments" in payload or files:
            keep_ids = {
                str(a.get("id")) for a in payload.get("attachments") or [] if isinstance(a, dict)
            }
            kept = [a for a in msg.get("attachments", []) if a["id"] in keep_ids]
            msg["attachments"] = kept + self._build_attachments(payload, files)
        msg["edited_timestamp"] = now_iso()
        self._resolve_mentions(msg, msg.get("allowed_mentions"), ["users", "roles", "everyone"])

    async def _dispatch_message(self, event: str, msg: dict[str, Any]) -> None:
        if msg.get("ephemeral"):
            return
        await self.dispatch(event, self._public(msg))

    def _remove_message(self, msg: dict[str, Any]) -> None:
        cid = int(msg["channel_id"])
        self._messages[cid] = [m for m in self._messages.get(cid, []) if m["id"] != msg["id"]]
        self._message_index.pop(int(msg["id"]), None)
        self.deleted.append(msg)

    def _validate_message_payload(self, req: _Req, payload: dict[str, Any]) -> web.Response | None:
        errors = limits.validate_message(payload)
        if errors:
            return self._reject(req, errors, payload)
        return None

    async def _h_post_message(self, req: _Req, cid: str) -> web.Response:
        channel_id = int(cid)
        channel = self._channels.get(channel_id)
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        payload = req.json if isinstance(req.json, dict) else {}
        bad = self._validate_message_payload(req, payload)
        if bad is not None:
            return bad
        if limits.is_empty_message(payload, len(req.files)):
            return self._fail(req, 400, 50006, "Cannot send an empty message")
        refusal = self._post_refusal(channel)  # channel permission overwrites (realms.py)
        if refusal is not None:
            return self._fail(req, 403, *refusal)
        if channel["type"] == 1:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self._closed_dms or self._users[recipient].bot:
                return self._fail(req, 403, 50007, "Cannot send messages to this user")
        nonce = payload.get("nonce")
        if nonce is not None:
            key = (channel_id, str(nonce))
            if payload.get("enforce_nonce") and key in self._nonces:
                existing = self.message(self._nonces[key])
                if existing is not None:
                    return self._json(self._public(existing))
        msg = self._new_message(channel_id, payload, req.files, self.bot_user)
        if nonce is not None:
            self._nonces.setdefault((channel_id, str(nonce)), int(msg["id"]))
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return self._json(self._public(msg))

    def _find(self, cid: str, mid: str) -> dict[str, Any] | None:
        msg = self.message(mid)
        if msg is None or msg["channel_id"] != cid or msg.get("ephemeral"):
            return None
        return msg

    async def _h_get_message(self, req: _Req, cid: str, mid: str) -> web.Response:
        if int(cid) not in self._channels:
            return self._error(404, 10003, "Unknown Channel")
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        return self._json(self._public(msg))

    async def _h_history(self, req: _Req, cid: str) -> web.Response:
        if int(cid) not in self._channels:
            return self._error(404, 10003, "Unknown Channel")
        limit = max(1, min(int(req.query.get("limit", 50)), 100))
        msgs = [m for m in self._messages.get(int(cid), []) if not m.get("ephemeral")]
        if "before" in req.query:
            before = int(req.query["before"])
            msgs = [m for m in msgs if int(m["id"]) < before][-limit:]
            msgs.reverse()
        elif "after" in req.query:
            after = int(req.query["after"])
            msgs = [m for m in msgs if int(m["id"]) > after][:limit]
            msgs.reverse()
        elif "around" in req.query:
            around = int(req.query["around"])
            older = [m for m in msgs if int(m["id"]) <= around][-((limit + 1) // 2) :]
            newer = [m for m in msgs if int(m["id"]) > around][: limit // 2]
            msgs = list(reversed(older + newer))
        else:
            msgs = list(reversed(msgs[-limit:]))
        return self._json([self._public(m) for m in msgs])

    async def _h_pins(self, req: _Req, cid: str) -> web.Response:
        return self._json(
            [self._public(m) for m in self._messages.get(int(cid), []) if m["pinned"]]
        )

    async def _h_edit_message(self, req: _Req, cid: str, mid: str) -> web.Response:
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        payload = req.json if isinstance(req.json, dict) else {}
        if msg["author"]["id"] != str(self.bot_user.id) and set(payload) - {"flags"}:
            return self._fail(req, 403, 50005, "Cannot edit a message authored by another user")
        bad = self._validate_message_payload(req, payload)
        if bad is not None:
            return bad
        self._apply_edit(msg, payload, req.files)
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._public(msg))

    async def _h_delete_message(self, req: _Req, cid: str, mid: str) -> web.Response:
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        self._remove_message(msg)
        await self._dispatch_delete(msg)
        return web.Response(status=204)

    async def _dispatch_delete(self, msg: dict[str, Any]) -> None:
        data = {"id": msg["id"], "channel_id": msg["channel_id"]}
        if msg.get("guild_id"):
            data["guild_id"] = msg["guild_id"]
        if not msg.get("ephemeral"):
            await self.dispatch("MESSAGE_DELETE", data)

    # ------------------------------------------------------------- reactions

    @staticmethod
    def _emoji(raw: str) -> dict[str, Any]:
        from urllib.parse import unquote

        text = unquote(raw)
        match = re.fullmatch(r"(?P<name>[^:]+):(?P<id>\d+)", text)
        if match:
            return {"id": match["id"], "name": match["name"]}
        return {"id": None, "name": text}

    def _add_reaction(self, msg: dict[str, Any], emoji: dict[str, Any], user_id: int) -> bool:
        for r in msg["reactions"]:
            if r["emoji"] == emoji:
                if user_id in r["_users"]:
                    return False
                r["_users"].append(user_id)
                r["count"] += 1
                r["me"] = r["me"] or user_id == self.bot_user.id
                return True
        msg["reactions"].append(
            {
                "emoji": emoji,
                "count": 1,
                "count_details": {"burst": 0, "normal": 1},
                "me": user_id == self.bot_user.id,
                "me_burst": False,
                "burst_colors": [],
                "_users": [user_id],
            }
        )
        return True

    def _remove_reaction(self, msg: dict[str, Any], emoji: dict[str, Any], user_id: int) -> bool:
        for r in msg["reactions"]:
            if r["emoji"] == emoji and user_id in r["_users"]:
                r["_users"].remove(user_id)
                r["count"] -= 1
                if user_id == self.bot_user.id:
                    r["me"] = False
                if r["count"] == 0:
                    msg["reactions"].remove(r)
                return True
        return False

    def _reaction_event(
        self, msg: dict[str, Any], emoji: dict[str, Any], user_id: int
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": msg["channel_id"],
            "message_id": msg["id"],
            "emoji": emoji,
            "burst": False,
            "type": 0,
        }
        if msg.get("guild_id"):
            data["guild_id"] = msg["guild_id"]
        return data

    async def _h_react(self, req: _Req, cid: str, mid: str, emoji: str) -> web.Response:
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        em = self._emoji(emoji)
        self.reactions.append({"op": "add", "message_id": mid, "emoji": em["name"], "by": "bot"})
        if self._add_reaction(msg, em, self.bot_user.id):
            event = self._reaction_event(msg, em, self.bot_user.id)
            if msg.get("guild_id"):
                event["member"] = self.bot_user.member_payload()
            await self.dispatch("MESSAGE_REACTION_ADD", event)
        return web.Response(status=204)

    async def _h_unreact(self, req: _Req, cid: str, mid: str, emoji: str, who: str) -> web.Response:
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        em = self._emoji(emoji)
        uid = self.bot_user.id if who == "@me" else int(who)
        self.reactions.append({"op": "remove", "message_id": mid, "emoji": em["name"], "by": uid})
        if self._remove_reaction(msg, em, uid):
            await self.dispatch("MESSAGE_REACTION_REMOVE", self._reaction_event(msg, em, uid))
        return web.Response(status=204)

    async def _h_reaction_users(self, req: _Req, cid: str, mid: str, emoji: str) -> web.Response:
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        em = self._emoji(emoji)
        after = int(req.query.get("after", 0))
        limit = min(int(req.query.get("limit", 25)), 100)
        for r in msg["reactions"]:
            if r["emoji"] == em:
                ids = sorted(u for u in r["_users"] if u > after)[:limit]
                return self._json([self._users[u].user_payload() for u in ids])
        return self._json([])

    # ---------------------------------------------------------- scheduled events

    def _validate_event(self, body: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        errors: dict[str, Any] = {}

        def bad(key: str, msg: str) -> None:
            errors[key] = {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": msg}]}

        if creating or "name" in body:
            if not 1 <= len(body.get("name") or "") <= 100:
                bad("name", "Must be between 1 and 100 in length.")
        if body.get("description") is not None and len(body["description"]) > 1000:
            bad("description", "Must be 1000 or fewer in length.")
        if creating and body.get("entity_type") == 3:
            location = (body.get("entity_metadata") or {}).get("location") or ""
            if not 1 <= len(location) <= 100:
                bad("entity_metadata", "location must be between 1 and 100 in length.")
            if not body.get("scheduled_end_time"):
                bad("scheduled_end_time", "Required for external events.")
        if creating and not body.get("scheduled_start_time"):
            bad("scheduled_start_time", "This field is required")
        return errors

    async def _h_list_events(self, req: _Req, gid: str) -> web.Response:
        return self._json(list(self.scheduled_events.values()))

    async def _h_create_event(self, req: _Req, gid: str) -> web.Response:
        body = req.json if isinstance(req.json, dict) else {}
        errors = self._validate_event(body, creating=True)
        if errors:
            return self._reject(req, errors, body)
        active = [e for e in self.scheduled_events.values() if e["status"] in (1, 2)]
        if len(active) >= 100:
            return self._fail(
                req, 400, 30038, "Maximum number of guild scheduled events reached (100)"
            )
        eid = self._ids.next()
        event = {
            "id": str(eid),
            "guild_id": gid,
            "channel_id": body.get("channel_id"),
            "creator_id": str(self.bot_user.id),
            "creator": self.bot_user.user_payload(),
            "name": body["name"],
            "description": body.get("description"),
            "scheduled_start_time": body["scheduled_start_time"],
            "scheduled_end_time": body.get("scheduled_end_time"),
            "privacy_level": body.get("privacy_level", 2),
            "status": 1,
            "entity_type": body.get("entity_type", 3),
            "entity_id": None,
            "entity_metadata": body.get("entity_metadata"),
            "user_count": 0,
            "image": None,
            "recurrence_rule": body.get("recurrence_rule"),
        }
        self.scheduled_events[eid] = event
        await self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", copy.deepcopy(event))
        return self._json(event)

    async def _h_get_event(self, req: _Req, gid: str, eid: str) -> web.Response:
        event = self.scheduled_events.get(int(eid))
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        return self._json(event)

    async def _h_edit_event(self, req: _Req, gid: str, eid: str) -> web.Response:
        event = self.scheduled_events.get(int(eid))
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        body = req.json if isinstance(req.json, dict) else {}
        errors = self._validate_event(body, creating=False)
        if errors:
            return self._reject(req, errors, body)
        for key, value in body.items():
            if key in event:
                event[key] = value
        await self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", copy.deepcopy(event))
        return self._json(event)

    async def _h_delete_event(self, req: _Req, gid: str, eid: str) -> web.Response:
        event = self.scheduled_events.pop(int(eid), None)
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        await self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event)
        return web.Response(status=204)

    # ----------------------------------------------------------- interactions

    def _interaction_for(self, req: _Req, token: str) -> Interaction | None:
        it = self._by_token.get(token)
        if it is None or it.dispatched_at is None:
            return None
        if asyncio.get_running_loop().time() - it.dispatched_at > self.token_lifetime:
            return None
        return it

    async def _h_callback(self, req: _Req, iid: str, token: str) -> web.Response:
        it = self._interactions.get(int(iid))
        payload = req.json if isinstance(req.json, dict) else {}
        if it is None or it.token != token:
            return self._fail(req, 404, 10062, "Unknown interaction")
        if it.callbacks:
            return self._fail(req, 400, 40060, "Interaction has already been acknowledged.")
        now = asyncio.get_running_loop().time()
        if it.dispatched_at is not None and now - it.dispatched_at > self.interaction_deadline:
            it.late_callbacks.append(
                {"type": payload.get("type"), "data": payload.get("data"), "at": now}
            )
            it._notify()
            return self._fail(req, 404, 10062, "Unknown interaction")
        rtype = int(payload.get("type") or 0)
        data = payload.get("data") or {}
        errors: dict[str, Any] = {}
        if rtype in (4, 7):
            errors = {"data": sub} if (sub := limits.validate_message(data)) else {}
        elif rtype == 8:
            errors = limits.validate_choices(data.get("choices"))
        elif rtype == 9:
            errors = limits.validate_modal(data)
        elif rtype not in (1, 5, 6):
            errors = {"type": {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": "bad type"}]}}
        if errors:
            return self._reject(req, errors, payload)
        if rtype == 4 and limits.is_empty_message(data, len(req.files)):
            return self._fail(req, 400, 50006, "Cannot send an empty message")
        if rtype in (7, 6) and it.message_id is None:
            return self._fail(req, 400, 40004, "Interaction callback type not valid here")

        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        resource_msg: dict[str, Any] | None = None
        msg_type = {2: 20, 4: 20}.get(it.type, 0)
        if it.type == 2 and (it.payload.get("data") or {}).get("type", 1) != 1:
            msg_type = 23
        if rtype == 4:
            resource_msg = self._new_message(
                it.channel_id,
                data,
                req.files,
                self.bot_user,
                ephemeral=ephemeral,
                interaction=it,
                msg_type=msg_type,
                default_parse=["users"],
            )
            it.original_id = int(resource_msg["id"])
            await self._dispatch_message("MESSAGE_CREATE", resource_msg)
        elif rtype == 5:
            resource_msg = self._new_message(
                it.channel_id,
                {"content": "", "flags": LOADING | (EPHEMERAL if ephemeral else 0)},
                [],
                self.bot_user,
                ephemeral=ephemeral,
                interaction=it,
                msg_type=msg_type,
                default_parse=["users"],
            )
            it.original_id = int(resource_msg["id"])
            await self._dispatch_message("MESSAGE_CREATE", resource_msg)
        elif rtype in (6, 7):
            it.original_id = it.message_id
            if rtype == 7 and it.message_id is not None:
                target = self.message(it.message_id)
                if target is not None:
                    self._apply_edit(target, data, req.files)
                    resource_msg = target
                    await self._dispatch_message("MESSAGE_UPDATE", target)
        it.callbacks.append({"type": rtype, "data": copy.deepcopy(data), "at": now})
        it.responded_at = now
        it._notify()
        if req.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        body: dict[str, Any] = {
            "interaction": {
                "id": str(it.id),
                "type": it.type,
                "response_message_loading": rtype == 5,
                "response_message_ephemeral": ephemeral,
            }
        }
        if resource_msg is not None:
            body["interaction"]["response_message_id"] = resource_msg["id"]
            body["resource"] = {"type": rtype, "message": self._public(resource_msg)}
        elif rtype in (8, 9, 1, 6):
            body["resource"] = {"type": rtype}
        return self._json(body)

    async def _h_followup(self, req: _Req, app: str, token: str) -> web.Response:
        it = self._interaction_for(req, token)
        if it is None or int(app) != self.bot_user.id or not it.callbacks:
            return self._fail(req, 404, 10015, "Unknown Webhook")
        payload = req.json if isinstance(req.json, dict) else {}
        bad = self._validate_message_payload(req, payload)
        if bad is not None:
            return bad
        if limits.is_empty_message(payload, len(req.files)):
            return self._fail(req, 400, 50006, "Cannot send an empty message")
        ephemeral = bool(int(payload.get("flags") or 0) & EPHEMERAL)
        first = it.callbacks[0]
        original = it.original
        if first["type"] == 5 and original is not None and original["flags"] & LOADING:
            # The first follow-up after a "thinking" defer edits the original response.
            self._apply_edit(original, payload, req.files)
            msg = original
            await self._dispatch_message("MESSAGE_UPDATE", msg)
        else:
            msg = self._new_message(
                it.channel_id,
                payload,
                req.files,
                self.bot_user,
                ephemeral=ephemeral,
                interaction=it,
                default_parse=["users"],
            )
            await self._dispatch_message("MESSAGE_CREATE", msg)
        it.followup_ids.append(int(msg["id"]))
        it._notify()
        if req.query.get("wait") in ("true", "1", "True"):
            return self._json(self._public(msg))
        return web.Response(status=204)

    def _webhook_message(self, it: Interaction, wmid: str) -> dict[str, Any] | None:
        if wmid == "@original":
            return it.original
        if int(wmid) in it.followup_ids or int(wmid) == it.original_id:
            return self.message(wmid)
        return None

    async def _h_wh_get(self, req: _Req, app: str, token: str, wmid: str) -> web.Response:
        it = self._interaction_for(req, token)
        if it is None:
            return self._fail(req, 404, 10015, "Unknown Webhook")
        msg = self._webhook_message(it, wmid)
        if msg is None:
            return self._fail(req, 404, 10008, "Unknown Message")
        return self._json(self._public(msg))

    async def _h_wh_edit(self, req: _Req, app: str, token: str, wmid: str) -> web.Response:
        it = self._interaction_for(req, token)
        if it is None:
            return self._fail(req, 404, 10015, "Unknown Webhook")
        msg = self._webhook_message(it, wmid)
        if msg is None:
            return self._fail(req, 404, 10008, "Unknown Message")
        payload = req.json if isinstance(req.json, dict) else {}
        bad = self._validate_message_payload(req, payload)
        if bad is not None:
            return bad
        self._apply_edit(msg, payload, req.files)
        it._notify()
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return self._json(self._public(msg))

    async def _h_wh_delete(self, req: _Req, app: str, token: str, wmid: str) -> web.Response:
        it = self._interaction_for(req, token)
        if it is None:
            return self._fail(req, 404, 10015, "Unknown Webhook")
        msg = self._webhook_message(it, wmid)
        if msg is None:
            return self._fail(req, 404, 10008, "Unknown Message")
        self._remove_message(msg)
        it._notify()
        await self._dispatch_delete(msg)
        return web.Response(status=204)
