"""Settings: every bad value is reported, all together, and the token never shows."""

from __future__ import annotations

import logging
from datetime import time
from pathlib import Path

import pytest

from bot.config import DEFAULT_API_BASE, ConfigError, Settings, check_timezone, parse_settings

TOKEN = "MTIz.secret-token-value"


def problems_for(**values: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings({"DISCORD_TOKEN": TOKEN, **values})
    return info.value.problems


def test_defaults_match_the_design() -> None:
    s = parse_settings({"DISCORD_TOKEN": TOKEN})
    assert s.api_base == DEFAULT_API_BASE
    assert s.timezone == "Europe/London"
    assert s.daily_post_time == time(8, 0)
    assert s.digest_time == time(17, 30)
    assert s.reminder_leads == (15,)
    assert s.hashtags == ("#QIWeek",)
    assert s.share_retention_days == 90
    assert s.db_path == Path("data/qiweek.db")
    assert s.programme_path == Path("data/programme.yaml")
    assert s.guild_id is None


def test_every_value_parsed() -> None:
    s = parse_settings(
        {
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": "http://127.0.0.1:9999/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9999/gateway",
            "QIWEEK_GUILD_ID": "123",
            "QIWEEK_PROGRAMME_CHANNEL_ID": "4",
            "QIWEEK_ANNOUNCEMENTS_CHANNEL_ID": "5",
            "QIWEEK_DIGEST_CHANNEL_ID": "6",
            "QIWEEK_ORGANISER_ROLE_ID": "7",
            "QIWEEK_TIMEZONE": "America/New_York",
            "QIWEEK_DAILY_POST_TIME": "07:45",
            "QIWEEK_DIGEST_TIME": "18:00",
            "QIWEEK_REMINDER_LEADS": "15, 60,15",
            "QIWEEK_HASHTAGS": "#QIWeek, #QIWeek2026",
            "QIWEEK_SHARE_RETENTION_DAYS": "30",
            "QIWEEK_DB": "/tmp/x.db",
        }
    )
    assert s.api_base == "http://127.0.0.1:9999/api/v10"
    assert s.gateway_url == "ws://127.0.0.1:9999/gateway"
    assert (s.guild_id, s.programme_channel_id, s.organiser_role_id) == (123, 4, 7)
    assert s.reminder_leads == (60, 15)
    assert s.hashtags == ("#QIWeek", "#QIWeek2026")
    assert s.daily_post_time == time(7, 45)


def test_missing_token_only_matters_for_run() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings({})
    assert any("DISCORD_TOKEN" in p for p in info.value.problems)
    assert parse_settings({}, require_token=False).token.reveal() == ""


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("QIWEEK_TIMEZONE", "Mars/Olympus", "timezone"),
        ("QIWEEK_DAILY_POST_TIME", "8am", "HH:MM"),
        ("QIWEEK_DAILY_POST_TIME", "24:00", "HH:MM"),
        ("QIWEEK_DIGEST_TIME", "17:5", "HH:MM"),
        ("QIWEEK_REMINDER_LEADS", "0", "whole minutes"),
        ("QIWEEK_REMINDER_LEADS", "15,-5", "whole minutes"),
        ("QIWEEK_REMINDER_LEADS", "1.5", "whole minutes"),
        ("QIWEEK_GUILD_ID", "abc", "Discord id"),
        ("QIWEEK_PROGRAMME_CHANNEL_ID", "-1", "Discord id"),
        ("QIWEEK_ORGANISER_ROLE_ID", "12x", "Discord id"),
        ("QIWEEK_HASHTAGS", "QIWeek", "start with #"),
        ("QIWEEK_HASHTAGS", "#QI Week", "start with #"),
        ("DISCORD_API_BASE", "ftp://example.org", "http://"),
        ("DISCORD_API_BASE", "discord.com/api", "http://"),
        ("DISCORD_GATEWAY_URL", "https://gateway", "ws://"),
        ("QIWEEK_SHARE_RETENTION_DAYS", "0", "days"),
        ("QIWEEK_SHARE_CHANNEL_IDS", "12,general", "Discord id"),
        ("QIWEEK_LEAVE_OTHER_GUILDS", "yes", "on or off"),
        ("QIWEEK_LEAVE_OTHER_GUILDS", "on", "needs QIWEEK_GUILD_ID"),
        ("QIWEEK_SCHEDULED_EVENTS", "yes", "on or off"),
        ("QIWEEK_EVENTS_MAX", "101", "1 to 100"),
        ("QIWEEK_EVENTS_MAX", "0", "1 to 100"),
    ],
)
def test_each_bad_setting_is_explained(name: str, value: str, needle: str) -> None:
    problems = problems_for(**{name: value})
    assert len(problems) == 1
    assert name in problems[0] and needle in problems[0]


def test_share_channels_and_leaving_other_servers() -> None:
    s = parse_settings(
        {
            "DISCORD_TOKEN": TOKEN,
            "QIWEEK_GUILD_ID": "5",
            "QIWEEK_SHARE_CHANNEL_IDS": " 12, 34,12 ,",
            "QIWEEK_LEAVE_OTHER_GUILDS": "ON",
        }
    )
    assert s.share_channel_ids == (12, 34)
    assert s.leave_other_guilds is True
    assert parse_settings({"DISCORD_TOKEN": TOKEN}).share_channel_ids == ()


def test_organiser_role_equal_to_the_server_id_is_everyone_and_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(
            {"DISCORD_TOKEN": TOKEN, "QIWEEK_GUILD_ID": "77", "QIWEEK_ORGANISER_ROLE_ID": "77"}
        )
    assert len(info.value.problems) == 1
    assert "@everyone" in info.value.problems[0]
    assert "QIWEEK_ORGANISER_ROLE_ID" in info.value.problems[0]


def test_all_problems_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(
            {
                "QIWEEK_TIMEZONE": "Nowhere/Town",
                "QIWEEK_DAILY_POST_TIME": "noon",
                "QIWEEK_REMINDER_LEADS": "soon",
                "QIWEEK_HASHTAGS": "qiweek",
            }
        )
    assert len(info.value.problems) == 5  # the four above and the missing token
    assert str(info.value).count("\n  - ") == 5


def test_token_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    s = parse_settings({"DISCORD_TOKEN": TOKEN})
    assert TOKEN not in repr(s)
    assert TOKEN not in str(s)
    assert TOKEN not in s.summary()
    logging.getLogger("t").info("settings %s %r", s, s.token)
    assert TOKEN not in caplog.text
    assert s.token.reveal() == TOKEN
    with pytest.raises(ConfigError) as info:
        parse_settings({"DISCORD_TOKEN": TOKEN, "QIWEEK_GUILD_ID": "x"})
    assert TOKEN not in str(info.value)


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "DISCORD_TOKEN=from-file\nQIWEEK_TIMEZONE=Europe/Paris\nQIWEEK_DIGEST_TIME=16:00\n"
    )
    s = Settings.from_env({"QIWEEK_TIMEZONE": "Europe/Dublin"}, env_file=env)
    assert s.timezone == "Europe/Dublin"
    assert s.digest_time == time(16, 0)
    assert s.token.reveal() == "from-file"


def test_settings_are_immutable() -> None:
    s = parse_settings({"DISCORD_TOKEN": TOKEN})
    with pytest.raises(AttributeError):
        s.timezone = "UTC"  # type: ignore[misc]


def test_timezone_case_does_not_matter_when_it_names_one_zone() -> None:
    assert check_timezone("europe/london") == "Europe/London"
    assert check_timezone(" EUROPE/PARIS ") == "Europe/Paris"
    assert check_timezone("Europe/London") == "Europe/London"
    assert parse_settings({"QIWEEK_TIMEZONE": "europe/dublin"}, require_token=False).timezone == (
        "Europe/Dublin"
    )
    with pytest.raises(ValueError, match="IANA"):
        check_timezone("europe/atlantis")


def test_issue_10_settings() -> None:
    s = parse_settings({"DISCORD_TOKEN": TOKEN})
    assert (s.organiser_channel_id, s.new_dms_per_minute, s.backfill_limit) == (None, 20, 1000)
    s = parse_settings(
        {
            "DISCORD_TOKEN": TOKEN,
            "QIWEEK_ORGANISER_CHANNEL_ID": "123",
            "QIWEEK_NEW_DMS_PER_MINUTE": "5",
            "QIWEEK_BACKFILL_LIMIT": "0",
        }
    )
    assert (s.organiser_channel_id, s.new_dms_per_minute, s.backfill_limit) == (123, 5, 0)
    problems = problems_for(
        QIWEEK_ORGANISER_CHANNEL_ID="general",
        QIWEEK_NEW_DMS_PER_MINUTE="0",
        QIWEEK_BACKFILL_LIMIT="lots",
    )
    assert len(problems) == 3
    assert "QIWEEK_NEW_DMS_PER_MINUTE='0'" in problems[1] and "from 1 to 1000" in problems[1]
    assert "QIWEEK_BACKFILL_LIMIT" in problems[2]


def test_scheduled_events_settings() -> None:
    default = parse_settings({"DISCORD_TOKEN": TOKEN})
    assert default.scheduled_events is True and default.events_max == 90
    chosen = parse_settings(
        {"DISCORD_TOKEN": TOKEN, "QIWEEK_SCHEDULED_EVENTS": "OFF", "QIWEEK_EVENTS_MAX": "40"}
    )
    assert chosen.scheduled_events is False and chosen.events_max == 40
