"""The transcript shows what a reader sees: local times, names, labels; markup escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from bot.rehearsal.transcript import render_transcript
from bot.sandbox import FakeDiscord

LONDON = ZoneInfo("Europe/London")
AT = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)  # 09:00 BST


class Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_messages_render_as_a_reader_sees_them() -> None:
    fake = FakeDiscord(clock=lambda: AT)
    cid = fake.channels["programme"]
    member = fake.users["member"]
    session_start = int(datetime(2026, 9, 14, 11, 30, tzinfo=UTC).timestamp())
    payload = {
        "content": (
            f"Starting at <t:{session_start}:t>: <@{member}> **registered** <script>x</script>"
        ),
        "embeds": [{"title": "QI café", "description": "Join on Teams", "footer": {"text": "f"}}],
        "components": [
            {
                "type": 1,
                "components": [
                    {
                        "type": 2,
                        "style": 1,
                        "label": "I'm interested",
                        "custom_id": "qiweek:interest:qi-cafe",
                    }
                ],
            }
        ],
    }
    fake._new_message(cid, payload, [], fake.bot_user)
    fake._new_message(cid, {"content": "only you"}, [], fake.bot_user, ephemeral=True)
    page = render_transcript(fake, LONDON, "Rehearsal")
    parsed = Text()
    parsed.feed(page)
    text = "".join(parsed.text)
    assert "script" not in parsed.tags and "<script>x</script>" in text  # escaped, shown
    assert "Starting at 12:30: @Member One registered" in text  # local time, name, bold
    assert "QI café" in text and "Join on Teams" in text and "I'm interested" in text
    assert "Monday 14 September 2026" in text and "09:00" in text
    assert "only you" not in text
    assert "# programme" in text and 'href="#c' in page and "http" not in page.split("<body>")[0]


def test_relative_timestamps_read_from_the_message_time() -> None:
    from datetime import timedelta

    from bot.rehearsal.transcript import relative

    assert relative(timedelta(minutes=15)) == "in 15 minutes"
    assert relative(timedelta(hours=-1)) == "1 hour ago"
    assert relative(timedelta(seconds=20)) == "in 20 seconds"


def test_subtext_code_and_reactions_render() -> None:
    fake = FakeDiscord(clock=lambda: AT)
    cid = fake.channels["general"]
    fake._new_message(
        cid, {"content": "Share #QIWeek\n-# small print with `/reminders`"}, [], fake.user("member")
    )
    fake._messages[cid][-1]["reactions"] = [{"emoji": {"id": None, "name": "👏"}, "count": 3}]
    page = render_transcript(fake, LONDON, "Rehearsal")
    assert '<span class="sub">small print with <code>/reminders</code></span>' in page
    assert '<span class="re">👏 3</span>' in page
