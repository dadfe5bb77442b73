"""The "Starting now" post, the thread name and the feedback prompt stay within Discord's limits
and ping nobody; feedback custom_ids fit 100 characters and match the persistent template."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bot import ids
from bot.programme import Session
from bot.render import limits
from bot.render import live as render
from bot.store.native import SessionFigures

T0 = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)


def session(**extra: object) -> Session:
    return Session(
        id=str(extra.pop("id", "huddle")),
        title=str(extra.pop("title", "Safety huddle")),
        start=T0,
        end=T0 + timedelta(minutes=30),
        host="Example NHS Trust",
        join_url=str(extra.pop("join_url", "https://example.org/join")),
        **extra,  # type: ignore[arg-type]
    )


def test_starting_now_has_title_host_join_and_no_pings() -> None:
    message = render.starting_now(session(title="@everyone " + "x" * 300))
    kwargs = message.kwargs()
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}
    embed = kwargs["embed"]
    assert embed.title.startswith("Starting now") and len(embed.title) <= 256
    assert "Example NHS Trust" in embed.description
    assert limits.check_embed(embed) == []
    [join] = kwargs["view"].children
    assert join.label == "Join" and join.url == "https://example.org/join"
    assert "view" not in render.starting_now(session(join_url="")).kwargs()


def test_thread_names_fit_100_characters() -> None:
    assert render.thread_name(session(title="T" * 300)) == "T" * 97 + "..."
    assert render.thread_name(session()) == "Safety huddle"


def test_feedback_buttons_fit_and_parse() -> None:
    longest = "a" * 80
    view = render.FeedbackView(longest)
    custom_ids = [c.custom_id for c in view.children]
    assert [c.label for c in view.children] == ["1", "2", "3", "4", "5", "I attended"]
    for custom_id in custom_ids:
        assert len(custom_id) <= 100
        match = re.fullmatch(ids.FEEDBACK_TEMPLATE, custom_id)
        assert match and match["session_id"] == longest


def test_feedback_answer_and_figures_wording() -> None:
    assert "4/5" in render.feedback_answer("Huddle", 4, True)
    assert "attended" in render.feedback_answer("Huddle", None, True)
    line = render.figures_line("Huddle", SessionFigures(2, 1, 3, 2, 4.5))
    assert "3 registered (2 by command or button, 1 on Discord's Events)" in line
    assert "3 attended, 2 rated, mean 4.5" in line
    assert render.interested_text(2, 0) == "2"
    assert render.interested_text(2, 1) == "3 (2 here, 1 on Discord's Events)"
    pages = render.figures_pages([(f"S{i}", SessionFigures(1, 0, 0, 0)) for i in range(400)])
    assert len(pages) >= 2 and all(limits.check_embed(e) == [] for p in pages for e in p.embeds)
