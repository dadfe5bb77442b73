"""Per-guild settings set with `/organiser setup`: stored overrides of the environment defaults."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import to_db
from bot.config import Settings, parse_ids, parse_leads, parse_time
from bot.store import Store

#: Columns an organiser may set, in the order `/organiser setup` shows them.
SETTING_NAMES = (
    "programme_channel_id",
    "announcements_channel_id",
    "digest_channel_id",
    "organiser_role_id",
    "timezone",
    "daily_post_time",
    "digest_time",
    "reminder_leads",
    "share_channel_ids",
    "organiser_channel_id",
)


@dataclass(frozen=True, slots=True)
class GuildConfig:
    """The settings in force for one guild: stored override, else the environment's default."""

    guild_id: int
    programme_channel_id: int | None
    announcements_channel_id: int | None
    digest_channel_id: int | None
    organiser_role_id: int | None
    timezone: str
    daily_post_time: time
    digest_time: time
    reminder_leads: tuple[int, ...]
    share_channel_ids: tuple[int, ...] = ()  # empty: every channel @everyone can view
    organiser_channel_id: int | None = None
    overridden: frozenset[str] = frozenset()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def defaults(settings: Settings, guild_id: int) -> GuildConfig:
    return GuildConfig(
        guild_id=guild_id,
        programme_channel_id=settings.programme_channel_id,
        announcements_channel_id=settings.announcements_channel_id,
        digest_channel_id=settings.digest_channel_id,
        organiser_role_id=settings.organiser_role_id,
        timezone=settings.timezone,
        daily_post_time=settings.daily_post_time,
        digest_time=settings.digest_time,
        reminder_leads=settings.reminder_leads,
        share_channel_ids=settings.share_channel_ids,
        organiser_channel_id=settings.organiser_channel_id,
    )


#: `Store.cache` key: guild id -> (the Settings it was built with, GuildConfig), plus the
#: write counter under `_WRITES`.
_CACHE = "guild_settings"
_WRITES = "writes"


def _cache(store: Store) -> dict[Any, Any]:
    return store.cache.setdefault(_CACHE, {_WRITES: 0})


def forget_config(store: Store, guild_id: int | None = None) -> None:
    """Drop the in-memory copy of a guild's settings (every guild's when None). Any code that
    writes `guild_settings` other than `update_config` (an erasure, say) must call it."""
    cache = _cache(store)
    cache[_WRITES] += 1
    if guild_id is None:
        store.cache[_CACHE] = {_WRITES: cache[_WRITES]}
    else:
        cache.pop(guild_id, None)


async def get_config(store: Store, settings: Settings, guild_id: int) -> GuildConfig:
    """The effective settings for `guild_id`.

    Read 1-4 times per interaction, so kept in memory per guild after the first read; every
    write (`update_config`, `forget_config`) drops it, so the next read sees the change.
    """
    if not isinstance(store, Store):  # a bare reader (the CLI's read-only preview)
        return await _read_config(store, settings, guild_id)
    cache = _cache(store)
    cached = cache.get(guild_id)
    if cached is not None and cached[0] is settings:
        return cached[1]
    writes = cache[_WRITES]
    config = await _read_config(store, settings, guild_id)
    # A write that finished while we read makes this copy stale: don't keep it.
    if store.is_open and _cache(store)[_WRITES] == writes:
        _cache(store)[guild_id] = (settings, config)
    return config


async def _read_config(store: Store, settings: Settings, guild_id: int) -> GuildConfig:
    config = defaults(settings, guild_id)
    row = await store.fetch_one(
        f"SELECT {', '.join(SETTING_NAMES)} FROM guild_settings WHERE guild_id = ?", (guild_id,)
    )
    if row is None:
        return config
    changes: dict[str, object] = {}
    for name in SETTING_NAMES:
        value = row[name]
        if value is None:
            continue
        if name in ("daily_post_time", "digest_time"):
            value = parse_time(value)
        elif name == "reminder_leads":
            value = parse_leads(value)
        elif name == "share_channel_ids":
            value = parse_ids(value)
        changes[name] = value
    return replace(config, overridden=frozenset(changes), **changes)


async def update_config(store: Store, guild_id: int, **changes: object) -> None:
    """Store overrides (already validated by the caller); a value of None clears an override."""
    unknown = set(changes) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    encoded: dict[str, object] = {}
    for name, value in changes.items():
        if isinstance(value, time):
            value = f"{value:%H:%M}"
        elif isinstance(value, tuple):
            value = ",".join(str(v) for v in value)
        encoded[name] = value
    now = to_db(store.clock())
    try:
        async with store.transaction() as db:
            await db.execute(
                "INSERT OR IGNORE INTO guild_settings (guild_id, updated_at) VALUES (?, ?)",
                (guild_id, now),
            )
            for name, value in encoded.items():
                # `name` is checked against SETTING_NAMES above, never user text.
                await db.execute(
                    f"UPDATE guild_settings SET {name} = ?, updated_at = ? WHERE guild_id = ?",
                    (value, now, guild_id),
                )
    finally:
        forget_config(store, guild_id)


async def known_guilds(store: Store) -> list[int]:
    """Guilds the database knows of (settings or a programme), for planning at start."""
    rows = await store.fetch_all(
        "SELECT guild_id FROM guild_settings UNION SELECT guild_id FROM programmes"
    )
    return [row[0] for row in rows]


__all__ = [
    "SETTING_NAMES",
    "GuildConfig",
    "defaults",
    "forget_config",
    "get_config",
    "known_guilds",
    "update_config",
]
