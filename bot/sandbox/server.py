"""FakeDiscord: an aiohttp server speaking Discord's REST and gateway protocols on 127.0.0.1."""

# The public API takes explicit timeout= arguments (test ergonomics).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from .actions import ActionsMixin
from .dm_rules import DmRulesMixin
from .faults import FaultsMixin
from .gateway import GatewayConnection, GatewayMixin, GatewaySession
from .models import (
    AttachmentUpload,
    Delay,
    FakeUser,
    Fault,
    Interaction,
    Rejection,
    RequestRecord,
    Snowflakes,
    real_now,
)
from .realms import ExtraGuild, RealmsMixin
from .routes_events import EventRoutesMixin
from .routes_guild import GuildRoutesMixin
from .routes_interactions import InteractionRoutesMixin
from .routes_messages import MessageRoutesMixin
from .routes_threads import ThreadRoutesMixin
from .wire import Handler, _free_port, _Req
from .world import WorldMixin


class FakeDiscord(
    WorldMixin,
    FaultsMixin,
    GuildRoutesMixin,
    MessageRoutesMixin,
    EventRoutesMixin,
    ThreadRoutesMixin,
    InteractionRoutesMixin,
    GatewayMixin,
    ActionsMixin,
    RealmsMixin,
    DmRulesMixin,
):
    """A wire-level fake Discord (REST under ``/api/v10`` plus gateway at ``/gateway``).

    Args:
        heartbeat_interval_ms: HELLO heartbeat interval sent to the client.
        interaction_deadline: seconds after dispatch when the first callback fails with 10062.
        token_lifetime: seconds an interaction token accepts follow-ups and edits.
        clock: the time of message timestamps and snowflakes (the rehearsal's event time).
    """

    def __init__(
        self,
        *,
        heartbeat_interval_ms: int = 41250,
        interaction_deadline: float = 3.0,
        token_lifetime: float = 900.0,
        clock: Callable[[], datetime] = real_now,
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
        self.clock = clock
        # Scheduled events start and end by the same clock (tests may set their own).
        self.event_clock = clock
        self._ids = Snowflakes(clock)
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
        self._init_dm_rules()  # DM anti-spam, nonce window, held answers (dm_rules.py)
        self._events_init()  # routes_events.py
        self._threads_init()  # routes_threads.py
        self._seed()
        self._routes = self._build_routes()

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

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Handler, str]]:
        sf = r"(?P<{}>\d+)"
        app = sf.format("app")
        gid = sf.format("gid")
        cid = sf.format("cid")
        mid = sf.format("mid")
        eid = sf.format("eid")
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
            ("POST", rf"/channels/{cid}/messages", self._th_post_message, "bot"),
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
            # Scheduled events, threads, crossposts: routes_events.py and routes_threads.py.
            ("GET", rf"/guilds/{gid}/scheduled-events", self._ev_list, "bot"),
            ("POST", rf"/guilds/{gid}/scheduled-events", self._ev_create, "bot"),
            ("GET", rf"/guilds/{gid}/scheduled-events/{eid}", self._ev_get, "bot"),
            ("PATCH", rf"/guilds/{gid}/scheduled-events/{eid}", self._ev_edit, "bot"),
            ("DELETE", rf"/guilds/{gid}/scheduled-events/{eid}", self._ev_delete, "bot"),
            ("GET", rf"/guilds/{gid}/scheduled-events/{eid}/users", self._ev_users, "bot"),
            ("POST", rf"/channels/{cid}/messages/{mid}/threads", self._th_create, "bot"),
            ("POST", rf"/channels/{cid}/messages/{mid}/crosspost", self._xp_crosspost, "bot"),
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
