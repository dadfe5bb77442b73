"""Errors whose message is meant for the member who ran the command.

Cogs raise these for bad option values and refusals; the tree's single error handler turns them
into an ephemeral answer. Anything else is a bug: logged with a traceback, and the member gets a
short apology.
"""

from __future__ import annotations

from discord import app_commands


class UserFacingError(app_commands.AppCommandError):
    """A problem the member can fix; `str(error)` is shown to them as is."""


class NotOrganiser(app_commands.CheckFailure):
    """The member is neither an organiser nor holds Manage Server."""
