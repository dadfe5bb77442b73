"""End to end: `/organiser report` (a deferred PNG) and the report exports (HTML page, CSV)."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser

from bot.clock import to_db, utc_now
from bot.programme import load_programme
from bot.report.figure import png_size
from bot.sandbox import FakeDiscord
from bot.store import Store, audit
from bot.store.interest import add_interest
from bot.store.programme import replace_programme
from tests.harness import SAMPLE_PROGRAMME, BotRunner

DEFERRED = 5


async def seed(runner: BotRunner, fake: FakeDiscord) -> None:
    """The sample programme, four registrations and two shares, written before the bot starts."""
    async with Store(runner.db_path) as store:
        programme = load_programme(SAMPLE_PROGRAMME, "Europe/London")
        await replace_programme(store, fake.guild.id, programme, "seed")
        for user in ("member", "member2", "organiser"):
            await add_interest(store, fake.guild.id, "opening-welcome", fake.users[user])
        await add_interest(store, fake.guild.id, "mon-qi-cafe", fake.users["member"])
        for user in ("member", "member2"):
            # Real messages: the start-up backfill (issue 10) reads the channel's history.
            posted = await fake.post_message(
                user, "general", "Great start: https://example.org/qiweek/opening-welcome #QIWeek"
            )
            message_id = int(posted["id"])
            await store.db.execute(
                "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name,"
                " content, jump_url, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    fake.guild.id,
                    fake.channels["general"],
                    fake.users[user],
                    f"{user} name",
                    "Great start: https://example.org/qiweek/opening-welcome #QIWeek",
                    f"https://discord.com/channels/{fake.guild.id}/1/{message_id}",
                    to_db(utc_now()),
                ),
            )


async def test_report_answers_deferred_with_a_png_of_the_stated_size(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await seed(runner, fake)
    bot = await runner.start()
    it = await fake.slash("organiser", "organiser report")
    response = await it.response()
    assert response["type"] == DEFERRED and it.ephemeral
    assert it.elapsed is not None and it.elapsed < 3
    message = await it.wait_original(lambda m: m["attachments"], timeout=30)
    [attachment] = message["attachments"]
    assert attachment["filename"] == "qiweek-report.png"
    data: bytes = attachment["bytes"]
    assert png_size(data) == (1600, 1000)
    assert "Picture: 1600 × 1000 px" in message["content"]
    assert "registrations of interest: 4" in message["content"]
    assert "Registrations of interest per day: median " in message["content"]
    [entry] = await audit.recent(bot.store, fake.guild.id)
    assert (entry.action, entry.detail) == ("report", "")


async def test_report_for_one_organisation_and_autocomplete(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await seed(runner, fake)
    await runner.start()
    choices = await fake.autocomplete(
        "organiser", "organiser report", focused="organisation", organisation="regional"
    )
    assert [c["value"] for c in choices] == ["Example Regional QI Network"]
    it = await fake.slash(
        "organiser", "organiser report", organisation="example regional qi network"
    )
    message = await it.wait_original(lambda m: m["attachments"], timeout=30)
    assert "impact report for Example Regional QI Network" in message["content"]
    assert "registrations of interest: 3" in message["content"]
    assert png_size(message["attachments"][0]["bytes"])[0] >= 1200


async def test_report_for_an_unknown_organisation_says_what_is_accepted(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await seed(runner, fake)
    await runner.start()
    it = await fake.slash("organiser", "organiser report", organisation="Nowhere Trust")
    message = await it.wait_original(lambda m: m["content"], timeout=30)
    assert "No session in the programme is hosted by “Nowhere Trust”" in message["content"]
    assert not message["attachments"]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables = 0
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tables += tag == "table"
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]


async def test_report_exports_attach_an_html_page_and_a_csv(
    runner: BotRunner, fake_discord: FakeDiscord
) -> None:
    fake = fake_discord
    await seed(runner, fake)
    bot = await runner.start()
    it = await fake.slash("organiser", "organiser export", what="report")
    assert (await it.response())["type"] == DEFERRED and it.ephemeral
    message = await it.wait_original(lambda m: m["attachments"], timeout=30)
    [attachment] = message["attachments"]
    assert attachment["filename"].endswith(".html")
    page = attachment["bytes"].decode("utf-8")
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.tables == 3  # organisations, top sessions, top shares
    assert any(u.startswith("data:image/png;base64,") for u in parser.urls)
    assert all(u.startswith(("data:", "https://discord.com/")) for u in parser.urls)

    it = await fake.slash("organiser", "organiser export", what="report-csv")
    message = await it.wait_original(lambda m: m["attachments"], timeout=30)
    [attachment] = message["attachments"]
    assert attachment["filename"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(attachment["bytes"].decode("utf-8-sig"))))
    by_host = {row["organisation"]: row for row in rows}
    assert by_host["Example Regional QI Network"]["registrations"] == "3"
    assert by_host["Example Regional QI Network"]["shares_mentioning"] == "2"
    assert by_host["Example Community NHS Trust"]["registrations"] == "1"
    # Attendance is recorded by the sessions' feedback buttons (issue 12): nobody pressed yet.
    assert by_host["Example Community NHS Trust"]["attended"] == "0"
    details = [e.detail for e in await audit.recent(bot.store, fake.guild.id)]
    assert sorted(details) == ["report", "report-csv"]
