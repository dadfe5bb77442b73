"""The rehearsal's plan: the compressed timeline, the people's script, the changed programme."""

from __future__ import annotations

import random
from datetime import timedelta

from bot.config import Settings
from bot.programme import load_programme, parse_programme, resolve_tz
from bot.rehearsal import plan
from tests.harness import SAMPLE_PROGRAMME

SETTINGS = Settings()


def week() -> plan.Week:
    programme = load_programme(SAMPLE_PROGRAMME, SETTINGS.timezone)
    tz = resolve_tz(SETTINGS.timezone)
    return plan.Week(programme, tz, SETTINGS.daily_post_time, SETTINGS.digest_time, (60, 15))


def test_the_week_fits_the_minutes_and_runs_slowly_around_every_send() -> None:
    w = week()
    line = plan.build_timeline(w, 3, 1000.0, now=lambda: 1000.0)
    assert line() == w.start and line.at(180.0) == w.end
    assert w.start.astimezone(w.tz).hour == 18 and w.end > w.local(w.event_days[-1], w.digest_time)
    windows = plan.busy_windows(w)

    def speed_at(moment):  # event seconds per real second around ``moment``
        offset = line.real_offset(moment)
        return (line.at(offset + 0.01) - line.at(offset)).total_seconds() / 0.01

    night = speed_at(w.local(w.days[0], SETTINGS.daily_post_time) - timedelta(hours=5))
    for session in w.programme.sessions:
        for lead in (60, 15):
            due = session.start - timedelta(minutes=lead)
            assert any(a <= due < b for a, b in windows)
            assert speed_at(due) < night / 5


def test_the_script_is_seeded_and_covers_every_kind_of_action() -> None:
    w = week()

    def play(seed: int) -> tuple[list[plan.Member], tuple[str, str], list[plan.Action]]:
        rng = random.Random(seed)
        members = plan.make_members(200, rng)
        changed = plan.pick_changes(w, rng)
        return members, changed, plan.build_script(w, members, changed, rng)

    members, changed, script = play(7)
    assert play(7) == (members, changed, script) and play(8)[2] != script
    assert len(script) > 400 and [a.at for a in script] == sorted(a.at for a in script)
    assert {a.kind for a in script} == {
        "register",
        "button",
        "share",
        "react",
        "opt_out",
        "import",
        "announce",
    }
    assert 2 <= sum(m.dms_closed for m in members) <= 10
    assert any("@everyone" in a.args.get("text", "") for a in script)
    [imported] = [a for a in script if a.kind == "import"]
    for action in script:
        if action.args.get("session") in changed:
            assert action.at < imported.at  # their registrants hear about the change
    [opt_out] = [a for a in script if a.kind == "opt_out"]
    assert any(a.kind == "share" and a.who == opt_out.who and a.at < opt_out.at for a in script)


def test_the_changed_programme_moves_one_session_and_removes_another() -> None:
    w = week()
    moved, removed = plan.pick_changes(w, random.Random(1))
    final = plan.changed_programme(w.programme, moved, removed)
    assert final.get(removed) is None
    before, after = w.programme.get(moved), final.get(moved)
    assert before and after and after.start - before.start == timedelta(hours=1)
    assert before.start >= w.import_at + timedelta(hours=3)
    parsed = parse_programme(plan.programme_yaml(final, w.tz), "v2.yaml", SETTINGS.timezone)
    assert [(s.id, s.title, s.start, s.end, s.join_url) for s in parsed.sessions] == [
        (s.id, s.title, s.start, s.end, s.join_url) for s in final.sessions
    ]
