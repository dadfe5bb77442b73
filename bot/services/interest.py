"""Interest: members register for sessions, choose when they are reminded, and list their own.

The reminders themselves are `bot.services.reminders`; telling members about a session that
moved or was cancelled is `bot.services.changes`. A registration or a setting change re-plans
the guild's reminders shortly after (debounced).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bot.calendar import ics_filename, sessions_ics
from bot.clock import Clock
from bot.config import Settings
from bot.delivery import Delivery
from bot.programme import Session
from bot.render import interest as render
from bot.schedule import Schedule
from bot.services.first_contact import (
    NO_DM_SETTINGS,
    Contact,
    first_contact,
    may_try_now,
    settle_interrupted,
)
from bot.services.reminders import (
    PLANNER,
    Alert,
    ProgrammeSource,
    alarm_minutes,
    parse_reminder_setting,
)
from bot.store import Store
from bot.store import interest as interest_store
from bot.store import prefs as prefs_store
from bot.store.guild_settings import GuildConfig, get_config

log = logging.getLogger(__name__)

#: How long after a registration or setting change the reminders are re-planned (debounce).
REPLAN_DELAY = 1.0


CONTACT_TASK = "first contact"
#: The sign-up DM waits for the answer at most this long (Discord's answer window is 3 s).
ANSWER_WINDOW = 3.0


class PendingContact:
    """The sign-up DM of a new registration (`bot.services.first_contact`), held until the
    member has been answered: the answer never waits on Discord's DM endpoints, and the DM's
    requests do not compete with it. The task exists from the registration on, so shutdown
    and the tests' quiet check see it."""

    def __init__(self, run: Callable[[], Awaitable[Contact]], spawn: Spawn) -> None:
        self._answered = asyncio.Event()

        async def after_the_answer() -> Contact:
            try:
                await asyncio.wait_for(self._answered.wait(), ANSWER_WINDOW)
            except TimeoutError:
                pass  # the answer failed or never came: send anyway, the member asked for it
            return await run()

        self._task = spawn(after_the_answer())

    async def outcome(self) -> str | None:
        """Call once the answer is sent: runs the DM and says what it did, "sent" or "closed"
        (50007) for the member to be told, None otherwise (DMed before, not wanted, not now)."""
        self._answered.set()
        try:
            contact = await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if not self._task.cancelled():
                raise  # the caller itself is being cancelled
            return None  # shutdown stopped the DM (its claim is settled at the next start)
        except Exception:  # logged by the service; the member's reminder reaches them anyway
            return None
        return contact.value if contact in (Contact.SENT, Contact.CLOSED) else None


Spawn = Callable[[Awaitable[Any]], "asyncio.Task[Any]"]


@dataclass(frozen=True, slots=True)
class Registered:
    """What a registration did, for the answer."""

    session: Session
    changed: bool
    setting: str
    guild_leads: tuple[int, ...]
    dm_closed: bool = False
    #: A new registration's sign-up DM, to run once the member is answered.
    contact: PendingContact | None = None


@dataclass(frozen=True, slots=True)
class PickOutcome:
    """The daily post's select: which sessions were registered, which refused and why."""

    added: tuple[Session, ...] = ()
    already: tuple[Session, ...] = ()
    started: tuple[Session, ...] = ()
    unknown: tuple[str, ...] = ()
    contact: PendingContact | None = None


@dataclass(frozen=True, slots=True)
class MySessions:
    sessions: tuple[Session, ...]
    cancelled: tuple[Session, ...]
    setting: str
    guild_leads: tuple[int, ...]
    ics: bytes | None
    ics_name: str
    dm_closed: bool = False


@dataclass(eq=False)
class InterestService:
    """Registrations and each member's reminder setting."""

    store: Store
    settings: Settings
    schedule: Schedule
    clock: Clock
    programme: ProgrammeSource
    #: For the sign-up confirmation DM (issue 10); without it no first contact is made.
    delivery: Delivery | None = None
    alert: Alert | None = None
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)
    #: Sign-up DMs on their way that will open a new DM channel (each uses the budget).
    _opening: set[asyncio.Task[Any]] = field(default_factory=set, init=False, repr=False)
    _replan_pending: set[int] = field(default_factory=set, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    async def close(self) -> None:
        """Cancel background work (debounced replans); claims stay resumable. Reminder and
        change-notice jobs belong to the schedule, which cancels them at shutdown. Sign-ups
        that arrive while the bot drains get no sign-up DM (their reminder still reaches them)."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: shutdown must never hang on a task that is slow to unwind.
            _, stuck = await asyncio.wait(tasks, timeout=5)
            for task in stuck:
                log.warning("%s did not stop within 5 s of shutdown", task.get_name())
        self._tasks.clear()
        self._replan_pending.clear()

    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    @property
    def busy(self) -> bool:
        """Background work is in flight: a debounced re-plan or a sign-up DM."""
        return bool(self._tasks)

    @property
    def contacts_pending(self) -> int:
        """Sign-up DMs not finished yet (each waits for its member's answer first)."""
        return sum(1 for task in self._tasks if task.get_name().startswith(CONTACT_TASK))

    @property
    def replan_pending(self) -> bool:
        """A debounced re-plan is waiting to run (see `replan_soon`)."""
        return bool(self._replan_pending)

    def replan_soon(self, guild_id: int) -> None:
        """Re-plan this guild's reminders shortly (a registration or setting changed: who is
        DMed at which lead, and how early each fan-out starts).

        Debounced: a burst of clicks after a daily post makes one replan, not hundreds.
        """
        if guild_id in self._replan_pending or self._closed:
            return  # after close: the next start plans everything from the database
        self._replan_pending.add(guild_id)

        async def later() -> None:
            await asyncio.sleep(REPLAN_DELAY)
            self._replan_pending.discard(guild_id)
            await self.schedule.replan(guild_id, only=PLANNER)

        self._spawn(later(), f"reminder replan {guild_id}")

    async def _config(self, guild_id: int) -> GuildConfig:
        return await get_config(self.store, self.settings, guild_id)

    async def _session(
        self, guild_id: int, session_id: str, *, include_cancelled: bool = False
    ) -> Session | None:
        return await self.programme.get_session(
            guild_id, session_id, include_cancelled=include_cancelled
        )

    # ---------------------------------------------------------------- members

    async def register(self, guild_id: int, session: Session, user_id: int) -> Registered:
        """Register for a session that has not started (the caller checked it exists). A new
        registration carries its sign-up DM (`Registered.contact`), which waits for the answer."""
        changed = await interest_store.add_interest(self.store, guild_id, session.id, user_id)
        if changed:
            self.replan_soon(guild_id)
        return await self._registered(guild_id, session, user_id, changed)

    async def toggle(self, guild_id: int, session: Session, user_id: int) -> Registered | None:
        """The "I'm interested" button on a session that has not started: registers, or undoes
        the member's registration (None). One write, no read first (`toggle_interest`)."""
        registered = await interest_store.toggle_interest(self.store, guild_id, session.id, user_id)
        self.replan_soon(guild_id)
        if not registered:
            return None
        return await self._registered(guild_id, session, user_id, True)

    def _contact(
        self, guild_id: int, session: Session, user_id: int, setting: str | None = None
    ) -> PendingContact | None:
        """The sign-up DM to run after the answer, or None when there is none to try: decided
        in memory (``setting``: the member's, when known), so past the new-DM budget a
        registration starts no task and its answer is all it costs."""
        delivery = self.delivery
        if delivery is None or self._closed:
            return None  # after close (shutdown): reached at reminder time by the next run
        if setting in NO_DM_SETTINGS:
            return None
        opening = not delivery.fanout.channels.known(user_id)
        if not may_try_now(delivery.fanout, guild_id, user_id, len(self._opening)):
            return None  # reached (or mentioned) at reminder time

        def spawn(coro: Awaitable[Any]) -> asyncio.Task[Any]:
            task = self._spawn(coro, f"{CONTACT_TASK} {user_id}")
            if opening:  # it will use a unit of the new-DM budget: not offered to the next
                self._opening.add(task)
                task.add_done_callback(self._opening.discard)
            return task

        return PendingContact(partial(self._first_contact, guild_id, session, user_id), spawn)

    async def _first_contact(self, guild_id: int, session: Session, user_id: int) -> Contact:
        delivery = self.delivery
        if delivery is None:
            return Contact.NOT_WANTED
        prefs = await prefs_store.get_prefs(self.store, guild_id, user_id)
        config = await self._config(guild_id)
        text = render.first_contact_dm(session, prefs.reminder_setting, config.reminder_leads)
        outcome = await first_contact(
            delivery.client,
            delivery.ledger,
            guild_id=guild_id,
            user_id=user_id,
            setting=prefs.reminder_setting,
            text=text,
            context=delivery.fanout,
            on_alert=partial(self.alert, guild_id) if self.alert is not None else None,
            on_closed=partial(self.mark_dm_closed, guild_id),
            # Undone meanwhile (a second press of the button): no "you'll be reminded" DM.
            still_wanted=partial(self.is_registered, guild_id, session.id, user_id),
        )
        if outcome is Contact.SENT:
            # Only a flag that is set needs clearing (read from memory: no trip for the rest).
            now = await prefs_store.get_prefs(self.store, guild_id, user_id)
            if now.dm_closed:
                await prefs_store.clear_dm_closed(self.store, guild_id, [user_id])
        return outcome

    async def prepare(self, guild_id: int) -> None:
        """At start: members' reminder settings into memory (no sign-up answer waits on
        SQLite for them), and the confirmation DMs a stopped run left claimed settled."""
        await prefs_store.load_guild_prefs(self.store, guild_id)
        await self.settle_interrupted(guild_id)

    async def settle_interrupted(self, guild_id: int) -> None:
        """Confirmation DMs a stopped run left claimed are settled (see
        `bot.services.first_contact.settle_interrupted`)."""
        if self.delivery is not None:
            d = self.delivery
            await settle_interrupted(d.client, d.ledger, d.fanout, guild_id)

    async def unregister(self, guild_id: int, session_id: str, user_id: int) -> bool:
        changed = await interest_store.remove_interest(self.store, guild_id, session_id, user_id)
        if changed:
            self.replan_soon(guild_id)
        return changed

    async def dm_recipients(self, guild_id: int, session_id: str) -> list[int]:
        """Members registered for the session who accept DMs (not `/reminders off`/`mention`)."""
        return await interest_store.dm_recipients(self.store, guild_id, session_id)

    async def mark_dm_closed(self, guild_id: int, user_id: int) -> None:
        """A DM to this member bounced (50007): `/interested` warns them from now on."""
        await prefs_store.set_dm_closed(self.store, guild_id, user_id, True)

    async def count_interested(self, guild_id: int, session_id: str) -> int:
        """How many members registered for the session (shown by `/session`)."""
        return await interest_store.count_interested(self.store, guild_id, session_id)

    async def is_registered(self, guild_id: int, session_id: str, user_id: int) -> bool:
        return await interest_store.is_interested(self.store, guild_id, session_id, user_id)

    async def _registered(
        self,
        guild_id: int,
        session: Session,
        user_id: int,
        changed: bool,
    ) -> Registered:
        prefs = await prefs_store.get_prefs(self.store, guild_id, user_id)
        config = await self._config(guild_id)
        return Registered(
            session=session,
            changed=changed,
            setting=prefs.reminder_setting,
            guild_leads=config.reminder_leads,
            dm_closed=prefs.dm_closed,
            contact=(
                self._contact(guild_id, session, user_id, prefs.reminder_setting)
                if changed
                else None
            ),
        )

    async def register_many(
        self, guild_id: int, session_ids: Sequence[str], user_id: int
    ) -> PickOutcome:
        """The daily post's select: register every chosen session that has not started."""
        now = self.clock()
        found: list[Session] = []
        started: list[Session] = []
        unknown: list[str] = []
        for session_id in dict.fromkeys(session_ids):
            session = await self._session(guild_id, session_id)
            if session is None:
                unknown.append(session_id)
            elif session.start <= now:
                started.append(session)
            else:
                found.append(session)
        added_ids = set(
            await interest_store.add_interests(self.store, guild_id, [s.id for s in found], user_id)
        )
        added = tuple(s for s in found if s.id in added_ids)
        if added:
            self.replan_soon(guild_id)
        return PickOutcome(
            added=added,
            already=tuple(s for s in found if s.id not in added_ids),
            started=tuple(started),
            unknown=tuple(unknown),
            contact=self._contact(guild_id, added[0], user_id) if added else None,
        )

    async def reminder_setting(self, guild_id: int, user_id: int) -> tuple[str, tuple[int, ...]]:
        prefs = await prefs_store.get_prefs(self.store, guild_id, user_id)
        config = await self._config(guild_id)
        return prefs.reminder_setting, config.reminder_leads

    async def set_reminder_setting(
        self, guild_id: int, user_id: int, text: str
    ) -> tuple[str, tuple[int, ...]]:
        """Validate and store `/reminders`; ValueError (listing what is accepted) otherwise."""
        setting = parse_reminder_setting(text)
        await prefs_store.set_reminder_setting(self.store, guild_id, user_id, setting)
        self.replan_soon(guild_id)
        config = await self._config(guild_id)
        return setting, config.reminder_leads

    async def my_sessions(self, guild_id: int, user_id: int) -> MySessions:
        """The member's sessions in time order, cancelled ones apart, and their .ics file."""
        ids = await interest_store.sessions_of(self.store, guild_id, user_id)
        active: list[Session] = []
        cancelled: list[Session] = []
        for session_id in ids:
            session = await self._session(guild_id, session_id)
            if session is not None:
                active.append(session)
                continue
            gone = await self._session(guild_id, session_id, include_cancelled=True)
            if gone is not None:
                cancelled.append(gone)
        active.sort(key=lambda s: (s.start, s.title, s.id))
        cancelled.sort(key=lambda s: (s.start, s.title, s.id))
        setting, leads = await self.reminder_setting(guild_id, user_id)
        prefs = await prefs_store.get_prefs(self.store, guild_id, user_id)
        programme = await self.programme.get_programme(guild_id)
        name = programme.event.name if programme is not None else "QI Week"
        ics = None
        if active:
            ics = sessions_ics(
                active,
                calendar_name=f"{name}: my sessions",
                alarm_minutes=alarm_minutes(setting, leads),
                now=self.clock(),
            )
        return MySessions(
            sessions=tuple(active),
            cancelled=tuple(cancelled),
            setting=setting,
            guild_leads=leads,
            ics=ics,
            ics_name=ics_filename("qiweek-my-sessions"),
            dm_closed=prefs.dm_closed,
        )

    async def registered_sessions(self, guild_id: int, user_id: int) -> list[Session]:
        """Active sessions the member registered for (for `/not-interested` autocomplete)."""
        result = []
        for session_id in await interest_store.sessions_of(self.store, guild_id, user_id):
            session = await self._session(guild_id, session_id, include_cancelled=True)
            if session is not None:
                result.append(session)
        return sorted(result, key=lambda s: (s.start, s.title, s.id))


__all__ = ["InterestService", "MySessions", "PickOutcome", "Registered"]
