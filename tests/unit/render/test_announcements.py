"""The announcement renderers stay within Discord's limits at the largest inputs they accept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.render.announcements import (
    BODY_MAX,
    TITLE_MAX,
    announcement_message,
    preview_content,
    session_dm,
)
from bot.render.limits import CONTENT, check_embed

WHEN = datetime(2026, 9, 14, 9, 0, tzinfo=UTC)
#: A session title far beyond anything sensible, full of Markdown that escaping doubles.
HUGE_SESSION = "*_~`|>" * 700
TITLE = "T" * TITLE_MAX
BODY = "B" * BODY_MAX


def test_session_dm_is_within_limits_with_a_huge_session_title() -> None:
    rendered = session_dm(title=TITLE, body=BODY, session_title=HUGE_SESSION)
    assert rendered.content is not None and len(rendered.content) <= CONTENT
    assert check_embed(rendered.embed) == []
    assert rendered.embed.description == BODY  # the body is whole, in the embed
    assert rendered.embed.title == TITLE
    assert "…" in rendered.content  # the label is cut visibly, not silently


@pytest.mark.parametrize("send_at", [None, WHEN])
def test_preview_is_within_limits_with_a_huge_session_title(send_at: datetime | None) -> None:
    content = preview_content(
        channel_id=2**63 - 1,
        ping_role_id=2**63 - 1,
        ping_warning="w" * 3000,
        session_title=HUGE_SESSION,
        dm_count=123_456,
        send_at=send_at,
    )
    assert len(content) <= CONTENT
    assert "123456 members" in content


@pytest.mark.parametrize("planned_for", [None, WHEN])
def test_announcement_message_is_within_limits_at_maximum_title_and_body(
    planned_for: datetime | None,
) -> None:
    rendered = announcement_message(
        title=TITLE + "overflow", body=BODY, ping_role_id=2**63 - 1, planned_for=planned_for
    )
    assert rendered.content is not None and len(rendered.content) <= CONTENT
    assert check_embed(rendered.embed) == []
    assert rendered.embed.description == BODY
    assert len(rendered.embed.title or "") <= TITLE_MAX
