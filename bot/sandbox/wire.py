"""Shared wire-level pieces of the fake Discord: permission bits, flags, the parsed request."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .models import RequestRecord

MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 51) - 1
EVERYONE_PERMISSIONS = (
    (1 << 6)  # add reactions
    | (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 14)  # embed links
    | (1 << 15)  # attach files
    | (1 << 16)  # read message history
    | (1 << 18)  # use external emojis
    | (1 << 31)  # use application commands
    | (1 << 38)  # send messages in threads
)
# Manage Messages, Mention Everyone, Manage Events, Create Public Threads, Create Events.
BOT_PERMISSIONS = EVERYONE_PERMISSIONS | (1 << 13) | (1 << 17) | (1 << 33) | (1 << 35) | (1 << 44)
EPHEMERAL = 64
LOADING = 128

Handler = Callable[..., Awaitable[web.StreamResponse]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Req:
    """A parsed REST request handed to route handlers."""

    def __init__(self, request: web.Request, path: str, record: RequestRecord) -> None:
        self.request = request
        self.method = request.method
        self.path = path
        self.query = dict(request.query)
        self.json: Any = record.json
        self.files: list[tuple[str, bytes, str]] = []
        self.record = record
