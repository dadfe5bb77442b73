"""Issue 15's in-memory caches, end to end: each change is seen by the very next interaction.

The rendered days (`bot.render.cache`), the per-guild settings (`bot.store.guild_settings`) and
the programme's days (`Programme._days_in`) are kept in memory; these tests change what each
depends on through the real bot and check the next answer shows the change.
"""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.sandbox import FakeDiscord
from tests.harness import (
    SAMPLE_MONDAY_MORNING,
    BotRunner,
    button,
    components,
    fixed,
    text_of,
)

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 9, 14)


def _monday_file(title: str) -> bytes:
    session = {
        "id": "cache-huddle",
        "title": title,
        "start": "2026-09-14 15:00",
        "end": "2026-09-14 15:30",
        "host": "Cache Trust",
    }
    return yaml.safe_dump(
        {"event": {"name": "QI Week", "timezone": "Europe/London"}, "sessions": [session]},
        allow_unicode=True,
    ).encode()


async def _import(fake: FakeDiscord, data: bytes) -> None:
    it = await fake.slash(
        "organiser", "organiser import-programme", file=fake.attachment("p.yaml", data)
    )
    summary = await it.wait_original(lambda m: components(m))
    click = await fake.click("organiser", summary, button(summary, "Confirm import"))
    await click.response()
    await fake.wait_for(lambda: "Applied" in fake.message(summary["id"])["content"])


async def _monday_text(fake: FakeDiscord) -> str:
    it = await fake.slash("member", "programme", day="2026-09-14")
    await it.response()
    return text_of(it.original or {})


async def test_an_import_is_shown_by_the_next_programme_request(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    before = await _monday_text(fake_discord)
    assert "QI café" in before
    assert before == await _monday_text(fake_discord)  # the second answer comes from memory

    await _import(fake_discord, _monday_file("Cache huddle, first version"))
    after = await _monday_text(fake_discord)
    assert "Cache huddle, first version" in after and "QI café" not in after

    await _import(fake_discord, _monday_file("Cache huddle, renamed"))
    renamed = await _monday_text(fake_discord)
    assert "Cache huddle, renamed" in renamed and "first version" not in renamed
    assert not fake_discord.rejected


def _long_monday(title: str, count: int = 30) -> bytes:
    sessions = [
        {
            "id": f"page-{n:02d}",
            "title": f"{title} {n:02d}",
            "start": f"2026-09-14 {9 + n // 6:02d}:{n % 6 * 10:02d}",
            "end": f"2026-09-14 {9 + n // 6:02d}:{n % 6 * 10 + 5:02d}",
        }
        for n in range(count)
    ]
    return yaml.safe_dump(
        {"event": {"name": "QI Week", "timezone": "Europe/London"}, "sessions": sessions}
    ).encode()


async def test_an_import_between_two_page_presses_is_shown_by_the_next_press(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    await _import(fake_discord, _long_monday("First cut"))
    it = await fake_discord.slash("member", "programme", day="2026-09-14")
    await it.response()
    message = it.original or {}
    assert "First cut 00" in text_of(message) and "First cut 10" not in text_of(message)
    press = await fake_discord.click("member", message, button(message, "Next ▶"))
    await press.response()
    message = fake_discord.message(message["id"]) or {}
    assert "First cut 10" in text_of(message)

    await _import(fake_discord, _long_monday("Second cut"))
    press = await fake_discord.click("member", message, button(message, "◀ Previous"))
    await press.response()
    message = fake_discord.message(message["id"]) or {}
    assert "Second cut 00" in text_of(message) and "First cut" not in text_of(message)
    assert not fake_discord.rejected


async def test_setup_is_used_by_the_next_interaction(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    choices = await fake_discord.autocomplete(
        "member", "session", focused="session", session="café"
    )
    assert choices[0]["name"].startswith("Mon 14 Sep 12:30 BST")
    select_before = await fake_discord.slash("member", "programme", day="2026-09-14")
    await select_before.response()

    ok = await fake_discord.slash("organiser", "organiser setup", timezone="America/New_York")
    assert "Settings saved" in str((await ok.wait_original(lambda m: m.get("embeds")))["embeds"])

    choices = await fake_discord.autocomplete(
        "member", "session", focused="session", session="café"
    )
    assert choices[0]["name"].startswith("Mon 14 Sep 07:30 EDT")
    # The rendered day follows the new timezone too: its select shows New York times.
    it = await fake_discord.slash("member", "programme", day="2026-09-14")
    await it.response()
    (select,) = [c for c in components(it.original or {}) if c["type"] == 3]
    assert any("EDT" in option.get("description", "") for option in select["options"])
    assert not fake_discord.rejected


async def test_setup_of_the_organiser_role_is_checked_by_the_next_command(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake_discord.add_user("helper", permissions=1 << 10)  # a role of its own, no Manage Server
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    helper_role = fake_discord.roles["helper-perms"]
    refused = await fake_discord.slash("helper", "organiser setup")
    assert "Only organisers" in (await refused.response())["data"]["content"]
    # Changing the organiser role needs Manage Server (issue 11), and never @everyone.
    ok = await fake_discord.slash("admin", "organiser setup", organiser_role=helper_role)
    await ok.wait_original(lambda m: m.get("embeds"))
    allowed = await fake_discord.slash("helper", "organiser setup")
    first = await allowed.response()
    assert "Only organisers" not in str(first)


async def test_an_expired_interaction_gets_no_error_message(
    runner: BotRunner, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    fake_discord.interaction_deadline = -1.0  # every answer arrives too late
    with caplog.at_level(logging.WARNING):
        it = await fake_discord.slash("member", "programme", day="2026-09-14")
        await fake_discord.wait_for(lambda: it.late_callbacks)
        await fake_discord.wait_for(
            lambda: any("expired" in r.getMessage() for r in caplog.records)
        )
    # One late answer, and no second attempt (an error message) with the dead token.
    assert len(it.late_callbacks) == 1 and not it.callbacks
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
