"""REST routes of the fake Discord: threads on messages and crossposts (issue 12).

From Discord's API documentation (resources/channel, Start Thread from Message, Crosspost
Message) and the project's reference notes:
- POST /channels/{id}/messages/{mid}/threads: name 1-100, auto_archive_duration one of 60, 1440,
  4320, 10080 (else 50035); one thread per message (160004); the thread's id is the message's;
  in a text channel it is a public thread (11), in an Announcement channel a news thread (10);
  needs Create Public Threads (1<<35). An archived (unlocked) thread reopens when a message is
  posted in it.
- POST /channels/{id}/messages/{mid}/crosspost: only in an Announcement channel (type 5, else
  50024); once per message (40033); about 10 publishes an hour per channel (429 after that).
"""

from __future__ import annotations

import copy
import time
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeDiscord
    from .wire import _Req

CREATE_PUBLIC_THREADS = 1 << 35
ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)
HAS_THREAD = 1 << 5
CROSSPOSTED = 1 << 0
PUBLISHES_PER_HOUR = 10
THREAD_TYPES = (10, 11, 12)
ALREADY_THREADED = "A thread has already been created for this message"


class ThreadRoutesMixin:
    """Routes and test controls for threads and crossposts (mixed into FakeDiscord)."""

    def _threads_init(self: FakeDiscord) -> None:
        self.threads: dict[int, dict[str, Any]] = {}
        self.crossposted: list[int] = []
        self._publishes: dict[int, deque[float]] = {}
        self.publish_clock = time.monotonic

    # ------------------------------------------------------------------ controls

    def archive_thread(self: FakeDiscord, thread_id: int | str) -> None:
        """Archive a thread (as Discord does after its inactivity period)."""
        self.threads[int(thread_id)]["thread_metadata"]["archived"] = True

    def make_announcement_channel(self: FakeDiscord, name: str = "announcements") -> None:
        """Turn a text channel into an Announcement channel (type 5). Before the bot starts."""
        self.channel(name)["type"] = 5

    # -------------------------------------------------------------------- REST

    async def _th_create(self: FakeDiscord, req: _Req, cid: str, mid: str) -> web.Response:
        channel = self._channels.get(int(cid))
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        if channel["type"] not in (0, 5):
            return self._fail(req, 400, 50024, "Cannot execute action on this channel type")
        if not self.member_permissions(self.bot_user) & CREATE_PUBLIC_THREADS:
            return self._fail(req, 403, 50013, "Missing Permissions")
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        body = req.json if isinstance(req.json, dict) else {}
        errors: dict[str, Any] = {}
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            errors["name"] = {
                "_errors": [
                    {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100."}
                ]
            }
        duration = body.get("auto_archive_duration", 1440)
        if duration not in ARCHIVE_DURATIONS:
            errors["auto_archive_duration"] = {
                "_errors": [
                    {
                        "code": "BASE_TYPE_CHOICES",
                        "message": f"Value must be one of {ARCHIVE_DURATIONS}.",
                    }
                ]
            }
        if errors:
            return self._reject(req, errors, body)
        if int(mid) in self.threads:
            return self._fail(req, 400, 160004, ALREADY_THREADED)
        thread = {
            "id": mid,
            "guild_id": channel["guild_id"],
            "parent_id": cid,
            "owner_id": str(self.bot_user.id),
            "name": name,
            "type": 10 if channel["type"] == 5 else 11,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": duration,
                "archive_timestamp": datetime.now(UTC).isoformat(),
                "locked": False,
            },
        }
        self.threads[int(mid)] = thread
        self._channels[int(mid)] = thread
        self._messages[int(mid)] = []
        msg["flags"] = int(msg.get("flags") or 0) | HAS_THREAD
        msg["thread"] = thread
        await self.dispatch("THREAD_CREATE", copy.deepcopy(thread) | {"newly_created": True})
        return self._json(thread, 201)

    async def _th_post_message(self: FakeDiscord, req: _Req, cid: str) -> web.Response:
        """A post in an archived, unlocked thread reopens it first (as on Discord)."""
        thread = self.threads.get(int(cid))
        if thread is not None:
            meta = thread["thread_metadata"]
            if meta["locked"]:
                return self._fail(req, 403, 50083, "Thread is archived")
            if meta["archived"]:
                meta["archived"] = False
                await self.dispatch("THREAD_UPDATE", copy.deepcopy(thread))
        return await self._h_post_message(req, cid)

    async def _xp_crosspost(self: FakeDiscord, req: _Req, cid: str, mid: str) -> web.Response:
        channel = self._channels.get(int(cid))
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        if channel["type"] != 5:
            return self._fail(req, 400, 50024, "Cannot execute action on this channel type")
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        if int(msg.get("flags") or 0) & CROSSPOSTED:
            return self._fail(req, 400, 40033, "This message has already been crossposted.")
        now = self.publish_clock()
        window = self._publishes.setdefault(int(cid), deque())
        while window and now - window[0] >= 3600:
            window.popleft()
        if len(window) >= PUBLISHES_PER_HOUR:
            self.count_429 += 1
            self.rejected_publishes = getattr(self, "rejected_publishes", 0) + 1
            return self._rate_limit_response(
                3600 - (now - window[0]), is_global=False, scope="shared", bucket="crosspost"
            )
        window.append(now)
        msg["flags"] = int(msg.get("flags") or 0) | CROSSPOSTED
        self.crossposted.append(int(mid))
        await self.dispatch("MESSAGE_UPDATE", self._public(msg))
        return self._json(self._public(msg))
