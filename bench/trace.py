"""Where an answer's time goes inside a subject: stage timestamps of every interaction.

`bench/subject.py` installs this when BENCH_TRACE=<file> is set, in the project and the bare bot
alike, and writes one JSON line per interaction at exit. The stamps are `time.monotonic()`, the
clock the sandbox stamps with too, so they line up with its dispatch and arrival times:

- `frame`: the gateway frame that carried the interaction reached discord.py (`received_message`);
- `parsed`: discord.py has decoded it and builds the `Interaction` (`parse_interaction_create`);
- `post`: the bot asks for the callback POST (`create_interaction_response`);
- `posted`: the POST's answer (Discord's echo of the message) is back and decoded;
- `echoed`: discord.py has turned that echo into objects (`InteractionCallbackResponse`);
- `trips`: calls queued to aiosqlite's threads so far (the bare bot has none);
- garbage collections (generation, start, end), one line each after the interactions;
- `cpu`: the process's CPU time (all its threads) at `parsed`: from one interaction to the
  next of a run, what each one cost in all, after-work included, whatever the machine's load.

Patches discord.py's internals, so it is for the bench only: never loaded by the bot.
"""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

import aiosqlite
from discord import gateway, interactions, state
from discord.webhook import async_

ROWS: dict[int, dict[str, Any]] = {}
#: Garbage collections: (generation, start, end) on the same clock.
COLLECTIONS: list[tuple[int, float, float]] = []


def install(path: str) -> None:
    """Wrap the five stages; `dump(path)` writes them."""
    frame = [0.0]
    collecting = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collecting[0] = time.monotonic()
        else:
            COLLECTIONS.append((info["generation"], collecting[0], time.monotonic()))

    gc.callbacks.append(on_gc)
    trips = [0]

    execute = aiosqlite.Connection._execute

    async def _execute(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips[0] += 1
        return await execute(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = _execute  # type: ignore[method-assign]

    received = gateway.DiscordWebSocket.received_message

    async def received_message(self: Any, msg: Any, /) -> None:
        frame[0] = time.monotonic()
        await received(self, msg)

    parse = state.ConnectionState.parse_interaction_create

    def parse_interaction_create(self: Any, data: Any) -> None:
        ROWS[int(data["id"])] = {
            "type": data["type"],
            "frame": frame[0],
            "parsed": time.monotonic(),
            "cpu": time.process_time(),
            "trips": trips[0],
        }
        parse(self, data)

    create = async_.AsyncWebhookAdapter.create_interaction_response

    def create_interaction_response(self: Any, interaction_id: int, *args: Any, **kw: Any) -> Any:
        row = ROWS.setdefault(int(interaction_id), {})
        row["post"] = time.monotonic()
        inner = create(self, interaction_id, *args, **kw)

        async def timed() -> Any:
            result = await inner
            row["posted"] = time.monotonic()
            return result

        return timed()

    update = interactions.InteractionCallbackResponse._update

    def _update(self: Any, data: Any) -> None:
        update(self, data)
        row = ROWS.get(self.id)
        if row is not None and "echoed" not in row:
            row["echoed"] = time.monotonic()

    gateway.DiscordWebSocket.received_message = received_message  # type: ignore[method-assign]
    state.ConnectionState.parse_interaction_create = parse_interaction_create  # type: ignore[method-assign]
    async_.AsyncWebhookAdapter.create_interaction_response = create_interaction_response  # type: ignore[method-assign]
    interactions.InteractionCallbackResponse._update = _update  # type: ignore[method-assign]


def dump(path: str) -> None:
    with Path(path).open("w", encoding="utf-8") as out:
        for iid, row in ROWS.items():
            out.write(json.dumps({"id": iid, **row}) + "\n")
        for generation, start, end in COLLECTIONS:
            out.write(json.dumps({"gc": generation, "start": start, "end": end}) + "\n")
