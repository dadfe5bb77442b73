"""The sign-up confirmation DM (first contact, issue 10) against the sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.delivery.context import FanoutContext, Pacer
from bot.delivery.keys import first_dm_key
from bot.sandbox import FakeDiscord
from bot.services.first_contact import Contact, first_contact, settle_interrupted
from bot.store import Ledger, Store
from tests.sandbox_plugin import connected

GUILD = 1001


@pytest.fixture
def fake(discord_endpoints: FakeDiscord) -> FakeDiscord:
    return discord_endpoints


@pytest_asyncio.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    async with connected(fake, discord.Client(intents=discord.Intents.none())) as c:
        yield c


def context() -> FanoutContext:
    return FanoutContext(pacer=Pacer(rate=10_000), new_dms_per_minute=2)


async def contact(client: discord.Client, ledger: Ledger, user: int, ctx: FanoutContext) -> Contact:
    return await first_contact(
        client, ledger, guild_id=GUILD, user_id=user, setting="default", text="👋 hi", context=ctx
    )


async def test_once_per_member_within_the_budget_and_closed_dms_said(
    fake: FakeDiscord, client: discord.Client, tmp_path: Path
) -> None:
    users = [fake.add_user(f"s{i}").id for i in range(4)]
    fake.close_dms(users[3])
    ctx = context()
    async with Store(tmp_path / "fc.db") as store:
        ledger = Ledger(store)
        assert await contact(client, ledger, users[0], ctx) is Contact.SENT
        assert await contact(client, ledger, users[0], ctx) is Contact.ALREADY
        assert await contact(client, ledger, users[1], ctx) is Contact.SENT
        opened = len(fake.requests_to("POST", r"^/users/@me/channels$"))
        assert await contact(client, ledger, users[2], ctx) is Contact.LATER  # budget of 2
        assert await contact(client, ledger, users[3], ctx) is Contact.LATER
        assert [len(fake.dms(u)) for u in users[:3]] == [1, 1, 0]
        # Past the budget nothing is tried, read or recorded: decided in memory.
        assert len(fake.requests_to("POST", r"^/users/@me/channels$")) == opened
        assert await ledger.get(first_dm_key(GUILD, users[2])) is None
        roomy = FanoutContext(pacer=Pacer(rate=10_000))
        assert await contact(client, ledger, users[3], roomy) is Contact.CLOSED
        assert await contact(client, ledger, users[2], roomy) is Contact.SENT  # tried again
        assert (
            await first_contact(
                client, ledger, guild_id=GUILD, user_id=users[0], setting="mention", text="x"
            )
            is Contact.NOT_WANTED
        )


async def test_a_sign_up_dm_left_claimed_by_a_stopped_run_is_settled(
    fake: FakeDiscord, client: discord.Client, tmp_path: Path
) -> None:
    sent_user, lost_user = fake.add_user("sent").id, fake.add_user("lost").id
    path = tmp_path / "fc.db"
    async with Store(path) as store:  # the run that stopped mid-send
        ledger = Ledger(store)
        assert await contact(client, ledger, sent_user, context()) is Contact.SENT
        await store.db.execute(
            "UPDATE deliveries SET status = 'claimed', message_id = NULL WHERE key = ?",
            (first_dm_key(GUILD, sent_user),),
        )
        await ledger.claim(first_dm_key(GUILD, lost_user), kind="first-dm", guild_id=GUILD)
    async with Store(path) as store:  # the next start
        ledger = Ledger(store)
        assert await settle_interrupted(client, ledger, context(), GUILD) == 2
        sent = await ledger.get(first_dm_key(GUILD, sent_user))
        lost = await ledger.get(first_dm_key(GUILD, lost_user))
        [dm] = fake.dms(sent_user)
        assert sent is not None and (sent.status, sent.message_id) == ("sent", int(dm["id"]))
        assert lost is not None and lost.status == "skipped"
        assert await settle_interrupted(client, ledger, context(), GUILD) == 0
