"""REST routes of the fake Discord: Guild Scheduled Events, with Discord's own rules (issue 12).

Taught from Discord's API documentation (resources/guild-scheduled-event) and the project's
reference notes:
- name 1-100 characters, description at most 1,000; EXTERNAL (entity_type 3) events need
  `entity_metadata.location` (1-100) and `scheduled_end_time`, after the start; a new event
  cannot start in the past. Otherwise 400 / 50035 Invalid Form Body.
- at most 100 SCHEDULED or ACTIVE events per guild: creating one more fails with 30038.
- status SCHEDULED(1) -> ACTIVE(2) -> COMPLETED(3), or SCHEDULED -> CANCELED(4); COMPLETED and
  CANCELED are final (180000 "Cannot update a finished event"). EXTERNAL events start and end
  themselves: the fake moves them on its clock (`event_clock`) whenever events are looked at.
- Create Events (1<<44) creates events and edits/cancels the ones the bot created; Manage
  Events (1<<33) edits and deletes anyone's and no longer creates. Without: 403 / 50013.
- subscribers ("Interested") page 100 at a time, ascending by user id, with `before`/`after`;
  GUILD_SCHEDULED_EVENT_USER_ADD / _REMOVE are dispatched when a member marks or un-marks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .models import FakeUser
    from .server import FakeDiscord
    from .wire import _Req

CREATE_EVENTS = 1 << 44
MANAGE_EVENTS = 1 << 33
SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4
EXTERNAL = 3
MAX_UNCOMPLETED = 100
USERS_PAGE_MAX = 100
MAX_EVENTS_MESSAGE = "Maximum number of uncompleted guild scheduled events reached (100)"
_ALLOWED = {SCHEDULED: {ACTIVE, CANCELED}, ACTIVE: {COMPLETED}}


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _length_error(message: str) -> dict[str, Any]:
    return {"_errors": [{"code": "BASE_TYPE_BAD_LENGTH", "message": message}]}


def validate_event(
    body: dict[str, Any], *, now: datetime, existing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Discord's 50035 field errors for a create (`existing` None) or an edit; {} when valid."""
    errors: dict[str, Any] = {}
    merged = {**(existing or {}), **body}
    if existing is None or "name" in body:
        if not isinstance(body.get("name"), str) or not 1 <= len(body["name"]) <= 100:
            errors["name"] = _length_error("Must be between 1 and 100 in length.")
    description = body.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 1000):
        errors["description"] = _length_error("Must be 1000 or fewer in length.")
    start = _parse(merged.get("scheduled_start_time"))
    end = _parse(merged.get("scheduled_end_time"))
    if start is None:
        errors["scheduled_start_time"] = {
            "_errors": [{"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]
        }
    elif (existing is None or "scheduled_start_time" in body) and start < now - timedelta(
        seconds=5
    ):
        errors["scheduled_start_time"] = {
            "_errors": [
                {
                    "code": "GUILD_SCHEDULED_EVENT_SCHEDULE_PAST",
                    "message": "Cannot schedule event in the past.",
                }
            ]
        }
    if merged.get("entity_type", EXTERNAL) == EXTERNAL:
        location = (merged.get("entity_metadata") or {}).get("location")
        if not isinstance(location, str) or not 1 <= len(location) <= 100:
            errors["entity_metadata"] = {"location": _length_error("Must be between 1 and 100.")}
        if end is None:
            errors["scheduled_end_time"] = {
                "_errors": [
                    {
                        "code": "BASE_TYPE_REQUIRED",
                        "message": "External events require an end time.",
                    }
                ]
            }
    if start is not None and end is not None and end <= start:
        errors["scheduled_end_time"] = {
            "_errors": [
                {
                    "code": "GUILD_SCHEDULED_EVENT_END_BEFORE_START",
                    "message": "The end time must be after the start time.",
                }
            ]
        }
    return errors


class EventRoutesMixin:
    """Routes and test controls for Guild Scheduled Events (mixed into FakeDiscord)."""

    #: The fake's notion of now for event validation and EXTERNAL start/end (tests that give
    #: the bot an injected clock set the same one here).
    event_clock: Callable[[], datetime] = staticmethod(lambda: datetime.now(UTC))  # type: ignore[assignment]

    def _events_init(self: FakeDiscord) -> None:
        self._event_users: dict[int, set[int]] = {}
        self.event_history: list[dict[str, Any]] = []
        #: Most bot events uncompleted at once, over the fake's life (checked after each create).
        self.max_bot_uncompleted = 0

    # ------------------------------------------------------------------ controls

    def bot_events(self: FakeDiscord, *statuses: int) -> list[dict[str, Any]]:
        """Events the bot created (optionally only those with the given statuses)."""
        self.tick_events_nowait()
        return [
            e
            for e in self.scheduled_events.values()
            if e["creator_id"] == str(self.bot_user.id)
            and (not statuses or e["status"] in statuses)
        ]

    def add_foreign_event(self: FakeDiscord, name: str, start: datetime) -> dict[str, Any]:
        """An event created by the server owner (the organisers' own), uncompleted."""
        eid = self._ids.next()
        owner = self._users[self.guild.owner_id]
        event = self._event_payload(
            eid,
            {
                "name": name,
                "scheduled_start_time": start.isoformat(),
                "scheduled_end_time": (start + timedelta(hours=1)).isoformat(),
                "entity_type": EXTERNAL,
                "entity_metadata": {"location": "Somewhere"},
            },
            owner,
        )
        self.scheduled_events[eid] = event
        return event

    def set_bot_permission(self: FakeDiscord, bit: int, allowed: bool) -> None:
        """Grant or revoke a guild permission of the bot's role, without telling the gateway
        (as when an admin edits the role while the bot is away); see `dispatch_role_update`."""
        role = self._roles[self.roles["QI Week Bot"]]
        perms = int(role["permissions"])
        role["permissions"] = str(perms | bit if allowed else perms & ~bit)

    async def dispatch_role_update(self: FakeDiscord, role_name: str = "QI Week Bot") -> None:
        role = self._roles[self.roles[role_name]]
        await self.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(self.guild.id), "role": copy.deepcopy(role)}
        )

    async def mark_interested(self: FakeDiscord, user: str | int | FakeUser, event_id: int) -> None:
        """A member presses "Interested" on an event (only on a SCHEDULED or ACTIVE one)."""
        event = self.scheduled_events[int(event_id)]
        if event["status"] not in (SCHEDULED, ACTIVE):
            raise AssertionError(f"event {event_id} is finished: Discord hides its button")
        uid = self.user(user).id
        users = self._event_users.setdefault(int(event_id), set())
        if uid in users:
            return
        users.add(uid)
        event["user_count"] = len(users)
        await self.dispatch(
            "GUILD_SCHEDULED_EVENT_USER_ADD",
            {
                "guild_scheduled_event_id": str(event_id),
                "user_id": str(uid),
                "guild_id": str(self.guild.id),
            },
        )

    async def unmark_interested(
        self: FakeDiscord, user: str | int | FakeUser, event_id: int
    ) -> None:
        uid = self.user(user).id
        users = self._event_users.setdefault(int(event_id), set())
        if uid not in users:
            return
        users.discard(uid)
        self.scheduled_events[int(event_id)]["user_count"] = len(users)
        await self.dispatch(
            "GUILD_SCHEDULED_EVENT_USER_REMOVE",
            {
                "guild_scheduled_event_id": str(event_id),
                "user_id": str(uid),
                "guild_id": str(self.guild.id),
            },
        )

    def mark_interested_quietly(
        self: FakeDiscord, user: str | int | FakeUser, event_id: int
    ) -> None:
        """Subscribe without a gateway event (it happened while the bot was offline)."""
        users = self._event_users.setdefault(int(event_id), set())
        users.add(self.user(user).id)
        self.scheduled_events[int(event_id)]["user_count"] = len(users)

    def interested_in(self: FakeDiscord, event_id: int) -> set[int]:
        return set(self._event_users.get(int(event_id), set()))

    def tick_events_nowait(self: FakeDiscord) -> list[dict[str, Any]]:
        """Move EXTERNAL events on by the fake's clock; returns the events that changed."""
        now = self.event_clock()
        changed = []
        for event in self.scheduled_events.values():
            start = _parse(event["scheduled_start_time"])
            end = _parse(event.get("scheduled_end_time"))
            if event["entity_type"] != EXTERNAL or start is None:
                continue
            if event["status"] == SCHEDULED and start <= now:
                event["status"] = ACTIVE
                changed.append(event)
            if event["status"] == ACTIVE and end is not None and end <= now:
                event["status"] = COMPLETED
                changed.append(event)
        return changed

    async def tick_events(self: FakeDiscord) -> None:
        """`tick_events_nowait`, then GUILD_SCHEDULED_EVENT_UPDATE for each change."""
        for event in self.tick_events_nowait():
            await self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", copy.deepcopy(event))

    # -------------------------------------------------------------------- REST

    def _event_payload(
        self: FakeDiscord, eid: int, body: dict[str, Any], creator: FakeUser
    ) -> dict[str, Any]:
        return {
            "id": str(eid),
            "guild_id": str(self.guild.id),
            "channel_id": body.get("channel_id"),
            "creator_id": str(creator.id),
            "creator": creator.user_payload(),
            "name": body["name"],
            "description": body.get("description"),
            "scheduled_start_time": body["scheduled_start_time"],
            "scheduled_end_time": body.get("scheduled_end_time"),
            "privacy_level": body.get("privacy_level", 2),
            "status": SCHEDULED,
            "entity_type": body.get("entity_type", EXTERNAL),
            "entity_id": None,
            "entity_metadata": body.get("entity_metadata"),
            "user_count": 0,
            "image": None,
            "recurrence_rule": body.get("recurrence_rule"),
        }

    def _may_touch(self: FakeDiscord, event: dict[str, Any]) -> bool:
        perms = self.member_permissions(self.bot_user)
        if perms & MANAGE_EVENTS:
            return True
        return bool(perms & CREATE_EVENTS) and event["creator_id"] == str(self.bot_user.id)

    async def _ev_list(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        await self.tick_events()
        events = [copy.deepcopy(e) for e in self.scheduled_events.values()]
        if str(req.query.get("with_user_count", "")).lower() not in ("true", "1"):
            for e in events:
                e.pop("user_count", None)
        return self._json(events)

    async def _ev_create(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        await self.tick_events()
        if not self.member_permissions(self.bot_user) & CREATE_EVENTS:
            return self._fail(req, 403, 50013, "Missing Permissions")
        body = req.json if isinstance(req.json, dict) else {}
        errors = validate_event(body, now=self.event_clock())
        if errors:
            return self._reject(req, errors, body)
        uncompleted = [
            e for e in self.scheduled_events.values() if e["status"] in (SCHEDULED, ACTIVE)
        ]
        if len(uncompleted) >= MAX_UNCOMPLETED:
            return self._fail(req, 400, 30038, MAX_EVENTS_MESSAGE)
        eid = self._ids.next()
        event = self._event_payload(eid, body, self.bot_user)
        self.scheduled_events[eid] = event
        self.event_history.append({"action": "create", "id": str(eid), "name": event["name"]})
        self.max_bot_uncompleted = max(
            self.max_bot_uncompleted, len(self.bot_events(SCHEDULED, ACTIVE))
        )
        await self.dispatch("GUILD_SCHEDULED_EVENT_CREATE", copy.deepcopy(event))
        return self._json(event)

    async def _ev_get(self: FakeDiscord, req: _Req, gid: str, eid: str) -> web.Response:
        await self.tick_events()
        event = self.scheduled_events.get(int(eid))
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        return self._json(event)

    async def _ev_edit(self: FakeDiscord, req: _Req, gid: str, eid: str) -> web.Response:
        await self.tick_events()
        event = self.scheduled_events.get(int(eid))
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        if not self._may_touch(event):
            return self._fail(req, 403, 50013, "Missing Permissions")
        if event["status"] in (COMPLETED, CANCELED):
            return self._fail(req, 400, 180000, "Cannot update a finished event")
        body = req.json if isinstance(req.json, dict) else {}
        status = body.get("status")
        if status is not None and status != event["status"]:
            if status not in _ALLOWED.get(event["status"], set()):
                return self._reject(
                    req,
                    {"status": _length_error(f"Cannot move from {event['status']} to {status}.")},
                    body,
                )
        edit = {k: v for k, v in body.items() if k != "status"}
        errors = validate_event(edit, now=self.event_clock(), existing=event) if edit else {}
        if errors:
            return self._reject(req, errors, body)
        for key, value in body.items():
            if key in event:
                event[key] = value
        self.event_history.append(
            {"action": "cancel" if status == CANCELED else "edit", "id": eid, "body": body}
        )
        await self.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", copy.deepcopy(event))
        return self._json(event)

    async def _ev_delete(self: FakeDiscord, req: _Req, gid: str, eid: str) -> web.Response:
        event = self.scheduled_events.get(int(eid))
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        if not self._may_touch(event):
            return self._fail(req, 403, 50013, "Missing Permissions")
        self.scheduled_events.pop(int(eid))
        self.event_history.append({"action": "delete", "id": eid})
        await self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event)
        return web.Response(status=204)

    async def _ev_users(self: FakeDiscord, req: _Req, gid: str, eid: str) -> web.Response:
        if int(eid) not in self.scheduled_events:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        raw_limit = req.query.get("limit", "100")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= USERS_PAGE_MAX:
            return self._reject(
                req, {"limit": _length_error("Must be between 1 and 100.")}, dict(req.query)
            )
        limit = int(raw_limit)
        ids = sorted(self._event_users.get(int(eid), set()))
        before, after = req.query.get("before"), req.query.get("after")
        if before:  # before wins over after, as on Discord
            ids = [u for u in ids if u < int(before)][-limit:]
        else:
            ids = [u for u in ids if after is None or u > int(after)][:limit]
        with_member = str(req.query.get("with_member", "")).lower() == "true"
        out = []
        for uid in ids:
            user = self._users[uid]
            row: dict[str, Any] = {"guild_scheduled_event_id": eid, "user": user.user_payload()}
            if with_member and user.in_guild:
                row["member"] = user.member_payload(with_user=False)
            out.append(row)
        return self._json(out)
