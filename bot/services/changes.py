"""Schedule-change notices: members registered for a session that moved or was cancelled are
told by DM, and the programme channel gets one notice.

The programme service calls `on_programme_change` after an import or seed (just before it
re-plans every planner, so reminders follow the new times). For every session moved or removed
that is not over, each registered member gets one DM saying what changed
(`bot.delivery.keys.change_dm_key`, the change's digest naming it) and the programme channel one
notice (`change_key`). The notice is stored first (`bot.store.changes`), then the `changes`
planner runs it as a job; it is marked done once the channel notice and every DM are settled in
the ledger. A bot stopped mid-way therefore resumes it at the next start (which sees no
programme diff): DMs done are skipped, DMs claimed but not confirmed are resumed with their
nonce. Registrations of a cancelled or removed session are kept for the record; the planner only
reminds of active sessions. Members with reminders ``off`` get no DMs of any kind; the channel
notice reaches them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from bot.clock import Clock, to_db
from bot.config import Settings
from bot.delivery import Delivery, Kind, Part, parse_key
from bot.delivery.keys import change_dm_key, change_dm_prefix, change_key
from bot.programme import ProgrammeDiff, Session
from bot.render import interest as render
from bot.schedule import PlannedJob, Schedule
from bot.services.reminders import NO_DM_SETTINGS, MemberDms
from bot.store import Store
from bot.store import changes as changes_store
from bot.store import interest as interest_store
from bot.store.changes import ChangeNotice
from bot.store.guild_settings import get_config

log = logging.getLogger(__name__)

#: The planner that resumes change notices not yet done (see `ChangeNotices.plan`).
PLANNER = "changes"


@dataclass(frozen=True, slots=True)
class Change:
    """A session moved (`new` set) or removed/cancelled (`new` None), as members are told."""

    old: Session
    new: Session | None

    @property
    def session_id(self) -> str:
        return self.old.id

    @property
    def digest(self) -> str:
        """Names this change: the same change notified twice has the same ledger keys."""
        parts = [self.old.id, to_db(self.old.start), to_db(self.old.end)]
        if self.new is None:
            parts.append("removed")
        else:
            parts += [to_db(self.new.start), to_db(self.new.end)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def changes_to_notify(diff: ProgrammeDiff, now: datetime) -> list[Change]:
    """Moved and removed sessions that still matter (not already over)."""
    changes = [Change(old, new) for old, new in diff.moved if max(old.end, new.end) > now]
    changes += [Change(old, None) for old in diff.removed if old.end > now]
    return changes


def notice_of(guild_id: int, change: Change) -> ChangeNotice:
    """The stored form of a change notice (what members are told, nothing more)."""
    old, new = change.old, change.new
    return ChangeNotice(
        guild_id=guild_id,
        session_id=old.id,
        change_hash=change.digest,
        kind="cancelled" if new is None else "moved",
        old_title=old.title,
        old_start=old.start,
        old_end=old.end,
        new_title=new.title if new is not None else None,
        new_start=new.start if new is not None else None,
        new_end=new.end if new is not None else None,
        new_join_url=new.join_url if new is not None else "",
    )


def change_of(notice: ChangeNotice) -> Change:
    """Back from the stored notice to the change it tells (same digest, same ledger keys)."""
    old = Session(
        id=notice.session_id, title=notice.old_title, start=notice.old_start, end=notice.old_end
    )
    new = None
    if notice.kind == "moved" and notice.new_start is not None and notice.new_end is not None:
        new = Session(
            id=notice.session_id,
            title=notice.new_title or notice.old_title,
            start=notice.new_start,
            end=notice.new_end,
            join_url=notice.new_join_url,
        )
    return Change(old, new)


@dataclass(frozen=True, slots=True)
class ChangeImpact:
    """What applying a programme change would tell (the import preview says it)."""

    members: int
    sessions: int
    notices: int
    channel_id: int | None


@dataclass(eq=False)
class ChangeNotices:
    """Stores change notices as the programme changes, and tells them exactly once."""

    store: Store
    delivery: Delivery
    settings: Settings
    schedule: Schedule
    clock: Clock
    dms: MemberDms
    _active: set[tuple[int, str, str]] = field(default_factory=set, init=False, repr=False)

    async def on_programme_change(self, guild_id: int, diff: ProgrammeDiff) -> None:
        """Programme listener: store a notice for each session moved or removed, then plan its
        fan-out (the `changes` planner runs it at once, in the background).

        The notice is stored before any send, so a bot stopped mid-way resumes it at the next
        start (the next start sees no diff: without the stored notice, members not yet reached
        would never be told). Storing the same change again is a no-op: it is told once.
        The programme service re-plans every planner (reminders too) right after the listeners.
        """
        changes = changes_to_notify(diff, self.clock())
        if not changes:
            return
        added = await changes_store.add_notices(
            self.store, [notice_of(guild_id, change) for change in changes]
        )
        if added:
            await self.schedule.replan(guild_id, only=PLANNER)

    async def impact(self, guild_id: int, diff: ProgrammeDiff) -> ChangeImpact:
        """What applying ``diff`` would tell: distinct registered members DMed, sessions moved
        or cancelled that are not over, notices posted in the programme channel, its id.

        Members whose reminders are off get no DM, as in the fan-out itself.
        """
        changes = changes_to_notify(diff, self.clock())
        members: set[int] = set()
        for change in changes:
            regs = await interest_store.registrations(self.store, guild_id, change.session_id)
            members.update(r.user_id for r in regs if r.reminder_setting not in NO_DM_SETTINGS)
        config = await get_config(self.store, self.settings, guild_id)
        channel_id = config.programme_channel_id
        notices = len(changes) if channel_id is not None else 0
        return ChangeImpact(len(members), len(changes), notices, channel_id)

    async def plan(self, guild_id: int, now: datetime) -> list[PlannedJob]:
        """The `changes` planner: a job, due at once, for every change notice not yet done
        (a new one, or one a stopped bot left half-way), except those running right now."""
        jobs: list[PlannedJob] = []
        for notice in await changes_store.pending_notices(self.store, guild_id):
            name = (guild_id, notice.session_id, notice.change_hash)
            if name in self._active:
                continue
            jobs.append(
                PlannedJob(
                    id=f"{notice.session_id}:{notice.change_hash}",
                    run_at=now,
                    func=partial(self.run, guild_id, notice.session_id, notice.change_hash),
                    description=f"change notice {notice.session_id} ({notice.kind})",
                )
            )
        return jobs

    async def run(self, guild_id: int, session_id: str, change_hash: str) -> bool:
        """Tell one stored change through the ledger (DMs done are skipped, DMs claimed but
        unconfirmed are resumed with their nonce), then mark the notice done once every send
        is settled. Returns whether it is done."""
        name = (guild_id, session_id, change_hash)
        if name in self._active:
            return False
        notice = await changes_store.get_notice(self.store, guild_id, session_id, change_hash)
        if notice is None or notice.done_at is not None:
            return notice is not None
        self._active.add(name)
        try:
            change = change_of(notice)
            await self._notify(guild_id, change)
            open_keys = [
                *await changes_store.unsettled_keys(
                    self.store, change_key(guild_id, session_id, change_hash)
                ),
                *await changes_store.unsettled_keys(
                    self.store, change_dm_prefix(guild_id, session_id, change_hash)
                ),
            ]
            if open_keys:
                log.warning(
                    "change notice %s/%s: %d sends still unconfirmed; resumed at the next start",
                    session_id,
                    change_hash,
                    len(open_keys),
                )
                return False
            await changes_store.mark_done(self.store, guild_id, session_id, change_hash)
            log.info("change notice %s/%s done", session_id, change_hash)
            return True
        finally:
            self._active.discard(name)

    async def _notify(self, guild_id: int, change: Change) -> None:
        ledger = self.delivery.ledger
        config = await get_config(self.store, self.settings, guild_id)
        regs = await interest_store.registrations(self.store, guild_id, change.session_id)
        users = [r.user_id for r in regs if r.reminder_setting not in NO_DM_SETTINGS]
        key_for = partial(change_dm_key, guild_id, change.session_id, change.digest)
        key = change_key(guild_id, change.session_id, change.digest)
        new_end = change.new.end if change.new is not None else change.old.end
        stale = max(change.old.end, new_end) <= self.clock()
        if stale:
            # Resumed after the session was over (the bot was down long): no longer worth
            # telling; only sends begun before are finished (with their nonce), never lost.
            reason = "session over before the notice could be sent"
            for user_id in users:
                await ledger.skip(
                    key_for(user_id), kind=Kind.CHANGE_DM, guild_id=guild_id, reason=reason
                )
            users = []
            await ledger.skip(key, kind=Kind.CHANGE, guild_id=guild_id, reason=reason)
        # A DM claimed by a stopped run is resumed even if the member has since unregistered
        # or turned reminders off: it may have reached them, and must not stay open forever.
        prefix = change_dm_prefix(guild_id, change.session_id, change.digest)
        for open_key in await changes_store.unsettled_keys(self.store, prefix):
            user = parse_key(open_key).int("user")
            if user is not None and user not in users:
                users.append(user)
        kwargs = render.change_dm_message(change.old, change.new).kwargs()
        result = await self.dms.send(
            guild_id, users, kind=Kind.CHANGE_DM, key_for=key_for, kwargs=kwargs
        )
        closed = await self.dms.closed_recipients(result, key_for)
        closed += [r.user_id for r in regs if r.reminder_setting == "mention" and not stale]
        if config.programme_channel_id is None:
            await ledger.skip(key, kind=Kind.CHANGE, guild_id=guild_id, reason="no channel")
            return
        messages = render.change_messages(
            change.old, change.new, interested=len(regs), closed=closed
        )
        parts = [
            Part(change_key(guild_id, change.session_id, change.digest, index or None), m.kwargs())
            for index, m in enumerate(messages)
        ]
        await self.delivery.post(
            self.delivery.text_channel(config.programme_channel_id, guild_id),
            parts,
            kind=Kind.CHANGE,
            guild_id=guild_id,
            paced=True,
            tolerate_http_errors=True,
        )


__all__ = [
    "PLANNER",
    "Change",
    "ChangeImpact",
    "ChangeNotices",
    "change_of",
    "changes_to_notify",
    "notice_of",
]
