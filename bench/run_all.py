"""Every issue-15 bench, and the targets: PASS/FAIL per target, ratios against the bare bot.

    .venv/bin/python bench/run_all.py [--runs 500] [--no-fanout]

Runs `bench/floor.py` (project and bare alternating, 3 rounds: start-up, interactions, burst,
ingest, memory; about three minutes) and `bench/fanout_bench.py` (2,000 reminders at the
paced rate; about two minutes), then prints the summary. Ratios are what to compare between
machines; absolute figures vary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import table  # noqa: E402
from bench.floor import RUNS_HELP  # noqa: E402


def run(script: str, *args: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        cmd = [sys.executable, str(ROOT / "bench" / script), *args, "--json", str(out)]
        subprocess.run(cmd, check=True)
        return json.loads(out.read_text(encoding="utf-8"))


def save(path: str | None, figures: dict[str, Any]) -> None:
    if path:
        Path(path).write_text(json.dumps(figures, indent=2), encoding="utf-8")


def targets(floor: dict[str, Any], fanout: dict[str, Any] | None) -> list[tuple[str, ...]]:
    p, b = floor["project"], floor["bare"]
    rows: list[tuple[str, ...]] = [("target", "project", "bare", "ratio", "goal", "")]

    def add(name: str, pv: str, bv: str, r: str, goal: str, ok: bool) -> None:
        rows.append((name, pv, bv, r, goal, "PASS" if ok else "FAIL"))

    for kind in ("programme", "autocomplete", "button"):
        for stat, limit in (("median", 1.25), ("p99", 1.5)):
            pv, bv = p["interactions"][kind][stat], b["interactions"][kind][stat]
            r = pv / bv
            add(
                f"{kind} {stat} (ms)",
                f"{pv:.2f}",
                f"{bv:.2f}",
                f"{r:.2f}x",
                f"<= {limit}x",
                r <= limit,
            )
    pb, bb = p["burst"], b["burst"]
    add(
        "burst 1,000: answered in 3 s",
        f"{pb['answered_in_3s']:.1%}",
        f"{bb['answered_in_3s']:.1%}",
        "",
        "100%",
        pb["answered_in_3s"] >= 1.0,
    )
    rows.append(
        (
            "burst p99 (ms)",
            f"{pb['p99_ms']:.0f}",
            f"{bb['p99_ms']:.0f}",
            f"{pb['p99_ms'] / bb['p99_ms']:.2f}x",
            "reported",
            "",
        )
    )
    pv, bv = p["ingest"]["messages_per_s"], b["ingest"]["messages_per_s"]
    add(
        "ingest 10,000 (msg/s)",
        f"{pv:,.0f}",
        f"{bv:,.0f}",
        f"{pv / bv:.2f}x",
        ">= 0.7x",
        pv / bv >= 0.7,
    )
    i, s = p["ingest"], p["stop_restart"]
    add(
        "shares: lost / doubled",
        f"{i['lost']}/{i['doubled']}",
        "",
        "",
        "0/0",
        i["lost"] == 0 and i["doubled"] == 0 and i["extra"] == 0,
    )
    add(
        "  across stop + restart",
        f"{s['lost']}/{s['doubled']}",
        "",
        "",
        "0/0",
        s["lost"] == 0 and s["doubled"] == 0,
    )
    pv, bv = p["startup"]["start_to_synced_s"], b["startup"]["start_to_synced_s"]
    add(
        "start to commands synced (s)",
        f"{pv:.2f}",
        f"{bv:.2f}",
        f"{pv / bv:.2f}x",
        "<= 1.5x",
        pv / bv <= 1.5,
    )
    late = p["startup"]["ready_to_daily_last_s"]
    add("READY to daily post made (s)", f"{late:.2f}", "", "", "<= 1 s", late <= 1.0)
    pv, bv = p["peak_mb"], b["peak_mb"]
    add(
        "peak memory (MB, VmHWM)",
        f"{pv:.0f}",
        f"{bv:.0f}",
        f"{pv / bv:.2f}x",
        "<= 1.3x",
        pv / bv <= 1.3,
    )
    if fanout is not None:
        f = fanout
        add(
            "fan-out: requests per DM",
            f"{f['requests_per_dm']:.2f}",
            "",
            "",
            "1",
            f["requests_per_dm"] <= 1.0,
        )
        add(
            f"fan-out: {f['members']:,} DMs took (s)",
            f"{f['seconds']:.1f}",
            "",
            "",
            "< 50 s",
            f["seconds"] < 50,
        )
        add("fan-out: 429s", str(f["count_429"]), "", "", "0", f["count_429"] == 0)
        add(
            "fan-out: delivered / duplicates",
            f"{f['delivered']}/{f['duplicates']}",
            "",
            "",
            f"{f['members']}/0",
            f["delivered"] == f["members"] and f["duplicates"] == 0,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help=RUNS_HELP)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--json", help="also write every figure to this file")
    parser.add_argument("--no-fanout", action="store_true", help="skip the 2-minute fan-out")
    args = parser.parse_args()
    floor = run("floor.py", "--runs", str(args.runs), "--rounds", str(args.rounds))
    fanout = None if args.no_fanout else run("fanout_bench.py")
    save(args.json, {"floor": floor, "fanout": fanout})
    print()
    print("Issue 15 targets (project vs bare discord.py, same sandbox, same machine, same run)")
    rows = targets(floor, fanout)
    print(table(rows))
    failed = sum(1 for r in rows[1:] if r[-1] == "FAIL")
    print(f"\n{failed} target(s) failing")


if __name__ == "__main__":
    main()
