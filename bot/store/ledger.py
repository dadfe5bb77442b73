"""The delivery ledger: every automatic send is claimed under a key before it is made.

A key names one send ("daily:<guild>:2026-09-14", "dm:<guild>:<session>:15:<user>", ...). The
ledger row says whether it was sent (with the message id), skipped or failed (with the reason).

Claim outcomes:
- NEW: nobody has claimed it: send it.
- RESUME: an earlier run claimed it and died before confirming: send it again *with the same
  nonce* (see `nonce_for`) so Discord returns the first message instead of posting a second.
- IN_FLIGHT: this run is sending it right now: do nothing.
- DONE: sent or skipped already: never send again.
- FAILED: an earlier attempt failed for good; only retried when the caller asks.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.clock import from_db, to_db

if TYPE_CHECKING:
    from bot.store import Store

NONCE_LENGTH = 25  # Discord's maximum


class Status(enum.StrEnum):
    """A ledger row's state; the only place the stored words are spelled."""

    CLAIMED = "claimed"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


class Claim(enum.Enum):
    NEW = "new"
    RESUME = "resume"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"

    @property
    def should_send(self) -> bool:
        return self in (Claim.NEW, Claim.RESUME)


@dataclass(frozen=True, slots=True)
class Delivery:
    key: str
    guild_id: int | None
    kind: str
    status: Status
    message_id: int | None
    reason: str | None
    attempts: int
    claimed_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What `Ledger.deliver` did: `sent` is True only when this call made the send."""

    claim: Claim
    sent: bool
    message_id: int | None = None


def nonce_for(key: str) -> str:
    """A message nonce derived from the ledger key: the same key always gives the same nonce."""
    return hashlib.sha256(key.encode()).hexdigest()[:NONCE_LENGTH]


class Ledger:
    """Repository for the `deliveries` table."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def claim(
        self, key: str, *, kind: str, guild_id: int | None = None, retry_failed: bool = False
    ) -> Claim:
        """Claim `key` for a send by this run. Atomic: two concurrent claims never both get NEW."""
        db = self.store.db
        now = to_db(self.store.clock())
        owner = self.store.run_id
        cur = await db.execute(
            "INSERT OR IGNORE INTO deliveries (key, guild_id, kind, status, owner, claimed_at,"
            " updated_at) VALUES (?, ?, ?, 'claimed', ?, ?, ?)",
            (key, guild_id, kind, owner, now, now),
        )
        inserted = cur.rowcount == 1
        if inserted:
            return Claim.NEW
        # Take over a claim that an earlier run left unconfirmed (it died mid-send).
        cur = await db.execute(
            "UPDATE deliveries SET owner = ?, attempts = attempts + 1, updated_at = ?"
            " WHERE key = ? AND status = 'claimed' AND owner != ?",
            (owner, now, key, owner),
        )
        resumed = cur.rowcount == 1
        if resumed:
            return Claim.RESUME
        if retry_failed:
            cur = await db.execute(
                "UPDATE deliveries SET status = 'claimed', owner = ?, attempts = attempts + 1,"
                " updated_at = ? WHERE key = ? AND status = 'failed'",
                (owner, now, key),
            )
            retried = cur.rowcount == 1
            if retried:
                return Claim.RESUME
        row = await self.get(key)
        assert row is not None
        if row.status is Status.CLAIMED:
            return Claim.IN_FLIGHT
        if row.status is Status.FAILED:
            return Claim.FAILED
        return Claim.DONE

    async def _finish(
        self, key: str, status: Status, *, message_id: int | None = None, reason: str | None = None
    ) -> None:
        db = self.store.db
        await db.execute(
            "UPDATE deliveries SET status = ?, message_id = COALESCE(?, message_id),"
            " reason = ?, updated_at = ? WHERE key = ?",
            (status.value, message_id, reason, to_db(self.store.clock()), key),
        )

    async def mark_sent(self, key: str, message_id: int | None = None) -> None:
        await self._finish(key, Status.SENT, message_id=message_id)

    async def mark_skipped(self, key: str, reason: str) -> None:
        await self._finish(key, Status.SKIPPED, reason=reason)

    async def mark_failed(self, key: str, reason: str) -> None:
        await self._finish(key, Status.FAILED, reason=reason)

    async def skip(self, key: str, *, kind: str, guild_id: int | None, reason: str) -> bool:
        """Record a send that will not be made (missed while down, no longer useful).

        Returns False when the key already has a row (it was sent or decided before).
        """
        db = self.store.db
        now = to_db(self.store.clock())
        cur = await db.execute(
            "INSERT OR IGNORE INTO deliveries (key, guild_id, kind, status, owner, reason,"
            " claimed_at, updated_at) VALUES (?, ?, ?, 'skipped', ?, ?, ?, ?)",
            (key, guild_id, kind, self.store.run_id, reason, now, now),
        )
        return cur.rowcount == 1

    async def get(self, key: str) -> Delivery | None:
        row = await self.store.fetch_one(
            "SELECT key, guild_id, kind, status, message_id, reason, attempts, claimed_at,"
            " updated_at FROM deliveries WHERE key = ?",
            (key,),
        )
        if row is None:
            return None
        return Delivery(
            key=row["key"],
            guild_id=row["guild_id"],
            kind=row["kind"],
            status=Status(row["status"]),
            message_id=row["message_id"],
            reason=row["reason"],
            attempts=row["attempts"],
            claimed_at=from_db(row["claimed_at"]),
            updated_at=from_db(row["updated_at"]),
        )

    async def settled(self, guild_id: int, kind: str) -> set[str]:
        """Keys of a kind that are sent, skipped or failed for good (not "claimed"): one query
        for a planner that would otherwise look each key up."""
        rows = await self.store.fetch_all(
            "SELECT key FROM deliveries WHERE guild_id = ? AND kind = ? AND status != 'claimed'",
            (guild_id, kind),
        )
        return {row[0] for row in rows}

    async def interrupted(self, guild_id: int, kind: str) -> list[str]:
        """Keys of a guild and kind left claimed by an earlier run (it stopped mid-send): the
        caller resumes them (a claim by this run takes them over, same nonce)."""
        rows = await self.store.fetch_all(
            "SELECT key FROM deliveries WHERE guild_id = ? AND kind = ? AND status = 'claimed'"
            " AND owner != ? ORDER BY claimed_at",
            (guild_id, kind, self.store.run_id),
        )
        return [row[0] for row in rows]

    async def counts(self, guild_id: int, kind: str | None = None) -> dict[str, int]:
        """Rows per status for a guild (optionally one kind): the figures for `/organiser stats`."""
        sql = "SELECT status, COUNT(*) FROM deliveries WHERE guild_id = ?"
        params: list[object] = [guild_id]
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        sql += " GROUP BY status"
        return {status: count for status, count in await self.store.fetch_all(sql, params)}

    async def deliver(
        self,
        key: str,
        *,
        kind: str,
        guild_id: int | None,
        send: Callable[[str], Awaitable[int | None]],
        retry_failed: bool = False,
        recover: Callable[[str, datetime], Awaitable[int | None]] | None = None,
    ) -> DeliveryResult:
        """Claim, send with the key's nonce, confirm. Any exception marks the key failed and
        propagates, so callers can react (for example fall back from a closed DM).

        A claim resumed from an earlier run (its outcome unknown: the run died mid-send) is
        first looked for with `recover(nonce, claimed_at)` (`bot.delivery.recovery`): Discord
        deduplicates a nonce only for a few minutes, so a message found is recorded as sent
        and not posted again."""
        claim = await self.claim(key, kind=kind, guild_id=guild_id, retry_failed=retry_failed)
        if not claim.should_send:
            return DeliveryResult(claim=claim, sent=False)
        if claim is Claim.RESUME and recover is not None:
            row = await self.get(key)
            found = await recover(nonce_for(key), row.claimed_at) if row is not None else None
            if found is not None:
                await self.mark_sent(key, found)
                return DeliveryResult(claim=claim, sent=False, message_id=found)
        try:
            message_id = await send(nonce_for(key))
        except Exception as exc:
            # Cancellation (shutdown) is not a failure: the claim stays open and the next run
            # resumes it with the same nonce.
            await self.mark_failed(key, f"{type(exc).__name__}: {exc}"[:500])
            raise
        await self.mark_sent(key, message_id)
        return DeliveryResult(claim=claim, sent=True, message_id=message_id)
