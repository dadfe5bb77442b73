"""The registry of programme file formats, keyed by extension, and the entry points that use it.

A new format is one new module exposing a ``FORMAT`` (see :class:`ProgrammeFormat`) plus one line
in ``FORMATS`` below; ``ACCEPTED_EXTENSIONS`` and the "cannot read" message follow from it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path, PurePath

from bot.programme import csv_format, ics_format, yaml_format
from bot.programme.model import Problem, Programme, ProgrammeError
from bot.programme.validation import ProgrammeFormat
from bot.timezones import TimezoneError, check_timezone

FORMATS: tuple[ProgrammeFormat, ...] = (
    yaml_format.FORMAT,
    csv_format.FORMAT,
    ics_format.FORMAT,
)
_BY_EXTENSION: dict[str, ProgrammeFormat] = {
    extension: form for form in FORMATS for extension in form.extensions
}
ACCEPTED_EXTENSIONS: tuple[str, ...] = tuple(_BY_EXTENSION)
#: How long reading an uploaded file may take before it is refused. Every format is bounded by
#: construction (size, sessions, nesting, no aliases, no VTIMEZONE expansion), so this is a
#: backstop that keeps the answer prompt, not the thing that makes a hostile file harmless.
PARSE_TIMEOUT_SECONDS = 10.0


def _accepted_text() -> str:
    """'.yaml/.yml, .csv or .ics': each format's extensions, as a person would list them."""
    names = ["/".join(form.extensions) for form in FORMATS]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def format_for(filename: str) -> ProgrammeFormat | None:
    """The format that reads ``filename`` (by its extension, any case), or None."""
    return _BY_EXTENSION.get(PurePath(filename).suffix.lower())


def parse_programme(data: bytes, filename: str, default_tz: str) -> Programme:
    """Read a programme file's bytes (format by extension); ProgrammeError lists every problem."""
    form = format_for(filename)
    if form is None:
        suffix = PurePath(filename).suffix.lower()
        raise ProgrammeError(
            [
                Problem(
                    "file",
                    f"cannot read {suffix or 'a file without an extension'}: "
                    f"use a {_accepted_text()} file",
                )
            ],
            filename,
        )
    try:
        default_tz = check_timezone(default_tz)
    except TimezoneError as exc:
        raise ProgrammeError([Problem("file", f"default timezone: {exc}")], filename) from None
    return form.parse(data, filename, default_tz)


def load_programme(path: str | Path, default_tz: str) -> Programme:
    """Read and parse a programme file from disk."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProgrammeError(
            [Problem("file", f"cannot read {path}: {exc.strerror or exc}")], str(path)
        ) from None
    return parse_programme(data, str(path), default_tz)


async def parse_programme_async(
    data: bytes,
    filename: str,
    tz: str,
    *,
    timeout: float = PARSE_TIMEOUT_SECONDS,  # noqa: ASYNC109 (it bounds a worker thread)
) -> Programme:
    """:func:`parse_programme` off the event loop, refused with a problem after ``timeout`` s.

    The parse runs in a worker thread so the bot keeps answering everyone else. A thread cannot
    be stopped from outside: on a timeout it finishes in the background and its result is
    dropped; that is acceptable only because each format's work is bounded by the file's size.
    """
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(parse_programme, data, filename, tz), timeout
        )
    except TimeoutError:
        raise ProgrammeError(
            [
                Problem(
                    "file",
                    f"took more than {timeout:g} seconds to read, so it was refused: "
                    "split it or simplify it",
                )
            ],
            filename,
        ) from None
