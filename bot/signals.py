"""Stop signals (SIGINT, SIGTERM) that are never lost, however busy the event loop is.

asyncio's ``loop.add_signal_handler`` learns of a signal only from a byte written to the
loop's self-pipe, the same pipe every ``call_soon_threadsafe`` writes to (each aiosqlite result
does). Under load that pipe fills, the signal's byte is dropped ("Exception ignored when trying
to write to the signal wakeup fd: BlockingIOError") and the bot never hears the SIGTERM.

Here the signal runs a Python-level handler instead (``signal.signal``): CPython records the
signal in a flag that cannot overflow and runs the handler in the main thread, the loop's
thread, at its next bytecode. So that an idle loop (asleep in ``epoll`` until its next timer)
also runs it at once, the signal additionally writes to a wake-up socket of its own, which
nothing else writes to, so it cannot be full.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable, Iterable
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def install_stop_handlers(
    loop: asyncio.AbstractEventLoop,
    on_signal: Callable[[str], None],
    signals: Iterable[signal.Signals] = STOP_SIGNALS,
) -> Callable[[], None]:
    """Call ``on_signal(name)`` on the loop for each of ``signals``; returns a function that
    restores the previous handlers. Must be called from the main thread, with ``loop`` running
    in it."""
    wake_read, wake_write = socket.socketpair()
    for sock in (wake_read, wake_write):
        sock.setblocking(False)
    previous_fd = signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)

    def drain() -> None:
        try:
            while wake_read.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    loop.add_reader(wake_read.fileno(), drain)

    def handler(
        signum: int, frame: FrameType | None, _keep: object = (wake_read, wake_write)
    ) -> None:
        # Runs in the main thread between two bytecodes of whatever the loop was doing: hand
        # the work to the loop rather than doing it here. (``_keep``: the wake-up sockets live
        # as long as the handler, even if the caller drops ``restore``.)
        loop.call_soon_threadsafe(on_signal, signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in signals}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)
        signal.set_wakeup_fd(previous_fd)
        loop.remove_reader(wake_read.fileno())
        wake_read.close()
        wake_write.close()

    return restore


__all__ = ["STOP_SIGNALS", "install_stop_handlers"]
