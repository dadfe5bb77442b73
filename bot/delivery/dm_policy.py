"""When the bot may open a new DM channel: the budget, the 40003 cool-down, and quarantine.

Pure (no Discord, no database): a `DmGuard` per server, fed what Discord answered, says whether a
DM channel to a member never DMed before may be opened now, and when the next one may.

Why (see README, "Direct messages"): Discord's anti-spam flags bots that open many new DMs
quickly; a flagged bot "is unable to ... send any direct messages to users it has not messaged
before" (the notice quoted in tmerc-cogs issue 111; discord-api-docs issue 5987: newly verified
bots flagged after opening 1,000+ DMs), and Discord answers ``400 {"code": 40003, "message":
"You are opening direct messages too fast"}``. Discord publishes no threshold, so:

- **Budget.** At most ``per_minute`` new DM channels in any rolling minute
  (`QIWEEK_NEW_DMS_PER_MINUTE`, default 20). Members the bot has DMed before cost nothing here.
- **Cool-down.** A 40003 stops new DM channels for ``COOLDOWN`` (10 minutes), doubling on each
  repeat (20, 40 ... at most ``MAX_COOLDOWN``), so a fan-out that meets it makes one such request,
  not one per member.
- **Quarantine.** 40003 repeated within ``STRIKE_WINDOW`` (an hour), or ``CLOSED_STRIKES`` answers
  of 50007 from members whose DMs had worked before, mean the bot is probably quarantined. Then
  only members it has DMed before are DMed (their DMs keep working); everyone else is mentioned in
  the channel. After the cool-down one new DM is tried again (a probe); if it goes through, the
  quarantine is over.
"""

from __future__ import annotations

import enum
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

COOLDOWN = 600.0
MAX_COOLDOWN = 6 * 3600.0
STRIKE_WINDOW = 3600.0
CLOSED_STRIKES = 2
WINDOW = 60.0
#: The budget makes a reminder start early by at most this (members beyond are mentioned).
MAX_BUDGET_LEAD = 300.0

MonotonicClock = Callable[[], float]


class DmState(enum.Enum):
    OK = "ok"
    COOLDOWN = "cooldown"  # a 40003: no new DM channels until the cool-down ends
    QUARANTINE = "quarantine"  # only members DMed before are DMed


@dataclass(eq=False)
class DmGuard:
    """One server's new-DM budget, cool-down and quarantine state."""

    per_minute: int = 20
    clock: MonotonicClock = time.monotonic
    _opened: deque[float] = field(default_factory=deque, init=False)
    _too_fast: deque[float] = field(default_factory=deque, init=False)
    _closed_known: deque[float] = field(default_factory=deque, init=False)
    cooldown_until: float = field(default=0.0, init=False)
    cooldowns: int = field(default=0, init=False)
    quarantined: bool = field(default=False, init=False)
    _probing: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.per_minute < 1:
            raise ValueError("per_minute must be at least 1")

    # ---------------------------------------------------------------- questions

    @property
    def state(self) -> DmState:
        if self.quarantined:
            return DmState.QUARANTINE
        if self.clock() < self.cooldown_until:
            return DmState.COOLDOWN
        return DmState.OK

    def may_message(self, messaged_before: bool) -> bool:
        """Whether a DM to a member with a known DM channel may be sent at all (quarantine
        stops DMs to members never DMed before, even when their channel is open)."""
        return messaged_before or not self.quarantined

    def next_slot(self) -> float | None:
        """Monotonic time when a new DM channel may next be opened; None while quarantined
        and the probe is spent or running (nothing to wait for within a fan-out)."""
        now = self.clock()
        if self.quarantined and (self._probing or now < self.cooldown_until):
            return None if self._probing else self.cooldown_until
        self._expire(now)
        slot = max(now, self.cooldown_until)
        if len(self._opened) >= self.per_minute:
            slot = max(slot, self._opened[0] + WINDOW)
        return slot

    def can_open_now(self) -> bool:
        """Whether a new DM channel could be opened this instant (the budget has room, no
        cool-down, no spent quarantine probe). A question only: nothing is used."""
        slot = self.next_slot()
        return slot is not None and slot <= self.clock()

    def room_now(self) -> int:
        """How many new DM channels could be opened this instant (0 during a cool-down or a
        quarantine). A question only: nothing is used."""
        if not self.can_open_now():
            return 0
        if self.quarantined:
            return 1  # the one probe
        return self.per_minute - len(self._opened)

    def take(self) -> bool:
        """Use one unit of the budget now if a new DM channel may be opened; else False."""
        slot = self.next_slot()
        now = self.clock()
        if slot is None or slot > now:
            return False
        if self.quarantined:
            self._probing = True  # one probe after the cool-down
        self._opened.append(now)
        return True

    # ---------------------------------------------------------------- what Discord said

    def on_opened(self) -> None:
        """A new DM channel was opened and a DM went through: a probe ends the quarantine."""
        if self._probing:
            self._probing = False
            self.quarantined = False
            self.cooldowns = 0
            self._too_fast.clear()
            self._closed_known.clear()

    def on_too_fast(self) -> bool:
        """Discord answered 40003. Starts (or doubles) the cool-down; returns True when this
        makes the bot consider itself quarantined (a repeat within the strike window)."""
        now = self.clock()
        self._probing = False
        self._too_fast.append(now)
        while self._too_fast and now - self._too_fast[0] > STRIKE_WINDOW:
            self._too_fast.popleft()
        seconds = min(COOLDOWN * 2**self.cooldowns, MAX_COOLDOWN)
        self.cooldowns += 1
        self.cooldown_until = now + seconds
        return self._suspect(len(self._too_fast) >= 2)

    def on_closed(self, messaged_before: bool) -> bool:
        """Discord answered 50007. From a member whose DMs worked before, it counts towards
        quarantine; returns True when this makes the bot consider itself quarantined."""
        if not messaged_before:
            return False
        now = self.clock()
        self._closed_known.append(now)
        while self._closed_known and now - self._closed_known[0] > STRIKE_WINDOW:
            self._closed_known.popleft()
        if len(self._closed_known) >= CLOSED_STRIKES and not self.quarantined:
            self.cooldown_until = max(self.cooldown_until, now + COOLDOWN)
            return self._suspect(True)
        return False

    def _suspect(self, condition: bool) -> bool:
        if condition and not self.quarantined:
            self.quarantined = True
            return True
        return False

    def _expire(self, now: float) -> None:
        while self._opened and now - self._opened[0] >= WINDOW:
            self._opened.popleft()


def budget_seconds(new_channels: int, per_minute: int) -> float:
    """Seconds a fan-out needs to open `new_channels` DM channels within the budget (the first
    `per_minute` at once, then `per_minute` a minute), capped at `MAX_BUDGET_LEAD`: a reminder
    never starts much earlier than its lead; members beyond are mentioned in the channel."""
    if new_channels <= per_minute:
        return 0.0
    minutes = math.ceil(new_channels / per_minute) - 1
    return min(minutes * WINDOW, MAX_BUDGET_LEAD)


def restricted_text(quarantined: bool) -> str:
    """What organisers are told when Discord restricts the bot's new DMs."""
    if quarantined:
        return (
            "Discord seems to have restricted this bot's direct messages (anti-spam quarantine "
            'suspected: repeated "opening direct messages too fast", or DMs failing to members '
            "who received them before). The bot keeps DMing members it has DMed before and "
            "mentions everyone else in the programme channel reminder. It tries one new DM again "
            "after a cool-down. If this lasts, contact Discord support about the bot."
        )
    return (
        'Discord answered "You are opening direct messages too fast" (40003). The bot pauses '
        "new DM conversations for at least 10 minutes; members it cannot DM meanwhile are "
        "mentioned in the programme channel reminder instead. Members already DMed still get DMs."
    )


__all__ = [
    "CLOSED_STRIKES",
    "COOLDOWN",
    "MAX_BUDGET_LEAD",
    "MAX_COOLDOWN",
    "DmGuard",
    "DmState",
    "budget_seconds",
    "restricted_text",
]
