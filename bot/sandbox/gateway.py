"""Gateway (websocket) side of the fake Discord server."""

# The public API takes explicit timeout= arguments (test ergonomics).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import json
import secrets
import zlib
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from .server import FakeDiscord

try:  # pragma: no cover - only when discord.py would ask for zstd-stream
    import zstandard as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    _zstd = None

# Intent bits
GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MESSAGES = 1 << 9
GUILD_MESSAGE_REACTIONS = 1 << 10
DIRECT_MESSAGES = 1 << 12
DIRECT_MESSAGE_REACTIONS = 1 << 13
MESSAGE_CONTENT = 1 << 15
GUILD_SCHEDULED_EVENTS = 1 << 16

_GUILD_EVENTS = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "GUILD_SCHEDULED_EVENT_CREATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_UPDATE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_DELETE": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_ADD": GUILD_SCHEDULED_EVENTS,
    "GUILD_SCHEDULED_EVENT_USER_REMOVE": GUILD_SCHEDULED_EVENTS,
}
_MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}
_REACTION_EVENTS = {
    "MESSAGE_REACTION_ADD",
    "MESSAGE_REACTION_REMOVE",
    "MESSAGE_REACTION_REMOVE_ALL",
    "MESSAGE_REACTION_REMOVE_EMOJI",
}
_CONTENT_KEYS = ("content", "embeds", "attachments", "components", "poll")


class GatewayConnection:
    """One websocket connection (compression context, send lock)."""

    def __init__(self, ws: web.WebSocketResponse, compress: str | None) -> None:
        self.ws = ws
        self.compress = compress
        self._lock = asyncio.Lock()
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None
        self._zstd = (
            _zstd.ZstdCompressor().compressobj()
            if compress == "zstd-stream" and _zstd is not None
            else None
        )
        self.session: GatewaySession | None = None
        self.sent: list[dict[str, Any]] = []

    async def send(self, payload: dict[str, Any]) -> None:
        """Send one gateway payload, compressed as negotiated."""
        raw = json.dumps(payload, separators=(",", ":")).encode()
        async with self._lock:
            if self.ws.closed:
                return
            self.sent.append(payload)
            if self._zlib is not None:
                await self.ws.send_bytes(
                    self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                )
            elif self._zstd is not None:  # pragma: no cover
                data = self._zstd.compress(raw) + self._zstd.flush(_zstd.COMPRESSOBJ_FLUSH_BLOCK)
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(raw.decode())


class GatewaySession:
    """A gateway session (survives reconnects; replayed on RESUME)."""

    def __init__(self, intents: int) -> None:
        self.session_id = secrets.token_hex(16)
        self.intents = intents
        self.seq = 0
        self.history: list[dict[str, Any]] = []
        self.conn: GatewayConnection | None = None


def wants(intents: int, event: str, data: dict[str, Any], bot_id: int) -> bool:
    """Whether a bot with ``intents`` receives ``event``."""
    if event in _GUILD_EVENTS:
        return bool(intents & _GUILD_EVENTS[event])
    if event in _MESSAGE_EVENTS:
        return bool(intents & (GUILD_MESSAGES if data.get("guild_id") else DIRECT_MESSAGES))
    if event in _REACTION_EVENTS:
        if data.get("guild_id"):
            return bool(intents & GUILD_MESSAGE_REACTIONS)
        return bool(intents & DIRECT_MESSAGE_REACTIONS)
    return True


def strip_content(intents: int, event: str, data: dict[str, Any], bot_id: int) -> dict[str, Any]:
    """Blank message content when the MESSAGE_CONTENT intent is missing (as Discord does)."""
    if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or intents & MESSAGE_CONTENT:
        return data
    if not data.get("guild_id"):
        return data
    if str((data.get("author") or {}).get("id")) == str(bot_id):
        return data
    if any(str(u.get("id")) == str(bot_id) for u in data.get("mentions") or []):
        return data
    data = dict(data)
    for key in _CONTENT_KEYS:
        if key in data:
            data[key] = "" if key == "content" else []
    return data


class GatewayMixin:
    """Websocket endpoint and event dispatch; mixed into :class:`FakeDiscord`."""

    async def _gateway_handler(self: FakeDiscord, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        compress = request.query.get("compress")
        conn = GatewayConnection(ws, compress)
        self._conns.add(conn)
        self.gateway_connects += 1
        self.gateway_queries.append(dict(request.query))
        try:
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"Error while decoding payload.")
                return ws
            await conn.send(
                {
                    "op": 10,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                }
            )
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._gateway_op(conn, json.loads(msg.data))
                elif msg.type == WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._conns.discard(conn)
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
        return ws

    async def _gateway_op(self: FakeDiscord, conn: GatewayConnection, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        data = msg.get("d")
        self.gateway_received.append(msg)
        if op == 1:
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            await self._request_members(conn, data or {})
        elif op in (3, 4):
            return
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self: FakeDiscord, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if data.get("token") not in (self.token, f"Bot {self.token}"):
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        intents = int(data.get("intents", 0))
        if intents & ~self.allowed_intents & ((1 << 1) | (1 << 8) | (1 << 15)):
            await conn.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        self.identifies += 1
        session = GatewaySession(intents)
        self._session = session
        session.conn = conn
        conn.session = session
        large_threshold = int(data.get("large_threshold") or 50)
        ready = {
            "v": 10,
            "user": self.bot_user.user_payload() | {"verified": True, "mfa_enabled": False},
            "guilds": [
                {"id": str(gid), "unavailable": True} for gid in (self.guild.id, *self.extra_guilds)
            ],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "shard": [0, 1],
            "application": {"id": str(self.bot_user.id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        await self.dispatch("READY", ready)
        if intents & GUILDS:
            await self.dispatch("GUILD_CREATE", self._guild_create_payload(large_threshold))
            for extra in list(self.extra_guilds.values()):
                await self.dispatch("GUILD_CREATE", self._extra_guild_payload(extra))
        self._connected.set()

    async def _resume(self: FakeDiscord, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self._session
        if (
            session is None
            or data.get("session_id") != session.session_id
            or data.get("token") not in (self.token, f"Bot {self.token}")
        ):
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resumes += 1
        old = session.conn
        session.conn = conn
        conn.session = session
        if old is not None and old is not conn:
            await old.ws.close(code=4000)
        last = int(data.get("seq") or 0)
        for payload in [p for p in session.history if p["s"] > last]:
            await conn.send(payload)
        session.seq += 1
        await conn.send({"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake"]}})
        self._connected.set()

    async def _request_members(
        self: FakeDiscord, conn: GatewayConnection, data: dict[str, Any]
    ) -> None:
        guild_id = int(data.get("guild_id") or self.guild.id)
        if guild_id in self.extra_guilds:  # another server (realms.py)
            members = [self._users[uid] for uid in self.extra_guilds[guild_id].members]
        else:
            members = [u for u in self._users.values() if u.in_guild]
        user_ids = data.get("user_ids")
        not_found: list[str] = []
        if user_ids is not None:
            ids = {int(i) for i in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [u for u in members if u.id in ids]
            not_found = [str(i) for i in ids - {u.id for u in members}]
        else:
            query = (data.get("query") or "").lower()
            if query:
                members = [
                    u
                    for u in members
                    if u.username.lower().startswith(query)
                    or (u.nick or "").lower().startswith(query)
                ]
            limit = int(data.get("limit") or 0)
            if limit:
                members = members[:limit]
        chunks = [members[i : i + 1000] for i in range(0, len(members), 1000)] or [[]]
        for index, chunk in enumerate(chunks):
            payload: dict[str, Any] = {
                "guild_id": str(guild_id),
                "members": [u.member_payload() for u in chunk],
                "chunk_index": index,
                "chunk_count": len(chunks),
            }
            if data.get("nonce") is not None:
                payload["nonce"] = data["nonce"]
            if not_found and index == 0:
                payload["not_found"] = not_found
            await self.dispatch("GUILD_MEMBERS_CHUNK", payload)

    async def dispatch(self: FakeDiscord, event: str, data: dict[str, Any]) -> bool:
        """Send a DISPATCH (op 0) event to the bot if its intents allow; returns whether sent.

        Events raised while the bot is disconnected are kept and replayed on RESUME.
        """
        session = self._session
        if session is None:
            return False
        if not wants(session.intents, event, data, self.bot_user.id):
            return False
        data = strip_content(session.intents, event, data, self.bot_user.id)
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.history.append(payload)
        self.events.append(payload)
        if session.conn is not None:
            await session.conn.send(payload)
        return True

    async def wait_connected(self: FakeDiscord, timeout: float = 10.0) -> None:
        """Wait until a bot has identified (or resumed) on the gateway."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"bot did not connect to the gateway within {timeout}s") from None

    async def _live_session(self: FakeDiscord, timeout: float = 10.0) -> GatewaySession:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._session is None or self._session.conn is None:
            if loop.time() > deadline:
                raise AssertionError("no live gateway session (is the bot connected?)")
            await asyncio.sleep(0.01)
        return self._session

    async def reconnect_gateway(
        self: FakeDiscord, mode: str = "reconnect", timeout: float = 10.0
    ) -> None:
        """Force the bot to reconnect and wait until it has resumed or re-identified.

        ``mode``: "reconnect" (op 7, resumable), "close" (close with 4000, resumable, slower:
        discord.py backs off), "invalidate" (op 9 d=false: fresh IDENTIFY).
        """
        session = await self._live_session(timeout)
        conn = session.conn
        assert conn is not None
        before = (self.resumes, self.identifies)
        if mode == "reconnect":
            await conn.send({"op": 7, "d": None, "s": None, "t": None})
        elif mode == "close":
            await conn.ws.close(code=4000, message=b"Unknown error")
        elif mode == "invalidate":
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
        else:
            raise ValueError(f"unknown mode {mode!r}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (
            (self.resumes, self.identifies) == before
            or self._session is None
            or (self._session.conn is None or self._session.conn is conn)
        ):
            if loop.time() > deadline:
                raise AssertionError(f"bot did not reconnect within {timeout}s ({mode})")
            await asyncio.sleep(0.01)
