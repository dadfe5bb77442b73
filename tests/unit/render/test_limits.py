"""Discord's limits hold by construction: a session with every value at the parser's maximum
renders within every limit, a huge header is chunked, a long footer is shortened, never raised."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import discord

from bot.programme import TEXT_LIMITS, Event, Programme, Session, parse_programme
from bot.render import limits
from bot.render.components import LINK_BUTTON_URL, interest_select_view, session_view
from bot.render.programme import (
    day_pages,
    day_parts,
    session_block,
    session_embeds,
    session_pages,
)

TZ = "Europe/London"
MONDAY = date(2026, 9, 14)


def _max_session(n: int = 0, *, url: str | None = None) -> Session:
    start = datetime(2026, 9, 14, 8, tzinfo=UTC) + timedelta(minutes=20 * n)
    return Session(
        id=f"{'s' * 55}{n:03d}",
        title="T" * TEXT_LIMITS["title"],
        start=start,
        end=start + timedelta(hours=12),
        host="H" * TEXT_LIMITS["host"],
        speakers=tuple(f"{k:02d}" + "S" * (TEXT_LIMITS["speaker"] - 2) for k in range(40)),
        format="F" * TEXT_LIMITS["format"],
        join_url=url or "https://example.org/" + "(" * 164,  # 512 escaped
        description="D " * (TEXT_LIMITS["description"] // 2),
        components=(1, 2, 3, 4, 5),
        tags=tuple(f"{k:02d}" + "t" * (TEXT_LIMITS["tag"] - 2) for k in range(20)),
    )


def _max_programme(count: int) -> Programme:
    event = Event(
        name="N" * TEXT_LIMITS["event name"],
        theme="*_" * (TEXT_LIMITS["event theme"] // 2),  # every character escaped: doubles
        hashtag="#" + "h" * (TEXT_LIMITS["event hashtag"] - 1),
        description="D" * TEXT_LIMITS["event description"],
    )
    return Programme(event=event, sessions=tuple(_max_session(n) for n in range(count)))


def _assert_within_limits(page: limits.Page) -> None:
    assert page.content is None or len(page.content) <= limits.CONTENT
    assert 1 <= len(page.embeds) <= limits.EMBEDS_PER_MESSAGE
    for embed in page.embeds:
        assert limits.check_embed(embed) == [], limits.check_embed(embed)
    assert sum(len(e) for e in page.embeds) <= limits.EMBED_TOTAL


def test_the_maximum_session_parses() -> None:
    """The values below are what the parser accepts (so the render tests cover real input)."""
    session = _max_session()
    lines = [
        "sessions:",
        f"  - title: '{session.title}'",
        "    start: 2026-09-14 09:00",
        "    duration_minutes: 720",
        f"    host: '{session.host}'",
        f"    format: '{session.format}'",
        f"    join_url: '{session.join_url}'",
        f"    description: '{session.description.strip()}'",
        f"    speakers: '{'; '.join(session.speakers)}'",
        f"    tags: '{', '.join(session.tags)}'",
        "    components: 1, 2, 3, 4, 5",
    ]
    programme = parse_programme("\n".join(lines).encode(), "max.yaml", TZ)
    parsed = programme.sessions[0]
    assert parsed.join_url == session.join_url and parsed.speakers == session.speakers


def test_session_embeds_with_maximum_values_everywhere() -> None:
    session = _max_session()
    embeds = session_embeds(session, TZ, interested=10**6)
    for embed in embeds:
        assert limits.check_embed(embed) == [], limits.check_embed(embed)
    main = embeds[0]
    fields = {f.name: f.value for f in main.fields}
    assert fields["Join"].startswith("[Join the session](https://example.org/%28")
    assert len(fields["Join"]) <= limits.FIELD_VALUE
    assert all(len(value or "") <= limits.FIELD_VALUE for value in fields.values())
    # Nothing of the speakers or the description is lost across the embeds.
    everything = "\n".join(
        [*(f.value or "" for f in main.fields), *(e.description or "" for e in embeds)]
    )
    for speaker in session.speakers:
        assert speaker in everything
    assert everything.count("D") >= session.description.count("D")
    for page in session_pages(session, TZ, interested=10**6):
        _assert_within_limits(page)
    view = session_view(session)
    (link,) = [item for item in view.children if getattr(item, "url", None)]
    assert len(link.url or "") <= LINK_BUTTON_URL


def test_a_join_url_stored_before_the_limit_falls_back_within_the_field() -> None:
    legacy = _max_session(url="https://example.org/" + "(" * 2000)
    (main, *_) = session_embeds(legacy, TZ)
    join = next(f.value for f in main.fields if f.name == "Join")
    assert join is not None and len(join) <= limits.FIELD_VALUE and "title above" in join
    assert main.url == legacy.join_url  # the link itself is kept on the title
    assert all(getattr(i, "url", None) is None for i in session_view(legacy).children)


def test_a_day_of_maximum_sessions_stays_within_every_limit() -> None:
    programme = _max_programme(30)
    parts = day_parts(programme, MONDAY, TZ)
    listed: list[str] = []
    for part in parts:
        _assert_within_limits(part.page)
        if part.sessions:
            view = interest_select_view(MONDAY, 1, part.sessions, TZ)
            assert view is not None
        listed.extend(s.id for s in part.sessions)
    assert listed == [s.id for s in programme.sessions]
    text = "\n".join(e.description or "" for p in parts for e in p.page.embeds)
    for session in programme.sessions:
        assert session_block(session).splitlines()[-1] in text  # each Join link, whole
    for page in day_pages(programme, MONDAY, TZ):
        _assert_within_limits(page)
    for page in day_pages(programme, MONDAY + timedelta(days=3), TZ, today=MONDAY):
        _assert_within_limits(page)


def test_pack_blocks_chunks_a_10000_character_header() -> None:
    header = "\n".join(f"header line {n:04d} " + "x" * 40 for n in range(180))
    assert len(header) > 10_000
    pages = limits.pack_blocks(["block one", "block two"], title="Title", header=header)
    embeds = [e for p in pages for e in p.embeds]
    assert len(embeds) >= 3
    for page in pages:
        _assert_within_limits(page)
    descriptions = [e.description or "" for e in embeds]
    assert all(len(d) <= limits.EMBED_DESCRIPTION for d in descriptions)
    joined = "\n".join(descriptions)
    for n in range(180):
        assert joined.count(f"header line {n:04d} ") == 1
    assert joined.index("header line 0179") < joined.index("block one") < joined.index("block two")
    # Without any break to split on, it is still cut to the limit, nothing lost.
    solid = limits.pack_blocks([], title="T", header="y" * 10_000)
    pieces = [e.description or "" for p in solid for e in p.embeds]
    assert "".join(pieces) == "y" * 10_000
    assert all(len(piece) <= limits.EMBED_DESCRIPTION for piece in pieces)


def test_a_long_footer_never_makes_packing_raise() -> None:
    blocks = ["b" * 4000]
    pages = limits.pack_blocks(blocks, title="T" * 300, footer="f" * 10_000)
    (page,) = pages
    _assert_within_limits(page)
    footer = page.embeds[-1].footer.text or ""
    assert footer.startswith("fff") and footer.endswith(limits.ELLIPSIS)
    # pack_embeds on its own shortens an over-long footer rather than raising.
    embed = discord.Embed(title="t" * 256, description="d" * 4096)
    embed.set_footer(text="f" * 2048)
    assert len(embed) > limits.EMBED_TOTAL
    (packed,) = limits.pack_embeds([embed])
    _assert_within_limits(packed)
    assert len(embed) == limits.EMBED_TOTAL


def test_daily_post_with_a_long_hashtag_and_theme_fits() -> None:
    programme = _max_programme(1)
    parts = day_parts(programme, MONDAY, TZ)
    for part in parts:
        _assert_within_limits(part.page)
    assert programme.event.hashtag in (parts[-1].page.embeds[-1].footer.text or "")
    assert parts[0].sessions == list(programme.sessions)
