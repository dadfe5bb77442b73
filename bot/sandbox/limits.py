"""Validation of bot payloads against Discord's documented limits.

Each validator returns a Discord-style nested ``errors`` dict (empty when the payload is valid),
as found in a ``{"code": 50035, "message": "Invalid Form Body", "errors": ...}`` response.
"""

from __future__ import annotations

import re
from typing import Any

Errors = dict[str, Any]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
NONCE_MAX = 25
MENTION_IDS_MAX = 100
COMMAND_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


def _err(code: str, message: str) -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": message}]}


def _too_long(limit: int) -> dict[str, Any]:
    return _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _too_many(limit: int) -> dict[str, Any]:
    return _err("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _set(errors: Errors, path: list[str | int], leaf: dict[str, Any]) -> None:
    node = errors
    for key in path[:-1]:
        node = node.setdefault(str(key), {})
    node[str(path[-1])] = leaf


def _check_len(errors: Errors, path: list[str | int], value: Any, limit: int, lo: int = 0) -> None:
    if value is None:
        return
    text = str(value)
    if len(text) > limit:
        _set(errors, path, _too_long(limit))
    elif len(text) < lo:
        _set(errors, path, _err("BASE_TYPE_MIN_LENGTH", f"Must be {lo} or more in length."))


def embed_chars(embed: dict[str, Any]) -> int:
    """Count the characters Discord sums towards the 6,000 per-message embed limit."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for field in embed.get("fields") or []:
        total += len(field.get("name") or "") + len(field.get("value") or "")
    return total


def validate_embeds(embeds: Any, errors: Errors, prefix: list[str | int] | None = None) -> None:
    """Check the list of embeds of one message."""
    prefix = prefix or ["embeds"]
    if embeds is None:
        return
    if len(embeds) > EMBEDS_MAX:
        _set(errors, prefix, _too_many(EMBEDS_MAX))
        return
    total = 0
    for i, embed in enumerate(embeds):
        p = [*prefix, i]
        _check_len(errors, [*p, "title"], embed.get("title"), 256)
        _check_len(errors, [*p, "description"], embed.get("description"), 4096)
        _check_len(errors, [*p, "footer", "text"], (embed.get("footer") or {}).get("text"), 2048)
        _check_len(errors, [*p, "author", "name"], (embed.get("author") or {}).get("name"), 256)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            _set(errors, [*p, "fields"], _too_many(25))
        for j, field in enumerate(fields):
            _check_len(errors, [*p, "fields", j, "name"], field.get("name"), 256, lo=1)
            _check_len(errors, [*p, "fields", j, "value"], field.get("value"), 1024, lo=1)
        total += embed_chars(embed)
    if total > EMBED_TOTAL_MAX:
        _set(
            errors,
            prefix,
            _err(
                "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
            ),
        )


def _validate_custom_id(errors: Errors, path: list[str | int], custom_id: Any) -> None:
    if custom_id is None:
        return
    _check_len(errors, path, custom_id, 100, lo=1)


def _validate_component(errors: Errors, path: list[str | int], comp: dict[str, Any]) -> None:
    ctype = comp.get("type")
    if ctype == 1:
        children = comp.get("components") or []
        selects = [c for c in children if c.get("type") in (3, 5, 6, 7, 8)]
        if len(children) > 5:
            _set(errors, [*path, "components"], _too_many(5))
        if selects and len(children) > 1:
            _set(
                errors,
                [*path, "components"],
                _err(
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                ),
            )
        for i, child in enumerate(children):
            _validate_component(errors, [*path, "components", i], child)
    elif ctype == 2:
        if comp.get("style") not in (5, 6):
            _validate_custom_id(errors, [*path, "custom_id"], comp.get("custom_id"))
            if not comp.get("custom_id"):
                _set(
                    errors,
                    [*path, "custom_id"],
                    _err("BASE_TYPE_REQUIRED", "This field is required"),
                )
        _check_len(errors, [*path, "label"], comp.get("label"), 80)
    elif ctype in (3, 5, 6, 7, 8):
        _validate_custom_id(errors, [*path, "custom_id"], comp.get("custom_id"))
        options = comp.get("options") or []
        if len(options) > 25:
            _set(errors, [*path, "options"], _too_many(25))
        for i, opt in enumerate(options):
            _check_len(errors, [*path, "options", i, "label"], opt.get("label"), 100, lo=1)
            _check_len(errors, [*path, "options", i, "value"], opt.get("value"), 100, lo=1)
            _check_len(errors, [*path, "options", i, "description"], opt.get("description"), 100)
        _check_len(errors, [*path, "placeholder"], comp.get("placeholder"), 150)
    elif ctype == 4:
        _validate_custom_id(errors, [*path, "custom_id"], comp.get("custom_id"))
        max_length = comp.get("max_length")
        if max_length is not None and max_length > 4000:
            _set(
                errors,
                [*path, "max_length"],
                _err("NUMBER_TYPE_MAX", "int value should be <= 4000."),
            )
        _check_len(errors, [*path, "label"], comp.get("label"), 45)
        _check_len(errors, [*path, "value"], comp.get("value"), 4000)
        _check_len(errors, [*path, "placeholder"], comp.get("placeholder"), 100)
    elif ctype == 18:  # label wrapping one component (modals)
        _check_len(errors, [*path, "label"], comp.get("label"), 45)
        inner = comp.get("component")
        if inner:
            _validate_component(errors, [*path, "component"], inner)
    else:
        for key in ("components",):
            for i, child in enumerate(comp.get(key) or []):
                _validate_component(errors, [*path, key, i], child)
        if comp.get("accessory"):
            _validate_component(errors, [*path, "accessory"], comp["accessory"])


def validate_components(components: Any, errors: Errors, *, modal: bool = False) -> None:
    """Check top-level components: 5 action rows, 5 buttons per row, custom ids, selects."""
    if components is None:
        return
    top_level_limit = 5
    if len(components) > top_level_limit and not modal:
        _set(errors, ["components"], _too_many(top_level_limit))
    for i, comp in enumerate(components):
        _validate_component(errors, ["components", i], comp)
    # Discord: "Multiple components on the same message must not share the same custom_id."
    seen: set[str] = set()
    for custom_id in _custom_ids(components):
        if custom_id in seen:
            _set(
                errors,
                ["components"],
                _err("COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"),
            )
            break
        seen.add(custom_id)


def _custom_ids(components: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    stack = list(components)
    while stack:
        comp = stack.pop(0)
        if not isinstance(comp, dict):
            continue
        if isinstance(comp.get("custom_id"), str):
            found.append(comp["custom_id"])
        stack.extend(comp.get("components") or [])
        for key in ("accessory", "component"):
            if isinstance(comp.get(key), dict):
                stack.append(comp[key])
    return found


def validate_allowed_mentions(am: Any, errors: Errors) -> None:
    """Check allowed_mentions: lists of at most 100 ids, no overlap with ``parse``."""
    if not am:
        return
    parse = am.get("parse") or []
    for key in ("users", "roles"):
        ids = am.get(key)
        if ids is None:
            continue
        if len(ids) > MENTION_IDS_MAX:
            _set(errors, ["allowed_mentions", key], _too_many(MENTION_IDS_MAX))
        if ids and key in parse:
            _set(
                errors,
                ["allowed_mentions"],
                _err(
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", f"parse:[{key}] and {key}: [ids] "
                ),
            )


def validate_message(payload: dict[str, Any]) -> Errors:
    """Validate a message create/edit payload (channel message, interaction or webhook)."""
    errors: Errors = {}
    content = payload.get("content")
    if content is not None and len(str(content)) > CONTENT_MAX:
        _set(errors, ["content"], _too_long(CONTENT_MAX))
    validate_embeds(payload.get("embeds"), errors)
    validate_components(payload.get("components"), errors)
    validate_allowed_mentions(payload.get("allowed_mentions"), errors)
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > NONCE_MAX:
        _set(errors, ["nonce"], _err("BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {NONCE_MAX}"))
    return errors


def is_empty_message(payload: dict[str, Any], n_files: int) -> bool:
    """True when a new message would have no content at all (Discord error 50006)."""
    keys = ("content", "embeds", "components", "sticker_ids", "poll")
    return n_files == 0 and not any(payload.get(k) for k in keys)


def validate_choices(choices: Any) -> Errors:
    """Validate autocomplete (type 8) choices."""
    errors: Errors = {}
    choices = choices or []
    if len(choices) > 25:
        _set(errors, ["data", "choices"], _too_many(25))
    for i, choice in enumerate(choices):
        _check_len(errors, ["data", "choices", i, "name"], choice.get("name"), 100, lo=1)
        value = choice.get("value")
        if isinstance(value, str):
            _check_len(errors, ["data", "choices", i, "value"], value, 100)
    return errors


def validate_modal(data: dict[str, Any]) -> Errors:
    """Validate a modal (type 9) callback."""
    errors: Errors = {}
    _check_len(errors, ["data", "title"], data.get("title"), 45, lo=1)
    _check_len(errors, ["data", "custom_id"], data.get("custom_id"), 100, lo=1)
    comps = data.get("components") or []
    if not 1 <= len(comps) <= 5:
        _set(
            errors, ["data", "components"], _err("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5")
        )
    sub: Errors = {}
    validate_components(comps, sub, modal=True)
    if sub:
        errors.setdefault("data", {}).update(sub)
    return errors


def validate_commands(commands: list[dict[str, Any]]) -> Errors:
    """Validate a bulk application command overwrite."""
    errors: Errors = {}
    for i, cmd in enumerate(commands):
        name = cmd.get("name") or ""
        ctype = cmd.get("type", 1)
        if ctype == 1 and not COMMAND_NAME_RE.match(name):
            _set(errors, [i, "name"], _err("APPLICATION_COMMAND_INVALID_NAME", "Invalid name"))
        elif ctype == 1 and name != name.lower():
            _set(
                errors,
                [i, "name"],
                _err("APPLICATION_COMMAND_INVALID_NAME", "Name must be lowercase"),
            )
        if ctype != 1:
            _check_len(errors, [i, "name"], name, 32, lo=1)
        else:
            _check_len(errors, [i, "description"], cmd.get("description"), 100, lo=1)
        _validate_options(errors, [i, "options"], cmd.get("options") or [])
    return errors


def _validate_options(errors: Errors, path: list[str | int], options: list[dict[str, Any]]) -> None:
    if len(options) > 25:
        _set(errors, path, _too_many(25))
    for j, opt in enumerate(options):
        p = [*path, j]
        if not COMMAND_NAME_RE.match(opt.get("name") or "") or opt["name"] != opt["name"].lower():
            _set(errors, [*p, "name"], _err("APPLICATION_COMMAND_INVALID_NAME", "Invalid name"))
        _check_len(errors, [*p, "description"], opt.get("description"), 100, lo=1)
        choices = opt.get("choices") or []
        if len(choices) > 25:
            _set(errors, [*p, "choices"], _too_many(25))
        if opt.get("max_length") is not None and opt["max_length"] > 6000:
            _set(
                errors, [*p, "max_length"], _err("NUMBER_TYPE_MAX", "int value should be <= 6000.")
            )
        if opt.get("type") in (1, 2):
            _validate_options(errors, [*p, "options"], opt.get("options") or [])
