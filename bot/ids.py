"""Stable custom_ids shared between the features that draw components and those that handle them.

Persistent components are matched by these after a restart (discord.ui.DynamicItem templates),
so they must never change shape. Every id stays within Discord's 100 characters.
"""

from __future__ import annotations

INTEREST_BUTTON_PREFIX = "qiweek:interest:"
INTEREST_BUTTON_TEMPLATE = r"qiweek:interest:(?P<session_id>[a-z0-9-]{1,80})"
INTEREST_SELECT_PREFIX = "qiweek:interest-pick:"
INTEREST_SELECT_TEMPLATE = r"qiweek:interest-pick:(?P<day>\d{4}-\d{2}-\d{2}):(?P<part>\d{1,3})"


def interest_button_id(session_id: str) -> str:
    """The "I'm interested" button of one session (toggles the member's registration)."""
    return f"{INTEREST_BUTTON_PREFIX}{session_id}"


def interest_select_id(day: str, part: int) -> str:
    """A daily post's "I'm interested in..." select menu; its option values are session ids."""
    return f"{INTEREST_SELECT_PREFIX}{day}:{part}"


# Issue 15: the buttons that page through a day's `/programme` answer (one ephemeral message).
# Each carries the day and the page it shows when pressed: stateless, so they work after a
# restart. 12 + 10 + 1 + 3 characters at most.
PROGRAMME_PAGE_PREFIX = "qiweek:page:"
PROGRAMME_PAGE_TEMPLATE = r"qiweek:page:(?P<day>\d{4}-\d{2}-\d{2}):(?P<page>\d{1,3})"


def programme_page_id(day: str, page: int) -> str:
    """A `/programme` paging button that shows page ``page`` (1-based) of ``day`` (ISO)."""
    return f"{PROGRAMME_PAGE_PREFIX}{day}:{page}"


# Issue 12: the feedback buttons posted in a session's thread when it ends ("1".."5", "a" for
# "I attended"). 10 + 80 + 2 characters at most.
FEEDBACK_PREFIX = "qiweek:fb:"
FEEDBACK_TEMPLATE = r"qiweek:fb:(?P<session_id>[a-z0-9-]{1,80}):(?P<answer>[1-5a])"


def feedback_button_id(session_id: str, answer: str) -> str:
    """One feedback button: `answer` is a rating "1".."5" or "a" (I attended)."""
    return f"{FEEDBACK_PREFIX}{session_id}:{answer}"
