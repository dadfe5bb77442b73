"""Members' DM channel ids, kept across restarts: a DM to a known member is one request.

Discord's DM channel between the bot and a user never changes, so its id is stored the first time
it is opened. ``messaged_at`` records the first DM that reached the member: a bot that Discord's
anti-spam has quarantined can still DM those members, and a 50007 from one of them is a sign of
quarantine rather than of closed DMs (see `bot.delivery.dm_policy`). Keyed by user only: the DM
channel is the same whichever server the member shares with the bot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.clock import to_db
from bot.store import Store, in_chunks


@dataclass(frozen=True, slots=True)
class DmChannel:
    user_id: int
    channel_id: int | None  # None: Discord said it is unknown; open it again
    messaged: bool


async def get_channels(store: Store, user_ids: Iterable[int]) -> dict[int, DmChannel]:
    """The stored DM channels of these members (members never opened are absent)."""
    found: dict[int, DmChannel] = {}
    for chunk, marks in in_chunks(user_ids):
        rows = await store.fetch_all(
            f"SELECT user_id, channel_id, messaged_at FROM dm_channels WHERE user_id IN ({marks})",
            chunk,
        )
        for row in rows:
            found[row[0]] = DmChannel(row[0], row[1], row[2] is not None)
    return found


async def get_channel(store: Store, user_id: int) -> DmChannel | None:
    return (await get_channels(store, [user_id])).get(user_id)


async def save_channel(store: Store, user_id: int, channel_id: int) -> None:
    """Remember a DM channel just opened (keeps `messaged_at` if the member was DMed before)."""
    now = to_db(store.clock())
    await store.db.execute(
        "INSERT INTO dm_channels (user_id, channel_id, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET channel_id = excluded.channel_id,"
        " updated_at = excluded.updated_at",
        (user_id, channel_id, now),
    )


async def forget_channel(store: Store, user_id: int) -> None:
    """Discord said the stored channel is unknown (10003): open it again next time."""
    await store.db.execute(
        "UPDATE dm_channels SET channel_id = NULL WHERE user_id = ?",
        (user_id,),
    )


async def mark_messaged(store: Store, user_ids: Iterable[int]) -> int:
    """A DM reached these members (only the first time is recorded). Returns rows changed."""
    now = to_db(store.clock())
    changed = 0
    for chunk, marks in in_chunks(user_ids):
        cur = await store.db.execute(
            f"UPDATE dm_channels SET messaged_at = ?, updated_at = ?"
            f" WHERE messaged_at IS NULL AND user_id IN ({marks})",
            (now, now, *chunk),
        )
        changed += cur.rowcount
    return changed


__all__ = [
    "DmChannel",
    "forget_channel",
    "get_channel",
    "get_channels",
    "mark_messaged",
    "save_channel",
]
