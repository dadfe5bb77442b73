"""Duplicates are counted from the sandbox's record: one send (one nonce) posted twice."""

from __future__ import annotations

from typing import Any

from bot.rehearsal.summary import duplicates, lookalikes
from bot.sandbox import FakeDiscord


def bot_post(fake: FakeDiscord, channel: str, content: str, nonce: str | None = None) -> None:
    payload: dict[str, Any] = {"content": content}
    if nonce is not None:
        payload["nonce"] = nonce
    fake._new_message(fake.channels[channel], payload, [], fake.bot_user)


def test_the_same_send_twice_is_a_duplicate() -> None:
    fake = FakeDiscord()
    bot_post(fake, "programme", "Reminder: QI café at 12:30", nonce="k1")
    bot_post(fake, "programme", "Reminder: QI café at 12:30", nonce="k1")
    bot_post(fake, "programme", "Daily post")  # no nonce, once: fine
    assert duplicates(fake) == 1 and lookalikes(fake) == []


def test_identical_text_without_a_nonce_counts_as_a_copy() -> None:
    fake = FakeDiscord()
    for _ in range(3):
        bot_post(fake, "digest", "Digest of Monday")
    assert duplicates(fake) == 2


def test_identical_text_of_different_sends_is_a_lookalike_not_a_duplicate() -> None:
    fake = FakeDiscord()
    bot_post(fake, "programme", "@Kofi your DMs are closed", nonce="change-a")
    bot_post(fake, "programme", "@Kofi your DMs are closed", nonce="change-b")
    bot_post(fake, "general", "@Kofi your DMs are closed", nonce="change-a")  # another channel
    assert duplicates(fake) == 0
    assert lookalikes(fake) == ["2 identical messages in programme: '@Kofi your DMs are closed'"]


def test_member_messages_and_interaction_answers_are_not_counted() -> None:
    fake = FakeDiscord()
    member = fake.user("member")
    for _ in range(2):
        fake._new_message(fake.channels["general"], {"content": "hi #QIWeek"}, [], member)
    assert duplicates(fake) == 0
