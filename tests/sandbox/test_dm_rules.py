"""The sandbox's DM anti-spam, nonce window, held answers and history permissions (dm_rules.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from bot.sandbox import FakeDiscord


async def call(
    fake: FakeDiscord, method: str, path: str, body: Any = None, **query: Any
) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.request(
            method,
            fake.api_base + path,
            json=body,
            params={k: str(v) for k, v in query.items()},
            headers={"Authorization": f"Bot {fake.token}"},
        ) as resp:
            return resp.status, await resp.json()


async def open_dm(fake: FakeDiscord, user: str) -> tuple[int, Any]:
    return await call(fake, "POST", "/users/@me/channels", {"recipient_id": fake.user(user).id})


async def test_opening_dms_beyond_the_rate_answers_40003(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    for i in range(4):
        fake.add_user(f"u{i}")
    fake.limit_dm_opens(3, window=60)
    answers = [await open_dm(fake, f"u{i}") for i in range(4)]
    assert [status for status, _ in answers] == [200, 200, 200, 400]
    assert answers[3][1] == {"code": 40003, "message": "You are opening direct messages too fast"}
    assert fake.count_40003 == 1
    fake.limit_dm_opens(None)
    assert (await open_dm(fake, "u3"))[0] == 200


async def test_quarantine_refuses_only_users_never_messaged(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    status, channel = await open_dm(fake, "member")
    assert status == 200
    assert (await call(fake, "POST", f"/channels/{channel['id']}/messages", {"content": "hi"}))[
        0
    ] == 200
    _, other = await open_dm(fake, "member2")  # opened, never messaged
    fake.quarantine()
    assert (await open_dm(fake, "member"))[0] == 200
    sent = await call(fake, "POST", f"/channels/{channel['id']}/messages", {"content": "again"})
    assert sent[0] == 200
    refused = await call(fake, "POST", f"/channels/{other['id']}/messages", {"content": "x"})
    assert refused == (403, {"code": 50007, "message": "Cannot send messages to this user"})
    assert (await open_dm(fake, "organiser"))[1]["code"] == 40003


async def test_nonce_window_zero_creates_a_second_message(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    path = f"/channels/{fake.channels['general']}/messages"
    body = {"content": "once", "nonce": "abc", "enforce_nonce": True}
    first = (await call(fake, "POST", path, body))[1]
    again = (await call(fake, "POST", path, body))[1]
    assert again["id"] == first["id"] and again["nonce"] == "abc"  # default: deduplicated
    fake.nonce_window = 0
    third = (await call(fake, "POST", path, body))[1]
    assert third["id"] != first["id"]
    assert len(fake.bot_messages("general")) == 2


async def test_held_answer_after_the_message_exists(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    hold = fake.hold_after_create(r"/channels/\d+/messages$")
    path = f"/channels/{fake.channels['general']}/messages"
    pending = asyncio.create_task(call(fake, "POST", path, {"content": "held", "nonce": "n1"}))
    await fake.wait_for(lambda: hold.held, message="the message to be created")
    assert not pending.done()
    [message] = fake.bot_messages("general")
    assert message["content"] == "held"
    hold.release()
    status, body = await pending
    assert status == 200 and body["id"] == message["id"]


async def test_history_echoes_the_nonce_and_needs_read_history(fake_discord: FakeDiscord) -> None:
    fake = fake_discord
    path = f"/channels/{fake.channels['general']}/messages"
    await call(fake, "POST", path, {"content": "mine", "nonce": "n2"})
    await fake.post_message("member", "general", "posted while the bot is away")
    status, history = await call(fake, "GET", path, limit=100)
    assert status == 200
    assert [m["content"] for m in history] == ["posted while the bot is away", "mine"]
    assert history[1]["nonce"] == "n2"
    assert (await call(fake, "GET", path, limit=101))[1]["code"] == 50035
    fake.deny_bot("general", 1 << 16)
    assert (await call(fake, "GET", path, limit=10)) == (
        403,
        {"code": 50013, "message": "Missing Permissions"},
    )
