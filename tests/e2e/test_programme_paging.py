"""End to end: `/programme` for a long day is ONE ephemeral message paged in place with
Previous / Next (type 7, UPDATE_MESSAGE), stateless across a restart, following the programme
in force at each press, with the page's "I'm interested" select still registering."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import ids
from bot.render.paging import NEXT, PREVIOUS
from bot.sandbox import FakeDiscord
from bot.sandbox.models import Interaction
from bot.store import interest as interest_store
from tests.harness import (
    EPHEMERAL,
    SAMPLE_MONDAY_MORNING,
    BotRunner,
    button,
    components,
    fixed,
    text_of,
)

WEDNESDAY = date(2026, 9, 16)
UPDATE_MESSAGE = 7


def _file(count: int, *, title: str = "Huddle", day: date = WEDNESDAY) -> bytes:
    """``count`` sessions on ``day``, every 5 minutes from 08:00 London."""
    sessions = []
    for n in range(count):
        hour, minute = divmod(8 * 60 + 5 * n, 60)
        sessions.append(
            {
                "id": f"h-{n:03d}",
                "title": f"{title} {n:03d}",
                "start": f"{day.isoformat()} {hour:02d}:{minute:02d}",
                "end": f"{day.isoformat()} {hour:02d}:{minute + 4:02d}",
                "host": "Paging Trust",
            }
        )
    event = {"name": "QI Week", "timezone": "Europe/London", "hashtag": "#QIWeek"}
    return yaml.safe_dump({"event": event, "sessions": sessions}, allow_unicode=True).encode()


async def _start(runner: BotRunner, tmp_path: Path, count: int = 100) -> None:
    path = tmp_path / "long-day.yaml"
    path.write_bytes(_file(count))
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING), QIWEEK_PROGRAMME=path)


async def _import(fake: FakeDiscord, data: bytes) -> None:
    it = await fake.slash(
        "organiser", "organiser import-programme", file=fake.attachment("p.yaml", data)
    )

    def summary() -> dict[str, Any] | None:
        for mid in [it.original_id, *it.followup_ids]:
            message = fake.message(mid) if mid is not None else None
            if message is not None and any(
                c.get("label") == "Confirm import" for c in components(message)
            ):
                return message
        return None

    found = await fake.wait_for(summary, timeout=10)
    click = await fake.click("organiser", found, button(found, "Confirm import"))
    await click.response()
    await fake.wait_for(lambda: "Applied" in fake.message(found["id"])["content"])


def _labels(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["label"]: c for c in components(message) if c["type"] == 2}


def _page_label(message: dict[str, Any]) -> str:
    (label,) = [name for name in _labels(message) if name.startswith("Page ")]
    return label


def _titles(message: dict[str, Any]) -> list[str]:
    return re.findall(r"Huddle \d{3}|Renamed \d{3}", text_of(message))


async def _press(fake: FakeDiscord, message: dict[str, Any], label: str) -> dict[str, Any]:
    """Press a paging button; the answer edits the very message (nothing new is sent)."""
    click: Interaction = await fake.click("member", message, button(message, label))
    response = await click.response(timeout=5)
    assert response["type"] == UPDATE_MESSAGE
    assert click.followup_ids == []
    edited = fake.message(message["id"])
    assert edited is not None and edited["ephemeral"]
    return edited


async def test_a_long_day_is_one_message_paged_with_previous_and_next(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    await _start(runner, tmp_path)
    it = await fake_discord.slash("member", "programme", day="wednesday")
    response = await it.response()
    assert response["type"] == 4 and response["data"]["flags"] & EPHEMERAL
    message = it.original
    assert message is not None
    assert _page_label(message) == "Page 1 of 10"
    assert _labels(message)[PREVIOUS].get("disabled") and not _labels(message)[NEXT].get("disabled")
    seen = [_titles(message)]

    for number in range(2, 11):
        message = await _press(fake_discord, message, NEXT)
        assert _page_label(message) == f"Page {number} of 10"
        assert "(continued)" in text_of(message)
        seen.append(_titles(message))
    assert _labels(message)[NEXT].get("disabled")  # the last page
    with pytest.raises(AssertionError, match="disabled"):
        await fake_discord.click("member", message, button(message, NEXT))
    assert "Share what you learn with #QIWeek" in text_of(message)  # the day's footer, last

    # Every session on exactly one page, in order, 10 a page (the daily post's parts hold 25).
    assert [len(page) for page in seen] == [10] * 10
    assert [t for page in seen for t in page] == [f"Huddle {n:03d}" for n in range(100)]

    message = await _press(fake_discord, message, PREVIOUS)
    assert _page_label(message) == "Page 9 of 10" and "Huddle 080" in text_of(message)
    # Page 9's select offers its ten sessions and registers as the daily post's does.
    (select,) = [c for c in components(message) if c["type"] == 3]
    assert select["custom_id"] == ids.interest_select_id("2026-09-16", 9)
    assert [o["value"] for o in select["options"]] == [f"h-{n:03d}" for n in range(80, 90)]
    picked = await fake_discord.select("member", message, select["custom_id"], ["h-081"])
    assert "Huddle 081" in str((await picked.response())["data"]["content"])
    bot = runner.bot
    assert bot is not None
    member = fake_discord.users["member"]
    guild = fake_discord.guild.id
    assert await interest_store.sessions_of(bot.store, guild, member) == ["h-081"]

    # One message for the question: no follow-up, nothing else answering it, nothing refused.
    assert it.followup_ids == []
    answering = [
        m
        for m in fake_discord.messages(int(message["channel_id"]))
        if (m.get("interaction_metadata") or {}).get("id") == str(it.id)
    ]
    assert [m["id"] for m in answering] == [message["id"]]
    assert not fake_discord.rejected


async def test_paging_follows_the_programme_in_force_across_imports_and_a_restart(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    await _start(runner, tmp_path)
    it = await fake_discord.slash("member", "programme", day="2026-09-16")
    await it.response()
    message = it.original
    assert message is not None
    message = await _press(fake_discord, message, NEXT)
    message = await _press(fake_discord, message, NEXT)
    assert _page_label(message) == "Page 3 of 10"

    # The day shrinks to 25 renamed sessions (3 pages): Next (page 4) shows the last page.
    await _import(fake_discord, _file(25, title="Renamed"))
    message = await _press(fake_discord, message, NEXT)
    assert _page_label(message) == "Page 3 of 3"
    assert _titles(message) == [f"Renamed {n:03d}" for n in range(20, 25)]
    assert "this day now has 3 pages, so here is the last" in message["content"]

    # Stateless: after a restart the buttons still work, and the note goes with the page.
    await runner.restart(
        clock=fixed(SAMPLE_MONDAY_MORNING), QIWEEK_PROGRAMME=tmp_path / "long-day.yaml"
    )
    message = await _press(fake_discord, message, PREVIOUS)
    assert _page_label(message) == "Page 2 of 3" and message["content"] == ""
    assert _titles(message) == [f"Renamed {n:03d}" for n in range(10, 20)]

    # The day loses every session: said plainly, and no buttons or select are left.
    await _import(fake_discord, _file(3, day=date(2026, 9, 17)))
    message = await _press(fake_discord, message, NEXT)
    assert "no sessions on Wednesday 16 September 2026 any more" in message["content"]
    assert "No sessions on Wednesday 16 September" in text_of(message)
    assert components(message) == []
    assert not fake_discord.rejected


async def test_a_short_day_is_one_message_without_buttons(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    await _start(runner, tmp_path, count=10)
    it = await fake_discord.slash("member", "programme", day="2026-09-16")
    await it.response()
    message = it.original
    assert message is not None
    assert [c["type"] for c in components(message)] == [1, 3]  # one row: the select
    assert len(_titles(message)) == 10 and it.followup_ids == []
