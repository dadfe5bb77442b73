"""The DM fan-out: exactly once through the ledger, past every failure, paced and bounded.

Every test that needs Discord runs the real discord.py client, connected to the wire-level fake
(bot/sandbox), with a real SQLite ledger. Failures are scripted for one member at a time
on that member's own DM channel (``fake.inject`` / ``fake.drop`` on its stable id,
``fake.close_dms``), and what Discord received is read back from the fake. Pure arithmetic
(`fanout_seconds`, `Pacer` spacing, `context_for`) stays as plain unit tests.

discord.py's own handling shapes two of the scripted faults: it retries 500/502/504 itself
(sleeping 1 s, 3 s, 5 s ... over five tries), so the fan-out's own retry of a server error is
driven with a 503, which discord.py raises at once; and it waits out a 429 five times before
raising, so five injected 429s are one that outlasted it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.clock import Timeline
from bot.delivery.context import (
    GLOBAL_LIMIT,
    TARGET_RATE,
    DmChannels,
    FanoutContext,
    Pacer,
    context_for,
)
from bot.delivery.fanout import FanoutResult, fanout_seconds, send_dms
from bot.sandbox import FakeDiscord, RequestRecord
from bot.store import Claim, Ledger, Store
from bot.store.ledger import nonce_for
from tests.sandbox_plugin import connected as connect_client

GUILD = 1
OPEN_DM = r"^/users/@me/channels$"
SEND = r"^/channels/\d+/messages$"
DM_TRAFFIC = rf"{OPEN_DM}|{SEND}"  # every request a fan-out makes (all POSTs)


@asynccontextmanager
async def connected(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    """A plain discord.Client logged in to the fake and connected to its gateway."""
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with connect_client(fake, client):
        yield client


@pytest.fixture
def fake(discord_endpoints: FakeDiscord) -> FakeDiscord:
    """The fake Discord, with discord.py's REST base and gateway pointed at it."""
    return discord_endpoints


@pytest_asyncio.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    async with connected(fake) as c:
        yield c


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "fanout.db") as s:
        yield s


def key_for(user_id: int) -> str:
    return f"dm:{GUILD}:s:15:t:{user_id}"


def add_members(fake: FakeDiscord, prefix: str, n: int) -> list[int]:
    return [fake.add_user(f"{prefix}{i}").id for i in range(n)]


def dm_route(fake: FakeDiscord, user: str | int) -> str:
    """Path regex of DMs to one member only: their DM channel id is stable."""
    return rf"^/channels/{fake.dm_channel_id(user)}/messages$"


def posts(fake: FakeDiscord, user: str | int) -> list[RequestRecord]:
    """Every attempt to DM `user` that reached the fake (answered or not)."""
    return fake.requests_to("POST", dm_route(fake, user))


async def fan_out(
    client: discord.Client,
    ledger: Ledger,
    users: list[int],
    *,
    key: Callable[[int], str] = key_for,
    **kwargs: Any,
) -> FanoutResult:
    kwargs.setdefault("context", FanoutContext(pacer=Pacer(rate=10_000)))
    return await send_dms(
        client,
        ledger,
        guild_id=GUILD,
        user_ids=users,
        kind="dm",
        key_for=key,
        build=lambda user: {"content": f"hello {user}"},
        backoff=0,
        **kwargs,
    )


async def test_every_member_gets_one_dm_with_the_keys_nonce_at_most_concurrency_at_once(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    users = add_members(fake, "m", 25)
    fake.delay("POST", SEND, 0.05)  # each DM takes a while, so overlapping ones show
    context = FanoutContext(pacer=Pacer(rate=10_000))

    result = await fan_out(
        client, ledger, [*users, users[2], users[2]], context=context, concurrency=4
    )
    assert sorted(result.sent) == sorted(users)
    assert not (result.failed or result.dm_closed or result.skipped)
    for user in users:
        (dm,) = fake.dms(user)
        assert dm["content"] == f"hello {user}" and dm["nonce"] == nonce_for(key_for(user))
        row = await ledger.get(key_for(user))
        assert row is not None and row.status == "sent" and row.message_id == int(dm["id"])
    assert await ledger.counts(GUILD, "dm") == {"sent": 25}
    # Two requests per member (open the DM channel, send), none for the duplicates.
    assert len(fake.requests_to("POST", OPEN_DM)) == 25
    assert len(fake.requests_to("POST", SEND)) == 25
    # Never more than `concurrency` members in flight, and the fan-out does use all of them.
    assert fake.max_in_flight("POST", DM_TRAFFIC) == 4

    # A second run (a replan) sends nothing, and asks nothing of Discord.
    asked = len(fake.requests)
    again = await fan_out(client, ledger, users, context=context)
    assert sorted(again.skipped) == sorted(users) and not again.sent
    assert len(fake.requests) == asked


async def test_dm_channels_stay_known_beyond_discord_pys_own_cache_of_128(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    users = add_members(fake, "c", 130)
    context = FanoutContext(pacer=Pacer(rate=10_000))
    first = await fan_out(client, ledger, users, context=context)
    assert sorted(first.sent) == sorted(users)
    assert len(fake.requests_to("POST", OPEN_DM)) == 130

    # The next fan-out to the same members (another reminder lead) costs one request each,
    # though discord.py itself keeps only the latest 128 DM channels.
    later = await fan_out(
        client, ledger, users, context=context, key=lambda u: f"dm:{GUILD}:s:60:t:{u}"
    )
    assert sorted(later.sent) == sorted(users)
    assert len(fake.requests_to("POST", OPEN_DM)) == 130 and len(context.channels) == 130
    assert len(fake.requests_to("POST", SEND)) == 260
    assert all(len(fake.dms(user)) == 2 for user in users)


async def test_the_fanout_continues_past_failures_retrying_only_transient_ones(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    names = ["ok", "closed", "flaky", "down", "invalid", "dropped", "throttled", "stale", "last"]
    ids = {name: fake.add_user(name).id for name in names}
    fake.close_dms("closed")  # 403 / 50007
    fake.inject("POST", dm_route(fake, "flaky"), 503)  # once: the retry succeeds
    fake.inject("POST", dm_route(fake, "down"), 503, times=100)  # never recovers
    fake.inject("POST", dm_route(fake, "invalid"), 400, code=50035, message="Invalid Form Body")
    fake.drop("POST", dm_route(fake, "dropped"), times=2)  # connection lost, twice
    # Five 429s in a row: discord.py waits out each and then gives up; the fan-out retries.
    fake.inject("POST", dm_route(fake, "throttled"), 429, times=5, retry_after=0.01)
    fake.inject("POST", dm_route(fake, "stale"), 404, code=10003, message="Unknown Channel")
    closed: list[int] = []

    async def on_closed(user_id: int) -> None:
        closed.append(user_id)

    result = await fan_out(client, ledger, list(ids.values()), on_closed=on_closed, retries=3)

    def who(users: list[int]) -> list[str]:
        return sorted(name for name, uid in ids.items() if uid in users)

    assert who(result.sent) == ["dropped", "flaky", "last", "ok", "stale", "throttled"]
    assert who(result.dm_closed) == ["closed"] and closed == [ids["closed"]]
    assert who(result.failed) == ["down", "invalid"]
    attempts = {name: len(posts(fake, name)) for name in names}
    assert attempts == {
        "ok": 1,
        "closed": 1,  # a closed DM is never retried
        "flaky": 2,
        "down": 4,  # the first try and `retries` more
        "invalid": 1,  # our fault: a repeat gives the same answer (the fault was one-shot)
        "dropped": 3,
        "throttled": 6,  # five within discord.py, then one by the fan-out
        "stale": 2,  # Unknown Channel: the DM channel is opened again, once
        "last": 1,
    }
    for name in names:
        # Every attempt carried the key's nonce; each member holds at most one DM.
        assert {r.json["nonce"] for r in posts(fake, name)} == {nonce_for(key_for(ids[name]))}
        sent = ids[name] in result.sent
        assert [dm["content"] for dm in fake.dms(name)] == ([f"hello {ids[name]}"] if sent else [])

    row = await ledger.get(key_for(ids["closed"]))
    assert row is not None and row.status == "skipped" and row.reason == "dm_closed"
    down = await ledger.get(key_for(ids["down"]))
    assert down is not None and down.status == "failed" and "503" in str(down.reason)
    invalid = await ledger.get(key_for(ids["invalid"]))
    assert invalid is not None and invalid.status == "failed" and "50035" in str(invalid.reason)

    # A later run sends nothing again: done, closed and failed keys are all settled.
    asked = len(fake.requests)
    again = await fan_out(client, ledger, list(ids.values()))
    assert sorted(again.skipped) == sorted(ids.values()) and not again.sent
    assert len(fake.requests) == asked


async def test_an_interrupted_fanout_is_resumed_with_the_same_nonce(
    fake: FakeDiscord, store: Store, tmp_path: Path
) -> None:
    first, slow, third = (fake.add_user(name).id for name in ("first", "slow", "third"))
    # The DM to `slow` reaches Discord, but the bot dies before the answer comes back.
    fake.delay("POST", dm_route(fake, slow), 0.5, times=1)
    async with connected(fake) as client:
        task = asyncio.create_task(fan_out(client, Ledger(store), [first, slow, third]))
        await fake.wait_for(
            lambda: posts(fake, slow) and fake.dms(first) and fake.dms(third),
            message="the DMs to first and third, and the one to slow in flight",
        )
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    row = await Ledger(store).get(key_for(slow))
    assert row is not None and row.status == "claimed"
    await fake.wait_for(lambda: fake.dms(slow), message="Discord posting the abandoned DM")

    # The next process (another client, another store run id) resumes it: it first looks in
    # the member's DM channel (its id is stored) and finds the message, so nothing is resent
    # (issue 10: Discord's nonce dedupe lasts only minutes).
    async with Store(tmp_path / "fanout.db") as later, connected(fake) as client:
        ledger = Ledger(later)
        assert await ledger.claim(key_for(first), kind="dm") == Claim.DONE
        result = await fan_out(client, ledger, [first, slow, third])
        row = await ledger.get(key_for(slow))
    assert result.sent == [] and sorted(result.skipped) == sorted([first, slow, third])
    nonces = [r.json["nonce"] for r in posts(fake, slow)]
    assert nonces == [nonce_for(key_for(slow))]
    assert fake.requests_to("GET", rf"^/channels/{fake.dm_channel_id(slow)}/messages$")
    (dm,) = fake.dms(slow)
    assert row is not None and row.status == "sent" and row.message_id == int(dm["id"])
    assert all(len(fake.dms(user)) == 1 for user in (first, third))


async def test_a_paced_fanout_stays_under_discords_global_limit(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    paced, unpaced = add_members(fake, "p", 24), add_members(fake, "u", 30)
    fake.set_global_rate_limit(GLOBAL_LIMIT)

    result = await fan_out(client, ledger, paced, context=FanoutContext())  # the real pacer
    assert sorted(result.sent) == sorted(paced)
    assert fake.count_429 == 0
    times = [r.at for r in fake.requests_to("POST", DM_TRAFFIC)]
    assert len(times) == 2 * len(paced)
    # Spaced evenly at TARGET_RATE: 48 requests span at least 47 intervals.
    assert times[-1] - times[0] >= 0.95 * (len(times) - 1) / TARGET_RATE

    # The limit does bind: the same fan-out without the pacer runs into it.
    fake.set_global_rate_limit(GLOBAL_LIMIT)  # a fresh window
    control = await fan_out(client, ledger, unpaced, context=FanoutContext(Pacer(rate=10_000)))
    assert sorted(control.sent) == sorted(unpaced)
    assert fake.count_429 > 0


async def test_a_dm_channel_is_opened_once_even_when_asked_for_concurrently(
    fake: FakeDiscord, client: discord.Client
) -> None:
    user = fake.add_user("asked").id
    fake.delay("POST", OPEN_DM, 0.1)  # all five ask while the first request is in flight
    channels, pacer = DmChannels(), Pacer(rate=10_000)
    got = await asyncio.gather(*(channels.get(client, user, pacer) for _ in range(5)))
    assert len(fake.requests_to("POST", OPEN_DM)) == 1 and channels.created == 1
    assert {c.id for c in got} == {fake.dm_channel_id(user)} and channels.known(user)


async def test_the_pacer_spaces_requests_evenly() -> None:
    pacer = Pacer(rate=200)
    started = time.monotonic()
    await asyncio.gather(*(pacer.wait() for _ in range(41)))
    elapsed = time.monotonic() - started
    assert 0.19 <= elapsed < 0.5
    assert pacer.granted == 41
    with pytest.raises(ValueError):
        Pacer(rate=0)


def test_the_fanout_budget_arithmetic() -> None:
    # 2,000 recipients at 2 requests each plus the channel post, at 45 requests per second.
    assert fanout_seconds(2 * 2000 + 1) == 89
    assert fanout_seconds(0) == 0
    assert fanout_seconds(1) == 1
    assert fanout_seconds(90, rate=45) == 2


async def test_one_context_per_client_is_shared() -> None:
    client = discord.Client(intents=discord.Intents.none())
    other = discord.Client(intents=discord.Intents.none())
    assert context_for(client) is context_for(client)
    assert context_for(other) is not context_for(client)


# ------------------------------------------------------------------ issue 10: restricted DMs


async def test_new_dm_channels_stay_within_the_budget_until_the_deadline(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    users = add_members(fake, "b", 6)
    context = FanoutContext(pacer=Pacer(rate=10_000), new_dms_per_minute=3)
    result = await fan_out(client, ledger, users, context=context, deadline=time.monotonic() + 0.3)
    assert len(result.sent) == 3 and len(result.restricted) == 3
    assert len(fake.requests_to("POST", OPEN_DM)) == 3
    for user in result.restricted:
        row = await ledger.get(key_for(user))
        assert row is not None and (row.status, row.reason) == ("skipped", "dm_budget")
    # The ids are stored: a fresh context (a restart) DMs those members with one request each.
    fresh = FanoutContext(pacer=Pacer(rate=10_000), new_dms_per_minute=3)
    again = await fan_out(client, ledger, result.sent, key=lambda u: f"again:{u}", context=fresh)
    assert sorted(again.sent) == sorted(result.sent)
    assert len(fake.requests_to("POST", OPEN_DM)) == 3


async def test_a_40003_pauses_new_dms_for_the_whole_fanout(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    users = add_members(fake, "f", 12)
    fake.limit_dm_opens(2, window=60)
    alerts: list[tuple[str, str]] = []

    async def on_alert(kind: str, text: str) -> None:
        alerts.append((kind, text))

    context = FanoutContext(pacer=Pacer(rate=10_000))
    result = await fan_out(client, ledger, users, context=context, on_alert=on_alert)
    assert len(result.sent) == 2 and len(result.restricted) == 10
    assert fake.count_40003 == 1  # one answer of 40003, not one per member
    assert [kind for kind, _ in alerts] == ["dm_restricted"] and "40003" in alerts[0][1]
    assert context.guard(GUILD).state.value == "cooldown"


async def test_quarantine_still_dms_members_dmed_before(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    before = add_members(fake, "old", 3)
    never = add_members(fake, "new", 5)
    context = FanoutContext(pacer=Pacer(rate=10_000))
    await fan_out(client, ledger, before, key=lambda u: f"first:{u}", context=context)
    fake.quarantine()
    later = FanoutContext(pacer=Pacer(rate=10_000))  # after a restart: from the database
    result = await fan_out(client, ledger, [*before, *never], context=later)
    assert sorted(result.sent) == sorted(before)
    assert sorted(result.restricted) == sorted(never)
    assert fake.count_40003 == 1
    assert all(len(fake.dms(u)) == 2 for u in before)


async def test_a_dm_whose_answer_was_lost_is_found_not_sent_again(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    ledger = Ledger(store)
    [user] = add_members(fake, "lost", 1)
    fake.nonce_window = 0  # even without Discord's nonce dedupe
    hold = fake.hold_after_create(dm_route(fake, user), drop=True)
    result = await fan_out(client, ledger, [user])
    assert hold.lost == 1 and result.sent == [user]
    (dm,) = fake.dms(user)
    row = await ledger.get(key_for(user))
    assert row is not None and row.status == "sent" and row.message_id == int(dm["id"])
    assert fake.requests_to("GET", rf"^/channels/{fake.dm_channel_id(user)}/messages$")


async def test_under_a_rehearsal_timeline_the_budget_counts_event_minutes(
    fake: FakeDiscord, client: discord.Client, store: Store
) -> None:
    # Event time runs 600 times faster than real time: a budget minute passes in 0.1 s, so
    # six new DMs at 3 a minute all go out well within the real deadline of 3 s ...
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    timeline = Timeline(
        time.time(), [(0.0, start), (10.0, start + timedelta(hours=100 / 60))], now=time.time
    )
    ledger = Ledger(store)
    users = add_members(fake, "t", 6)
    context = FanoutContext(pacer=Pacer(rate=10_000), new_dms_per_minute=3, clock=timeline)
    result = await fan_out(client, ledger, users, context=context, deadline=time.monotonic() + 3)
    assert sorted(result.sent) == sorted(users) and result.restricted == []
    assert len(fake.requests_to("POST", OPEN_DM)) == 6
    # ... and still no more than 3 were opened in any event minute.
    guard = context.guard(GUILD)
    assert guard.clock is not time.monotonic and len(guard._opened) <= 3
    # A deadline in event time shorter than the next budget minute still stops the rest.
    more = add_members(fake, "u", 4)
    rest = await fan_out(client, ledger, more, context=context, deadline=time.monotonic() + 0.02)
    assert len(rest.restricted) >= 1 and set(rest.over_budget) == set(rest.restricted)
