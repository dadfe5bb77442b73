"""`/programme` as one message paged through the day (`bot.render.paging`)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot import ids
from bot.programme import Event, Programme, Session
from bot.render.paging import (
    NEXT,
    PREVIOUS,
    changed_note,
    day_page,
    page_label,
    page_number,
)
from bot.render.programme import day_parts
from bot.sandbox import limits as discord_limits

TZ = "Europe/London"
MONDAY = date(2026, 9, 14)
BEFORE = datetime(2026, 9, 14, 5, tzinfo=UTC)


def _session(n: int, **kwargs: object) -> Session:
    start = datetime(2026, 9, 14, 7, tzinfo=UTC) + timedelta(minutes=5 * n)
    fields: dict[str, object] = {
        "id": f"s{n:03d}",
        "title": f"Session number {n}: improving care together",
        "start": start,
        "end": start + timedelta(minutes=45),
        "host": f"Example Trust {n}",
        "description": "A description. " * 20,
    }
    fields.update(kwargs)
    return Session(**fields)  # type: ignore[arg-type]


def _programme(count: int) -> Programme:
    return Programme(
        event=Event(theme="QI is for Everyone"),
        sessions=tuple(_session(n) for n in range(count)),
    )


def _rows(view: Any) -> list[list[dict[str, Any]]]:
    return [row["components"] for row in view.to_components()] if view is not None else []


def _buttons(view: Any) -> list[dict[str, Any]]:
    return [c for row in _rows(view) for c in row if c["type"] == 2]


def _wire(page: Any) -> dict[str, Any]:
    components = page.view.to_components() if page.view is not None else []
    return {"embeds": [e.to_dict() for e in page.embeds], "components": components}


# async: discord.py can only stop a view (drawn-only views are stopped) with a running loop.
async def test_a_hundred_session_day_pages_through_every_session_once_within_limits() -> None:
    parts = day_parts(_programme(100), MONDAY, TZ)
    total = len(parts)
    assert total >= 4  # at most 25 sessions a page
    offered: list[str] = []
    for number in range(1, total + 1):
        page = day_page(parts, MONDAY, number, TZ, now=BEFORE)
        assert (page.number, page.total) == (number, total)
        shown = [e.to_dict() for e in parts[number - 1].page.embeds]
        assert [e.to_dict() for e in page.embeds] == shown
        assert page.embeds[0].to_dict() is page.embeds[0].to_dict()  # serialised once
        assert discord_limits.validate_message(_wire(page)) == {}
        rows = _rows(page.view)
        assert len(rows) == 2  # the select alone in its row, then the buttons
        (select,) = rows[0]
        assert select["type"] == 3
        assert select["custom_id"] == ids.interest_select_id("2026-09-14", number)
        offered += [o["value"] for o in select["options"]]
        previous, label, following = rows[1]
        assert [previous["label"], label["label"], following["label"]] == [
            PREVIOUS,
            page_label(number, total),
            NEXT,
        ]
        assert label["label"] == f"Page {number} of {total}" and label["disabled"]
        assert previous.get("disabled", False) == (number == 1)
        assert following.get("disabled", False) == (number == total)
        # Drawn only (the features handle the components by custom_id): never stored.
        assert page.view is not None and page.view.is_finished()
    assert offered == [f"s{n:03d}" for n in range(100)]  # every session on exactly one page


def test_button_ids_round_trip_through_the_template() -> None:
    parts = day_parts(_programme(60), MONDAY, TZ)
    page = day_page(parts, MONDAY, 2, TZ, now=BEFORE)
    template = re.compile(ids.PROGRAMME_PAGE_TEMPLATE)
    targets = []
    for button in _buttons(page.view):
        assert len(button["custom_id"]) <= 100
        match = template.fullmatch(button["custom_id"])
        assert match is not None and match["day"] == "2026-09-14"
        targets.append(int(match["page"]))
    assert targets == [1, 2, 3]  # Previous shows page 1, Next page 3
    assert ids.programme_page_id("2026-09-14", 12) == "qiweek:page:2026-09-14:12"


def test_a_one_part_day_has_no_buttons_and_an_empty_day_no_components() -> None:
    parts = day_parts(_programme(5), MONDAY, TZ)
    page = day_page(parts, MONDAY, 1, TZ, now=BEFORE)
    assert page.total == 1 and _buttons(page.view) == []
    assert len(_rows(page.view)) == 1  # just the select, as before paging existed
    assert page.send_kwargs() == {"embeds": page.embeds, "view": page.view}

    empty = day_page(day_parts(_programme(5), date(2026, 9, 15), TZ), date(2026, 9, 15), 1, TZ,
                     now=BEFORE)  # fmt: skip
    assert empty.view is None and not empty.has_sessions
    assert empty.send_kwargs() == {"embeds": empty.embeds}
    # An edit gives every field, so the components of the page shown before are removed.
    assert empty.edit_kwargs() == {"content": None, "embeds": empty.embeds, "view": None}


def test_started_sessions_leave_the_select_and_a_page_with_none_left_keeps_its_buttons() -> None:
    parts = day_parts(_programme(60), MONDAY, TZ)
    late = datetime(2026, 9, 14, 23, tzinfo=UTC)
    page = day_page(parts, MONDAY, 1, TZ, now=late)
    rows = _rows(page.view)
    assert len(rows) == 1 and [b["label"] for b in rows[0]] == [
        PREVIOUS,
        page_label(1, page.total),
        NEXT,
    ]
    midway = parts[0].sessions[10].start
    page = day_page(parts, MONDAY, 1, TZ, now=midway)
    (select,) = _rows(page.view)[0]
    assert [o["value"] for o in select["options"]] == [s.id for s in parts[0].sessions[11:]]


def test_a_stale_page_number_is_clamped_and_explained() -> None:
    assert [page_number(n, 3) for n in (0, 1, 3, 4, 99)] == [1, 1, 3, 3, 3]
    parts = day_parts(_programme(30), MONDAY, TZ)
    page = day_page(parts, MONDAY, 5, TZ, now=BEFORE)
    assert (page.number, page.total) == (2, 2)
    note = changed_note(MONDAY, 5, page)
    assert note is not None and "now has 2 pages" in note and "the last" in note
    assert changed_note(MONDAY, 2, page) is None
    assert changed_note(MONDAY, 0, day_page(parts, MONDAY, 0, TZ, now=BEFORE)) is None

    gone = day_parts(Programme(), MONDAY, TZ)
    shown = day_page(gone, MONDAY, 3, TZ, now=BEFORE)
    note = changed_note(MONDAY, 3, shown)
    assert note is not None and "no sessions on Monday 14 September 2026 any more" in note
    with pytest.raises(ValueError):
        day_page([], MONDAY, 1, TZ, now=BEFORE)
