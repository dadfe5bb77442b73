"""`/organiser setup` validation: every problem listed at once, nothing stored when any."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import UserFacingError
from bot.schedule import Schedule
from bot.services.audit import AuditTrail
from bot.services.setup import GuildSetup, SetupRequest
from bot.store import Store

GUILD = 42


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[GuildSetup]:
    async with Store(tmp_path / "setup.db") as store:
        yield GuildSetup(
            store=store, settings=Settings(), schedule=Schedule(), audit=AuditTrail(store)
        )


async def test_every_problem_is_listed_and_nothing_is_stored(setup: GuildSetup) -> None:
    request = SetupRequest(
        channels={"digest_channel": 7},
        channel_problems={"programme_channel": "The bot can't post in #x."},
        text={"timezone": "Mars/Base", "daily_post_time": "25:00", "digest_time": "18:00"},
    )
    with pytest.raises(UserFacingError) as refused:
        setup.validate(request)
    text = str(refused.value)
    assert text.startswith("Nothing was changed.")
    for name in ("`programme_channel`", "`timezone`", "`daily_post_time`"):
        assert name in text
    assert "`digest_time`" not in text  # a good value is not a problem
    config = await setup.config(GUILD)
    assert config.digest_channel_id is None


async def test_good_values_are_stored_recorded_and_shown(setup: GuildSetup) -> None:
    changes = setup.validate(
        SetupRequest(
            channels={"programme_channel": 5},
            organiser_role_id=9,
            manages_server=True,  # changing the organiser role needs Manage Server
            text={"reminder_leads": "60, 15", "daily_post_time": "07:30"},
        )
    )
    assert changes == {
        "programme_channel_id": 5,
        "organiser_role_id": 9,
        "daily_post_time": time(7, 30),
        "reminder_leads": (60, 15),
    }
    await setup.apply(GUILD, 1, changes)
    config = await setup.config(GUILD)
    assert (config.programme_channel_id, config.organiser_role_id) == (5, 9)
    assert config.reminder_leads == (60, 15)
    [entry] = await setup.audit.recent(GUILD)
    assert entry.action == "setup"
    assert "programme_channel_id=<#5>" in entry.detail and "organiser_role_id=<@&9>" in entry.detail
    assert "daily_post_time=07:30" in entry.detail and "reminder_leads=60,15" in entry.detail


def test_the_organiser_role_needs_manage_server_and_a_role_people_hold(setup: GuildSetup) -> None:
    with pytest.raises(UserFacingError, match="Manage Server"):
        setup.validate(SetupRequest(organiser_role_id=9))
    with pytest.raises(UserFacingError, match="@everyone can't"):
        setup.validate(
            SetupRequest(
                organiser_role_id=GUILD,
                organiser_role_problem="@everyone can't be the organiser role.",
                manages_server=True,
            )
        )


def test_share_channels_are_parsed_or_refused(setup: GuildSetup) -> None:
    changes = setup.validate(SetupRequest(text={"share_channels": "<#12> <#34>"}))
    assert changes == {"share_channel_ids": (12, 34)}
    assert setup.validate(SetupRequest(text={"share_channels": "none"})) == {
        "share_channel_ids": ()
    }
    with pytest.raises(UserFacingError, match="`share_channels`"):
        setup.validate(SetupRequest(text={"share_channels": "#general"}))
