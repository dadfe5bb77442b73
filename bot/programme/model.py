"""The programme's model: sessions, the event, problems, and the time and text helpers they share.

Pure code: no Discord, no database, no clock of its own (``today``/``now`` are passed in), so the
same functions serve the bot, ``python -m bot check``/``preview`` and the tests.

Times are stored in UTC and parsed in the programme's timezone with zoneinfo. A local time that
does not exist (the spring-forward gap) is a problem, because guessing would move a session by an
hour; an ambiguous one (the autumn fall-back hour) is read as its first occurrence (``fold=0``),
which is what a person writing "01:30" on that morning almost always means.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from bot.programme.search import SessionIndex

DEFAULT_TIMEZONE = "Europe/London"
MAX_SESSION_HOURS = 12
#: Session times outside these years are a typo (and near the ends of Python's calendar they would
#: overflow), so they are refused with their place.
MIN_YEAR = 2000
MAX_YEAR = 2099

#: The longest text each field may hold, so that nothing stored can break a render (Discord's
#: limits, see ``bot.render.limits``, are respected by construction). A longer value is a
#: problem with its place, like any other. The choices: titles and hosts fit an embed title
#: (256) and a field; a speaker, a format, a tag and the event's name are short labels;
#: ``join_url`` is Discord's maximum for a link button's url (512), counted after the escaping
#: a markdown link needs (see :func:`link_target`); a description fits one embed description
#: (4,096) with room for "(continued)" notes; the theme and hashtag sit in every daily post.
TEXT_LIMITS: dict[str, int] = {
    "title": 200,
    "host": 200,
    "speaker": 100,
    "format": 50,
    "join_url": 512,
    "description": 4000,
    "tag": 40,
    "event name": 100,
    "event theme": 300,
    "event hashtag": 100,
    "event description": 1000,
}
#: At most this many problems are listed when a file is refused, then "and N more".
MAX_PROBLEMS_LISTED = 50
#: At most this many tags per session (they share one 1,024-character embed field).
MAX_TAGS = 20
SLUG_MAX = 60
ACCEPTED_TIME_FORMS = (
    "YYYY-MM-DD HH:MM (local time, e.g. 2026-09-14 12:30) "
    "or ISO 8601 with an offset (e.g. 2026-09-14T12:30+01:00)"
)
DAY_RANGE = f"give a date from {MIN_YEAR}-01-01 to {MAX_YEAR}-12-31"
ACCEPTED_DAY_FORMS = (
    "today, tomorrow, a weekday (Monday or Mon, in the event's week), "
    "or a date as YYYY-MM-DD (e.g. 2026-09-14)"
)

#: The five components of the NHS IMPACT framework, as QI Week 2024 used them.
IMPACT_COMPONENTS: dict[int, str] = {
    1: "Building a shared purpose and vision",
    2: "Investing in people and culture",
    3: "Developing leadership behaviours",
    4: "Building improvement capability and capacity",
    5: "Embedding improvement into management systems and processes",
}
#: Short labels for lists where the full names would crowd a phone screen.
IMPACT_SHORT_NAMES: dict[int, str] = {
    1: "Shared purpose and vision",
    2: "People and culture",
    3: "Leadership behaviours",
    4: "Capability and capacity",
    5: "Improvement in management systems",
}
# Words that identify one component ("building", "improvement" are shared, so decide nothing).
_COMPONENT_KEYWORDS: dict[int, frozenset[str]] = {
    1: frozenset({"shared", "purpose", "vision"}),
    2: frozenset({"investing", "people", "culture"}),
    3: frozenset({"developing", "leadership", "behaviour", "behavior"}),
    4: frozenset({"capability", "capacity"}),
    5: frozenset({"embedding", "management", "system", "process"}),
}

TzLike = tzinfo | str | None

SESSION_KEYS = (
    "id",
    "title",
    "start",
    "end",
    "duration_minutes",
    "host",
    "speakers",
    "format",
    "join_url",
    "description",
    "components",
    "tags",
)
EVENT_KEYS = ("name", "theme", "timezone", "hashtag", "description")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class Session:
    """One programme session; ``start``/``end`` are timezone-aware and normalised to UTC."""

    id: str
    title: str
    start: datetime
    end: datetime
    host: str = ""
    speakers: tuple[str, ...] = ()
    format: str = ""
    join_url: str = ""
    description: str = ""
    components: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Naive datetimes here are always a bug upstream: refuse them rather than guess a zone.
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Session.{name} must be timezone-aware, got {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        object.__setattr__(self, "speakers", tuple(self.speakers))
        object.__setattr__(self, "components", tuple(self.components))
        object.__setattr__(self, "tags", tuple(self.tags))

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def duration_minutes(self) -> int:
        return int(self.duration.total_seconds() // 60)

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(IMPACT_COMPONENTS[c] for c in self.components if c in IMPACT_COMPONENTS)

    def local_start(self, tz: TzLike = None) -> datetime:
        return self.start.astimezone(resolve_tz(tz))

    def local_end(self, tz: TzLike = None) -> datetime:
        return self.end.astimezone(resolve_tz(tz))

    def local_date(self, tz: TzLike = None) -> date:
        """The day the session belongs to in ``tz`` (the day it starts)."""
        return self.local_start(tz).date()

    def has_ended(self, now: datetime) -> bool:
        return self.end <= now

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly mapping (ISO times in UTC), e.g. for storage."""
        return {
            "id": self.id,
            "title": self.title,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "host": self.host,
            "speakers": list(self.speakers),
            "format": self.format,
            "join_url": self.join_url,
            "description": self.description,
            "components": list(self.components),
            "tags": list(self.tags),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Session:
        """Inverse of :meth:`to_dict`; trusts its input (it came from us)."""
        return cls(
            id=data["id"],
            title=data["title"],
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            host=data.get("host", ""),
            speakers=tuple(data.get("speakers", ())),
            format=data.get("format", ""),
            join_url=data.get("join_url", ""),
            description=data.get("description", ""),
            components=tuple(data.get("components", ())),
            tags=tuple(data.get("tags", ())),
        )


@dataclass(frozen=True)
class Event:
    """What the week is called and where it happens in time; the file may override each field."""

    name: str = "QI Week"
    theme: str = ""
    timezone: str = DEFAULT_TIMEZONE
    hashtag: str = "#QIWeek"
    description: str = ""


@dataclass(frozen=True)
class Programme:
    """An event and its sessions, always sorted by (start, title) so every list reads in order."""

    event: Event = field(default_factory=Event)
    sessions: tuple[Session, ...] = ()
    #: Where each session came from in its file (``line 12``, ``row 3``), by id, when it was read
    #: from one: warnings name it. Not part of equality (a stored programme has none).
    places: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.sessions, key=lambda s: (s.start, s.title, s.id)))
        object.__setattr__(self, "sessions", ordered)

    @cached_property
    def _by_id(self) -> dict[str, Session]:
        return {s.id: s for s in self.sessions}

    @cached_property
    def index(self) -> SessionIndex:
        """A search index built once per programme (autocomplete runs on every keystroke)."""
        from bot.programme.search import SessionIndex  # search builds on the model

        return SessionIndex(self.sessions)

    def _tz(self, tz: TzLike) -> tzinfo:
        return resolve_tz(tz if tz is not None else self.event.timezone)

    def get(self, session_id: str) -> Session | None:
        return self._by_id.get(session_id)

    def place_of(self, session: Session) -> str:
        """Where ``session`` is in its file (``line 12``), else its id (``session mon-cafe``)."""
        return self.places.get(session.id) or f"session {session.id}"

    @cached_property
    def _by_day(self) -> dict[tzinfo, dict[date, tuple[Session, ...]]]:
        """Per timezone, the sessions of each local date (filled by `_days_in`)."""
        return {}

    def _days_in(self, zone: tzinfo) -> dict[date, tuple[Session, ...]]:
        """The sessions by local date in ``zone``, worked out once per programme and zone (the
        programme is immutable; every `/programme`, share and plan asks for them)."""
        found = self._by_day.get(zone)
        if found is None:
            grouped: dict[date, list[Session]] = {}
            for session in self.sessions:  # already in time order
                grouped.setdefault(session.local_date(zone), []).append(session)
            found = {day: tuple(grouped[day]) for day in sorted(grouped)}
            self._by_day[zone] = found
        return found

    def days(self, tz: TzLike = None) -> list[date]:
        """Sorted local dates that have at least one session."""
        return list(self._days_in(self._tz(tz)))

    def sessions_on(self, day: date, tz: TzLike = None) -> list[Session]:
        """Sessions starting on ``day`` in ``tz``, in time order."""
        return list(self._days_in(self._tz(tz)).get(day, ()))

    def next_day_with_sessions(self, after: date, tz: TzLike = None) -> date | None:
        """The first day strictly after ``after`` with sessions, or None when the event is over."""
        return next((d for d in self.days(tz) if d > after), None)

    def event_week(self, tz: TzLike = None) -> tuple[date, date] | None:
        """Monday to Friday of the week holding every session, else first to last session date.

        None when the programme is empty.
        """
        days = self.days(tz)
        if not days:
            return None
        first, last = days[0], days[-1]
        monday = first - timedelta(days=first.weekday())
        friday = monday + timedelta(days=4)
        if last <= friday:
            return monday, friday
        return first, last


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a programme file, and where (``line 12``, ``row 3``, ``event 2``)."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}"


class ProgrammeError(Exception):
    """A programme file was refused; ``problems`` lists the problems found, not just the first.

    At most ``MAX_PROBLEMS_LISTED`` are kept (a file with thousands of bad rows would otherwise
    flood the answer); ``total`` counts them all and a last line says how many more there are.
    """

    def __init__(self, problems: Sequence[Problem], filename: str | None = None) -> None:
        found = list(problems)
        self.total = len(found)
        self.problems: list[Problem] = found[:MAX_PROBLEMS_LISTED]
        more = self.total - len(self.problems)
        if more:
            self.problems.append(
                Problem("…", f"and {more:,} more problem{'s' if more != 1 else ''} not listed")
            )
        self.filename = filename
        head = f"{filename}: " if filename else ""
        head += f"{self.total:,} problem{'s' if self.total != 1 else ''} in the programme"
        super().__init__("\n".join([head, *(f"- {p}" for p in self.problems)]))


class DayError(ValueError):
    """A ``day`` option that could not be read; the message says what is accepted."""


# --------------------------------------------------------------------------- helpers


def resolve_tz(tz: TzLike, default: str = DEFAULT_TIMEZONE) -> tzinfo:
    """A tzinfo from a ZoneInfo, an IANA name, or None (the default zone)."""
    if tz is None or tz == "":
        return ZoneInfo(default)
    if isinstance(tz, tzinfo):
        return tz
    return ZoneInfo(tz)


class _GapError(ValueError):
    pass


def localize(naive: datetime, tz: TzLike) -> datetime:
    """Attach ``tz`` to a wall-clock time, DST-correct, returning UTC.

    A time in the spring-forward gap raises ValueError (it never happens on the clock); an
    ambiguous autumn time is taken as its first occurrence (fold=0).
    """
    zone = resolve_tz(tz)
    aware = naive.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if back != naive.replace(tzinfo=None, fold=0):
        raise _GapError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone} (the clocks go forward then)"
        )
    return aware.astimezone(UTC)


def format_local_date(day: date, *, year: bool = False) -> str:
    """'Monday 14 September' (with the year when asked): dates read as people say them."""
    text = f"{day:%A} {day.day} {day:%B}"
    return f"{text} {day.year}" if year else text


def slugify(text: str, max_length: int = SLUG_MAX) -> str:
    """Lowercase ``[a-z0-9-]`` slug, accents folded, cut at a hyphen to at most ``max_length``."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(slug) > max_length:
        cut = slug[:max_length]
        if slug[max_length] != "-" and "-" in cut:
            cut = cut[: cut.rfind("-")]
        slug = cut.strip("-")
    return slug


def derive_session_id(title: str, start: datetime, tz: TzLike) -> str:
    """Stable id for a session without one: local start, then title (2026-09-14-1230-qi-cafe)."""
    local = start.astimezone(resolve_tz(tz))
    return slugify(f"{local:%Y-%m-%d-%H%M}-{title}")


def _fold(text: str) -> str:
    """Case- and accent-insensitive form, so 'cafe' finds 'QI café'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _component_words(text: str) -> set[str]:
    words = re.findall(r"[a-z]+", _fold(text))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def parse_component(value: object) -> int | None:
    """An IMPACT component number from 1-5, '3', 'Component 3' or a (roughly worded) name."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in IMPACT_COMPONENTS else None
    text = str(value).strip()
    match = re.fullmatch(r"(?:component\s*)?([0-9]+)\.?", text, flags=re.IGNORECASE)
    if match:
        number = int(match.group(1))
        return number if number in IMPACT_COMPONENTS else None
    words = _component_words(text)
    if not words:
        return None
    hits = [n for n, keys in _COMPONENT_KEYWORDS.items() if words & keys]
    return hits[0] if len(hits) == 1 else None


def combine_local(day: date, at: time, tz: TzLike) -> datetime:
    """UTC instant of a local wall-clock time on ``day`` (a time in the DST gap moves forward)."""
    zone = resolve_tz(tz)
    naive = datetime.combine(day, at)
    try:
        return localize(naive, zone)
    except ValueError:
        # fold=0 reads a gap time with the pre-transition offset: 01:30 becomes 02:30 BST.
        return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
