"""Benchmark: the hashtag matcher on hostile messages (it runs on every guild message).

A member can post 4,000 characters (Nitro); the URL-stripping step used to backtrack from every
start position, ~300 ms of blocked event loop for ``#qiweek a-a-a-...``. Prints the best of
several runs for that message and for variants aimed at each link form (target: under 10 ms).

Run from the repository root:  .venv/bin/python bench/hashtag_bench.py [--chars N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.digest import compile_hashtags  # noqa: E402

TARGET_MS = 10.0
#: Repeating units aimed at each link form the matcher strips (scheme, www, bare host, <link>).
UNITS = {
    "a-a-a-... (the reported message)": "a-",
    "a-a-a-.../ (bare host before a slash)": None,
    "a:/a:/... (near-schemes)": "a:/",
    "a./a./... (near-hosts)": "a./",
    "<a:<a:... (unclosed <links>)": "<a:",
    "`a`a... (code spans)": "`a",
}


def hostile(unit: str | None, chars: int) -> str:
    """``#qiweek `` followed by ``unit`` repeated up to ``chars`` characters in all."""
    body = chars - len("#qiweek ")
    if unit is None:
        return "#qiweek " + "a-" * ((body - 1) // 2) + "/"
    return "#qiweek " + (unit * (body // len(unit) + 1))[:body]


def best_ms(text: str, runs: int = 5) -> float:
    matcher = compile_hashtags(["#QIWeek"])
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        matcher.matches(text)
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=4000, help="message length (default 4000)")
    args = parser.parse_args()
    worst = 0.0
    for label, unit in UNITS.items():
        ms = best_ms(hostile(unit, args.chars))
        worst = max(worst, ms)
        print(f"{label:<40} {args.chars:>7} chars  {ms:8.3f} ms")
    verdict = "OK" if worst < TARGET_MS else "TOO SLOW"
    print(f"worst {worst:.3f} ms (target < {TARGET_MS:g} ms): {verdict}")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
