"""REST routes of the fake Discord: interaction callbacks and webhooks."""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from .models import (
    Interaction,
)
from .wire import (
    EPHEMERAL,
    LOADING,
    _Req,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


class InteractionRoutesMixin:
    """Interaction callback and follow-up webhook routes; mixed into :class:`FakeDiscord`."""

    # ----------------------------------------------------------- interactions

    def _interaction_for(self: FakeDiscord, req: _Req, token: str) -> Interaction | None:
        it = self._by_token.get(token)
        if it is None or it.dispatched_at is None:
            return None
        if asyncio.get_running_loop().time() - it.dispatched_at > self.token_lifetime:
            return None
        return it

    async def _h_callback(self: FakeDiscord, req: _Req, iid: str, token: str) -> web.Response:
        it = self._interactions.get(int(iid))
        payload = req.json if isinstance(req.json, dict) else {}
        if it is None or it.token != token:
            return self._fail(req, 404, 10062, "Unknown interaction")
        if it.callbacks:
            return self._fail(req, 400, 40060, "Interaction has already been acknowledged.")
        # Discord's 3 s window closes on the answer's arrival: the fake's own parsing and
        # checking of the body (0.05-0.15 ms for a 10 KB page) is not the bot's time.
        now = req.record.at
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
                if target is None:  # the message was deleted since the press
                    return self._fail(req, 404, 10008, "Unknown Message")
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

    async def _h_followup(self: FakeDiscord, req: _Req, app: str, token: str) -> web.Response:
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

    def _webhook_message(self: FakeDiscord, it: Interaction, wmid: str) -> dict[str, Any] | None:
        if wmid == "@original":
            return it.original
        if int(wmid) in it.followup_ids or int(wmid) == it.original_id:
            return self.message(wmid)
        return None

    async def _h_wh_get(
        self: FakeDiscord, req: _Req, app: str, token: str, wmid: str
    ) -> web.Response:
        it = self._interaction_for(req, token)
        if it is None:
            return self._fail(req, 404, 10015, "Unknown Webhook")
        msg = self._webhook_message(it, wmid)
        if msg is None:
            return self._fail(req, 404, 10008, "Unknown Message")
        return self._json(self._public(msg))

    async def _h_wh_edit(
        self: FakeDiscord, req: _Req, app: str, token: str, wmid: str
    ) -> web.Response:
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

    async def _h_wh_delete(
        self: FakeDiscord, req: _Req, app: str, token: str, wmid: str
    ) -> web.Response:
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
