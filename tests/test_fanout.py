"""The DM fan-out: exactly once through the ledger, past every failure, paced and bounded.

Discord is replaced by a small stand-in client (the fan-out only needs `create_dm`,
`get_partial_messageable` and `send`), so failures can be scripted per member; the ledger and
SQLite are real. The wire-level behaviour is covered end to end in test_e2e_reminders.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest

from bot.services.fanout import (
    DmChannels,
    FanoutContext,
    Pacer,
    context_for,
    fanout_seconds,
    send_dms,
)
from bot.store import Claim, Ledger, Store
from bot.store.ledger import nonce_for

GUILD = 1


def http_error(cls: type[discord.HTTPException], status: int, code: int) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="scripted")
    return cls(response, {"code": code, "message": f"scripted {code}"})  # type: ignore[arg-type]


def closed() -> discord.HTTPException:
    return http_error(discord.Forbidden, 403, 50007)


def server_error() -> discord.HTTPException:
    return http_error(discord.DiscordServerError, 500, 0)


class StubDiscord:
    """Records DM channels opened and messages sent; raises scripted errors per member."""

    def __init__(self) -> None:
        self.failures: dict[int, list[BaseException]] = defaultdict(list)
        self.opened: list[int] = []
        self.sent: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.attempts: dict[int, int] = defaultdict(int)
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold: dict[int, asyncio.Event] = {}
        self.holding = asyncio.Event()
        self._ids = 1000

    async def create_dm(self, user: discord.abc.Snowflake) -> Any:
        self.opened.append(user.id)
        return SimpleNamespace(id=user.id + 10_000)

    def get_partial_messageable(self, channel_id: int, **_: Any) -> Any:
        return SimpleNamespace(send=lambda **kwargs: self._send(channel_id - 10_000, kwargs))

    async def _send(self, user_id: int, kwargs: dict[str, Any]) -> Any:
        self.attempts[user_id] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.005)
            if user_id in self.hold:
                self.holding.set()
                await self.hold[user_id].wait()
            if self.failures[user_id]:
                raise self.failures[user_id].pop(0)
            self.sent[user_id].append(kwargs)
            self._ids += 1
            return SimpleNamespace(id=self._ids)
        finally:
            self.in_flight -= 1


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "fanout.db") as s:
        yield s


def key_for(user_id: int) -> str:
    return f"dm:{GUILD}:s:15:t:{user_id}"


async def fan_out(stub: StubDiscord, ledger: Ledger, users: list[int], **kwargs: Any) -> Any:
    kwargs.setdefault("context", FanoutContext(pacer=Pacer(rate=10_000)))
    return await send_dms(
        stub,  # type: ignore[arg-type]
        ledger,
        guild_id=GUILD,
        user_ids=users,
        kind="dm",
        key_for=key_for,
        build=lambda user: {"content": f"hello {user}"},
        backoff=0,
        **kwargs,
    )


async def test_every_member_gets_one_dm_with_the_keys_nonce(store: Store) -> None:
    stub, ledger = StubDiscord(), Ledger(store)
    users = list(range(1, 26))
    context = FanoutContext(pacer=Pacer(rate=10_000))
    result = await fan_out(stub, ledger, [*users, 3, 3], context=context, concurrency=4)
    assert sorted(result.sent) == users and not (result.failed or result.dm_closed)
    assert {u: len(m) for u, m in stub.sent.items()} == dict.fromkeys(users, 1)
    assert stub.sent[7][0] == {"content": "hello 7", "nonce": nonce_for(key_for(7))}
    assert stub.max_in_flight <= 4
    assert (await ledger.counts(GUILD, "dm")) == {"sent": 25}

    again = await fan_out(stub, ledger, users, context=context)
    assert sorted(again.skipped) == users and not again.sent
    assert sum(len(m) for m in stub.sent.values()) == 25
    # DM channels were opened once per member and then taken from the cache.
    assert sorted(stub.opened) == users and len(context.channels) == 25


async def test_the_fanout_continues_past_failures_retries_500s_and_records_50007(
    store: Store,
) -> None:
    stub, ledger = StubDiscord(), Ledger(store)
    stub.failures[2] = [closed()]
    stub.failures[3] = [server_error()]  # once: the retry succeeds
    stub.failures[4] = [server_error() for _ in range(10)]  # never recovers
    stub.failures[5] = [http_error(discord.HTTPException, 400, 50035)]  # our fault: no retry
    stub.failures[6] = [aiohttp.ClientConnectionError("reset"), OSError("broken pipe")]
    # A 429 that outlasted discord.py's own waiting (a slow proxy): transient, so retried.
    stub.failures[7] = [http_error(discord.HTTPException, 429, 0)]
    recorded: list[int] = []

    async def on_closed(user_id: int) -> None:
        recorded.append(user_id)

    result = await fan_out(stub, ledger, list(range(1, 9)), on_closed=on_closed, retries=3)
    assert sorted(result.sent) == [1, 3, 6, 7, 8]
    assert result.dm_closed == [2] and recorded == [2]
    assert sorted(result.failed) == [4, 5]
    assert stub.attempts[3] == 2 and stub.attempts[4] == 4 and stub.attempts[5] == 1
    assert stub.attempts[7] == 2
    assert stub.attempts[2] == 1  # a closed DM is never retried
    row = await ledger.get(key_for(2))
    assert row is not None and row.status == "skipped" and row.reason == "dm_closed"
    failed = await ledger.get(key_for(4))
    assert failed is not None and failed.status == "failed" and "500" in str(failed.reason)

    # A later run sends nothing again: done, closed and failed keys are all settled.
    again = await fan_out(stub, ledger, list(range(1, 9)))
    assert sorted(again.skipped) == list(range(1, 9)) and not again.sent


async def test_an_interrupted_fanout_is_resumed_with_the_same_nonce(
    store: Store, tmp_path: Path
) -> None:
    stub, ledger = StubDiscord(), Ledger(store)
    stub.hold[2] = asyncio.Event()  # member 2's send hangs until the process "dies"
    task = asyncio.create_task(fan_out(stub, ledger, [1, 2, 3], concurrency=3))
    await asyncio.wait_for(stub.holding.wait(), 5)
    await asyncio.sleep(0.05)  # members 1 and 3 finish meanwhile
    assert sorted(stub.sent) == [1, 3]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    row = await ledger.get(key_for(2))
    assert row is not None and row.status == "claimed"

    # The next run (another process: another store run id) resumes it with the same nonce.
    async with Store(tmp_path / "fanout.db") as later:
        next_ledger = Ledger(later)
        assert await next_ledger.claim(key_for(1), kind="dm") == Claim.DONE
        del stub.hold[2]
        result = await fan_out(stub, next_ledger, [1, 2, 3])
    assert result.sent == [2] and sorted(result.skipped) == [1, 3]
    assert stub.sent[2][0]["nonce"] == nonce_for(key_for(2))


async def test_the_pacer_spaces_requests_evenly() -> None:
    pacer = Pacer(rate=200)
    started = time.monotonic()
    await asyncio.gather(*(pacer.wait() for _ in range(41)))
    elapsed = time.monotonic() - started
    assert 0.19 <= elapsed < 0.5
    assert pacer.granted == 41
    with pytest.raises(ValueError):
        Pacer(rate=0)


async def test_a_dm_channel_is_opened_once_even_when_asked_for_concurrently() -> None:
    stub, channels, pacer = StubDiscord(), DmChannels(), Pacer(rate=10_000)
    got = await asyncio.gather(*(channels.get(stub, 9, pacer) for _ in range(5)))  # type: ignore[arg-type]
    assert stub.opened == [9] and len(got) == 5 and channels.known(9)


def test_the_fanout_budget_arithmetic() -> None:
    # 2,000 recipients at 2 requests each plus the channel post, at 45 requests per second.
    assert fanout_seconds(2 * 2000 + 1) == 89
    assert fanout_seconds(0) == 0
    assert fanout_seconds(1) == 1
    assert fanout_seconds(90, rate=45) == 2


async def test_one_context_per_client_is_shared() -> None:
    client = SimpleNamespace()
    assert context_for(client) is context_for(client)  # type: ignore[arg-type]
    assert context_for(SimpleNamespace()) is not context_for(client)  # type: ignore[arg-type]
