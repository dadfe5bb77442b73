"""Organiser alerts: the bot tells organisers of problems they would otherwise only find in logs.

Public API (any feature may call it; the composition root builds one service):

    await alerts.raise_(guild_id, kind, text)   # -> the stored `Alert`, never raises
    await alerts.latest(guild_id, limit=5)       # newest first, for `/organiser stats`

Kinds in use: ``dm_restricted`` (Discord's 40003 or suspected quarantine), ``db_write`` (a
database write failed), ``channel_permissions`` (a configured channel the bot cannot post in),
``fanout_late`` (a reminder fan-out that could not finish before its lead time),
``programme_file`` (problems in the programme file at start). Any other short word works too.

Every alert is stored and logged. It is posted to the organiser channel (`QIWEEK_ORGANISER_
CHANNEL_ID` or `/organiser setup organiser_channel`) at most once an hour per kind and server,
never pinging anyone, as a delivery-ledger send (key ``alert:<guild>:<alert id>``). Without a
channel, alerts go to the log only and `/organiser stats` still shows them. If the database
itself is failing, the alert is still logged and posted (held to once an hour in memory).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import discord

from bot.clock import Clock
from bot.config import Settings
from bot.delivery.keys import Kind, alert_key
from bot.delivery.recovery import recoverer
from bot.store import Ledger, Store
from bot.store import alerts as alerts_store
from bot.store.alerts import Alert
from bot.store.guild_settings import get_config

log = logging.getLogger(__name__)

#: Each kind is posted at most once in this period per server.
QUIET_PERIOD = timedelta(hours=1)
TITLES = {
    "dm_restricted": "Direct messages restricted by Discord",
    "db_write": "Database write failed",
    "channel_permissions": "A configured channel the bot cannot post in",
    "fanout_late": "Reminder DMs could not all go out in time",
    "programme_file": "Problems in the programme file",
    "scheduled_events": "Discord scheduled events",
}


def alert_message(kind: str, text: str) -> str:
    """The organiser channel post: a title and the text, within Discord's 2,000 characters."""
    title = TITLES.get(kind, kind.replace("_", " ").capitalize())
    return f"⚠️ **{title}**\n{text}"[:2000]


@dataclass(eq=False)
class AlertsService:
    """Stores, logs and posts organiser alerts (see the module docstring)."""

    client: discord.Client
    store: Store
    ledger: Ledger
    settings: Settings
    clock: Clock
    _memory: dict[tuple[int, str], float] = field(default_factory=dict, init=False)

    async def raise_(self, guild_id: int, kind: str, text: str) -> Alert:
        """Record the alert and tell the organisers (at most once an hour per kind). Never
        raises: an alert must not break the work that noticed the problem."""
        log.warning("organiser alert %s guild=%s: %s", kind, guild_id, text)
        try:
            alert = await alerts_store.add_alert(self.store, guild_id, kind, text)
            last = await alerts_store.last_posted_at(self.store, guild_id, kind)
        except Exception:
            log.exception("storing alert %s failed; posting it without the ledger", kind)
            alert = Alert(0, guild_id, kind, text, self.clock(), False)
            await self._post_unrecorded(alert)
            return alert
        if last is not None and self.clock() - last < QUIET_PERIOD:
            return alert
        try:
            posted = await self._post(alert)
        except Exception:
            log.exception("posting alert %s failed", kind)
            return alert
        return Alert(alert.id, guild_id, kind, alert.text, alert.created_at, posted)

    async def latest(self, guild_id: int, limit: int = 5) -> list[Alert]:
        return await alerts_store.latest(self.store, guild_id, limit)

    async def _channel(self, guild_id: int) -> discord.abc.Messageable | None:
        config = await get_config(self.store, self.settings, guild_id)
        if config.organiser_channel_id is None:
            return None
        return self.client.get_partial_messageable(
            config.organiser_channel_id, guild_id=guild_id, type=discord.ChannelType.text
        )

    async def _post(self, alert: Alert) -> bool:
        channel = await self._channel(alert.guild_id)
        if channel is None:
            return False
        content = alert_message(alert.kind, alert.text)

        async def send(nonce: str) -> int:
            await _pace(self.client)
            message = await channel.send(
                content, nonce=nonce, allowed_mentions=discord.AllowedMentions.none()
            )
            return message.id

        # Marked posted first: a second alert of the kind arriving meanwhile stays quiet.
        await alerts_store.mark_posted(self.store, alert.id)
        await self.ledger.deliver(
            alert_key(alert.guild_id, alert.id),
            kind=Kind.ALERT,
            guild_id=alert.guild_id,
            send=send,
            recover=recoverer(self.client, channel.id, {"content": content}),  # type: ignore[attr-defined]
        )
        return True

    async def _post_unrecorded(self, alert: Alert) -> None:
        """The database is failing: post anyway, held to once an hour in memory."""
        name = (alert.guild_id, alert.kind)
        now = time.monotonic()
        if now - self._memory.get(name, -1e9) < QUIET_PERIOD.total_seconds():
            return
        self._memory[name] = now
        try:
            channel = await self._channel(alert.guild_id)
        except Exception:
            channel = None
            config_id = self.settings.organiser_channel_id
            if config_id is not None:
                channel = self.client.get_partial_messageable(
                    config_id, guild_id=alert.guild_id, type=discord.ChannelType.text
                )
        if channel is None:
            return
        try:
            await _pace(self.client)
            await channel.send(
                alert_message(alert.kind, alert.text),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException:
            log.exception("posting alert %s failed", alert.kind)


async def _pace(client: Any) -> None:
    """Share the client's pacer with the fan-outs (Discord's global limit counts every send)."""
    from bot.delivery.context import context_for

    await context_for(client).pacer.wait()


__all__ = ["QUIET_PERIOD", "TITLES", "AlertsService", "alert_message"]
