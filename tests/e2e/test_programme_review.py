"""What members and organisers see, after a review: the import's consequences before confirming,
typed text matching several sessions, started sessions left out of the select and marked in
`/my-sessions`, readable audit details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from bot.programme import load_programme
from bot.sandbox import FakeDiscord
from bot.store import audit
from bot.store.interest import add_interest
from tests.harness import (
    EPHEMERAL,
    SAMPLE_MONDAY_MORNING,
    SAMPLE_PROGRAMME,
    BotRunner,
    button,
    components,
    fixed,
    text_of,
)


def _moved_and_removed() -> tuple[bytes, str, str]:
    """The sample with one session an hour later and another removed."""
    sample = load_programme(SAMPLE_PROGRAMME, "Europe/London")
    sessions = [s.to_dict() for s in sample.sessions]
    moved = sessions[3]
    start = datetime.fromisoformat(moved["start"]) + timedelta(hours=1)
    end = datetime.fromisoformat(moved["end"]) + timedelta(hours=1)
    moved["start"], moved["end"] = start.isoformat(), end.isoformat()
    removed = sessions.pop(2)
    event = {"name": sample.event.name, "timezone": sample.event.timezone}
    data = yaml.safe_dump({"event": event, "sessions": sessions}, allow_unicode=True).encode()
    return data, moved["id"], removed["id"]


async def test_import_confirmation_says_who_is_told_and_the_result_drops_the_question(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    guild = fake_discord.guild.id
    data, moved, removed = _moved_and_removed()
    users = fake_discord.users
    for user in ("member", "member2"):
        await add_interest(bot.store, guild, removed, users[user])
    await add_interest(bot.store, guild, moved, users["member"])  # counted once

    it = await fake_discord.slash(
        "organiser", "organiser import-programme", file=fake_discord.attachment("new.yaml", data)
    )
    await it.response()
    summary = await it.wait_original(lambda m: components(m))
    channel = fake_discord.channels["programme"]
    assert (
        "Confirming will DM 2 registered members about 2 moved or cancelled sessions and post "
        f"2 notices in <#{channel}>." in text_of(summary)
    )

    click = await fake_discord.click("organiser", summary, button(summary, "Confirm import"))
    await click.response()
    await fake_discord.wait_for(lambda: "Applied" in fake_discord.message(summary["id"])["content"])
    applied = fake_discord.message(summary["id"])
    assert not applied.get("embeds")
    assert components(applied) == []
    entry = (await audit.recent(bot.store, guild))[0]
    assert entry.action == "import" and entry.detail.startswith("new.yaml: ")
    assert not fake_discord.rejected


async def test_typed_text_matching_several_sessions_lists_them(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    for command in ("session", "interested", "not-interested"):
        it = await fake_discord.slash("member", command, session="QI café")
        response = await it.response()
        text = response["data"]["content"]
        assert response["data"]["flags"] & EPHEMERAL, command
        assert text.startswith("'QI café' matches 5 sessions:"), (command, text)
        assert "<t:" in text and "QI café: what is quality improvement, anyway?" in text
        assert text.endswith("pick one from the suggestions as you type."), command
    assert not fake_discord.rejected


async def test_programme_select_leaves_out_started_sessions_and_my_sessions_marks_them(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    # Monday 13:00 BST: the 12:30 QI café has started; the afternoon is still to come.
    now = datetime(2026, 9, 14, 12, 0, tzinfo=UTC)
    bot = await runner.start(clock=fixed(now))
    guild = fake_discord.guild.id
    it = await fake_discord.slash("member", "programme", day="today")
    await it.response()
    message = it.original
    assert message is not None
    assert "QI café: what is quality improvement, anyway?" in text_of(message)
    (select,) = [c for c in components(message) if c["type"] == 3]
    values = [o["value"] for o in select["options"]]
    assert "mon-qi-cafe" not in values and values

    for session_id in ("mon-qi-cafe", "tue-qi-cafe"):
        await add_interest(bot.store, guild, session_id, fake_discord.users["member"])
    mine = await fake_discord.slash("member", "my-sessions")
    await mine.response()
    page = await mine.wait_original(lambda m: not (m["flags"] & 128))
    text = text_of(page)
    assert "*(started, no reminders)*" in text or "*(ended)*" in text
    assert text.count("*(") == 1
    assert "Sessions that have started get no more reminders." in text
    assert not fake_discord.rejected


async def test_post_programme_audit_detail_is_readable(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    bot = await runner.start(clock=fixed(SAMPLE_MONDAY_MORNING))
    it = await fake_discord.slash("organiser", "organiser post-programme", day="Tuesday")
    await it.response()
    await it.followups(1)
    entry = (await audit.recent(bot.store, fake_discord.guild.id))[0]
    assert entry.action == "post-programme"
    assert entry.detail.startswith("Tuesday 15 September 2026: 1 message to #")
    assert "2026-09-15" not in entry.detail
    assert str(fake_discord.channels["programme"]) not in entry.detail
