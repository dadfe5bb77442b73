"""Posted digests and roundups: which messages hold which shares, so erasure reaches them.

Every message of a posted digest (or weekly roundup) is recorded with the ids of the shares it
was rendered from, grouped by ``post_id`` (the first message's id). An erasure marks the posts
holding an erased share (``needs_redaction``) *before* the shares are deleted; the digest service
then re-renders each marked post from the shares still stored and edits its messages. A stop in
between leaves the mark, so the next start finishes the job.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.clock import to_db
from bot.store import Store, in_chunks


@dataclass(frozen=True, slots=True)
class PostedDigest:
    """One posted digest or roundup: its messages in order and the shares it was made from."""

    post_id: int
    guild_id: int
    channel_id: int
    kind: str
    day: date
    message_ids: tuple[int, ...]
    share_ids: frozenset[int]


async def record_post(
    store: Store,
    *,
    guild_id: int,
    channel_id: int,
    kind: str,
    day: date,
    message_ids: Sequence[int],
    share_ids: Iterable[int],
    posted_at: datetime,
) -> None:
    """Remember a post's messages (first recording wins: a re-run never widens a post)."""
    if not message_ids:
        return
    ids = json.dumps(sorted(set(share_ids)))
    post_id = message_ids[0]
    async with store.transaction() as db:
        for part, message_id in enumerate(message_ids, start=1):
            await db.execute(
                "INSERT OR IGNORE INTO posted_digests (message_id, guild_id, channel_id, post_id,"
                " kind, day, part, share_ids, posted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    guild_id,
                    channel_id,
                    post_id,
                    kind,
                    day.isoformat(),
                    part,
                    ids,
                    to_db(posted_at),
                ),
            )


async def mark_posts_with_shares(store: Store, guild_id: int, share_ids: Iterable[int]) -> int:
    """Mark for redaction every post rendered from one of ``share_ids``; returns posts marked."""
    marked = 0
    for chunk, marks in in_chunks(share_ids):
        cur = await store.db.execute(
            "UPDATE posted_digests SET needs_redaction = 1 WHERE guild_id = ? AND post_id IN ("
            " SELECT p.post_id FROM posted_digests AS p, json_each(p.share_ids) AS j"
            f" WHERE p.guild_id = ? AND j.value IN ({marks}))",
            (guild_id, guild_id, *chunk),
        )
        marked += max(0, cur.rowcount)
    return marked


async def mark_posts_before(store: Store, guild_id: int, cutoff: datetime) -> int:
    """Retention: mark every post made before ``cutoff`` (all its shares are older still)."""
    cur = await store.db.execute(
        "UPDATE posted_digests SET needs_redaction = 1 WHERE guild_id = ? AND posted_at < ?",
        (guild_id, to_db(cutoff)),
    )
    return max(0, cur.rowcount)


async def pending(store: Store, guild_id: int) -> list[PostedDigest]:
    """Posts marked for redaction, oldest first."""
    rows = await store.fetch_all(
        "SELECT post_id, channel_id, kind, day, message_id, share_ids FROM posted_digests"
        " WHERE guild_id = ? AND post_id IN (SELECT post_id FROM posted_digests"
        " WHERE guild_id = ? AND needs_redaction = 1) ORDER BY post_id, part",
        (guild_id, guild_id),
    )
    posts: dict[int, dict[str, object]] = {}
    for row in rows:
        post = posts.setdefault(
            row["post_id"],
            {
                "channel_id": row["channel_id"],
                "kind": row["kind"],
                "day": date.fromisoformat(row["day"]),
                "message_ids": [],
                "share_ids": set(),
            },
        )
        post["message_ids"].append(row["message_id"])  # type: ignore[union-attr]
        post["share_ids"].update(json.loads(row["share_ids"]))  # type: ignore[union-attr]
    return [
        PostedDigest(
            post_id=post_id,
            guild_id=guild_id,
            channel_id=int(post["channel_id"]),  # type: ignore[call-overload]
            kind=str(post["kind"]),
            day=post["day"],  # type: ignore[arg-type]
            message_ids=tuple(post["message_ids"]),  # type: ignore[arg-type]
            share_ids=frozenset(post["share_ids"]),  # type: ignore[arg-type]
        )
        for post_id, post in posts.items()
    ]


async def redacted(store: Store, post_id: int, share_ids: Iterable[int]) -> None:
    """A post was edited to show only ``share_ids``; clear its mark (none left: forget it),
    unless one of them was erased while it was being edited: then it stays marked, for the
    next redaction to edit it again."""
    remaining = sorted(set(share_ids))
    if not remaining:
        await store.db.execute("DELETE FROM posted_digests WHERE post_id = ?", (post_id,))
        return
    shown = json.dumps(remaining)
    await store.db.execute(
        "UPDATE posted_digests SET share_ids = ?, needs_redaction = EXISTS ("
        " SELECT 1 FROM json_each(?) AS j"
        " WHERE NOT EXISTS (SELECT 1 FROM shares AS s WHERE s.message_id = j.value))"
        " WHERE post_id = ?",
        (shown, shown, post_id),
    )


async def forget_message(store: Store, message_id: int) -> None:
    """A posted message is gone (deleted by someone): nothing left to edit there."""
    await store.db.execute("DELETE FROM posted_digests WHERE message_id = ?", (message_id,))


__all__ = [
    "PostedDigest",
    "forget_message",
    "mark_posts_before",
    "mark_posts_with_shares",
    "pending",
    "record_post",
    "redacted",
]
