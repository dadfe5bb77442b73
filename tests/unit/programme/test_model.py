"""The model: slugs, components, aware times."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.programme import (
    IMPACT_COMPONENTS,
    Session,
    derive_session_id,
    parse_component,
    slugify,
)
from tests.harness import make_session as make

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


def test_slugs() -> None:
    assert slugify("  QI Café: What's new?  ") == "qi-cafe-what-s-new"
    long = slugify("word " * 40)
    assert len(long) <= 60 and not long.endswith("-")
    start = datetime(2026, 9, 14, 11, 30, tzinfo=UTC)
    sid = derive_session_id(
        "QI café: a very long title about improvement in practice today", start, TZ
    )
    assert sid.startswith("2026-09-14-1230-qi-cafe-")
    assert len(sid) <= 60
    assert sid == derive_session_id(
        "QI café: a very long title about improvement in practice today", start, LONDON
    )


def test_components_by_number_and_name() -> None:
    assert len(IMPACT_COMPONENTS) == 5
    assert parse_component(3) == 3 and parse_component("4") == 4
    assert parse_component("Component 2") == 2
    assert parse_component("Building improvement capability and capacity") == 4
    assert parse_component("building a shared purpose and vision") == 1
    assert parse_component("Developing leadership behaviours (for improvement)") == 3
    assert parse_component("Embedding improvement into management systems and processes") == 5
    assert parse_component("investing in people & culture") == 2
    assert parse_component("Building") is None  # ambiguous
    assert parse_component(6) is None and parse_component("zero") is None


def test_session_requires_aware_times() -> None:
    with pytest.raises(ValueError):
        Session(id="x", title="x", start=datetime(2026, 9, 14, 9), end=datetime(2026, 9, 14, 10))
    session = make("A", datetime(2026, 9, 14, 9, tzinfo=LONDON), components=(1,))
    assert session.start.tzinfo is UTC
    assert session.local_start(TZ).hour == 9
    assert Session.from_dict(session.to_dict()) == session
