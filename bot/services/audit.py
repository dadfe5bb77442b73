"""The organisers' audit trail as a service: every organiser action is recorded here, by the
service that does it (never by a cog)."""

from __future__ import annotations

from bot.store import Store
from bot.store import audit as audit_store
from bot.store.audit import AuditEntry


class AuditTrail:
    """Who did what, when (announce, cancel, import, setup, export, ...)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, guild_id: int, user_id: int, action: str, detail: str = "") -> None:
        await audit_store.record(self.store, guild_id, user_id, action, detail)

    async def recent(self, guild_id: int, limit: int = 10) -> list[AuditEntry]:
        return await audit_store.recent(self.store, guild_id, limit)


__all__ = ["AuditTrail"]
