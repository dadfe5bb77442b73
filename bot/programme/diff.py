"""What an import changes: sessions added, changed and removed, matched by id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.programme.model import SESSION_KEYS, Session, TzLike, resolve_tz


@dataclass(frozen=True)
class ProgrammeDiff:
    """What an import would change, matched by session id."""

    added: tuple[Session, ...] = ()
    changed: tuple[tuple[Session, Session], ...] = ()
    removed: tuple[Session, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    @property
    def moved(self) -> tuple[tuple[Session, Session], ...]:
        """Changed sessions whose time changed (reminders must be re-planned for these)."""
        return tuple(
            (old, new) for old, new in self.changed if old.start != new.start or old.end != new.end
        )

    def summary(self, tz: TzLike = None) -> str:
        """Human lines; times as Discord timestamps, or local clock text when ``tz`` is given."""
        if self.is_empty:
            return "No changes: the programme is the same."

        def when(moment: datetime) -> str:
            if tz is None:
                return f"<t:{int(moment.timestamp())}:f>"
            local = moment.astimezone(resolve_tz(tz))
            return f"{local:%a} {local.day} {local:%b %H:%M}"

        lines = [
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"
        ]
        if self.added:
            lines.append("Added:")
            lines.extend(f"+ {s.title} ({when(s.start)})" for s in self.added)
        if self.changed:
            lines.append("Changed:")
            for old, new in self.changed:
                what = _changed_fields(old, new)
                line = f"~ {new.title}"
                if old.start != new.start or old.end != new.end:
                    line += f": moved from {when(old.start)} to {when(new.start)}"
                    what = [w for w in what if w not in ("start", "end")]
                if what:
                    line += ("; " if ":" in line else ": ") + ", ".join(what) + " changed"
                lines.append(line)
        if self.removed:
            lines.append("Removed:")
            lines.extend(f"- {s.title} ({when(s.start)})" for s in self.removed)
        return "\n".join(lines)


def _changed_fields(old: Session, new: Session) -> list[str]:
    names = [n for n in SESSION_KEYS if n not in ("id", "duration_minutes")]
    return [n for n in names if getattr(old, n) != getattr(new, n)]


def diff_programmes(old: Sequence[Session], new: Sequence[Session]) -> ProgrammeDiff:
    """Added, changed and removed sessions between two programmes, each in time order."""
    old_by_id = {s.id: s for s in old}
    new_by_id = {s.id: s for s in new}

    def ordered(items: Iterable[Session]) -> tuple[Session, ...]:
        return tuple(sorted(items, key=lambda s: (s.start, s.title, s.id)))

    added = ordered(s for i, s in new_by_id.items() if i not in old_by_id)
    removed = ordered(s for i, s in old_by_id.items() if i not in new_by_id)
    changed = tuple(
        sorted(
            (
                (old_by_id[i], s)
                for i, s in new_by_id.items()
                if i in old_by_id and old_by_id[i] != s
            ),
            key=lambda pair: (pair[1].start, pair[1].title, pair[1].id),
        )
    )
    return ProgrammeDiff(added=added, changed=changed, removed=removed)
