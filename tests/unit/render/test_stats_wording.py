"""`/organiser stats` wording: singular counts, and audit details shown as Discord markup."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.render.announcements import _audit_detail, stats_embeds
from bot.store import Store, audit, stats
from bot.store.interest import add_interest
from tests.harness import GUILD, LONDON, T0, add_session, add_share


@pytest.fixture
async def store(tmp_path: Path):
    async with Store(tmp_path / "qiweek.db", clock=lambda: T0) as s:
        yield s


async def test_one_of_each_is_singular(store: Store) -> None:
    await add_session(store, "keynote", "Keynote", T0 + timedelta(hours=1))
    await add_interest(store, GUILD, "keynote", 5)
    await add_share(store, 100, 5, T0)
    embeds = stats_embeds(await stats.gather(store, GUILD, LONDON), LONDON)
    fields = {f.name: f.value or "" for f in embeds[0].fields}
    assert fields["Registrations of interest"] == "1 registration for 1 session by 1 member"
    assert fields["#QIWeek shares"].startswith("1 share by 1 contributor\n")


async def test_audit_details_keep_mentions_and_timestamps(store: Store) -> None:
    detail = "#3 scheduled for <t:1789376400:f> in <#123456789012345678>"
    await audit.record(store, GUILD, 7, "announce", detail)
    embeds = stats_embeds(await stats.gather(store, GUILD, LONDON), LONDON)
    assert detail in (embeds[1].description or "")


def test_a_long_detail_is_never_cut_inside_a_mention() -> None:
    detail = "#3 now in <#123456789012345678>, pinging <@&123456789012345678>, DMs to session x"
    for limit in range(20, len(detail)):
        cut = _audit_detail(detail, limit)
        assert len(cut) <= limit and cut.endswith("…")
        assert cut.count("<") == cut.count(">")
    assert _audit_detail(detail, len(detail)) == detail
