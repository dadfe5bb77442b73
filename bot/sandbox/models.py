"""Plain data records used by the fake Discord server."""

# The public API takes explicit timeout= arguments (test ergonomics).
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import FakeDiscord

DISCORD_EPOCH_MS = 1420070400000


def real_now() -> datetime:
    """The real clock (the default of `FakeDiscord`'s ``clock``)."""
    return datetime.now(UTC)


def now_iso(clock: Callable[[], datetime] = real_now) -> str:
    """Current time as Discord's ISO-8601 timestamp."""
    return clock().isoformat()


class Snowflakes:
    """Monotonic snowflake generator on the server's clock (so created_at is sensible)."""

    def __init__(self, clock: Callable[[], datetime] = real_now) -> None:
        self._last = 0
        self._clock = clock

    def next(self) -> int:
        """Return a fresh snowflake, strictly greater than the previous one."""
        value = (int(self._clock().timestamp() * 1000) - DISCORD_EPOCH_MS) << 22
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return value


@dataclass
class FakeUser:
    """A user (and guild member) of the fake world."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=now_iso)
    in_guild: bool = True

    def user_payload(self) -> dict[str, Any]:
        """Discord user object."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data

    def member_payload(self, *, with_user: bool = True) -> dict[str, Any]:
        """Discord guild member object."""
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user_payload()
        return data


@dataclass
class FakeGuild:
    """The single pre-seeded guild."""

    id: int
    name: str
    owner_id: int


@dataclass
class AttachmentUpload:
    """A file the test hands to the bot (slash option of type 11 or a posted message)."""

    filename: str
    data: bytes
    content_type: str = "application/octet-stream"
    id: int = 0


@dataclass
class RequestRecord:
    """One REST request made by the bot."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes]]
    headers: dict[str, str]
    status: int = 0
    at: float = 0.0
    done_at: float = 0.0  # when the fake had its answer ready (0 while still in flight)


@dataclass
class Rejection:
    """An error response (400 validation failures, late interaction callbacks)."""

    method: str
    path: str
    status: int
    code: int
    message: str
    errors: dict[str, Any] | None = None
    body: Any = None


@dataclass
class Fault:
    """An injected failure for matching requests."""

    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float | None
    code: int | None
    message: str | None
    hits: int = 0


@dataclass
class Delay:
    """Matching requests are held ``seconds`` before the fake handles them."""

    method: str
    pattern: re.Pattern[str]
    seconds: float
    times: int | None  # None: every matching request
    hits: int = 0


class Interaction:
    """An interaction the test dispatched, and everything the bot answered to it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        payload: dict[str, Any],
        user_id: int,
        channel_id: int,
        message_id: int | None = None,
    ) -> None:
        self._fake = fake
        self.payload = payload
        self.id: int = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.user_id = user_id
        self.channel_id = channel_id
        self.message_id = message_id
        self.dispatched_at: float | None = None
        self.responded_at: float | None = None
        self.callbacks: list[dict[str, Any]] = []
        self.late_callbacks: list[dict[str, Any]] = []
        self.followup_ids: list[int] = []
        self.original_id: int | None = None
        self._changed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Interaction id={self.id} type={self.type} callbacks={len(self.callbacks)}>"

    def _notify(self) -> None:
        self._changed.set()

    async def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what} to {self!r}; "
                    f"late callbacks={self.late_callbacks}; "
                    f"recent rejections={self._fake.rejected[-3:]}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def response(self, timeout: float = 3.0) -> dict[str, Any]:
        """Wait for the first (accepted) callback; returns ``{"type": int, "data": dict}``."""
        await self._wait(lambda: self.callbacks, timeout, "the interaction response")
        return self.callbacks[0]

    async def followups(self, n: int = 1, timeout: float = 3.0) -> list[dict[str, Any]]:
        """Wait until at least ``n`` follow-up messages exist; returns them (current state)."""
        await self._wait(lambda: len(self.followup_ids) >= n, timeout, f"{n} follow-up(s)")
        return [m for m in (self._fake.message(i) for i in self.followup_ids) if m is not None]

    async def wait_original(self, predicate: Any = None, timeout: float = 3.0) -> dict[str, Any]:
        """Wait until the original response exists (and satisfies ``predicate(msg)``)."""

        def ok() -> bool:
            msg = self.original
            return msg is not None and (predicate is None or bool(predicate(msg)))

        await self._wait(ok, timeout, "the original response")
        msg = self.original
        assert msg is not None
        return msg

    @property
    def original(self) -> dict[str, Any] | None:
        """Current stored state of the original response message (None if none)."""
        if self.original_id is None:
            return None
        return self._fake.message(self.original_id)

    @property
    def elapsed(self) -> float | None:
        """Seconds from dispatch to the first accepted callback."""
        if self.dispatched_at is None or self.responded_at is None:
            return None
        return self.responded_at - self.dispatched_at

    @property
    def ephemeral(self) -> bool:
        """Whether the first response was ephemeral (flag 64)."""
        if not self.callbacks:
            return False
        return bool(int((self.callbacks[0].get("data") or {}).get("flags") or 0) & 64)
