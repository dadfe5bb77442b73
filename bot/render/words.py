"""Small wording helpers shared by every renderer."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 message', '2 messages' ('2 people' with ``many``)."""
    if count == 1:
        return f"{count} {word}"
    return f"{count} {many if many is not None else word + 's'}"


__all__ = ["plural"]
