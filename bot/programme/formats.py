"""The registry of programme file formats, keyed by extension, and the entry points that use it.

A new format is one new module exposing a ``FORMAT`` (see :class:`ProgrammeFormat`) plus one line
in ``FORMATS`` below; ``ACCEPTED_EXTENSIONS`` and the "cannot read" message follow from it.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from bot.programme import csv_format, ics_format, yaml_format
from bot.programme.model import Problem, Programme, ProgrammeError, _valid_timezone
from bot.programme.validation import ProgrammeFormat

FORMATS: tuple[ProgrammeFormat, ...] = (
    yaml_format.FORMAT,
    csv_format.FORMAT,
    ics_format.FORMAT,
)
_BY_EXTENSION: dict[str, ProgrammeFormat] = {
    extension: form for form in FORMATS for extension in form.extensions
}
ACCEPTED_EXTENSIONS: tuple[str, ...] = tuple(_BY_EXTENSION)


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
    if _valid_timezone(default_tz) is None:
        raise ProgrammeError(
            [Problem("file", f"unknown default timezone {default_tz!r}")], filename
        )
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
