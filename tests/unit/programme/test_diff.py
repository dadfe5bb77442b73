"""What an import changes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.programme import (
    diff_programmes,
    load_programme,
)
from tests.harness import make_session as make
from tests.harness import utc

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "programme"
LONDON = ZoneInfo("Europe/London")
TZ = "Europe/London"


def test_diff_programmes() -> None:
    start = utc(2026, 9, 14, 11)
    a = make("A", start, id="a")
    b = make("B", start + timedelta(hours=1), id="b")
    c = make("C", start + timedelta(hours=2), id="c")
    b_moved = make("B", start + timedelta(hours=3), id="b")
    c_renamed = make("C prime", start + timedelta(hours=2), id="c", host="Example ICB")
    d = make("D", start + timedelta(hours=4), id="d")
    assert diff_programmes([a, b, c], [a, b, c]).is_empty
    assert "No changes" in diff_programmes([a], [a]).summary()
    diff = diff_programmes([a, b, c], [b_moved, c_renamed, d])
    assert diff.added == (d,)
    assert diff.removed == (a,)
    assert diff.changed == ((c, c_renamed), (b, b_moved))
    assert diff.moved == ((b, b_moved),)
    summary = diff.summary()
    assert "1 added, 2 changed, 1 removed" in summary
    assert f"<t:{int(b.start.timestamp())}:f>" in summary
    local = diff.summary(TZ)
    assert "~ B: moved from Mon 14 Sep 13:00 to Mon 14 Sep 15:00" in local
    assert "~ C prime: title, host changed" in local
    assert "+ D" in local and "- A" in local


def test_reloading_same_file_is_empty_diff() -> None:
    one = load_programme(ROOT / "data" / "programme.yaml", TZ)
    two = load_programme(ROOT / "data" / "programme.yaml", TZ)
    assert diff_programmes(one.sessions, two.sessions).is_empty
