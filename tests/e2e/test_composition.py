"""End to end: the composition root builds every service before any extension loads, so the
extensions may load in any order and every command still works."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from bot.client import GENERIC_ERROR, discover_extensions
from bot.sandbox import FakeDiscord
from bot.store import interest as interest_store
from tests.harness import BotRunner, button, now, text_of, write_programme

ORDERS = {
    "reversed": list(reversed(discover_extensions())),
    "shuffled": random.Random(9).sample(discover_extensions(), len(discover_extensions())),
}


def answer_text(response: dict) -> str:  # type: ignore[type-arg]
    data = response.get("data") or {}
    return text_of({"content": data.get("content"), "embeds": data.get("embeds")})


@pytest.mark.parametrize("order", sorted(ORDERS))
async def test_every_command_works_whatever_the_extension_order(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path, order: str
) -> None:
    fake = fake_discord
    extensions = ORDERS[order]
    assert sorted(extensions) == discover_extensions() and extensions != discover_extensions()
    soon = now() + timedelta(hours=2)
    path = write_programme(
        tmp_path / "programme.yaml",
        [
            {"id": "qi-cafe", "title": "QI café", "start": soon},
            {"id": "pdsa-workshop", "title": "PDSA workshop", "start": soon + timedelta(hours=1)},
        ],
    )
    bot = await runner.start(QIWEEK_PROGRAMME=path, extensions=extensions)
    guild = fake.guild.id

    # Autocomplete of one feature served from another's service (programme search).
    choices = await fake.autocomplete("member", "interested", focused="session", session="caf")
    assert [c["value"] for c in choices] == ["qi-cafe"]

    registered = await (await fake.slash("member", "interested", session="qi-cafe")).response()
    assert "registered for **QI café**" in answer_text(registered)
    assert await interest_store.is_interested(bot.store, guild, "qi-cafe", fake.users["member"])

    shown = await fake.slash("member2", "session", session="pdsa-workshop")
    message = await shown.wait_original()
    assert "PDSA workshop" in text_of(message)
    # The persistent button drawn by the programme feature is handled by the interest feature.
    click = await fake.click("member2", message, button(message, "I'm interested"))
    assert "registered" in answer_text(await click.response())
    member2 = fake.users["member2"]
    assert await interest_store.is_interested(bot.store, guild, "pdsa-workshop", member2)

    answers = {
        "programme": await fake.slash("member", "programme", day="today"),
        "reminders": await fake.slash("member", "reminders", setting="30"),
        "digest": await fake.slash("member", "digest"),
        "help": await fake.slash("member", "help"),
        "organiser setup": await fake.slash("organiser", "organiser setup"),
        "organiser stats": await fake.slash("organiser", "organiser stats"),
        "organiser announcements": await fake.slash("organiser", "organiser announcements"),
    }
    for name, it in answers.items():
        response = await it.response()
        if response["type"] == 5:  # deferred: the answer is the original response
            text = text_of(await it.wait_original(lambda m: m.get("content") or m.get("embeds")))
        else:
            text = answer_text(response)
        assert text.strip() and GENERIC_ERROR not in text, (name, text)
    assert "Saved" in answer_text(await answers["reminders"].response())
