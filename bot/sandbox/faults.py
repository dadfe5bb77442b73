"""Fault injection for the fake Discord: errors, dropped connections, delays, rate limits."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from aiohttp import web

from .models import (
    Delay,
    FakeUser,
    Fault,
)
from .wire import (
    _Req,
)

if TYPE_CHECKING:
    from .server import FakeDiscord


class FaultsMixin:
    """Faults a test injects, and the responses they produce; mixed into :class:`FakeDiscord`."""

    # ----------------------------------------------------------------- faults

    def inject(
        self: FakeDiscord,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        retry_after: float | None = None,
        code: int | None = None,
        message: str | None = None,
    ) -> Fault:
        """Answer the next ``times`` requests matching (method, path regex) with ``status``."""
        fault = Fault(
            method.upper(), re.compile(path_regex), status, times, retry_after, code, message
        )
        self._faults.append(fault)
        return fault

    def drop(self: FakeDiscord, method: str, path_regex: str, times: int = 1) -> Fault:
        """Close the connection of the next ``times`` matching requests without answering.

        The request is not handled (nothing is stored), as when a connection drops on the way;
        the client sees a server disconnect. Recorded with status 444.
        """
        return self.inject(method, path_regex, 0, times=times)

    def delay(
        self: FakeDiscord, method: str, path_regex: str, seconds: float, times: int | None = None
    ) -> Delay:
        """Hold matching requests ``seconds`` before handling them (all, or the next ``times``).

        For latency and concurrency: with requests held, overlapping ones show in
        :meth:`max_in_flight`. The hold is not cancelled if the client gives up meanwhile, so a
        request abandoned mid-flight is still handled, as Discord would. Faults and rate limits
        apply after the hold. Set the returned record's ``times`` to its ``hits`` to stop.
        """
        held = Delay(method.upper(), re.compile(path_regex), seconds, times)
        self._delays.append(held)
        return held

    def max_in_flight(self: FakeDiscord, method: str, path_regex: str) -> int:
        """Most requests matching (method, path regex) that the fake was handling at once."""
        steps: list[tuple[float, int]] = []
        for r in self.requests_to(method, path_regex):
            steps.append((r.at, 1))
            steps.append((r.done_at or float("inf"), -1))
        peak = current = 0
        for _, step in sorted(steps):  # at equal times an end sorts before a start
            current += step
            peak = max(peak, current)
        return peak

    def throttle_dm_opens(self: FakeDiscord, times: int = 1) -> Fault:
        """Refuse the next ``times`` DM opens as Discord does when a bot opens DMs too fast.

        Discord answers ``POST /users/@me/channels`` with 400
        ``{"code": 40003, "message": "You are opening direct messages too fast"}``.
        """
        return self.inject(
            "POST",
            r"^/users/@me/channels$",
            400,
            times=times,
            code=40003,
            message="You are opening direct messages too fast",
        )

    def close_dms(self: FakeDiscord, user: str | int | FakeUser) -> None:
        """Make DMs to ``user`` fail with 403 / 50007."""
        self._closed_dms.add(self.user(user).id)

    def open_dms(self: FakeDiscord, user: str | int | FakeUser) -> None:
        """Undo :meth:`close_dms`."""
        self._closed_dms.discard(self.user(user).id)

    def set_global_rate_limit(self: FakeDiscord, per_second: int | None) -> None:
        """Enforce a global limit (requests per rolling second) on bot-token REST requests."""
        self._global_limit = per_second
        self._global_window.clear()

    def _rate_limit_response(
        self: FakeDiscord, retry_after: float, *, is_global: bool, scope: str, bucket: str
    ) -> web.Response:
        headers = {
            "X-RateLimit-Limit": "50" if is_global else "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Scope": scope,
            "Retry-After": str(max(1, int(retry_after + 0.999))),
            "Via": "1.1 google",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        if is_global:
            body["code"] = 0
        return self._json(body, 429, headers)

    def _drop_connection(self: FakeDiscord, req: _Req) -> web.Response:
        """Close the connection unanswered (see :meth:`drop`); aiohttp ignores the response."""
        transport = req.request.transport
        if transport is not None:
            transport.close()
        return web.Response(status=444)

    def _fault_response(self: FakeDiscord, fault: Fault) -> web.Response:
        if fault.status == 429:
            self.count_429 += 1
            return self._rate_limit_response(
                fault.retry_after if fault.retry_after is not None else 0.1,
                is_global=False,
                scope="user",
                bucket=f"fake{abs(hash(fault.pattern.pattern)) % 10**8:08d}",
            )
        code = fault.code if fault.code is not None else 0
        message = fault.message or {
            500: "500: Internal Server Error",
            502: "502: Bad Gateway",
            403: "Missing Permissions",
            404: "404: Not Found",
        }.get(fault.status, f"{fault.status}: injected")
        return self._error(fault.status, code, message)
