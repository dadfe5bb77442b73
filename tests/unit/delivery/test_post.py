"""The delivery module's once-and-only-once post: claim each part, send it with its key's
nonce, mark it; an interrupted post resumes with only the missing parts; a past day's open
claims are closed as skipped, never left open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.delivery import Delivery, FanoutContext, Part, close_past_key
from bot.delivery.keys import daily_key, digest_key
from bot.store import Ledger, Store
from bot.store.ledger import Status, nonce_for

GUILD = 4242
DAY = date(2026, 9, 14)


class Channel:
    """Records each send like the fake Discord does (its id, kwargs and nonce); ``fail_at``
    makes that send (1-based) raise a Discord error once."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail_at = fail_at
        self.calls = 0

    async def send(self, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls == self.fail_at:
            self.fail_at = None
            raise discord.HTTPException(_Response(500), {"message": "boom", "code": 0})
        self.sent.append(kwargs)

        class Sent:
            id = 1000 + len(self.sent)

        return Sent()


class _Response:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "error"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "qiweek.db") as s:
        yield s


def delivery(store: Store) -> Delivery:
    return Delivery(None, Ledger(store), FanoutContext())  # type: ignore[arg-type]


def parts(n: int) -> list[Part]:
    return [Part(digest_key(GUILD, DAY, i), {"content": f"part {i}"}) for i in range(1, n + 1)]


async def _leave_claimed(store: Store, key: str, owner: str = "crashed-run") -> None:
    """A row as a run that died mid-send leaves it: claimed, never confirmed."""
    await store.db.execute(
        "INSERT INTO deliveries (key, guild_id, kind, status, owner, claimed_at, updated_at)"
        " VALUES (?, ?, 'daily', 'claimed', ?, '2026-09-14T07:00:00+00:00',"
        " '2026-09-14T07:00:00+00:00')",
        (key, GUILD, owner),
    )


async def _status(ledger: Ledger, key: str) -> tuple[str, str | None] | None:
    row = await ledger.get(key)
    return None if row is None else (row.status, row.reason)


async def test_a_post_is_sent_once_with_each_keys_nonce(store: Store) -> None:
    d, channel = delivery(store), Channel()
    posted = await d.post(channel, parts(3), kind="digest", guild_id=GUILD)  # type: ignore[arg-type]
    assert posted.sent == [1001, 1002, 1003]
    assert [m["nonce"] for m in channel.sent] == [nonce_for(p.key) for p in parts(3)]
    assert all(len(m["nonce"]) <= 25 for m in channel.sent)
    again = await d.post(channel, parts(3), kind="digest", guild_id=GUILD)  # type: ignore[arg-type]
    assert again.sent == [] and len(channel.sent) == 3
    for part in parts(3):
        row = await d.ledger.get(part.key)
        assert row is not None and row.status is Status.SENT


async def test_an_interrupted_post_resumes_with_only_the_missing_parts(store: Store) -> None:
    d = delivery(store)
    failing = Channel(fail_at=2)
    with pytest.raises(discord.HTTPException):
        await d.post(failing, parts(3), kind="digest", guild_id=GUILD, claim_ahead=True)  # type: ignore[arg-type]
    assert [m["content"] for m in failing.sent] == ["part 1"]
    assert (await _status(d.ledger, parts(3)[2].key) or ("",))[0] == "failed"  # claimed ahead
    retry = Channel()
    posted = await d.post(
        retry,
        parts(3),
        kind="digest",
        guild_id=GUILD,
        claim_ahead=True,
        retry_failed=True,  # type: ignore[arg-type]
    )
    assert [m["content"] for m in retry.sent] == ["part 2", "part 3"] and len(posted.sent) == 2


async def test_a_post_that_went_out_is_never_extended(store: Store) -> None:
    d = delivery(store)
    await d.post(Channel(), parts(1), kind="digest", guild_id=GUILD, claim_ahead=True)  # type: ignore[arg-type]
    later = Channel()
    await d.post(later, parts(3), kind="digest", guild_id=GUILD, claim_ahead=True)  # type: ignore[arg-type]
    assert later.sent == []


async def test_an_envelope_confirms_the_whole_post(store: Store) -> None:
    d, channel = delivery(store), Channel()
    whole = daily_key(GUILD, DAY)
    posted = await d.post(channel, parts(2), kind="daily", guild_id=GUILD, envelope=whole)  # type: ignore[arg-type]
    row = await d.ledger.get(whole)
    assert row is not None and row.status is Status.SENT and row.message_id == posted.sent[0]
    again = await d.post(channel, parts(2), kind="daily", guild_id=GUILD, envelope=whole)  # type: ignore[arg-type]
    assert again.already_done and len(channel.sent) == 2


async def test_a_tolerated_discord_error_still_sends_the_next_part(store: Store) -> None:
    d, channel = delivery(store), Channel(fail_at=1)
    posted = await d.post(
        channel,
        parts(2),
        kind="change",
        guild_id=GUILD,
        tolerate_http_errors=True,  # type: ignore[arg-type]
    )
    assert [m["content"] for m in channel.sent] == ["part 2"] and len(posted.sent) == 1
    assert (await _status(d.ledger, parts(2)[0].key) or ("",))[0] == "failed"


async def test_close_past_key_covers_every_state(store: Store) -> None:
    ledger = Ledger(store)
    reason = "missed: the day is over"
    # No row: recorded as skipped.
    assert await close_past_key(ledger, "k:new", kind="daily", guild_id=GUILD, reason=reason)
    assert await _status(ledger, "k:new") == ("skipped", reason)
    # An earlier run's open claim: taken over and skipped, saying why.
    await _leave_claimed(store, "k:old")
    assert await close_past_key(ledger, "k:old", kind="daily", guild_id=GUILD, reason=reason)
    status = await _status(ledger, "k:old")
    assert status is not None and status[0] == "skipped" and status[1].startswith(reason)
    assert "never confirmed" in status[1]
    # This run's claim (in flight right now) and a decided row are left as they are.
    await _leave_claimed(store, "k:mine", owner=store.run_id)
    assert not await close_past_key(ledger, "k:mine", kind="daily", guild_id=GUILD, reason=reason)
    assert await _status(ledger, "k:mine") == ("claimed", None)
    await ledger.claim("k:sent", kind="daily", guild_id=GUILD)
    await ledger.mark_sent("k:sent", 1)
    assert not await close_past_key(ledger, "k:sent", kind="daily", guild_id=GUILD, reason=reason)
    assert await _status(ledger, "k:sent") == ("sent", None)
