"""The ledger looks for a resumed send before making it again (issue 10)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.store import Claim, Ledger, Store
from bot.store.ledger import nonce_for


async def test_a_resumed_claim_found_by_recover_is_recorded_not_resent(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    async with Store(path) as first:
        assert await Ledger(first).claim("k", kind="t", guild_id=1) is Claim.NEW
    asked: list[tuple[str, datetime]] = []
    sent: list[str] = []

    async def recover(nonce: str, since: datetime) -> int | None:
        asked.append((nonce, since))
        return 77

    async def send(nonce: str) -> int:
        sent.append(nonce)
        return 1

    async with Store(path) as second:
        ledger = Ledger(second)
        result = await ledger.deliver("k", kind="t", guild_id=1, send=send, recover=recover)
        assert result.claim is Claim.RESUME and not result.sent and result.message_id == 77
        assert sent == [] and [nonce for nonce, _ in asked] == [nonce_for("k")]
        row = await ledger.get("k")
        assert row is not None and (row.status, row.message_id) == ("sent", 77)
        assert asked[0][1] == row.claimed_at
        # A new claim is never looked for (nothing can have been sent before it).
        fresh = await ledger.deliver("n", kind="t", guild_id=1, send=send, recover=recover)
        assert fresh.sent and len(asked) == 1


async def test_a_resumed_claim_not_found_is_sent_with_its_nonce(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    async with Store(path) as first:
        await Ledger(first).claim("k", kind="t", guild_id=1)

    async def recover(nonce: str, since: datetime) -> int | None:
        return None

    async def send(nonce: str) -> int:
        assert nonce == nonce_for("k")
        return 5

    async with Store(path) as second:
        result = await Ledger(second).deliver("k", kind="t", guild_id=1, send=send, recover=recover)
        assert result.sent and result.message_id == 5
