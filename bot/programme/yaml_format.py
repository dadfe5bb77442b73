"""Programme files in YAML: ``event:`` and ``sessions:``, or a bare list of sessions.

Read node by node (not with ``safe_load``) so every problem keeps the line it came from.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

import yaml

from bot.programme.model import (
    EVENT_KEYS,
    SESSION_KEYS,
    TEXT_LIMITS,
    Event,
    Problem,
    Programme,
    ProgrammeError,
    resolve_tz,
)
from bot.programme.validation import (
    MAX_SESSIONS,
    ProgrammeFormat,
    _build_programme,
    _Raw,
    _short,
    decode_text,
    too_many_sessions,
)
from bot.timezones import TimezoneError, check_timezone


def _line(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


#: Deeper than this is no programme (a session's list of speakers is 4 levels down), and much
#: deeper would exhaust PyYAML's recursive composer (RecursionError).
MAX_DEPTH = 20
_TOO_DEEP = (
    f"nested more than {MAX_DEPTH} levels deep: a programme is a list of sessions, each a "
    "mapping of plain values"
)
#: Keys whose value may be a list of plain values; every other value must be one plain value.
LIST_KEYS = frozenset({"speakers", "components", "tags"})


class _Refused(yaml.MarkedYAMLError):
    """A YAML feature a programme never needs and a hostile file could abuse."""


class _Loader(yaml.SafeLoader):
    """SafeLoader without aliases and with a depth limit.

    Aliases (``*name``) are how a 1 KB file becomes billions of values ("billion laughs"): a
    programme has no use for them, so the first one is refused with its line. Composing is
    recursive in PyYAML, so nesting is capped well before Python's recursion limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def _refuse_deep_flow(self) -> None:
        # PyYAML's scanner reads a whole run of "[[[[..." before the composer sees the first
        # one, and in quadratic time (one pending simple key per level): refuse it here.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(problem=_TOO_DEEP, problem_mark=self.get_mark())

    def fetch_flow_sequence_start(self) -> None:
        self._refuse_deep_flow()
        super().fetch_flow_sequence_start()  # type: ignore[no-untyped-call]

    def fetch_flow_mapping_start(self) -> None:
        self._refuse_deep_flow()
        super().fetch_flow_mapping_start()  # type: ignore[no-untyped-call]

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _Refused(
                problem="aliases (*name) are not accepted: write each value out in full",
                problem_mark=self.peek_event().start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise _Refused(problem=_TOO_DEEP, problem_mark=self.peek_event().start_mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def _key(node: yaml.Node, problems: list[Problem]) -> str | None:
    """A mapping key as lower-case text; a problem (and None) for a list or mapping as a key."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value).strip().lower()
    problems.append(Problem(_line(node), "a key should be a plain name, not a list or mapping"))
    return None


def _shown_key(node: yaml.Node) -> str:
    return _short(str(node.value), 60)


def _plain(node: yaml.Node, key: str, problems: list[Problem]) -> bool:
    """Whether ``node`` has the shape ``key`` accepts (checked before anything is built, so a
    nested structure is never constructed, let alone turned into text)."""
    if isinstance(node, yaml.ScalarNode):
        return True
    if (
        key in LIST_KEYS
        and isinstance(node, yaml.SequenceNode)
        and all(isinstance(item, yaml.ScalarNode) for item in node.value)
    ):
        return True
    wanted = "text or a list of plain values" if key in LIST_KEYS else "one plain value"
    problems.append(Problem(_line(node), f"{key} should be {wanted}, not a list or mapping"))
    return False


def _yaml_programme(text: str, filename: str, default_tz: str) -> Programme:
    problems: list[Problem] = []
    loader = _Loader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            place = f"line {mark.line + 1}" if mark else "file"
            what = exc.problem or exc.context
            message = str(what) if isinstance(exc, _Refused) else f"malformed YAML: {what}"
            raise ProgrammeError([Problem(place, message)], filename) from None
        except yaml.YAMLError as exc:
            raise ProgrammeError([Problem("file", f"malformed YAML: {exc}")], filename) from None

        def construct(node: yaml.Node, what: str) -> Any:
            try:
                return loader.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
                problems.append(Problem(_line(node), f"{what} cannot be read: {exc}"))
                return None

        event_node: yaml.Node | None = None
        sessions_node: yaml.Node | None = None
        if root is None:
            pass
        elif isinstance(root, yaml.SequenceNode):
            sessions_node = root
        elif isinstance(root, yaml.MappingNode):
            for key_node, value_node in root.value:
                key = _key(key_node, problems)
                if key is None:
                    continue
                if key == "event":
                    event_node = value_node
                elif key == "sessions":
                    sessions_node = value_node
                else:
                    problems.append(
                        Problem(
                            _line(key_node),
                            f"unknown top-level key {_shown_key(key_node)!r}: "
                            "use event and sessions",
                        )
                    )
        else:
            problems.append(Problem(_line(root), "expected a mapping with event: and sessions:"))

        event, zone = _yaml_event(event_node, default_tz, construct, problems)

        raws: list[_Raw] = []
        if isinstance(sessions_node, yaml.SequenceNode):
            if len(sessions_node.value) > MAX_SESSIONS:
                raise ProgrammeError(
                    [too_many_sessions(_line(sessions_node), len(sessions_node.value))], filename
                )
            for item in sessions_node.value:
                if not isinstance(item, yaml.MappingNode):
                    problems.append(Problem(_line(item), "each session should be a mapping"))
                    continue
                raw = _Raw(place=_line(item))
                for key_node, value_node in item.value:
                    key = _key(key_node, problems)
                    if key is None:
                        continue
                    if key not in SESSION_KEYS:
                        problems.append(
                            Problem(
                                _line(key_node),
                                f"unknown key {_shown_key(key_node)!r} (accepted: "
                                f"{', '.join(SESSION_KEYS)})",
                            )
                        )
                        continue
                    if key in raw.places:
                        problems.append(
                            Problem(
                                _line(key_node),
                                f"{key} is given twice (first at {raw.places[key]})",
                            )
                        )
                        continue
                    raw.places[key] = _line(value_node)
                    if not _plain(value_node, key, problems):
                        raw.refused.add(key)
                        continue
                    raw.values[key] = construct(value_node, key)
                    raw.places[key] = _line(value_node)
                raws.append(raw)
        elif sessions_node is not None and not (
            isinstance(sessions_node, yaml.ScalarNode) and sessions_node.value in ("", "~", "null")
        ):
            problems.append(Problem(_line(sessions_node), "sessions should be a list"))
    finally:
        loader.dispose()
    return _build_programme(raws, event, zone, problems, filename)


def _yaml_event(
    node: yaml.Node | None, default_tz: str, construct: Any, problems: list[Problem]
) -> tuple[Event, tzinfo]:
    zone = resolve_tz(default_tz)
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
        return Event(timezone=default_tz), zone
    if not isinstance(node, yaml.MappingNode):
        problems.append(Problem(_line(node), "event should be a mapping"))
        return Event(timezone=default_tz), zone
    values: dict[str, str] = {}
    for key_node, value_node in node.value:
        key = _key(key_node, problems)
        if key is None:
            continue
        if key not in EVENT_KEYS:
            problems.append(
                Problem(
                    _line(key_node),
                    f"unknown event key {_shown_key(key_node)!r} "
                    f"(accepted: {', '.join(EVENT_KEYS)})",
                )
            )
            continue
        if not _plain(value_node, f"event {key}", problems):
            continue
        value = construct(value_node, f"event {key}")
        text = "" if value is None else str(value).strip()
        limit = TEXT_LIMITS.get(f"event {key}")
        if limit is not None and len(text) > limit:
            problems.append(
                Problem(
                    _line(value_node),
                    f"event {key} is {len(text):,} characters; at most {limit:,} "
                    "(keep it within what Discord shows)",
                )
            )
            continue
        if key == "timezone" and text:
            try:
                text = check_timezone(text)
            except TimezoneError as exc:
                problems.append(Problem(_line(value_node), str(exc)))
                continue
            zone = resolve_tz(text)
        values[key] = text
    hashtag = values.get("hashtag", "").strip()
    if hashtag and not hashtag.startswith("#"):
        hashtag = "#" + hashtag
    event = Event(
        name=values.get("name") or "QI Week",
        theme=values.get("theme", ""),
        timezone=values.get("timezone") or default_tz,
        hashtag=hashtag or "#QIWeek",
        description=values.get("description", ""),
    )
    return event, zone


def _read(data: bytes, filename: str, default_tz: str) -> Programme:
    return _yaml_programme(decode_text(data, filename), filename, default_tz)


FORMAT = ProgrammeFormat(label="YAML", extensions=(".yaml", ".yml"), parse=_read)
