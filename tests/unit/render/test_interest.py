"""The words of registrations, reminders and change notices, within Discord limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import discord

from bot.programme import Session
from bot.render import interest as render
from bot.render import limits

T0 = datetime(2026, 9, 14, 8, 30, tzinfo=UTC)


def session(
    session_id: str = "cafe", start: datetime = T0, minutes: int = 45, **extra: object
) -> Session:
    values: dict[str, object] = {
        "title": f"Session {session_id}",
        "end": start + timedelta(minutes=minutes),
        "join_url": f"https://example.org/{session_id}",
    }
    values.update(extra)
    return Session(id=session_id, start=start, **values)  # type: ignore[arg-type]


def test_mentions_split_at_100_users_and_2000_characters() -> None:
    users = [10**18 + i for i in range(250)]
    chunks = render.mention_chunks(users, suffix=render.CLOSED_SUFFIX)
    assert [u for _, ids in chunks for u in ids] == users
    for text, ids in chunks:
        assert len(ids) <= limits.MENTIONS_PER_LIST and len(text) <= limits.CONTENT
        assert text.count("<@") == len(ids)
    assert render.mention_chunks([]) == []


async def test_reminder_messages_allow_exactly_the_closed_members() -> None:
    cafe = session("cafe")
    closed = [10**18 + i for i in range(120)]
    messages = render.reminder_messages(cafe, 15, 300, closed, with_post=True)
    assert messages[0].embed is not None and "300 interested" in str(messages[0].embed.description)
    assert not limits.check_embed(messages[0].embed)
    mentioned = [u for m in messages for u in m.mention_ids]
    assert mentioned == closed
    first = messages[0].kwargs()["allowed_mentions"].to_dict()
    assert first["parse"] == [] and len(first["users"]) == len(messages[0].mention_ids)
    quiet = render.reminder_messages(cafe, 15, 3, [], with_post=True)
    assert len(quiet) == 1 and quiet[0].kwargs()["allowed_mentions"].to_dict() == {"parse": []}
    assert render.reminder_messages(cafe, 30, 3, [], with_post=False) == []
    own = render.reminder_messages(cafe, 30, 3, closed[:2], with_post=False)
    assert len(own) == 1 and own[0].embed is None and "Session cafe" in str(own[0].content)


async def test_texts_stay_within_limits_and_use_timestamps() -> None:
    long = Session(
        id="long",
        title="T" * 400,
        start=T0,
        end=T0 + timedelta(hours=1),
        host="H" * 900,
        format="F" * 900,
        join_url="https://example.org/" + "x" * 1500,
    )
    assert len(render.reminder_dm_message(long).content) <= limits.CONTENT
    assert f"<t:{int(T0.timestamp())}:t>" in render.reminder_dm_message(session()).content
    assert render.join_view(long) is None  # too long for a link button; the text has it
    view = render.join_view(session())
    assert isinstance(view, discord.ui.View) and view.is_finished()
    assert len(render.change_dm_message(long, None).content) <= limits.CONTENT
    assert "cancelled" in render.change_dm_message(session(), None).content
    moved = render.change_dm_message(session(), session("cafe", T0 + timedelta(hours=1))).content
    assert "has moved" in moved and f"<t:{int((T0 + timedelta(hours=1)).timestamp())}:f>" in moved
    pages = render.my_sessions_pages(
        [session(f"s{i}", T0 + timedelta(hours=i)) for i in range(60)],
        [session("gone")],
        setting="default",
        guild_leads=(15,),
    )
    assert len(pages) >= 1 and all(not limits.check_embed(e) for p in pages for e in p.embeds)
    text = " ".join(str(e.description) for p in pages for e in p.embeds)
    assert text.index("Session s1**") < text.index("Session s2**") and "~~Session gone~~" in text
    assert render.minutes_text(60) == "1 hour" and render.minutes_text(90) == "90 minutes"
    assert render.leads_text((15, 60)) == "1 hour and 15 minutes"


LONG_URL = "https://example.org/join?" + "x" * 1500


def long_session(session_id: str = "long", start: datetime = T0) -> Session:
    return session(
        session_id,
        start,
        title="A very long title about *quality* improvement _" * 30,
        host="H" * 900,
        format="F" * 900,
        join_url=LONG_URL,
    )


def test_a_caught_up_reminder_says_the_real_time_left() -> None:
    cafe = session("cafe")
    on_time = render.reminder_embed(cafe, 60, 3, now=T0 - timedelta(minutes=60, seconds=2))
    assert on_time.title is not None and on_time.title.startswith("Starting in 1 hour:")
    late = render.reminder_embed(cafe, 60, 3, now=T0 - timedelta(minutes=7, seconds=30))
    assert late.title is not None and late.title.startswith("Starting in 8 minutes:")
    assert f"<t:{int(T0.timestamp())}:R>" in str(late.description)
    assert render.minutes_left(cafe, 15, T0 - timedelta(seconds=5)) == 1
    assert render.minutes_left(cafe, 15, None) == 15


def test_mentions_of_250_members_split_within_limits_each_exactly_once() -> None:
    users = [10**18 + i for i in range(250)]
    for messages in (
        render.reminder_messages(long_session(), 15, 300, users, with_post=True),
        render.reminder_messages(long_session(), 30, 300, users, with_post=False),
        render.change_messages(long_session(), None, interested=300, closed=users),
    ):
        mentioned = [u for m in messages for u in m.mention_ids]
        assert sorted(mentioned) == users and len(set(mentioned)) == len(users)
        for message in messages:
            allowed = message.kwargs()["allowed_mentions"].to_dict()
            assert len(allowed.get("users", [])) <= limits.MENTIONS_PER_LIST
            assert allowed["parse"] == []
            assert sorted(int(u) for u in allowed.get("users", [])) == sorted(message.mention_ids)
            assert len(message.content or "") <= limits.CONTENT
            in_text = [int(u) for u in re.findall(r"<@(\d+)>", message.content or "")]
            assert sorted(in_text) == sorted(message.mention_ids)


def test_a_long_pick_answer_is_split_not_cut() -> None:
    picked = [long_session(f"s{i:02d}", T0 + timedelta(hours=i)) for i in range(25)]
    messages = render.pick_text(
        added=picked, already=[], started=[], unknown=[], setting="default", guild_leads=(15,)
    )
    assert len(messages) > 1 and all(len(m) <= limits.CONTENT for m in messages)
    text = "\n".join(messages)
    assert text.count("• ") == 25 and "`/my-sessions`" in messages[-1]
    assert (
        render.pick_text(
            added=[], already=[], started=[], unknown=[], setting="default", guild_leads=(15,)
        )
        == []
    )


def test_a_reminder_with_a_huge_title_and_a_1500_character_link_stays_within_limits() -> None:
    long = long_session()
    messages = render.reminder_messages(long, 15, 3, [], with_post=True)
    embed = messages[0].embed
    assert embed is not None and limits.check_embed(embed) == []
    assert embed.title is not None and len(embed.title) <= limits.EMBED_TITLE
    assert embed.description is not None and len(embed.description) <= limits.EMBED_DESCRIPTION
    assert LONG_URL in embed.description  # the whole link, not a cut one
    assert embed.url is None  # too long for the embed's title link
    view = messages[0].view
    assert view is not None
    for item in view.children:
        url = getattr(item, "url", None)
        assert url is None or len(url) <= 512  # the link button is left out
    # Much too long to show: named, never cut into a broken link.
    huge = session("huge", join_url="https://example.org/" + "y" * 5000)
    embed = render.reminder_embed(huge, 15, 1)
    assert limits.check_embed(embed) == [] and "too long" in str(embed.description)


def test_a_change_notice_and_dms_with_long_titles_and_links_stay_within_limits() -> None:
    old, new = long_session("long"), long_session("long", T0 + timedelta(hours=2))
    for messages in (
        render.change_messages(old, new, interested=5, closed=[]),
        render.change_messages(old, None, interested=5, closed=[]),
    ):
        assert len(messages) == 1 and len(messages[0].content or "") <= limits.CONTENT
    for dm in (render.change_dm_message(old, new), render.reminder_dm_message(new)):
        assert len(dm.content) <= limits.CONTENT
        assert dm.view is None  # a 1,500-character link fits no button
        # The whole link, in the text when it fits, else in an embed: never cut.
        if dm.embed is None:
            assert LONG_URL in dm.content
        else:
            assert limits.check_embed(dm.embed) == [] and "link is below" in dm.content
            assert LONG_URL in str(dm.embed.description)
    assert render.reminder_dm_message(new).embed is not None  # title, meta and link: too long
    short = render.reminder_dm_message(session("cafe"))
    assert "Join: https://example.org/cafe" in short.content and short.embed is None
    assert short.view is not None
