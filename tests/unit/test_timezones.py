"""One timezone validator: IANA names only, never a directory or a right/ or posix/ copy."""

from __future__ import annotations

import pytest

from bot.config import parse_settings
from bot.programme import ProgrammeError, parse_programme
from bot.timezones import TimezoneError, check_timezone, zone


def test_iana_names_are_accepted_in_their_canonical_spelling() -> None:
    assert check_timezone("Europe/London") == "Europe/London"
    assert check_timezone(" europe/london ") == "Europe/London"
    assert zone("UTC").key == "UTC"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("Europe", "is not a known timezone"),  # a directory: IsADirectoryError before
        ("right/Europe/London", "without right/"),
        ("posix/Europe/London", "without posix/"),
        ("Mars/Olympus_Mons", "is not a known timezone"),
        ("../../etc/passwd", "is not a known timezone"),
        ("x" * 500, "…"),  # quoted, but cut
    ],
)
def test_other_names_are_a_clear_error(name: str, says: str) -> None:
    with pytest.raises(TimezoneError) as caught:
        check_timezone(name)
    assert says in str(caught.value)
    assert len(str(caught.value)) < 200
    assert isinstance(caught.value, ValueError)  # callers catch ValueError


@pytest.mark.parametrize("name", ["Europe", "right/Europe/London", "posix/Europe/London"])
def test_config_refuses_them_with_a_problem(name: str) -> None:
    settings_or_error: object
    try:
        settings_or_error = parse_settings(
            {"DISCORD_TOKEN": "x", "QIWEEK_TIMEZONE": name}, require_token=True
        )
    except Exception as exc:  # ConfigError lists every problem
        settings_or_error = exc
    assert isinstance(settings_or_error, Exception)
    assert "QIWEEK_TIMEZONE" in str(settings_or_error)
    assert repr(name) in str(settings_or_error)


@pytest.mark.parametrize("name", ["Europe", "right/Europe/London", "posix/Europe/London"])
def test_a_programme_file_refuses_them_with_its_line(name: str) -> None:
    text = f"event:\n  timezone: {name}\nsessions:\n  - {{title: A, start: 2026-09-14 10:00, "
    text += "duration_minutes: 30}\n"
    with pytest.raises(ProgrammeError) as caught:
        parse_programme(text.encode(), "p.yaml", "Europe/London")
    assert [p.place for p in caught.value.problems] == ["line 2"]
    with pytest.raises(ProgrammeError) as default:
        parse_programme(b"- {title: A}\n", "p.yaml", name)
    assert "default timezone" in str(default.value)
