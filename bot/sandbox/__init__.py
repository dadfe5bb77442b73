"""A wire-level fake Discord server for end-to-end tests of the real discord.py client.

Usage::

    fake = FakeDiscord()
    await fake.start()
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    ...
    await fake.stop()
"""

from .models import AttachmentUpload, FakeGuild, FakeUser, Interaction, Rejection, RequestRecord
from .server import FakeDiscord

__all__ = [
    "AttachmentUpload",
    "FakeDiscord",
    "FakeGuild",
    "FakeUser",
    "Interaction",
    "Rejection",
    "RequestRecord",
]
