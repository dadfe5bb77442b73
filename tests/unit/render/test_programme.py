"""Programme rendering: within Discord's limits, nothing lost, times as Discord timestamps."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.programme import Event, Programme, Session, load_programme
from bot.render import limits
from bot.render.programme import (
    day_pages,
    no_sessions_text,
    preview_text,
    session_block,
    session_embed,
    session_embeds,
    session_pages,
)

ROOT = Path(__file__).resolve().parents[3]
TZ = "Europe/London"
MONDAY = date(2026, 9, 14)


def _session(n: int, **kwargs: object) -> Session:
    start = datetime(2026, 9, 14, 7, tzinfo=UTC) + timedelta(minutes=15 * n)
    fields: dict[str, object] = {
        "id": f"s{n:03d}",
        "title": f"Session number {n}: a fairly long title about improving care together",
        "start": start,
        "end": start + timedelta(minutes=45),
        "host": f"Example Community NHS Trust {n}",
        "speakers": (f"Speaker {n}A", f"Speaker {n}B"),
        "format": "QI café",
        "join_url": f"https://example.org/join/{n}",
        "description": "Long description. " * 200,
        "components": (1, 4),
    }
    fields.update(kwargs)
    return Session(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample() -> Programme:
    return load_programme(ROOT / "data" / "programme.yaml", TZ)


def _all_text(pages: list[limits.Page]) -> str:
    return "\n".join(
        f"{e.title}\n{e.description or ''}\n" + "\n".join(f.value or "" for f in e.fields)
        for page in pages
        for e in page.embeds
    )


def test_forty_session_day_is_split_within_limits() -> None:
    programme = Programme(
        event=Event(theme="QI is for Everyone"),
        sessions=tuple(_session(n) for n in range(40)),
    )
    pages = day_pages(programme, MONDAY, TZ)
    assert len(pages) > 1
    for page in pages:
        assert 1 <= len(page.embeds) <= limits.EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in page.embeds) <= limits.EMBED_TOTAL
        for embed in page.embeds:
            assert limits.check_embed(embed) == []
    text = _all_text(pages)
    positions = [text.index(f"Session number {n}:") for n in range(40)]
    assert positions == sorted(positions)  # every session, in time order
    for n in range(40):
        assert text.count(f"https://example.org/join/{n})") == 1
    first = pages[0].embeds[0]
    assert first.title == "QI Week programme — Monday 14 September"
    assert "QI is for Everyone" in (first.description or "")
    assert "#QIWeek" in (pages[-1].embeds[-1].footer.text or "")


def test_session_block_uses_discord_timestamps() -> None:
    session = _session(1, title="Stars *and* underscores_here")
    block = session_block(session)
    start, end = int(session.start.timestamp()), int(session.end.timestamp())
    assert f"<t:{start}:t>–<t:{end}:t>" in block
    assert r"**Stars \*and\* underscores\_here**" in block
    assert "Example Community NHS Trust 1 · QI café" in block
    assert "Speaker 1A, Speaker 1B" in block
    assert "Shared purpose and vision" in block
    assert "[Join](https://example.org/join/1)" in block
    assert "Long description" not in block
    assert f"<t:{start}:f>" in session_block(session, with_date=True)
    assert not re.search(r"\b\d{1,2}:\d{2}\b", block)  # no clock text, only timestamps


def test_day_pages_for_sample_and_empty_day(sample: Programme) -> None:
    pages = day_pages(sample, MONDAY, TZ)
    text = _all_text(pages)
    for session in sample.sessions_on(MONDAY, TZ):
        assert session.title in text
    empty = day_pages(sample, date(2026, 9, 19), TZ, today=date(2026, 9, 19))
    assert "No sessions today" in (empty[0].embeds[0].description or "")
    custom = day_pages(sample, MONDAY, TZ, heading="Today's programme")
    assert custom[0].embeds[0].title == "Today's programme"


def test_no_sessions_text(sample: Programme) -> None:
    before = no_sessions_text(sample, date(2026, 9, 1), TZ, date(2026, 9, 1))
    assert before.startswith("No sessions today (Tuesday 1 September).")
    assert "Monday 14 September to Friday 18 September 2026" in before
    after = no_sessions_text(sample, date(2026, 9, 21), TZ, date(2026, 9, 20))
    assert "Monday 14 September to Friday 18 September 2026" in after
    gap = Programme(
        sessions=(
            _session(0),
            _session(
                0,
                id="wed",
                start=datetime(2026, 9, 16, 9, tzinfo=UTC),
                end=datetime(2026, 9, 16, 10, tzinfo=UTC),
            ),
        )
    )
    middle = no_sessions_text(gap, date(2026, 9, 15), TZ, date(2026, 9, 14))
    assert middle == "No sessions tomorrow (Tuesday 15 September). Next: Wednesday 16 September."
    assert "no programme" in no_sessions_text(Programme(), MONDAY, TZ, MONDAY)


def test_session_embed_keeps_a_10000_char_description() -> None:
    words = [f"w{i}" for i in range(2000)]
    description = " ".join(words)
    assert len(description) >= 10_000
    session = _session(5, description=description, title="T" * 400)
    embeds = session_embeds(session, TZ, interested=7)
    assert len(embeds) >= 3
    for embed in embeds:
        assert limits.check_embed(embed) == []
    pages = session_pages(session, TZ, interested=7)
    for page in pages:
        assert sum(len(e) for e in page.embeds) <= limits.EMBED_TOTAL
    shown = " ".join(
        (e.description or "").replace("*(continued below)*", "") for p in pages for e in p.embeds
    )
    assert shown.split() == words  # every word, once, in order
    main = session_embed(session, TZ, interested=7)
    assert len(main.title or "") == limits.EMBED_TITLE and main.title.endswith(limits.ELLIPSIS)


def test_session_embed_fields(sample: Programme) -> None:
    keynote = sample.get("fri-keynote")
    assert keynote is not None
    embed = session_embed(keynote, TZ, interested=12)
    assert limits.check_embed(embed) == []
    fields = {f.name: f.value for f in embed.fields}
    unix = int(keynote.start.timestamp())
    assert f"<t:{unix}:F>" in fields["When"] and f"<t:{unix}:R>" in fields["When"]
    assert f"<t:{int(keynote.end.timestamp())}:t>" in fields["When"]
    assert fields["Host"] == keynote.host
    assert fields["Format"] == "keynote"
    assert "Dr Kit Example" in fields["Speakers"]
    assert (
        "Embedding improvement into management systems and processes"
        in fields["NHS IMPACT components"]
    )
    assert keynote.join_url in fields["Join"]
    assert fields["Interested"] == "12"
    assert embed.description == keynote.description
    assert len(session_embeds(keynote, TZ, interested=0)) == 1


def test_preview_text(sample: Programme) -> None:
    text = preview_text(sample, TZ, time(8, 0), None)
    assert text.count("08:00 BST  daily post:") == 5
    assert "Monday 14 September 2026" in text and "Friday 18 September 2026" in text
    assert "12:30–13:15  QI café: what is quality improvement, anyway?" in text
    assert "reminder," not in text and "digest" not in text.lower()  # none asked for
    one = preview_text(sample, TZ, time(8, 0), date(2026, 9, 18))
    assert one.count("daily post:") == 1 and "Closing keynote" in one
    none = preview_text(sample, TZ, time(8, 0), date(2026, 9, 19))
    assert "Saturday 19 September 2026: nothing is posted that day." in none


def test_preview_text_lists_reminders_and_digests_per_day(sample: Programme) -> None:
    text = preview_text(
        sample,
        TZ,
        time(8, 0),
        None,
        reminder_leads=(15, 60),
        digest_time=time(17, 30),
        heading=["Server 42"],
    )
    assert text.startswith("Server 42\n")
    assert "Reminders: 60 and 15 minutes before each session" in text
    # Every session has both reminders, at local start - lead, on the day they fall.
    assert text.count("reminder, 60 min before") == len(sample.sessions)
    assert text.count("reminder, 15 min before") == len(sample.sessions)
    assert "  09:15 BST  reminder, 15 min before 09:30: Welcome to QI Week" in text
    assert "  08:30 BST  reminder, 60 min before 09:30: Welcome to QI Week" in text
    # One digest per day of the event week (Monday to Friday), the roundup on the last.
    assert text.count("17:30 BST  digest of the day's shares") == 5
    assert text.count("then the weekly roundup") == 1
    friday = text[text.index("Friday 18 September 2026") :]
    assert "17:30 BST  digest of the day's shares, then the weekly roundup" in friday
    # Within a day, in time order: the post, the reminders, then the digest.
    monday = text[text.index("Monday 14 September 2026") : text.index("Tuesday 15 September")]
    times = [line.split()[0] for line in monday.splitlines()[1:] if line[2:3].isdigit()]
    assert times == sorted(times) and times[0] == "08:00" and times[-1] == "17:30"


def test_preview_text_reminder_on_the_day_before() -> None:
    start = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)  # 09:30 BST
    session = Session(id="a", title="Early", start=start, end=start + timedelta(hours=1))
    programme = Programme(sessions=(session,))
    text = preview_text(programme, TZ, time(8, 0), None, reminder_leads=(1440,))
    sunday = text[text.index("Sunday 13 September 2026") : text.index("Monday 14 September")]
    assert "09:30 BST  reminder, 1440 min before 09:30: Early" in sunday
    only = preview_text(programme, TZ, time(8, 0), date(2026, 9, 13), reminder_leads=(1440,))
    assert "daily post" not in only and "reminder, 1440 min" in only


# ---------------------------------------------------------------- daily-post parts and views


def _check_page(page: limits.Page) -> None:
    assert 1 <= len(page.embeds) <= limits.EMBEDS_PER_MESSAGE
    assert sum(len(e) for e in page.embeds) <= limits.EMBED_TOTAL
    assert all(limits.check_embed(e) == [] for e in page.embeds)


def test_day_parts_hold_at_most_25_sessions_each_nothing_lost() -> None:
    from bot.render.programme import day_parts

    sessions = tuple(_session(n, description="") for n in range(60))
    programme = Programme(event=Event(theme="QI is for Everyone"), sessions=sessions)
    parts = day_parts(programme, MONDAY, TZ)
    assert len(parts) >= 3
    listed = [s.id for part in parts for s in part.sessions]
    assert listed == [s.id for s in sessions]  # every session once, in order
    for index, part in enumerate(parts):
        _check_page(part.page)
        assert 1 <= len(part.sessions) <= 25
        text = _all_text([part.page])
        assert all(f"**{s.title}**" in text for s in part.sessions)
        first = part.page.embeds[0]
        if index == 0:
            assert first.title == "QI Week programme — Monday 14 September"
            assert "60 sessions" in (first.description or "")
        else:
            assert first.title == "QI Week programme — Monday 14 September (continued)"
    footers = [e.footer.text for p in parts for e in p.page.embeds if e.footer.text]
    assert footers == ["Share what you learn with #QIWeek"]  # closes the last message only


def test_day_parts_spill_an_oversized_session_over_messages_and_empty_days() -> None:
    from bot.render.programme import day_parts

    huge = _session(1, title="A very long title " * 600)
    programme = Programme(sessions=(_session(0), huge, _session(2)))
    parts = day_parts(programme, MONDAY, TZ)
    for part in parts:
        _check_page(part.page)
    assert [s.id for p in parts for s in p.sessions] == ["s000", "s001", "s002"]
    assert any(not p.sessions for p in parts)  # the spill-over pages carry no select
    assert _all_text([p.page for p in parts]).count("very") == 600  # split at word breaks

    empty = day_parts(programme, date(2026, 9, 15), TZ, today=MONDAY)
    assert len(empty) == 1 and empty[0].sessions == []
    assert "No sessions tomorrow" in (empty[0].page.embeds[0].description or "")


def test_interest_select_session_view_and_choice_names() -> None:
    from bot import ids
    from bot.render.components import interest_select_view, session_view
    from bot.render.programme import session_choice_name

    sessions = [_session(n, title=f"{'Long title ' * 20}{n}") for n in range(25)]
    view = interest_select_view(MONDAY, 2, sessions, TZ)
    assert view is not None
    (select,) = view.children
    data = select.to_component_dict()
    assert data["custom_id"] == ids.interest_select_id("2026-09-14", 2)
    assert data["max_values"] == 25 and data["min_values"] == 1
    assert [o["value"] for o in data["options"]] == [s.id for s in sessions]
    assert all(len(o["label"]) <= 100 and len(o["description"]) <= 100 for o in data["options"])
    assert data["options"][0]["description"].startswith("08:00 BST · Example Community")
    assert interest_select_view(MONDAY, 1, [], TZ) is None
    with pytest.raises(ValueError):
        interest_select_view(MONDAY, 1, [*sessions, _session(99)], TZ)

    cafe = _session(22, title="QI café")
    assert session_choice_name(cafe, TZ) == "Mon 14 Sep 13:30 BST · QI café"
    assert len(session_choice_name(sessions[0], TZ)) == 100

    buttons = [item.to_component_dict() for item in session_view(cafe).children]
    assert buttons[0]["custom_id"] == ids.interest_button_id("s022")
    assert buttons[1]["url"] == "https://example.org/join/22"
    long_link = _session(3, join_url="https://example.org/" + "x" * 600)
    assert len(session_view(long_link).children) == 1  # the link stays in the embed


def test_interest_select_leaves_out_sessions_that_have_started() -> None:
    from bot.render.components import interest_select_view

    sessions = [_session(n) for n in range(4)]  # 08:00, 08:15, 08:30, 08:45 BST
    now = sessions[1].start  # the second has just started
    view = interest_select_view(MONDAY, 1, sessions, TZ, now=now)
    assert view is not None
    (select,) = view.children
    values = [o["value"] for o in select.to_component_dict()["options"]]
    assert values == ["s002", "s003"]
    assert interest_select_view(MONDAY, 1, sessions, TZ, now=sessions[-1].end) is None


def test_day_heading_names_the_year_only_outside_the_event_year(sample: Programme) -> None:
    from bot.render.programme import day_heading

    assert day_heading(sample, MONDAY).endswith("— Monday 14 September")
    assert day_heading(sample, date(2027, 9, 13)).endswith("— Monday 13 September 2027")


def test_ambiguous_session_text_lists_matches_with_timestamps() -> None:
    from bot.render.programme import ambiguous_session_text

    sessions = [_session(n, title=f"QI café {n}") for n in range(12)]
    text = ambiguous_session_text(" QI café ", sessions, limit=10)
    assert text.startswith("'QI café' matches 12 sessions:")
    assert f"<t:{int(sessions[0].start.timestamp())}:f> **QI café 0**" in text
    assert "QI café 10" not in text and "…and 2 more" in text
    assert text.endswith("pick one from the suggestions as you type.")
    assert len(text) <= 2000


def test_my_sessions_marks_started_and_ended_sessions() -> None:
    from bot.render.interest import my_sessions_pages

    ended, started, coming = _session(0), _session(4), _session(20)
    now = started.start + timedelta(minutes=1)
    assert ended.end <= now
    pages = my_sessions_pages(
        [ended, started, coming], [], setting="default", guild_leads=(15,), now=now
    )
    text = _all_text(pages)
    assert "*(ended)*" in text and "*(started, no reminders)*" in text
    assert text.count("*(") == 2
    assert "Sessions that have started get no more reminders." in text

    past = my_sessions_pages([ended], [], setting="default", guild_leads=(15,), now=now)
    past_text = _all_text(past)
    assert "I'll DM you" not in past_text
    assert "no reminders will come for them" in past_text
