"""The QI Week programme: sessions, reading them from YAML, CSV or ICS, validation and day queries.

A package of small modules (model, validation, one module per file format behind the registry in
``formats``, diff, days, search); the names other code uses are re-exported here, so
``from bot.programme import Session`` keeps working wherever it is written.
"""

from __future__ import annotations

from bot.programme.days import iso_day, parse_day, weekday_named
from bot.programme.diff import ProgrammeDiff, diff_programmes
from bot.programme.formats import (
    ACCEPTED_EXTENSIONS,
    FORMATS,
    PARSE_TIMEOUT_SECONDS,
    load_programme,
    parse_programme,
    parse_programme_async,
)
from bot.programme.model import (
    ACCEPTED_DAY_FORMS,
    ACCEPTED_TIME_FORMS,
    DAY_RANGE,
    DEFAULT_TIMEZONE,
    EVENT_KEYS,
    IMPACT_COMPONENTS,
    IMPACT_SHORT_NAMES,
    MAX_SESSION_HOURS,
    MAX_TAGS,
    MAX_YEAR,
    MIN_YEAR,
    SESSION_KEYS,
    TEXT_LIMITS,
    DayError,
    Event,
    Problem,
    Programme,
    ProgrammeError,
    Session,
    TzLike,
    combine_local,
    derive_session_id,
    format_local_date,
    localize,
    parse_component,
    resolve_tz,
    slugify,
)
from bot.programme.preflight import ProgrammeWarning, programme_warnings
from bot.programme.search import SessionIndex, search_sessions
from bot.programme.validation import ProgrammeFormat, link_target

__all__ = [
    "ACCEPTED_DAY_FORMS",
    "ACCEPTED_EXTENSIONS",
    "ACCEPTED_TIME_FORMS",
    "DAY_RANGE",
    "DEFAULT_TIMEZONE",
    "EVENT_KEYS",
    "FORMATS",
    "IMPACT_COMPONENTS",
    "IMPACT_SHORT_NAMES",
    "MAX_SESSION_HOURS",
    "MAX_TAGS",
    "MAX_YEAR",
    "MIN_YEAR",
    "PARSE_TIMEOUT_SECONDS",
    "SESSION_KEYS",
    "TEXT_LIMITS",
    "DayError",
    "Event",
    "Problem",
    "Programme",
    "ProgrammeDiff",
    "ProgrammeError",
    "ProgrammeFormat",
    "ProgrammeWarning",
    "Session",
    "SessionIndex",
    "TzLike",
    "combine_local",
    "derive_session_id",
    "diff_programmes",
    "format_local_date",
    "iso_day",
    "link_target",
    "load_programme",
    "localize",
    "parse_component",
    "parse_day",
    "parse_programme",
    "parse_programme_async",
    "programme_warnings",
    "resolve_tz",
    "search_sessions",
    "slugify",
    "weekday_named",
]
