"""Organiser alerts reach the organiser channel (issue 10): programme file problems at start,
and a configured channel the bot cannot post in. Never pinging; each kind once an hour."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.sandbox import FakeDiscord
from tests.harness import BotRunner, now, register, text_of, write_programme


def alerts(fake: FakeDiscord) -> list[dict[str, object]]:
    return [m for m in fake.bot_messages("general") if str(m["content"]).startswith("⚠️")]


async def test_programme_file_problems_at_start_are_posted_once(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    bad = tmp_path / "bad.yaml"
    bad.write_text("sessions:\n  - title: No start\n", encoding="utf-8")
    env = {"QIWEEK_PROGRAMME": bad, "QIWEEK_ORGANISER_CHANNEL_ID": fake.channels["general"]}
    await runner.start(**env)
    [alert] = await fake.wait_for(lambda: alerts(fake), timeout=10, message="the alert")
    assert "Problems in the programme file" in str(alert["content"])
    assert "bad.yaml" in str(alert["content"]) and "start" in str(alert["content"])
    assert alert["allowed_mentions"] == {"parse": []}
    await runner.restart(**env)  # within the hour: stored and shown, not posted again
    it = await fake.slash("organiser", "organiser stats")
    [stats] = await it.followups(1, timeout=10)
    assert text_of(stats).count("programme_file") == 2
    assert "(not posted)" in text_of(stats)
    assert len(alerts(fake)) == 1


async def test_a_channel_the_bot_cannot_post_in_is_reported(
    runner: BotRunner, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake = fake_discord
    start = now() + timedelta(seconds=60 + 5)
    path = write_programme(tmp_path / "p.yaml", [{"id": "huddle", "start": start}])
    await runner.start(
        QIWEEK_PROGRAMME=path,
        QIWEEK_REMINDER_LEADS=1,
        QIWEEK_ORGANISER_CHANNEL_ID=fake.channels["general"],
    )
    await register(fake, ["member"], "huddle")
    fake.inject(
        "POST",
        rf"^/channels/{fake.channels['programme']}/messages$",
        403,
        times=5,
        code=50013,
        message="Missing Permissions",
    )
    [alert] = await fake.wait_for(lambda: alerts(fake), timeout=20, message="the alert")
    assert "cannot post in" in str(alert["content"])
    assert f"<#{fake.channels['programme']}>" in str(alert["content"])
