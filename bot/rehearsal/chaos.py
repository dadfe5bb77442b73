"""`--chaos`: the week under fire, at seeded moments of the compressed week.

The sandbox injects what Discord and hosting do to a bot: gateway disconnects (resumed, or
invalidated so the bot must IDENTIFY afresh), bursts of 500s and of 429s (per route and
global), members closing their DMs, 40003 "opening direct messages too fast" on DM opens
(sparingly), slow responses, and at least two ``kill -9`` of the bot process, each followed by
a restart. `faults` counts what was injected, by kind, for the summary.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.rehearsal.plan import Member, Week

if TYPE_CHECKING:
    from bot.sandbox import FakeDiscord

log = logging.getLogger(__name__)

MESSAGES = r"^/channels/\d+/messages$"


@dataclass(frozen=True)
class FaultEvent:
    """One injection at an event time."""

    at: datetime
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


def plan_faults(week: Week, members: list[Member], rng: random.Random) -> list[FaultEvent]:
    """The injections of one chaos rehearsal (the same for the same seed and programme)."""
    start, end = week.start + timedelta(hours=3), week.end - timedelta(hours=1)

    def when() -> datetime:
        return start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds()))

    def near_send() -> datetime:
        """A moment just before a reminder is due, when a fault hurts most."""
        session = rng.choice(week.programme.sessions)
        lead = rng.choice(week.reminder_leads)
        moment = session.start - timedelta(minutes=lead, seconds=rng.uniform(0, 90))
        return min(max(moment, start), end)

    open_members = [m.name for m in members if not m.dms_closed]
    events = [
        FaultEvent(near_send(), "kill"),
        FaultEvent(when(), "kill"),
        FaultEvent(when(), "gateway", {"mode": "reconnect"}),
        FaultEvent(when(), "gateway", {"mode": "close"}),
        FaultEvent(when(), "gateway", {"mode": "invalidate"}),
        FaultEvent(near_send(), "http_500", {"route": MESSAGES, "times": 3}),
        FaultEvent(when(), "http_500", {"route": r"^/users/@me/channels$", "times": 2}),
        FaultEvent(near_send(), "http_429", {"route": MESSAGES, "times": 3, "retry": 0.5}),
        FaultEvent(when(), "http_429", {"route": MESSAGES, "times": 2, "retry": 1.0}),
        FaultEvent(near_send(), "global_429", {"per_second": 8, "seconds": 2.0}),
        FaultEvent(near_send(), "dm_open_40003", {"times": 1}),
        FaultEvent(near_send(), "slow", {"route": MESSAGES, "seconds": 0.6, "times": 8}),
        FaultEvent(when(), "slow", {"route": r"^/users/@me/channels$", "seconds": 0.4, "times": 5}),
    ]
    for name in rng.sample(open_members, k=min(2, len(open_members))):
        events.append(FaultEvent(when(), "close_dms", {"member": name}))
    events.sort(key=lambda e: e.at)
    return events


class Chaos:
    """Applies `FaultEvent`s to the sandbox; the rehearsal does the kills (it owns the process)."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.injected: Counter[str] = Counter()
        self.records: list[tuple[str, Any]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def faults(self) -> dict[str, int]:
        """What was injected, by kind; HTTP faults count the requests they actually hit."""
        counts = dict(self.injected)
        for kind, record in self.records:
            if hasattr(record, "hits"):
                counts[f"{kind}_hits"] = counts.get(f"{kind}_hits", 0) + record.hits
        return dict(sorted(counts.items()))

    def apply(self, event: FaultEvent) -> None:
        fake, args, kind = self.fake, event.args, event.kind
        self.injected[kind] += 1
        if kind == "gateway":
            self._background(self._reconnect(args["mode"]))
        elif kind == "http_500":
            self.records.append((kind, fake.inject("POST", args["route"], 500, args["times"])))
        elif kind == "http_429":
            fault = fake.inject("POST", args["route"], 429, args["times"], args["retry"])
            self.records.append((kind, fault))
        elif kind == "global_429":
            fake.set_global_rate_limit(args["per_second"])
            self._background(self._lift_global(args["seconds"]))
        elif kind == "dm_open_40003":
            self.records.append((kind, fake.throttle_dm_opens(args["times"])))
        elif kind == "slow":
            held = fake.delay("POST", args["route"], args["seconds"], args["times"])
            self.records.append((kind, held))
        elif kind == "close_dms":
            fake.close_dms(args["member"])
        else:
            raise ValueError(f"unknown fault {kind!r}")

    async def _reconnect(self, mode: str) -> None:
        name = "gateway_identify" if mode == "invalidate" else "gateway_resume"
        self.injected[name] += 1
        try:
            await self.fake.reconnect_gateway(mode, timeout=30)
        except AssertionError as exc:  # the bot was down (killed) meanwhile: it will IDENTIFY
            log.info("gateway %s: %s", mode, exc)

    async def _lift_global(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.fake.set_global_rate_limit(None)

    def _background(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.fake.set_global_rate_limit(None)
