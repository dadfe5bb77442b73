"""What a rehearsal found: counts from the sandbox's record, checked against the bot's ledger.

Duplicates are counted from what the sandbox received, not from what the bot believes it sent:
two messages the bot posted through the REST API in one channel with the same content and
embeds are one send made twice (interaction answers, which Discord ties to the member's
action, are not counted). Each expected send of the week (a daily post a day, each session's
reminder at each lead, a digest a day, the roundup, the announcement) must have a ledger row
that is sent (its message present in the sandbox) or skipped with a reason; anything else is
reported as missing or failed, so nothing goes silently missing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.delivery.keys import Kind, parse_key
from bot.programme import Programme
from bot.rehearsal.plan import Week
from bot.sandbox import FakeDiscord
from bot.store.ledger import Status


@dataclass(frozen=True)
class Row:
    """One delivery-ledger row, as read after the run."""

    key: str
    kind: str
    status: str
    message_id: int | None
    reason: str | None


def rest_messages(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Every message the bot posted through the REST API (kept or later deleted)."""
    bot_id = str(fake.bot_user.id)
    found = [m for msgs in fake._messages.values() for m in msgs] + list(fake.deleted)
    return [
        m
        for m in found
        if m["author"]["id"] == bot_id and not m.get("ephemeral") and "webhook_id" not in m
    ]


def _copies(fake: FakeDiscord) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Bot messages grouped by (channel, content, embeds)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for m in rest_messages(fake):
        embeds = json.dumps(m.get("embeds") or [], sort_keys=True)
        groups.setdefault((m["channel_id"], m.get("content") or "", embeds), []).append(m)
    return groups


def duplicates(fake: FakeDiscord) -> int:
    """Extra copies of one send: same channel, content and embeds, and the same nonce (the
    bot derives it from the send's ledger key) or none."""
    extra = 0
    for copies in _copies(fake).values():
        nonces = [str(m["nonce"]) for m in copies if m.get("nonce")]
        without = len(copies) - len(nonces)
        extra += len(nonces) - len(set(nonces))  # one send (one nonce) posted twice
        extra += max(0, without - (0 if nonces else 1))  # no nonce: a copy is a copy
    return extra


def lookalikes(fake: FakeDiscord) -> list[str]:
    """Identical messages from different sends (distinct nonces): not duplicates, but a reader
    cannot tell them apart, so they are worth a look."""
    found = []
    for (channel, content, _), copies in _copies(fake).items():
        nonces = {str(m.get("nonce") or "") for m in copies}
        if len(copies) > 1 and len(nonces) == len(copies):
            name = fake._channels.get(int(channel), {}).get("name") or "a DM"
            found.append(f"{len(copies)} identical messages in {name}: {content[:80]!r}")
    return found


def _day_of(message: dict[str, Any], week: Week) -> str:
    return datetime.fromisoformat(message["timestamp"]).astimezone(week.tz).date().isoformat()


def expected_sends(
    week: Week, final: Programme, guild_id: int, announcements: int
) -> list[tuple[Kind, dict[str, str], str]]:
    """(kind, key fields, what) of every send the week must account for."""
    guild = str(guild_id)
    expected = [
        (Kind.DAILY, {"guild": guild, "day": day.isoformat()}, f"daily post of {day}")
        for day in week.days
    ]
    expected += [
        (Kind.DIGEST, {"guild": guild, "day": day.isoformat()}, f"digest of {day}")
        for day in week.event_days
    ]
    last = week.event_days[-1].isoformat()
    expected.append((Kind.WEEKLY, {"guild": guild, "day": last}, "weekly roundup"))
    for session in final.sessions:
        for lead in week.reminder_leads:
            fields = {"guild": guild, "session": session.id, "lead": str(lead)}
            expected.append((Kind.REMINDER, fields, f"{lead}-min reminder of {session.id}"))
    expected += [
        (Kind.ANNOUNCEMENT, {"announcement": str(n)}, f"announcement #{n}")
        for n in range(1, announcements + 1)
    ]
    return expected


def _accounted(rows: list[Row], kind: Kind, fields: dict[str, str]) -> bool:
    """Whether some row of ``kind`` with those key fields was sent or skipped."""
    for row in rows:
        if row.kind != kind or row.status not in (Status.SENT, Status.SKIPPED):
            continue
        parsed = parse_key(row.key)
        if all(parsed.fields.get(name) == value for name, value in fields.items()):
            return True
    return False


def summarise(
    fake: FakeDiscord,
    rows: list[Row],
    week: Week,
    final: Programme,
    *,
    members: int,
    announcements: int,
) -> dict[str, Any]:
    """The summary's counts (without wall_seconds, faults and the run's own warnings)."""
    present = {int(m["id"]): m for m in rest_messages(fake)}
    sent = [r for r in rows if r.status == Status.SENT]
    by_kind: dict[str, list[Row]] = {}
    for row in sent:
        by_kind.setdefault(row.kind, []).append(row)

    def days_of(kind: str) -> int:
        return len(
            {
                _day_of(present[r.message_id], week)
                for r in by_kind.get(kind, [])
                if r.message_id in present
            }
        )

    reminder_messages = [
        present[r.message_id]
        for r in by_kind.get(Kind.REMINDER, []) + by_kind.get(Kind.REMINDER_MENTIONS, [])
        if r.message_id in present
    ]
    dm_channels = {str(c) for c in fake._dm_by_user.values()}
    dms = [m for m in rest_messages(fake) if m["channel_id"] in dm_channels]
    failed = [r for r in rows if r.status in (Status.FAILED, Status.CLAIMED)]
    vanished = [r for r in sent if r.message_id is not None and r.message_id not in present]
    missing = [
        what
        for kind, fields, what in expected_sends(week, final, fake.guild.id, announcements)
        if not _accounted(rows, kind, fields)
    ]
    skipped = Counter(
        f"{r.kind}: {r.reason or 'no reason'}" for r in rows if r.status == Status.SKIPPED
    )
    return {
        "sessions": len(week.programme.sessions),
        "days": len(week.days),
        "event_days": len(week.event_days),
        "members": members,
        "daily_posts": days_of(Kind.DAILY),
        "reminders": len(by_kind.get(Kind.REMINDER, [])),
        "dms": len(dms),
        "channel_mentions": sum(len(m.get("mentions") or []) for m in reminder_messages),
        "change_notices": len(by_kind.get(Kind.CHANGE, [])),
        "change_dms": len(by_kind.get(Kind.CHANGE_DM, [])),
        "digests": days_of(Kind.DIGEST),
        "roundups": days_of(Kind.WEEKLY),
        "announcements": len(by_kind.get(Kind.ANNOUNCEMENT, [])),
        "announcement_dms": len(by_kind.get(Kind.ANNOUNCEMENT_DM, [])),
        "duplicates": duplicates(fake),
        "lookalikes": lookalikes(fake),
        "failed_sends": len(failed) + len(vanished) + len(missing),
        "failed": [f"{r.key}: {r.status} ({r.reason or 'no reason'})" for r in failed]
        + [f"{r.key}: marked sent but no such message in the sandbox" for r in vanished],
        "missing": missing,
        "skipped": dict(sorted(skipped.items())),
        "ledger": dict(sorted(Counter(f"{r.kind}:{r.status}" for r in rows).items())),
    }
