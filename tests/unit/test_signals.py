"""SIGTERM is heard however busy the loop is (`bot.signals`).

The child process below reproduces what the bench saw: threads flood the loop's self-pipe with
``call_soon_threadsafe`` (as aiosqlite's results do) while the loop is busy, so the pipe is
full when SIGTERM arrives. With ``loop.add_signal_handler`` the signal's byte is dropped there
and the process never stops (tried by hand: still running 15 s after SIGTERM, "Exception
ignored when trying to write to the signal wakeup fd"); with `install_stop_handlers` it stops.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import asyncio, sys, threading
sys.path.insert(0, sys.argv[1])
from bot.signals import install_stop_handlers

async def main():
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    heard = []
    restore = install_stop_handlers(loop, lambda name: (heard.append(name), stopped.set()))
    halt = threading.Event()

    def flood():
        while not halt.is_set():
            loop.call_soon_threadsafe(int)

    for _ in range(2):
        threading.Thread(target=flood, daemon=True).start()

    async def busy():
        while not stopped.is_set():
            n = 0
            for i in range(2_000_000):  # Python code: the flooding threads get the GIL
                n += i
            await asyncio.sleep(0)

    task = asyncio.create_task(busy())
    print("ready", flush=True)
    await stopped.wait()
    halt.set()
    await task
    restore()
    print("stopped by", heard[0], flush=True)

asyncio.run(main())
"""


def test_sigterm_is_heard_while_the_loop_is_flooded() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ROOT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        # Let the flood fill the self-pipe (a second is plenty; more only makes it fuller).
        try:
            child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=120)  # a bound, not a timing: it hangs if lost
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert "stopped by SIGTERM" in out
