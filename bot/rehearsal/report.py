"""The rehearsal's terminal output: a progress bar while it runs, then a summary table (rich)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from bot.clock import Timeline
    from bot.rehearsal.plan import Week
    from bot.sandbox import FakeDiscord

ROWS = (
    ("sessions", "sessions in the programme"),
    ("days", "days"),
    ("members", "simulated members"),
    ("daily_posts", "days with a daily post"),
    ("reminders", "channel reminders"),
    ("dms", "DMs delivered"),
    ("channel_mentions", "closed-DM mentions in the channel"),
    ("change_notices", "change notices"),
    ("digests", "days with a digest"),
    ("roundups", "weekly roundups"),
    ("announcements", "announcements"),
    ("duplicates", "duplicates (sandbox's record)"),
    ("failed_sends", "failed or missing sends"),
    ("wall_seconds", "wall-clock seconds"),
)


class Reporter:
    """Owns the console; the progress bar shows the event day and time and the sends so far."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None

    @contextlib.contextmanager
    def progress(self) -> Iterator[None]:
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[sends]} sends"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )
        self._progress = progress
        self._task = progress.add_task("starting the bot", total=1.0, sends=0)
        with progress:
            yield
        self._progress = None

    def ticker(self, fake: FakeDiscord, week: Week, timeline: Timeline) -> Callable[[], None]:
        """A callback updating the bar from the event clock and the sandbox's requests."""
        seen = {"index": 0, "sends": 0}
        span = (week.end - week.start).total_seconds()

        def tick() -> None:
            if self._progress is None:
                return
            requests = fake.requests
            for record in requests[seen["index"] :]:
                if record.method == "POST" and record.path.endswith("/messages"):
                    seen["sends"] += 1
            seen["index"] = len(requests)
            now = timeline()
            done = min(max((now - week.start).total_seconds() / span, 0.0), 1.0)
            label = now.astimezone(week.tz).strftime("%a %d %b %H:%M")
            if now < week.start:  # the bot is still starting (the week begins after it)
                label = "starting the bot"
            self._progress.update(
                self._task, completed=done, description=label, sends=seen["sends"]
            )

        return tick

    def table(self, summary: dict[str, Any], out: Path) -> None:
        table = Table(title="Rehearsal summary", show_header=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, label in ROWS:
            value = summary.get(key)
            style = "red" if key in ("duplicates", "failed_sends") and value else ""
            table.add_row(label, f"[{style}]{value}[/]" if style else str(value))
        for kind, count in (summary.get("faults") or {}).items():
            table.add_row(f"fault: {kind}", str(count))
        console = Console()
        console.print(table)
        for line in summary.get("failed", []) + [
            f"missing: {m}" for m in summary.get("missing", [])
        ]:
            console.print(f"[red]✗[/] {line}")
        for warning in summary.get("warnings", []):
            console.print(f"[yellow]![/] {warning}")
        console.print(f"Transcript: {out / 'transcript.html'}  Summary: {out / 'summary.json'}")

    def error(self, message: str) -> None:
        self.console.print(f"[red]rehearsal failed:[/] {message}")
