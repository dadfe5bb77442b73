"""The sandbox's scheduled events, threads and crossposts follow Discord's rules (issue 12)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest
import pytest_asyncio

from bot.sandbox import FakeDiscord
from bot.sandbox.routes_events import CREATE_EVENTS, MANAGE_EVENTS


@pytest_asyncio.fixture
async def http(discord_endpoints: FakeDiscord) -> AsyncIterator[discord.http.HTTPClient]:
    client = discord.http.HTTPClient(asyncio.get_running_loop())
    await client.static_login(discord_endpoints.token)
    try:
        yield client
    finally:
        await client.close()


def event_body(start: datetime, **overrides: Any) -> dict[str, Any]:
    body = {
        "name": "QI café",
        "privacy_level": 2,
        "scheduled_start_time": start.isoformat(),
        "scheduled_end_time": (start + timedelta(hours=1)).isoformat(),
        "entity_type": 3,
        "entity_metadata": {"location": "https://example.org/join"},
        "description": "Hosted by Example NHS Trust",
    }
    body.update(overrides)
    return body


async def create(http: discord.http.HTTPClient, gid: int, body: dict[str, Any]) -> Any:
    return await http.create_guild_scheduled_event(gid, **body)


SOON = datetime.now(UTC) + timedelta(hours=1)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"description": "d" * 1001}, "description"),
        ({"entity_metadata": {"location": "l" * 101}}, "entity_metadata"),
        ({"entity_metadata": {}}, "entity_metadata"),
        ({"scheduled_end_time": None}, "scheduled_end_time"),
        ({"scheduled_start_time": (SOON - timedelta(days=1)).isoformat()}, "scheduled_start_time"),
    ],
)
async def test_event_validation_is_discords(
    http: discord.http.HTTPClient,
    fake_discord: FakeDiscord,
    overrides: dict[str, Any],
    field: str,
) -> None:
    body = event_body(SOON, **overrides)
    if body.get("scheduled_end_time") is None:
        body.pop("scheduled_end_time")
    with pytest.raises(discord.HTTPException) as info:
        await create(http, fake_discord.guild.id, body)
    assert info.value.code == 50035
    assert field in fake_discord.rejected[-1].errors
    assert not fake_discord.scheduled_events


async def test_cap_of_100_uncompleted_events(
    http: discord.http.HTTPClient, fake_discord: FakeDiscord
) -> None:
    for i in range(99):
        fake_discord.add_foreign_event(f"own {i}", SOON)
    await create(http, fake_discord.guild.id, event_body(SOON))
    with pytest.raises(discord.HTTPException) as info:
        await create(http, fake_discord.guild.id, event_body(SOON))
    assert info.value.code == 30038
    assert len(fake_discord.bot_events()) == 1


async def test_completed_events_free_the_cap_and_final_states_are_final(
    http: discord.http.HTTPClient, fake_discord: FakeDiscord
) -> None:
    gid = fake_discord.guild.id
    now = datetime.now(UTC)
    first = await create(http, gid, event_body(now + timedelta(minutes=5)))
    fake_discord.event_clock = lambda: now + timedelta(hours=2)
    await fake_discord.tick_events()
    assert fake_discord.scheduled_events[int(first["id"])]["status"] == 3
    with pytest.raises(discord.HTTPException) as info:
        await http.edit_scheduled_event(gid, first["id"], status=4)
    assert info.value.code == 180000


async def test_cancel_then_no_edit(
    http: discord.http.HTTPClient, fake_discord: FakeDiscord
) -> None:
    gid = fake_discord.guild.id
    event = await create(http, gid, event_body(SOON))
    await http.edit_scheduled_event(gid, event["id"], status=4)
    with pytest.raises(discord.HTTPException) as info:
        await http.edit_scheduled_event(gid, event["id"], name="again")
    assert info.value.code == 180000


async def test_create_events_permission(
    http: discord.http.HTTPClient, fake_discord: FakeDiscord
) -> None:
    gid = fake_discord.guild.id
    foreign = fake_discord.add_foreign_event("organisers' own", SOON)
    fake_discord.set_bot_permission(MANAGE_EVENTS, False)
    own = await create(http, gid, event_body(SOON))
    # Create Events edits the bot's own events but not the organisers'.
    await http.edit_scheduled_event(gid, own["id"], name="renamed")
    with pytest.raises(discord.Forbidden) as info:
        await http.edit_scheduled_event(gid, foreign["id"], name="mine now")
    assert info.value.code == 50013
    fake_discord.set_bot_permission(CREATE_EVENTS, False)
    with pytest.raises(discord.Forbidden):
        await create(http, gid, event_body(SOON))


async def test_subscribers_page_100(
    http: discord.http.HTTPClient, fake_discord: FakeDiscord
) -> None:
    gid = fake_discord.guild.id
    event = await create(http, gid, event_body(SOON))
    for i in range(150):
        fake_discord.add_user(f"m{i}", dispatch=False)
        fake_discord.mark_interested_quietly(f"m{i}", int(event["id"]))
    with pytest.raises(discord.HTTPException):
        await http.get_scheduled_event_users(gid, event["id"], limit=101, with_member=False)
    first = await http.get_scheduled_event_users(gid, event["id"], limit=100, with_member=False)
    assert len(first) == 100
    ids = [int(u["user"]["id"]) for u in first]
    assert ids == sorted(ids)
    rest = await http.get_scheduled_event_users(
        gid, event["id"], limit=100, with_member=False, after=ids[-1]
    )
    assert len(rest) == 50 and int(rest[0]["user"]["id"]) > ids[-1]


async def test_threads_on_messages(
    http: discord.http.HTTPClient, fake_discord: FakeDiscord
) -> None:
    cid = fake_discord.channels["programme"]
    msg = await http.send_message(cid, params=discord.http.handle_message_parameters("Live"))
    for bad in ({"name": "", "auto_archive_duration": 1440}, {"name": "x" * 101}):
        with pytest.raises(discord.HTTPException) as info:
            await http.start_thread_with_message(
                cid, msg["id"], name=bad["name"], auto_archive_duration=1440
            )
        assert info.value.code == 50035
    with pytest.raises(discord.HTTPException):
        await http.start_thread_with_message(cid, msg["id"], name="ok", auto_archive_duration=30)  # type: ignore[arg-type]
    thread = await http.start_thread_with_message(
        cid, msg["id"], name="QI café", auto_archive_duration=1440
    )
    assert thread["id"] == msg["id"] and thread["type"] == 11
    with pytest.raises(discord.HTTPException) as info:
        await http.start_thread_with_message(
            cid, msg["id"], name="again", auto_archive_duration=1440
        )
    assert info.value.code == 160004
    fake_discord.archive_thread(thread["id"])
    await http.send_message(
        int(thread["id"]), params=discord.http.handle_message_parameters("How was it?")
    )
    assert not fake_discord.threads[int(thread["id"])]["thread_metadata"]["archived"]
    assert fake_discord.bot_messages(int(thread["id"]))[-1]["content"] == "How was it?"


async def test_crosspost_only_in_announcement_channels_once_and_10_an_hour(
    http: discord.http.HTTPClient, fake_discord: FakeDiscord
) -> None:
    text = fake_discord.channels["general"]
    msg = await http.send_message(text, params=discord.http.handle_message_parameters("hi"))
    with pytest.raises(discord.HTTPException) as info:
        await http.publish_message(text, msg["id"])
    assert info.value.code == 50024
    fake_discord.make_announcement_channel()
    news = fake_discord.channels["announcements"]
    sent = [
        await http.send_message(news, params=discord.http.handle_message_parameters(f"a{i}"))
        for i in range(11)
    ]
    await http.publish_message(news, sent[0]["id"])
    with pytest.raises(discord.HTTPException) as info:
        await http.publish_message(news, sent[0]["id"])
    assert info.value.code == 40033
    for m in sent[1:10]:
        await http.publish_message(news, m["id"])
    assert len(fake_discord.crossposted) == 10
    http.max_ratelimit_timeout = 30.0  # the 11th would wait ~an hour: raise instead of sleeping
    with pytest.raises(discord.RateLimited):
        await http.publish_message(news, sent[10]["id"])
    assert len(fake_discord.crossposted) == 10
