"""Discord rules the ideal fake used to skip: DM anti-spam, the nonce window, lost responses,
and history permissions.

Kept apart from `server.py` (a mixin plus a few hook calls there) so the rules read in one place:

- **Opening DMs too fast.** ``limit_dm_opens(n, window)``: more than ``n`` calls to
  ``POST /users/@me/channels`` in a rolling ``window`` seconds answer ``400 {"code": 40003,
  "message": "You are opening direct messages too fast"}`` (Discord's error for exactly this).
- **Anti-spam quarantine.** ``quarantine()``: the bot "is unable to ... send any direct messages to
  users it has not messaged before" (Discord's notice, quoted in tmerc-cogs issue 111). Opening
  a DM with such a user answers 40003; a message to an existing DM channel of such a user answers
  50007. Users the bot has messaged before (a DM that was created) keep working.
- **The nonce window.** Discord deduplicates an ``enforce_nonce`` message only for "the past few
  minutes". ``nonce_window`` (seconds; None = forever, 0 = never) sets how long a nonce returns
  the first message; after it a repeat creates a second message, as on Discord.
- **A response lost after the message exists.** ``hold_after_create(path)``: the message is created
  (and dispatched), then the HTTP answer is held until ``release()``, or until the client dies.
- **History needs View Channel and Read Message History** (403 50001 / 50013 otherwise).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeDiscord, _Req

VIEW_CHANNEL = 1 << 10
READ_MESSAGE_HISTORY = 1 << 16
OPENING_TOO_FAST = 40003
CANNOT_DM = 50007


@dataclass
class Hold:
    """A message route whose answers are held after the message was created."""

    pattern: re.Pattern[str]
    times: int
    drop: bool = False  # close the connection instead of answering (answer lost on the way)
    #: Only messages this accepts are held (None: every message on a matching route).
    matching: Callable[[dict[str, Any]], bool] | None = None
    hits: int = 0
    held: list[int] = field(default_factory=list)  # ids of messages created, answers held
    lost: int = 0  # answers never delivered: the client went away first
    _released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        """Let the held answers go (to a client that is still there)."""
        self._released.set()


class DmRulesMixin:
    """DM anti-spam, nonce window, held answers and history permissions for `FakeDiscord`."""

    def _init_dm_rules(self: FakeDiscord) -> None:
        self._dm_open_limit: tuple[int, float] | None = None
        self._dm_opens: deque[float] = deque()
        self.quarantined = False
        #: Users the bot has sent a DM to (a created message): still reachable in quarantine.
        self.messaged_users: set[int] = set()
        self.nonce_window: float | None = None
        self._nonce_times: dict[tuple[int, str], float] = {}
        self._holds: list[Hold] = []
        self.count_40003 = 0

    # ---------------------------------------------------------------- configuration

    def limit_dm_opens(self: FakeDiscord, per_window: int | None, window: float = 60.0) -> None:
        """Answer 40003 to DM opens beyond ``per_window`` in a rolling ``window`` seconds."""
        self._dm_open_limit = None if per_window is None else (per_window, window)
        self._dm_opens.clear()

    def quarantine(self: FakeDiscord, on: bool = True) -> None:
        """Quarantine the bot: no DMs to users it has not messaged before."""
        self.quarantined = on

    def hold_after_create(
        self: FakeDiscord,
        path_regex: str,
        times: int = 1,
        *,
        drop: bool = False,
        matching: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Hold:
        """Hold the answers of the next ``times`` message creates matching ``path_regex`` (and,
        given, accepted by ``matching(message)``); with ``drop``, close the connection instead:
        the message exists, its answer is lost."""
        hold = Hold(re.compile(path_regex), times, drop, matching)
        self._holds.append(hold)
        return hold

    # ---------------------------------------------------------------- hooks (server.py)

    def _dm_open_refused(self: FakeDiscord, req: _Req, user_id: int) -> web.Response | None:
        """40003 when opening too fast, or in quarantine for a user never messaged."""
        if self.quarantined and user_id not in self.messaged_users:
            return self._too_fast(req)
        if self._dm_open_limit is not None:
            limit, window = self._dm_open_limit
            now = time.monotonic()
            while self._dm_opens and now - self._dm_opens[0] >= window:
                self._dm_opens.popleft()
            if len(self._dm_opens) >= limit:
                return self._too_fast(req)
            self._dm_opens.append(now)
        return None

    def _too_fast(self: FakeDiscord, req: _Req) -> web.Response:
        self.count_40003 += 1
        return self._fail(req, 400, OPENING_TOO_FAST, "You are opening direct messages too fast")

    def _dm_send_refused(self: FakeDiscord, req: _Req, user_id: int) -> web.Response | None:
        if self.quarantined and user_id not in self.messaged_users:
            return self._fail(req, 403, CANNOT_DM, "Cannot send messages to this user")
        return None

    def _nonce_fresh(self: FakeDiscord, key: tuple[int, str]) -> bool:
        """Whether a repeated nonce still returns the first message (Discord: a few minutes)."""
        if self.nonce_window is None:
            return True
        created = self._nonce_times.get(key)
        return created is not None and time.monotonic() - created < self.nonce_window

    def _remember_nonce(self: FakeDiscord, key: tuple[int, str], message_id: int) -> None:
        if key not in self._nonces or not self._nonce_fresh(key):
            self._nonces[key] = message_id
            self._nonce_times[key] = time.monotonic()

    async def _hold_answer(self: FakeDiscord, req: _Req, message: dict[str, Any]) -> None:
        """Created already; wait before answering if a hold matches (see `hold_after_create`)."""
        for hold in self._holds:
            if (
                hold.hits < hold.times
                and hold.pattern.search(req.path)
                and (hold.matching is None or hold.matching(message))
            ):
                hold.hits += 1
                hold.held.append(int(message["id"]))
                if hold.drop:
                    transport = req.request.transport
                    if transport is not None:
                        transport.close()
                    hold.lost += 1
                    return
                # Until released, or until the client is gone (killed, connection dropped).
                while not hold._released.is_set():
                    transport = req.request.transport
                    if transport is None or transport.is_closing():
                        hold.lost += 1
                        return
                    try:
                        await asyncio.wait_for(hold._released.wait(), 0.05)
                    except TimeoutError:
                        pass
                return

    def _history_refused(
        self: FakeDiscord, req: _Req, channel: dict[str, Any]
    ) -> web.Response | None:
        if not channel.get("guild_id"):
            return None
        # Discord's order: @everyone's overwrite, then the roles' (deny, then allow).
        allowed = VIEW_CHANNEL | READ_MESSAGE_HISTORY
        overwrites = {str(o.get("id")): o for o in channel.get("permission_overwrites") or []}
        everyone = overwrites.get(str(self.guild.id))
        if everyone is not None:
            allowed &= ~int(everyone.get("deny") or 0)
            allowed |= int(everyone.get("allow") or 0)
        role_deny = role_allow = 0
        for role in self.bot_user.roles:
            overwrite = overwrites.get(str(role))
            if overwrite is not None:
                role_deny |= int(overwrite.get("deny") or 0)
                role_allow |= int(overwrite.get("allow") or 0)
        allowed = (allowed & ~role_deny) | role_allow
        denied = ~allowed
        if denied & VIEW_CHANNEL:
            return self._fail(req, 403, 50001, "Missing Access")
        if denied & READ_MESSAGE_HISTORY:
            return self._fail(req, 403, 50013, "Missing Permissions")
        return None


__all__ = ["CANNOT_DM", "OPENING_TOO_FAST", "DmRulesMixin", "Hold"]
