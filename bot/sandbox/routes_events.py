"""REST routes of the fake Discord: guild scheduled events."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .wire import (
    _Req,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


class EventRoutesMixin:
    """Scheduled-event routes; mixed into :class:`FakeDiscord`."""

    # ---------------------------------------------------------- scheduled events

    def _validate_event(
        self: FakeDiscord, body: dict[str, Any], *, creating: bool
    ) -> dict[str, Any]:
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

    async def _h_list_events(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
        return self._json(list(self.scheduled_events.values()))

    async def _h_create_event(self: FakeDiscord, req: _Req, gid: str) -> web.Response:
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

    async def _h_get_event(self: FakeDiscord, req: _Req, gid: str, eid: str) -> web.Response:
        event = self.scheduled_events.get(int(eid))
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        return self._json(event)

    async def _h_edit_event(self: FakeDiscord, req: _Req, gid: str, eid: str) -> web.Response:
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

    async def _h_delete_event(self: FakeDiscord, req: _Req, gid: str, eid: str) -> web.Response:
        event = self.scheduled_events.pop(int(eid), None)
        if event is None:
            return self._error(404, 10070, "Unknown Guild Scheduled Event")
        await self.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event)
        return web.Response(status=204)
