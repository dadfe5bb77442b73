"""What the simulated members and the organiser do, through the sandbox's client-side actions.

Each action is what a person does in the Discord client (a slash command, a button press, a
message), sent to the bot over the gateway exactly as in the end-to-end tests. An action the
bot does not answer becomes a warning in the summary, never a crash of the rehearsal.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from bot import ids
from bot.rehearsal.plan import Action
from bot.sandbox import FakeDiscord

#: Real seconds to wait for the bot's answer to a member's interaction.
ANSWER_TIMEOUT = 15.0
#: Real seconds an organiser takes to read a preview or summary before pressing its button.
#: Not only realism: discord.py registers a message's buttons when the answer's HTTP response
#: comes back, which a loaded bot may process after the sandbox has already shown the message;
#: a press at once could reach the bot before its buttons do (it then ignores the press).
READING_TIME = 0.5


def _components(message: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = list(message.get("components") or [])
    while stack:
        comp = stack.pop(0)
        found.append(comp)
        stack.extend(comp.get("components") or [])
    return found


class Actors:
    """Plays `Action`s against the sandbox; ``import_file`` is the organiser's changed programme."""

    def __init__(self, fake: FakeDiscord, rng: random.Random, import_file: tuple[str, bytes]):
        self.fake = fake
        self.rng = rng
        self.import_file = import_file
        self.done: dict[str, int] = {}

    async def play(self, action: Action) -> None:
        """Run one action; raises RuntimeError saying what went wrong."""
        handler = getattr(self, f"_{action.kind}")
        await handler(action)
        self.done[action.kind] = self.done.get(action.kind, 0) + 1

    async def _answer(self, it: Any, what: str) -> dict[str, Any]:
        try:
            return await it.response(timeout=ANSWER_TIMEOUT)
        except AssertionError:
            raise RuntimeError(f"the bot did not answer {what}") from None

    async def _register(self, action: Action) -> None:
        session = action.args["session"]
        it = await self.fake.slash(action.who, "interested", session=session)
        await self._answer(it, f"/interested {session}")

    def _message_with(self, custom_id: str) -> dict[str, Any] | None:
        for message in reversed(self.fake.bot_messages("programme")):
            if any(c.get("custom_id") == custom_id for c in _components(message)):
                return message
        return None

    async def _button(self, action: Action) -> None:
        session = action.args["session"]
        custom_id = ids.interest_button_id(session)
        message = self._message_with(custom_id)
        if message is not None:
            it = await self.fake.click(action.who, message, custom_id)
            await self._answer(it, f"the interest button of {session}")
            return
        for message in reversed(self.fake.bot_messages("programme")):
            for comp in _components(message):
                values = [o.get("value") for o in comp.get("options") or []]
                if comp.get("type") == 3 and session in values:
                    it = await self.fake.select(action.who, message, comp["custom_id"], [session])
                    await self._answer(it, f"the interest menu for {session}")
                    return
        # No daily post offers it (yet): register by command instead.
        await self._register(action)

    async def _share(self, action: Action) -> None:
        await self.fake.post_message(action.who, "general", action.args["text"])

    async def _react(self, action: Action) -> None:
        shares = [
            m
            for m in self.fake.messages("general")
            if "#QIWeek" in (m.get("content") or "") and m["author"]["username"] != action.who
        ]
        if shares:
            await self.fake.react(action.who, self.rng.choice(shares), action.args["emoji"])

    async def _opt_out(self, action: Action) -> None:
        it = await self.fake.slash(action.who, "digest-opt-out")
        await self._answer(it, "/digest-opt-out")

    async def _import(self, action: Action) -> None:
        name, data = self.import_file
        upload = self.fake.attachment(name, data, "application/x-yaml")
        it = await self.fake.slash(action.who, "organiser import-programme", file=upload)
        try:
            summary = await it.followups(1, timeout=30)
        except AssertionError:
            raise RuntimeError("the bot did not summarise the imported programme") from None
        confirm = next(
            (c["custom_id"] for c in _components(summary[-1]) if "Confirm" in str(c.get("label"))),
            None,
        )
        if confirm is None:
            raise RuntimeError(
                f"the import summary has no Confirm button: {summary[-1]['content']}"
            )
        await asyncio.sleep(READING_TIME)
        await self._answer(await self.fake.click(action.who, summary[-1], confirm), "Confirm")

    async def _announce(self, action: Action) -> None:
        due = action.args["due"]
        it = await self.fake.slash(
            action.who,
            "organiser announce",
            message=(
                "Thank you for a brilliant QI Week! Please fill in the feedback form before "
                "Friday's close."
            ),
            at=due,
        )
        await self._answer(it, "/organiser announce")
        try:
            preview = await it.wait_original(timeout=ANSWER_TIMEOUT)
        except AssertionError:
            raise RuntimeError("the announcement preview never appeared") from None
        send = next(
            (c["custom_id"] for c in _components(preview) if c.get("label") == "Send"), None
        )
        if send is None:
            raise RuntimeError(f"the announcement preview has no Send button: {preview['content']}")
        await asyncio.sleep(READING_TIME)
        await self._answer(await self.fake.click(action.who, preview, send), "Send")
