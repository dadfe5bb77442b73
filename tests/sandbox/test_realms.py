"""The fake's channel permission overwrites, private channels and second server, proved against
discord.py's own permission computation and the real client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest
import pytest_asyncio

from bot.sandbox import FakeDiscord
from bot.sandbox.realms import SEND_MESSAGES, VIEW_CHANNEL, compute_permissions
from tests.sandbox_plugin import connected

GUILD = 100
MOD, STAFF = 200, 300
BASE = VIEW_CHANNEL | SEND_MESSAGES


def ow(target: int, kind: int, allow: int = 0, deny: int = 0) -> dict[str, str | int]:
    return {"id": str(target), "type": kind, "allow": str(allow), "deny": str(deny)}


def perms(overwrites: list[dict[str, str | int]], roles: tuple[int, ...] = (), **kw: int) -> int:
    return compute_permissions(
        guild_id=GUILD,
        base=kw.get("base", BASE),
        member_id=kw.get("member", 1),
        member_roles=roles,
        overwrites=overwrites,
        is_owner=bool(kw.get("owner", 0)),
    )


def test_discords_order_everyone_then_roles_then_member() -> None:
    private = [ow(GUILD, 0, deny=VIEW_CHANNEL), ow(STAFF, 0, allow=VIEW_CHANNEL)]
    assert perms([]) == BASE
    assert perms(private) == 0  # no View Channel: no channel permission applies
    assert perms(private, roles=(STAFF,)) == BASE
    # Role overwrites are combined before applying: an allow on one role beats a deny on another.
    both = [*private, ow(MOD, 0, deny=VIEW_CHANNEL)]
    assert perms(both, roles=(STAFF, MOD)) == BASE
    # The member's own overwrite comes last and wins over the roles'.
    assert perms([*private, ow(1, 1, deny=VIEW_CHANNEL)], roles=(STAFF,)) == 0
    assert perms(private, base=BASE | (1 << 5)) == 1 << 5  # Manage Server is server-wide
    assert perms([*private, ow(1, 1, allow=VIEW_CHANNEL)]) == BASE
    # Read-only for @everyone.
    assert perms([ow(GUILD, 0, deny=SEND_MESSAGES)]) == VIEW_CHANNEL
    # Owner and Administrator are never restricted.
    assert perms(private, owner=1) == perms(private, base=1 << 3) == (1 << 51) - 1


class Watcher(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.joined: list[int] = []
        self.removed: list[int] = []

    async def on_guild_join(self, guild: discord.Guild) -> None:
        self.joined.append(guild.id)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        self.removed.append(guild.id)


@pytest_asyncio.fixture
async def client(discord_endpoints: FakeDiscord) -> AsyncIterator[Watcher]:
    discord_endpoints.create_guild("Elsewhere", members=("stranger",))
    async with connected(discord_endpoints, Watcher()) as watcher:
        yield watcher


async def wait_until(predicate) -> None:  # type: ignore[no-untyped-def]
    """Poll state the gateway event updates (no fixed sleep); fail after 3 s."""
    async with asyncio.timeout(3):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_overwrites_agree_with_discord_py_and_reach_it(
    fake_discord: FakeDiscord, client: Watcher
) -> None:
    fake = fake_discord
    guild = client.get_guild(fake.guild.id)
    assert guild is not None
    await fake.make_private("general", "organiser")
    channel = guild.get_channel(fake.channels["general"])
    assert isinstance(channel, discord.TextChannel)
    await wait_until(lambda: bool(channel.overwrites))  # CHANNEL_UPDATE applied
    everyone = channel.permissions_for(guild.default_role)
    assert not everyone.view_channel
    for name in ("member", "organiser", "admin", "bot"):
        member = guild.get_member(fake.users[name])
        assert member is not None
        mine = channel.permissions_for(member).value
        assert mine == fake.channel_permissions(name, "general"), name
    assert fake.channel_permissions("owner", "general") & VIEW_CHANNEL
    assert not channel.permissions_for(guild.get_member(fake.users["member"])).view_channel
    assert channel.permissions_for(guild.get_member(fake.users["organiser"])).view_channel

    staff = await fake.add_channel("staff-room", private_to=("admin",))
    await wait_until(lambda: guild.get_channel(int(staff["id"])) is not None)
    created = guild.get_channel(int(staff["id"]))
    assert isinstance(created, discord.TextChannel)
    assert not created.permissions_for(guild.default_role).view_channel


async def test_the_bot_cannot_post_where_it_may_not(
    fake_discord: FakeDiscord, client: Watcher
) -> None:
    fake = fake_discord
    await fake.set_overwrites("announcements", [fake.overwrite("QI Week Bot", deny=SEND_MESSAGES)])
    await fake.set_overwrites("programme", [fake.overwrite("QI Week Bot", deny=VIEW_CHANNEL)])
    with pytest.raises(discord.Forbidden) as no_send:
        await client.http.send_message(fake.channels["announcements"], params=_text("hi"))
    assert no_send.value.code == 50013
    with pytest.raises(discord.Forbidden) as no_view:
        await client.http.send_message(fake.channels["programme"], params=_text("hi"))
    assert no_view.value.code == 50001
    await client.http.send_message(fake.channels["digest"], params=_text("still fine"))
    assert fake.bot_messages("digest")


def _text(content: str) -> discord.http.MultipartParameters:
    return discord.http.handle_message_parameters(content=content)


async def test_a_second_server_is_seen_joined_and_left(
    fake_discord: FakeDiscord, client: Watcher
) -> None:
    fake = fake_discord
    (first_extra,) = fake.extra_guilds.values()
    other = client.get_guild(first_extra.guild.id)
    assert other is not None and other.name == "Elsewhere"
    assert {c.name for c in other.channels} == {"general"}
    assert other.get_member(fake.users["stranger"]) is not None
    main = client.get_guild(fake.guild.id)
    assert main is not None and main.get_member(fake.users["stranger"]) is None
    assert other.get_channel(fake.channels["general"]) is None  # channels stay in their server

    late = await fake.add_guild("Later", members=("visitor",))
    await wait_until(lambda: late.guild.id in client.joined)
    await client.http.leave_guild(late.guild.id)
    await wait_until(lambda: late.guild.id in client.removed)
    assert fake.left_guilds == [late.guild.id]
    assert client.get_guild(late.guild.id) is None
