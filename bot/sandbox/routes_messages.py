"""REST routes of the fake Discord: messages, history, pins and reactions."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import limits
from .models import (
    AttachmentUpload,
    FakeUser,
    Interaction,
    now_iso,
)
from .wire import (
    EPHEMERAL,
    LOADING,
    _Req,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


class MessageRoutesMixin:
    """Message and reaction routes; mixed into :class:`FakeDiscord`."""

    # -------------------------------------------------------------- messages

    def _public(self: FakeDiscord, msg: dict[str, Any]) -> dict[str, Any]:
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
        self: FakeDiscord,
        msg: dict[str, Any],
        allowed: dict[str, Any] | None,
        default_parse: list[str],
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
        self: FakeDiscord, payload: dict[str, Any], files: list[tuple[str, bytes, str]]
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
        self: FakeDiscord,
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
            "timestamp": now_iso(self.clock),
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
        self: FakeDiscord,
        msg: dict[str, Any],
        payload: dict[str, Any],
        files: list[tuple[str, bytes, str]],
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
        msg["edited_timestamp"] = now_iso(self.clock)
        self._resolve_mentions(msg, msg.get("allowed_mentions"), ["users", "roles", "everyone"])

    async def _dispatch_message(self: FakeDiscord, event: str, msg: dict[str, Any]) -> None:
        if msg.get("ephemeral"):
            return
        await self.dispatch(event, self._public(msg))

    def _remove_message(self: FakeDiscord, msg: dict[str, Any]) -> None:
        cid = int(msg["channel_id"])
        self._messages[cid] = [m for m in self._messages.get(cid, []) if m["id"] != msg["id"]]
        self._message_index.pop(int(msg["id"]), None)
        self.deleted.append(msg)

    def _validate_message_payload(
        self: FakeDiscord, req: _Req, payload: dict[str, Any]
    ) -> web.Response | None:
        errors = limits.validate_message(payload)
        if errors:
            return self._reject(req, errors, payload)
        return None

    async def _h_post_message(self: FakeDiscord, req: _Req, cid: str) -> web.Response:
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
            refused = self._dm_send_refused(req, recipient)  # dm_rules.py: quarantine
            if refused is not None:
                return refused
        nonce = payload.get("nonce")
        if nonce is not None:
            key = (channel_id, str(nonce))
            if payload.get("enforce_nonce") and key in self._nonces and self._nonce_fresh(key):
                existing = self.message(self._nonces[key])
                if existing is not None:
                    return self._json(self._public(existing))
        msg = self._new_message(channel_id, payload, req.files, self.bot_user)
        if nonce is not None:
            self._remember_nonce((channel_id, str(nonce)), int(msg["id"]))
        if channel["type"] == 1:
            self.messaged_users.add(int(channel["recipients"][0]["id"]))
        await self._dispatch_message("MESSAGE_CREATE", msg)
        await self._hold_answer(req, msg)  # dm_rules.py: answer lost after the create
        return self._json(self._public(msg))

    def _find(self: FakeDiscord, cid: str, mid: str) -> dict[str, Any] | None:
        msg = self.message(mid)
        if msg is None or msg["channel_id"] != cid or msg.get("ephemeral"):
            return None
        return msg

    async def _h_get_message(self: FakeDiscord, req: _Req, cid: str, mid: str) -> web.Response:
        if int(cid) not in self._channels:
            return self._error(404, 10003, "Unknown Channel")
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        return self._json(self._public(msg))

    async def _h_history(self: FakeDiscord, req: _Req, cid: str) -> web.Response:
        if int(cid) not in self._channels:
            return self._error(404, 10003, "Unknown Channel")
        refused = self._history_refused(req, self._channels[int(cid)])  # dm_rules.py
        if refused is not None:
            return refused
        raw_limit = req.query.get("limit", "50")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            return self._reject(
                req, {"limit": {"_errors": [{"code": "NUMBER_TYPE_MAX", "message": "1 to 100"}]}}
            )
        limit = int(raw_limit)
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

    async def _h_pins(self: FakeDiscord, req: _Req, cid: str) -> web.Response:
        return self._json(
            [self._public(m) for m in self._messages.get(int(cid), []) if m["pinned"]]
        )

    async def _h_edit_message(self: FakeDiscord, req: _Req, cid: str, mid: str) -> web.Response:
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

    async def _h_delete_message(self: FakeDiscord, req: _Req, cid: str, mid: str) -> web.Response:
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        self._remove_message(msg)
        await self._dispatch_delete(msg)
        return web.Response(status=204)

    async def _dispatch_delete(self: FakeDiscord, msg: dict[str, Any]) -> None:
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

    def _add_reaction(
        self: FakeDiscord, msg: dict[str, Any], emoji: dict[str, Any], user_id: int
    ) -> bool:
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

    def _remove_reaction(
        self: FakeDiscord, msg: dict[str, Any], emoji: dict[str, Any], user_id: int
    ) -> bool:
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
        self: FakeDiscord, msg: dict[str, Any], emoji: dict[str, Any], user_id: int
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

    async def _h_react(
        self: FakeDiscord, req: _Req, cid: str, mid: str, emoji: str
    ) -> web.Response:
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

    async def _h_unreact(
        self: FakeDiscord, req: _Req, cid: str, mid: str, emoji: str, who: str
    ) -> web.Response:
        msg = self._find(cid, mid)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        em = self._emoji(emoji)
        uid = self.bot_user.id if who == "@me" else int(who)
        self.reactions.append({"op": "remove", "message_id": mid, "emoji": em["name"], "by": uid})
        if self._remove_reaction(msg, em, uid):
            await self.dispatch("MESSAGE_REACTION_REMOVE", self._reaction_event(msg, em, uid))
        return web.Response(status=204)

    async def _h_reaction_users(
        self: FakeDiscord, req: _Req, cid: str, mid: str, emoji: str
    ) -> web.Response:
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
