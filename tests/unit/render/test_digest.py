"""Unit tests for digest rendering: Discord limits, no share dropped, CSV and Markdown exports."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.digest import Share
from bot.render import limits
from bot.render.digest import (
    CSV_COLUMNS,
    PRIVACY_REMINDER,
    digest_markdown,
    digest_pages,
    share_block,
    share_notice,
    shares_csv,
    weekly_pages,
)

LONDON = ZoneInfo("Europe/London")
DAY = date(2024, 9, 10)
WEEK = [date(2024, 9, 9) + timedelta(days=i) for i in range(5)]
START = datetime(2024, 9, 9, 23, 0, tzinfo=UTC)  # 00:00 BST on DAY


def make_share(i: int, *, content: str | None = None, at: datetime | None = None) -> Share:
    rng = random.Random(i)
    words = ["improvement", "**bold**", "@everyone", "#QIWeek", "`code`", "_it_", "PDSA", "flow"]
    text = content
    if text is None:
        text = ""
        while len(text) < 1900:
            text += rng.choice(words) + ("\n" if rng.random() < 0.1 else " ")
        text = text[:1900]
    return Share(
        guild_id=1,
        channel_id=100 + i % 7,
        message_id=1000 + i,
        author_id=i % 13,
        author_name=f"Member_{i} **Smith**",
        content=text,
        jump_url=f"https://discord.com/channels/1/{100 + i % 7}/{1000 + i}",
        attachment_count=i % 3,
        image_url=None,
        created_at=at or START + timedelta(minutes=7 * i),
        reaction_count=rng.randint(0, 30),
    )


def all_text(pages: list[limits.Page]) -> str:
    parts = []
    for page in pages:
        parts.append(page.content or "")
        for embed in page.embeds:
            parts += [embed.title or "", embed.description or "", embed.footer.text or ""]
            parts += [f"{f.name}\n{f.value}" for f in embed.fields]
    return "\n".join(parts)


def assert_within_limits(pages: list[limits.Page]) -> None:
    assert pages
    for page in pages:
        assert 1 <= len(page.embeds) <= limits.EMBEDS_PER_MESSAGE
        assert len(page.content or "") <= limits.CONTENT
        assert sum(len(e) for e in page.embeds) <= limits.EMBED_TOTAL
        for embed in page.embeds:
            assert limits.check_embed(embed) == []


def test_hundred_long_shares_fit_every_limit_and_none_is_dropped() -> None:
    shares = [make_share(i) for i in range(100)]
    pages = digest_pages(shares, day=DAY, tz=LONDON, event_name="QI Week", hashtag_label="#QIWeek")
    assert_within_limits(pages)
    assert len(pages) > 1
    text = all_text(pages)
    for share in shares:
        assert text.count(f"({share.jump_url})") == 1
    assert "**100 shares** from **13 contributors** in **7 channels**" in text
    assert PRIVACY_REMINDER in text
    assert "@everyone" not in text  # defused with a zero-width space


def test_digest_is_most_reacted_first_and_ignores_other_days() -> None:
    low = make_share(1, content="low #QIWeek")
    high = make_share(2, content="high #QIWeek")
    low = replace(low, reaction_count=1)
    high = replace(high, reaction_count=9)
    other_day = make_share(3, at=START - timedelta(minutes=1))
    pages = digest_pages(
        [low, other_day, high], day=DAY, tz=LONDON, event_name="QI Week", hashtag_label="#QIWeek"
    )
    text = all_text(pages)
    assert text.index(high.jump_url) < text.index(low.jump_url)
    assert other_day.jump_url not in text
    assert "**2 shares**" in text


def test_empty_day_gives_one_friendly_embed() -> None:
    pages = digest_pages([], day=DAY, tz=LONDON, event_name="QI Week", hashtag_label="#QIWeek")
    assert len(pages) == 1 and len(pages[0].embeds) == 1
    embed = pages[0].embeds[0]
    assert "No #QIWeek shares yet" in (embed.description or "")
    assert embed.footer.text == PRIVACY_REMINDER
    assert_within_limits(pages)


def test_empty_past_or_last_day_invites_no_next_digest() -> None:
    sunday = date(2026, 9, 13)

    def empty(today: date, last_day: date | None) -> str:
        pages = digest_pages(
            [],
            day=sunday,
            tz=LONDON,
            event_name="QI Week",
            hashtag_label="#QIWeek",
            today=today,
            last_day=last_day,
        )
        return pages[0].embeds[0].description or ""

    closed = "No #QIWeek shares on Sunday 13 September 2026."
    assert empty(sunday + timedelta(days=1), None) == closed  # a past day
    assert empty(sunday, sunday) == closed  # the event's last day
    assert "next digest" in empty(sunday, sunday + timedelta(days=1))


def test_share_block_contents() -> None:
    share = make_share(5, content="Our @everyone huddle\n# went well #QIWeek")
    block = share_block(share, 1)
    assert block.startswith("**1. Member\\_5 \\*\\*Smith\\*\\***")
    assert f"<#{share.channel_id}>" in block
    assert f"<t:{int(share.created_at.timestamp())}:t>" in block
    assert f"[Jump to message]({share.jump_url})" in block
    assert "@\u200beveryone" in block
    assert "\n# " not in block
    assert "reactions" in block or "reaction" in block


def test_weekly_pages_per_day_and_top_shares() -> None:
    shares = [make_share(i, at=START + timedelta(hours=9 * i)) for i in range(12)]
    pages = weekly_pages(shares, days=WEEK, tz=LONDON, event_name="QI Week", top_n=5)
    assert_within_limits(pages)
    text = all_text(pages)
    assert "Monday 9 September 2024" in text and "Friday 13 September 2024" in text
    assert "Top 5 shares of the week" in text
    assert text.count("[Jump to message](") == 5
    in_week = [s for s in shares if s.created_at.astimezone(LONDON).date() in WEEK]
    best = max(in_week, key=lambda s: (s.reaction_count, -s.created_at.timestamp()))
    assert f"({best.jump_url})" in text


def test_weekly_pages_with_many_long_top_shares_stay_within_limits() -> None:
    shares = [make_share(i, at=START + timedelta(minutes=30 * i)) for i in range(100)]
    pages = weekly_pages(shares, days=WEEK, tz=LONDON, event_name="QI Week", top_n=100)
    assert_within_limits(pages)


def test_weekly_pages_empty_week() -> None:
    pages = weekly_pages([], days=WEEK, tz=LONDON, event_name="QI Week")
    assert_within_limits(pages)
    assert "No shares this week yet." in all_text(pages)


def test_csv_has_bom_round_trips_and_neutralises_formulas() -> None:
    evil = make_share(1, content='=HYPERLINK("http://evil","x")\nsecond line, with comma')
    evil = replace(evil, author_name="@admin")
    plus = make_share(2, content="+44 7700 900000 call me", at=START + timedelta(hours=2))
    minus = make_share(3, content="-1 for waiting lists, café ☕", at=START + timedelta(hours=3))
    data = shares_csv([minus, evil, plus], LONDON)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 4
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["content"] == '\'=HYPERLINK("http://evil","x")\nsecond line, with comma'
    assert first["author_name"] == "'@admin"
    assert first["date"] == "2024-09-10" and first["time"] == "00:07"
    assert first["message_id"] == str(evil.message_id)
    assert first["jump_url"] == evil.jump_url
    assert first["image_url"] == ""
    assert rows[2][CSV_COLUMNS.index("content")].startswith("'+44")
    assert rows[3][CSV_COLUMNS.index("content")] == "'-1 for waiting lists, café ☕"


def test_markdown_contains_every_share_link() -> None:
    shares = [make_share(i, at=START + timedelta(hours=5 * i)) for i in range(20)]
    md = digest_markdown(shares, days=WEEK, tz=LONDON, event_name="QI Week")
    assert md.startswith("# QI Week digest")
    in_week = [s for s in shares if s.created_at.astimezone(LONDON).date() in WEEK]
    assert in_week
    for share in in_week:
        assert md.count(f"({share.jump_url})") == 1
    for day in WEEK:
        assert f"## {day:%A} {day.day} {day:%B %Y}" in md
    assert "\n# " not in md.split("\n", 1)[1]  # members' headings are escaped
    assert PRIVACY_REMINDER in md


def test_markdown_single_day_and_empty_day() -> None:
    md = digest_markdown([make_share(1)], days=[DAY], tz=LONDON, event_name="QI Week")
    assert md.startswith("# QI Week digest: Tuesday 10 September 2024")
    assert "**1 share** from **1 contributor** in **1 channel**" in md
    empty = digest_markdown([], days=[DAY], tz=LONDON, event_name="QI Week")
    assert "_No shares this day._" in empty


def test_markdown_keeps_paragraphs_and_names_discord_tokens() -> None:
    text = "Hello <@123456789012345678> in <#223456789012345678>\r\n\n# not a heading"
    md = digest_markdown([make_share(1, content=text)], days=[DAY], tz=LONDON, event_name="QI")
    assert "> Hello @member in #channel\n>\n> \\# not a heading" in md


def test_share_notice_says_what_happens_and_how_to_leave() -> None:
    text = share_notice(
        event_name="QI Week", channel_id=11, digest_channel_id=22, guild_name="QI *Week*"
    )
    assert len(text) <= limits.CONTENT
    assert "<#11>" in text and "<#22>" in text
    assert "patient-identifiable information" in text
    assert "/digest-opt-out" in text and "Remove from digest" in text
    assert "QI \\*Week\\*" in text  # a server name cannot break the layout
    without = share_notice(
        event_name="QI Week", channel_id=11, digest_channel_id=None, guild_name="QI Week"
    )
    assert "<#" not in without.replace("<#11>", "")
