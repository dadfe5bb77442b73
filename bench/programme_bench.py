"""Benchmark: how fast the real bot answers `/session` autocomplete and `/programme` for a
500-session programme (Discord wants every answer within 3 s).

Writes a 500-session programme (five days of 100), starts the real bot (real discord.py client,
real SQLite file) against the fake Discord on 127.0.0.1, then sends each interaction one at a
time and times it from dispatch to the first callback the fake receives: the member's wait,
including the gateway frame, discord.py, our handler and the REST callback (the fake runs in
the same event loop, so the figures are an upper bound). Prints median, p99 and max.

Run from the repository root:  .venv/bin/python bench/programme_bench.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.programme import combine_local, parse_day  # noqa: E402
from bot.render.cache import PAGE_SESSIONS  # noqa: E402
from bot.render.programme import day_parts  # noqa: E402
from bot.sandbox import FakeDiscord  # noqa: E402
from tests.harness import BotRunner  # noqa: E402

LONDON = ZoneInfo("Europe/London")
SESSIONS = 500
DAYS = 5
FORMATS = ("webinar", "workshop", "QI café", "poster showcase", "keynote", "drop-in")
TOPICS = (
    "Making data count with run charts",
    "Psychological safety in busy teams",
    "Patient partners in improvement",
    "Reducing waits in outpatients",
    "Leading for improvement at board level",
    "Huddles and visual management",
    "Improving discharge before noon",
    "Sustaining and spreading what works",
    "Joy in work: small changes",
    "Measurement for improvement in primary care",
)
HOSTS = (
    "Example Acute Hospitals NHS Foundation Trust",
    "Example Community NHS Trust",
    "Example Mental Health NHS Trust",
    "Example Ambulance Service NHS Trust",
    "Example ICB",
    "Example Regional QI Network",
    "Example Primary Care Network",
)
QUERIES = ("", "c", "qi", "café", "cafe", "lead", "data", "trust", "ambulance", "sam", "xyz")


def build_programme(path: Path, first_day: date) -> list[date]:
    """Five days of 100 sessions (every 5 minutes from 08:00), varied titles, hosts, speakers."""
    per_day = SESSIONS // DAYS
    sessions = []
    days = [first_day + timedelta(days=d) for d in range(DAYS)]
    for d, day in enumerate(days):
        start_of_day = combine_local(day, datetime.min.time(), LONDON) + timedelta(hours=8)
        for n in range(per_day):
            index = d * per_day + n
            start = start_of_day + timedelta(minutes=5 * n)
            sessions.append(
                {
                    "id": f"s{index:03d}",
                    "title": f"{TOPICS[index % len(TOPICS)]} ({index})",
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=45)).isoformat(),
                    "host": HOSTS[index % len(HOSTS)],
                    "speakers": [f"Speaker {index}", "Sam Sample" if index % 3 else "Alex Example"],
                    "format": FORMATS[index % len(FORMATS)],
                    "join_url": f"https://example.org/qiweek/{index}",
                    "components": [1 + index % 5],
                }
            )
    doc = {
        "event": {"name": "QI Week (bench)", "theme": "QI is for Everyone"},
        "sessions": sessions,
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return days


def summarise(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = statistics.quantiles(ms, n=100)[98]
    return (
        f"{name:<28} median {statistics.median(ms):6.1f} ms   p99 {p99:6.1f} ms   "
        f"max {ms[-1]:6.1f} ms   ({len(ms)} runs)"
    )


async def run(runs: int) -> int:
    async with FakeDiscord() as fake:
        with tempfile.TemporaryDirectory() as tmp:
            # A week ahead of the real clock: nothing scheduled fires while we measure.
            today = datetime.now(UTC).astimezone(LONDON).date()
            monday = today + timedelta(days=7 - today.weekday() + 7)
            path = Path(tmp) / "programme-500.yaml"
            days = build_programme(path, monday)
            runner = BotRunner(fake, Path(tmp))
            await runner.start(QIWEEK_PROGRAMME=path)
            try:
                return await measure(fake, runner, days, runs)
            finally:
                await runner.stop()


async def measure(fake: FakeDiscord, runner: BotRunner, days: list[date], runs: int) -> int:
    bot = runner.bot
    assert bot is not None
    programme = await bot.services.programme.get_programme(fake.guild.id)
    assert programme is not None and len(programme.sessions) == SESSIONS
    day_values = [d.isoformat() for d in days] + ["monday", "wednesday", "friday"]

    # Warm up the caches and code paths, as a running bot would be.
    for query in QUERIES:
        await fake.autocomplete("member", "session", focused="session", session=query)
    await (await fake.slash("member", "programme", day=day_values[0])).response()

    autocomplete: list[float] = []
    counts: list[int] = []
    for n in range(runs):
        query = QUERIES[n % len(QUERIES)]
        choices = await fake.autocomplete("member", "session", focused="session", session=query)
        counts.append(len(choices))
        autocomplete.append(fake.interactions[-1].elapsed or 0.0)

    today = datetime.now(UTC).astimezone(LONDON).date()
    expected = {
        value: len(
            day_parts(
                programme,
                parse_day(value, today=today, programme=programme),
                LONDON,
                per_part=PAGE_SESSIONS,
            )
        )
        for value in day_values
    }
    programme_times: list[float] = []
    for n in range(runs):
        value = day_values[n % len(day_values)]
        it = await fake.slash("member", "programme", day=value)
        await it.response(timeout=5)
        programme_times.append(it.elapsed or 0.0)
        assert not it.followup_ids  # one message: a long day pages in place (Next / Previous)

    session_times: list[float] = []
    for n in range(runs):
        it = await fake.slash("member", "session", session=f"s{(n * 37) % SESSIONS:03d}")
        await it.response(timeout=5)
        session_times.append(it.elapsed or 0.0)

    parts = expected[day_values[0]]
    print(
        f"programme: {SESSIONS} sessions over {len(days)} days "
        f"({SESSIONS // len(days)} a day; a day's answer is one ephemeral message of {parts} "
        "pages)"
    )
    print(summarise("/session autocomplete", autocomplete))
    print(summarise("/programme <day>", programme_times))
    print(summarise("/session <session> (+ .ics)", session_times))
    print(f"autocomplete choices per answer: {min(counts)}-{max(counts)} (at most 25)")
    late = [t for t in autocomplete + programme_times + session_times if t >= 3.0]
    rejected = len(fake.rejected)
    print(f"answers over 3 s: {len(late)}; payloads rejected by the fake: {rejected}")
    return 0 if not late and not rejected else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="interactions of each kind")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.runs)))


if __name__ == "__main__":
    main()
