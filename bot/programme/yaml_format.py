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
    _valid_timezone,
    resolve_tz,
)
from bot.programme.validation import ProgrammeFormat, _build_programme, _Raw, decode_text


def _line(node: yaml.Node) -> str:
    return f"line {node.start_mark.line + 1}"


def _yaml_programme(text: str, filename: str, default_tz: str) -> Programme:
    problems: list[Problem] = []
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            place = f"line {mark.line + 1}" if mark else "file"
            raise ProgrammeError(
                [Problem(place, f"malformed YAML: {exc.problem or exc.context}")], filename
            ) from None
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
                key = str(key_node.value).strip().lower()
                if key == "event":
                    event_node = value_node
                elif key == "sessions":
                    sessions_node = value_node
                else:
                    problems.append(
                        Problem(
                            _line(key_node),
                            f"unknown top-level key {key_node.value!r}: use event and sessions",
                        )
                    )
        else:
            problems.append(Problem(_line(root), "expected a mapping with event: and sessions:"))

        event, zone = _yaml_event(event_node, default_tz, construct, problems)

        raws: list[_Raw] = []
        if isinstance(sessions_node, yaml.SequenceNode):
            for item in sessions_node.value:
                if not isinstance(item, yaml.MappingNode):
                    problems.append(Problem(_line(item), "each session should be a mapping"))
                    continue
                raw = _Raw(place=_line(item))
                for key_node, value_node in item.value:
                    key = str(key_node.value).strip().lower()
                    if key not in SESSION_KEYS:
                        problems.append(
                            Problem(
                                _line(key_node),
                                f"unknown key {key_node.value!r} (accepted: "
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
        key = str(key_node.value).strip().lower()
        if key not in EVENT_KEYS:
            problems.append(
                Problem(
                    _line(key_node),
                    f"unknown event key {key_node.value!r} (accepted: {', '.join(EVENT_KEYS)})",
                )
            )
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
            found = _valid_timezone(text)
            if found is None:
                problems.append(
                    Problem(
                        _line(value_node),
                        f"unknown timezone {text!r}: use an IANA name such as Europe/London",
                    )
                )
                continue
            zone = found
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
