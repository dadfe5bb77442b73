"""`bot.client.first`: a listener's synchronous first step decides, without a task, whether the
listener runs (every guild message passes the digest's)."""

from __future__ import annotations

import logging

import pytest

from bot.client import _wanted, first


class Listener:
    def __init__(self, answer: bool | None) -> None:
        self.answer = answer
        self.seen: list[str] = []

    def look(self, text: str) -> bool:
        self.seen.append(text)
        if self.answer is None:
            raise RuntimeError("broken first step")
        return self.answer

    @first("look")
    async def on_message(self, text: str) -> None:
        pass

    async def on_other(self, text: str) -> None:
        pass


def test_the_first_step_runs_at_once_and_decides() -> None:
    yes, no = Listener(True), Listener(False)
    assert _wanted(yes.on_message, ("a share #QIWeek",)) is True
    assert _wanted(no.on_message, ("good morning",)) is False
    assert yes.seen == ["a share #QIWeek"] and no.seen == ["good morning"]


def test_an_unmarked_listener_always_runs() -> None:
    listener = Listener(False)
    assert _wanted(listener.on_other, ("x",)) is True
    assert listener.seen == []


def test_a_failing_first_step_is_logged_and_the_listener_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = Listener(None)
    with caplog.at_level(logging.ERROR, logger="bot.client"):
        assert _wanted(listener.on_message, ("x",)) is True
    assert "first step look" in caplog.text
