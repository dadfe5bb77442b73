"""Issue 15: the project bot against the floor (a bare discord.py bot), same sandbox data, same
machine, one after the other. Each subject runs in its own process (`bench/subject.py`).

For each of `--rounds` rounds; each figure is the median of the rounds:
- the interactions, both subjects alive at once, each with its own sandbox, taking turns one
  interaction each (ABBA), so that the machine's changes of speed (many a minute on this
  shared machine: whole runs, bare included, went up to twice as slow, and the ratios of
  runs one after the other swung by a third) hit both alike: `/programme <day>`, `/session`
  autocomplete, the interest button, `--runs` of each; timed from the sandbox sending the
  interaction to the answer's arrival there (Discord's 3 s window);
- then each subject alone, the subjects alternating, in one life of its process (plus a
  restart for the project):
1. start-up: process start -> guild command PUT received by the sandbox; for the project
   also READY -> today's daily post (due at start) received;
3. a burst of 1,000 interactions (a mix) released at once: answered within 3 s of arrival, p99;
4. ingest of 10,000 MESSAGE_CREATE (10% #QIWeek): messages per second until the last is
   processed (project: every tagged share in SQLite; bare: the client dispatched them all);
5. peak memory: VmHWM of the subject's process after 1 and 3 (the figure), and over the whole
   run (includes the frames buffered while the 10,000 messages queue up);
6. project only: another 10,000 messages, stop right after the last is sent, restart, and
   count the shares: none lost, none doubled.

    .venv/bin/python bench/floor.py [--runs 500] [--rounds 3] [--only project|bare] [--profile DIR]
      [--paths startup,interactions,burst,ingest] [--json FILE] [--trace DIR]

--profile DIR runs the project under cProfile (figures then are not comparable) and writes
DIR/project-<paths>.prof; use --paths to profile one path at a time. --trace DIR stamps every
answer's stages in both subjects (`bench/trace.py`) and prints the median of each stage.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    SUBJECTS,
    BenchFake,
    Subject,
    autocomplete,
    button_message,
    count_shares,
    harness_gc_paused,
    member,
    ms_stats,
    sandbox,
    settle,
    table,
)

#: The p99 of 500 answers lies about at the fifth slowest (of 200, at the second: two stalls of
#: the machine decided it, and it moved by half between runs of the same code).
RUNS_HELP = "interactions of each kind (p99: about the 5th slowest of 500)"
QUERIES = ("", "c", "qi", "café", "cafe", "lead", "data", "trust", "ambulance", "sam", "xyz")
BURST = 1000
MESSAGES = 10_000
TAG_EVERY = 10
ALL_PATHS = ("startup", "interactions", "burst", "ingest")
#: The sessions whose "I'm interested" buttons are pressed (one message, one row each).
BUTTON_SESSIONS = tuple(f"s{n:03d}" for n in range(0, 500, 100))


async def start_up(fake: BenchFake, subject: Subject, kind: str, expect: int) -> dict[str, Any]:
    await subject.start(expect_messages=expect)
    put = await_put(fake)
    while put is None:
        await asyncio.sleep(0.01)
        put = await_put(fake)
    result: dict[str, Any] = {"start_to_synced_s": put - subject.spawned_at}
    if kind == "project":
        posts = await wait_daily(fake)
        assert fake.ready_at is not None
        result["ready_to_daily_first_s"] = posts[0] - fake.ready_at
        result["ready_to_daily_last_s"] = posts[-1] - fake.ready_at
        result["daily_parts"] = len(posts)
    await settle(fake)
    return result


def await_put(fake: BenchFake) -> float | None:
    for r in fake.requests:
        if r.method == "PUT" and r.path.endswith("/commands") and r.status == 200:
            return r.at
    return None


async def wait_daily(fake: BenchFake) -> list[float]:
    path = f"/channels/{fake.channels['programme']}/messages"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        posts = [r.at for r in fake.requests if r.method == "POST" and r.path == path]
        if posts:
            await settle(fake, quiet=0.3)
            return [r.at for r in fake.requests if r.method == "POST" and r.path == path]
        await asyncio.sleep(0.01)
    raise RuntimeError("no daily post within 30 s")


KINDS = ("programme", "autocomplete", "button")


class Side:
    """One subject of a paired run: its own sandbox and process, alive together with the
    other's, so that both answer under the same conditions, one interaction after the other."""

    def __init__(
        self, fake: BenchFake, subject: Subject, days: list[str], message: dict[str, Any]
    ) -> None:
        self.fake, self.subject, self.days, self.message = fake, subject, days, message
        self.day_values = [*days, "monday", "wednesday", "friday"]
        self.times: dict[str, list[float]] = {kind: [] for kind in KINDS}

    async def warm_up(self) -> None:
        fake = self.fake
        for value in self.day_values:
            await (await fake.slash(member(0), "programme", day=value)).response(timeout=10)
            await settle(fake, quiet=0.3)
        for query in QUERIES:
            await (await autocomplete(fake, member(0), query)).response(timeout=10)
        await (
            await fake.click(member(0), self.message, message_custom_id(self.message, 0))
        ).response(10)
        await settle(fake, quiet=0.3)

    async def one(self, kind: str, n: int) -> None:
        """The ``n``-th timed interaction of ``kind`` (a new member each time)."""
        who = member(n + 1)
        if kind == "programme":
            it = await self.fake.slash(
                who, "programme", day=self.day_values[n % len(self.day_values)]
            )
        elif kind == "autocomplete":
            it = await autocomplete(self.fake, who, QUERIES[n % len(QUERIES)])
        else:
            custom_id = message_custom_id(self.message, n % len(BUTTON_SESSIONS))
            it = await self.fake.click(who, self.message, custom_id)
        await it.response(timeout=10)
        self.times[kind].append(it.elapsed or 0.0)


async def interactions(sides: dict[str, Side], runs: int) -> dict[str, dict[str, Any]]:
    """``runs`` interactions of each kind, the subjects taking turns (ABBA: the first of each
    pair alternates), each waiting for the other's answer: a change in the machine's speed, of
    which this shared machine has many within a minute, then hits both alike."""
    for side in sides.values():
        await side.warm_up()
    names = list(sides)
    with harness_gc_paused():
        for kind in KINDS:
            for n in range(runs):
                for name in names if n % 2 == 0 else reversed(names):
                    await sides[name].one(kind, n)
    for side in sides.values():
        await settle(side.fake, quiet=0.3)
    return {
        name: {kind: ms_stats(values) for kind, values in side.times.items()}
        for name, side in sides.items()
    }


async def paired_round(
    kinds: list[str], runs: int, trace: Path | None, n: int, profile: Path | None = None
) -> dict[str, dict[str, Any]]:
    """One round of the interactions: the subjects started together, each on its own
    sandbox (a ``profile`` is the project's, written to ``<profile>-interactions``)."""
    with tempfile.TemporaryDirectory() as tmp:
        sides: dict[str, Side] = {}
        try:
            for kind in kinds:
                folder = Path(tmp) / kind
                folder.mkdir()
                fake, env, days = await sandbox(folder)
                if trace is not None:
                    env["BENCH_TRACE"] = str(trace / f"{kind}-{n}.jsonl")
                message = button_message(fake, list(BUTTON_SESSIONS))
                own = Path(f"{profile}-interactions") if profile and kind == "project" else None
                subject = Subject(kind, env, own)
                sides[kind] = Side(fake, subject, days, message)
                await start_up(fake, subject, kind, 0)
            figures = await interactions(sides, runs)
        finally:
            for side in sides.values():
                await side.subject.stop()
        out: dict[str, dict[str, Any]] = {}
        for kind, side in sides.items():
            out[kind] = {
                "interactions": figures.get(kind, {}),
                "rejected": len(side.fake.rejected),
                "count_429": side.fake.count_429,
            }
            if trace is not None:
                out[kind]["stages"] = stages(side.fake, trace / f"{kind}-{n}.jsonl")
            await side.fake.stop()
        return out


def message_custom_id(message: dict[str, Any], n: int) -> str:
    return message["components"][n]["components"][0]["custom_id"]


async def burst(
    fake: BenchFake, days: list[str], message: dict[str, Any], sessions: list[str]
) -> dict[str, Any]:
    rng = random.Random(15)

    def one(n: int) -> Any:
        who = member(1000 + n)
        kind = n % 3
        if kind == 0:
            return fake.slash(who, "programme", day=days[rng.randrange(len(days))])
        if kind == 1:
            return autocomplete(fake, who, QUERIES[rng.randrange(len(QUERIES))])
        return fake.click(who, message, message_custom_id(message, rng.randrange(len(sessions))))

    sent = await asyncio.gather(*(one(n) for n in range(BURST)))
    for _ in range(600):  # 30 s at most
        if all(it.callbacks or it.late_callbacks for it in sent):
            break
        await asyncio.sleep(0.05)
    in_time = [it for it in sent if it.callbacks and (it.elapsed or 99) <= 3.0]
    # Every answer's wait, the late ones too (the sandbox refused them with 10062, at `at`);
    # one never answered counts as the 30 s the bench waited.
    elapsed = [
        it.elapsed
        if it.elapsed is not None
        else it.late_callbacks[0]["at"] - it.dispatched_at
        if it.late_callbacks and it.dispatched_at is not None
        else 30.0
        for it in sent
    ]
    late = [it for it in sent if it.late_callbacks]
    await settle(fake, quiet=0.5)
    return {
        "answered_in_3s": len(in_time) / BURST,
        "late": len(late),
        "unanswered": sum(1 for it in sent if not it.callbacks and not it.late_callbacks),
        **{f"{k}_ms": v for k, v in ms_stats(elapsed).items() if k in ("median", "p99", "max")},
    }


def build_messages(fake: BenchFake, offset: int) -> tuple[list[dict[str, Any]], list[int]]:
    """10,000 member messages in #general, every tenth tagged (stored in the sandbox, not yet
    sent, so the timed part is the gateway's, not the building); returns them and the tagged
    ids."""
    messages: list[dict[str, Any]] = []
    tagged: list[int] = []
    channel = fake.channels["general"]
    for n in range(MESSAGES):
        if n % TAG_EVERY == 0:
            text = f"Our #QIWeek huddle board, take {offset + n}: what we learnt this week"
        else:
            text = f"Morning all, message {offset + n}"
        msg = fake._new_message(channel, {"content": text}, [], fake.user(member(offset + n)))
        messages.append(fake._public(msg))
        if n % TAG_EVERY == 0:
            tagged.append(int(msg["id"]))
    return messages, tagged


async def send_messages(fake: BenchFake, messages: list[dict[str, Any]]) -> None:
    for msg in messages:
        await fake.dispatch("MESSAGE_CREATE", msg)


async def wait_shares(db: Path, tagged: set[int], within: float) -> tuple[float, list[int]]:
    deadline = time.monotonic() + within
    while True:
        stored = count_shares(db)
        if tagged <= set(stored) or time.monotonic() > deadline:
            return time.monotonic(), stored
        await asyncio.sleep(0.02)


async def ingest(fake: BenchFake, subject: Subject, kind: str, db: Path) -> dict[str, Any]:
    messages, tagged = build_messages(fake, 0)
    cpu = subject.cpu_seconds()
    start = time.monotonic()
    await send_messages(fake, messages)
    sent = time.monotonic()
    if kind == "project":
        end, stored = await wait_shares(db, set(tagged), 120)
        lost = len(set(tagged) - set(stored))
        doubled = len(stored) - len(set(stored))
        extra = len(set(stored) - set(tagged))
    else:
        end = await subject.wait_messages(120)
        lost = doubled = extra = 0
    cpu = subject.cpu_seconds() - cpu
    await settle(fake, quiet=0.5, limit=120)
    return {
        "messages_per_s": MESSAGES / (end - start),
        "cpu_us_per_message": cpu / MESSAGES * 1e6,
        "sandbox_sent_per_s": MESSAGES / (sent - start),
        "tagged": len(tagged),
        "lost": lost,
        "doubled": doubled,
        "extra": extra,
    }


async def stop_after_burst(fake: BenchFake, env: dict[str, str], db: Path) -> dict[str, Any]:
    """Project only: a second 10,000, SIGTERM right after the last is sent, restart, count."""
    subject = Subject("project", env)
    await subject.start()
    await settle(fake, quiet=0.5)
    before = set(count_shares(db))
    messages, tagged_ids = build_messages(fake, MESSAGES)
    tagged = set(tagged_ids)
    await send_messages(fake, messages)
    await subject.stop()
    at_stop = set(count_shares(db)) - before
    again = Subject("project", env)
    await again.start()
    _, stored = await wait_shares(db, tagged | before, 20)
    await settle(fake, quiet=0.5)
    await again.stop()
    new = [m for m in stored if m not in before]
    return {
        "tagged": len(tagged),
        "stored_at_stop": len(at_stop & tagged),
        "stored_after_restart": len(set(new) & tagged),
        "lost": len(tagged - set(stored)),
        "doubled": len(stored) - len(set(stored)),
    }


async def run_subject(
    kind: str,
    paths: tuple[str, ...],
    profile: Path | None,
    *,
    restart: bool = True,
) -> dict[str, Any]:
    """Start-up, the burst, memory and ingest of one subject (the interactions are timed in
    `paired_round`, both subjects alive)."""
    with tempfile.TemporaryDirectory() as tmp:
        fake, env, days = await sandbox(Path(tmp))
        db = Path(env["QIWEEK_DB"])
        sessions = list(BUTTON_SESSIONS)
        message = button_message(fake, sessions)
        subject = Subject(kind, env, profile)
        result: dict[str, Any] = {"subject": kind}
        try:
            start = await start_up(fake, subject, kind, MESSAGES)
            if "startup" in paths:
                result["startup"] = start
            if "burst" in paths:
                with harness_gc_paused():
                    result["burst"] = await burst(fake, days, message, sessions)
            result["peak_mb"] = await subject.peak_kb() / 1024
            if "ingest" in paths:
                result["ingest"] = await ingest(fake, subject, kind, db)
        finally:
            await subject.stop()
        result["maxrss_mb"] = (subject.maxrss_kb or 0) / 1024
        if kind == "project" and "ingest" in paths and profile is None and restart:
            result["stop_restart"] = await stop_after_burst(fake, env, db)
        result["rejected"] = len(fake.rejected)
        result["count_429"] = fake.count_429
        await fake.stop()
        return result


STAGES = (
    ("gateway", "dispatched", "frame"),
    ("decode", "frame", "parsed"),
    ("handler", "parsed", "post"),
    ("upload", "post", "arrived"),
    ("answer", "dispatched", "arrived"),
    ("echo back", "arrived", "posted"),
    ("echo parse", "posted", "echoed"),
    ("cpu median", "", ""),
    ("cpu mean", "", ""),
    ("sqlite trips", "", ""),
)


def stages(fake: BenchFake, trace: Path) -> dict[str, dict[str, float]]:
    """Median ms of each stage of an answer, per kind: the subject's stamps (`bench/trace.py`)
    joined by interaction id with the sandbox's dispatch and arrival stamps."""
    rows = {}
    for line in trace.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "gc" not in row:  # the collections are for reading by hand
            rows[row["id"]] = row
    kinds = {2: "programme", 4: "autocomplete", 3: "button"}
    spans: dict[str, dict[str, list[float]]] = {}
    for it in fake.interactions:
        row = rows.get(it.id)
        if row is None or it.dispatched_at is None or it.responded_at is None:
            continue
        row = {**row, "dispatched": it.dispatched_at, "arrived": it.responded_at}
        per = spans.setdefault(kinds.get(it.type, str(it.type)), {})
        for name, start, end in STAGES:
            if start in row and end in row:
                per.setdefault(name, []).append((row[end] - row[start]) * 1000)
    out = {
        kind: {name: statistics.median(values) for name, values in per.items()}
        for kind, per in spans.items()
    }
    # CPU per interaction: between consecutive interactions of one kind (one at a time).
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for it in fake.interactions:
        row = rows.get(it.id)
        if row is not None and "cpu" in row:
            by_kind.setdefault(kinds.get(it.type, str(it.type)), []).append(row)
    for kind, seq in by_kind.items():
        seq.sort(key=lambda r: r["parsed"])
        steps = [(b["cpu"] - a["cpu"]) * 1000 for a, b in itertools.pairwise(seq)]
        if steps and kind in out:
            out[kind]["cpu median"] = statistics.median(steps)
            out[kind]["cpu mean"] = statistics.fmean(steps)
            trips = [b.get("trips", 0) - a.get("trips", 0) for a, b in itertools.pairwise(seq)]
            out[kind]["sqlite trips"] = statistics.fmean(trips)
    return out


def stage_report(results: dict[str, dict[str, Any]]) -> str:
    rows: list[tuple[str, ...]] = [("stage (median ms)", *(k for k in results))]
    kinds = dict.fromkeys(k for r in results.values() for k in r.get("stages", {}))
    for kind in kinds:
        for name, _, _ in STAGES:
            cells = [r.get("stages", {}).get(kind, {}).get(name) for r in results.values()]
            if any(c is not None for c in cells):
                rows.append((f"{kind}: {name}", *("-" if c is None else f"{c:.3f}" for c in cells)))
    return table(rows)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def report(results: dict[str, dict[str, Any]]) -> str:
    p, b = results.get("project", {}), results.get("bare", {})
    rows: list[tuple[str, ...]] = [("figure", "project", "bare", "ratio")]
    for kind in ("programme", "autocomplete", "button"):
        for stat in ("median", "p99"):
            pv = p.get("interactions", {}).get(kind, {}).get(stat)
            bv = b.get("interactions", {}).get(kind, {}).get(stat)
            if pv is not None and bv is not None:
                rows.append((f"{kind} {stat} (ms)", f"{pv:.2f}", f"{bv:.2f}", ratio(pv, bv)))
    if "burst" in p and "burst" in b:
        pb, bb = p["burst"], b["burst"]
        rows.append(
            (
                f"burst {BURST}: answered in 3 s",
                f"{pb['answered_in_3s']:.1%}",
                f"{bb['answered_in_3s']:.1%}",
                "",
            )
        )
        rows.append(
            (
                "burst p99 (ms)",
                f"{pb['p99_ms']:.0f}",
                f"{bb['p99_ms']:.0f}",
                ratio(pb["p99_ms"], bb["p99_ms"]),
            )
        )
    if "ingest" in p and "ingest" in b:
        pv, bv = p["ingest"]["messages_per_s"], b["ingest"]["messages_per_s"]
        rows.append(("ingest (messages/s)", f"{pv:,.0f}", f"{bv:,.0f}", ratio(pv, bv)))
        pv, bv = p["ingest"]["cpu_us_per_message"], b["ingest"]["cpu_us_per_message"]
        rows.append(("  CPU per message (us)", f"{pv:.0f}", f"{bv:.0f}", ratio(pv, bv)))
    if "startup" in p and "startup" in b:
        pv, bv = p["startup"]["start_to_synced_s"], b["startup"]["start_to_synced_s"]
        rows.append(("start to commands synced (s)", f"{pv:.2f}", f"{bv:.2f}", ratio(pv, bv)))
    if p.get("peak_mb") and b.get("peak_mb"):
        pv, bv = p["peak_mb"], b["peak_mb"]
        rows.append(("peak memory, VmHWM (MB)", f"{pv:.0f}", f"{bv:.0f}", ratio(pv, bv)))
    if p.get("maxrss_mb") and b.get("maxrss_mb"):
        pv, bv = p["maxrss_mb"], b["maxrss_mb"]
        rows.append(("  same, incl. ingest backlog (MB)", f"{pv:.0f}", f"{bv:.0f}", ratio(pv, bv)))
    lines = [table(rows)]
    if "startup" in p:
        s = p["startup"]
        lines.append(
            f"project: READY -> daily post {s['ready_to_daily_first_s']:.2f} s (first of "
            f"{s['daily_parts']:.0f} parts), {s['ready_to_daily_last_s']:.2f} s (last)"
        )
    if "ingest" in p:
        i = p["ingest"]
        lines.append(
            f"project ingest: {i['tagged']} tagged, lost {i['lost']}, doubled {i['doubled']}, "
            f"extra {i['extra']}; sandbox sent {i['sandbox_sent_per_s']:,.0f}/s"
        )
    if "ingest" in b:
        lines.append(f"bare ingest: sandbox sent {b['ingest']['sandbox_sent_per_s']:,.0f}/s")
    if "stop_restart" in p:
        s = p["stop_restart"]
        lines.append(
            f"project stop right after a burst + restart: {s['tagged']} tagged, "
            f"{s['stored_at_stop']} stored at stop, {s['stored_after_restart']} after restart, "
            f"lost {s['lost']}, doubled {s['doubled']}"
        )
    for kind, r in results.items():
        lines.append(
            f"{kind}: rejected payloads {r['rejected']:.0f}, 429s {r['count_429']:.0f} "
            "(medians of the rounds)"
        )
    return "\n".join(lines)


WORST = {"lost": max, "doubled": max, "extra": max, "late": max, "unanswered": max}


def merge(rounds: list[Any], key: str = "") -> Any:
    """One figure from several rounds: the median (the worst for losses and late answers)."""
    first = rounds[0]
    if isinstance(first, dict):
        keys = dict.fromkeys(k for r in rounds for k in r)  # some only in the first round
        return {k: merge([r[k] for r in rounds if k in r], k) for k in keys}
    if isinstance(first, bool) or not isinstance(first, int | float):
        return first
    return WORST.get(key, statistics.median)(rounds)


async def main_async(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Round after round: the interactions with both subjects alive, taking turns
    (`paired_round`); then start-up, burst, ingest and memory of each subject alone, the
    subjects alternating (project, bare, project, bare...), so a change in the machine's load
    hits both. Each figure is the median of the rounds."""
    runs: dict[str, list[dict[str, Any]]] = {}
    paths = tuple(p for p in args.paths.split(",") if p)
    kinds = [k for k in SUBJECTS if not args.only or k == args.only]
    for n in range(args.rounds):
        profile = None
        if args.profile:
            profile = Path(args.profile) / f"project-{'-'.join(paths)}-{n}.prof"
        paired: dict[str, dict[str, Any]] = {}
        if "interactions" in paths:
            print(f"round {n + 1}/{args.rounds}: interactions...", file=sys.stderr, flush=True)
            trace = Path(args.trace) if args.trace else None
            paired = await paired_round(kinds, args.runs, trace, n, profile)
        for kind in kinds:
            result: dict[str, Any] = {"subject": kind, **paired.get(kind, {})}
            if set(paths) - {"interactions"}:
                print(f"round {n + 1}/{args.rounds}: {kind}...", file=sys.stderr, flush=True)
                alone = await run_subject(
                    kind, paths, profile if kind == "project" else None, restart=n == 0
                )
                for counter in ("rejected", "count_429"):
                    alone[counter] += result.pop(counter, 0)
                result = {**alone, **result}
            runs.setdefault(kind, []).append(result)
    return {kind: merge(results) for kind, results in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500, help=RUNS_HELP)
    parser.add_argument("--only", choices=SUBJECTS)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (median)")
    parser.add_argument("--profile", help="cProfile the project into this folder")
    parser.add_argument("--paths", default=",".join(ALL_PATHS))
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--trace", help="stamp each answer's stages inside the subjects (files in this folder)"
    )
    args = parser.parse_args()
    for folder in (args.profile, args.trace):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    results = asyncio.run(main_async(args))
    print(report(results))
    if args.trace:
        print(stage_report(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
