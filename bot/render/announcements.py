"""Announcements, their preview and list, the organisers' stats, and the interest export.

Pure: domain objects in, `discord.Embed` / text / bytes out, within Discord's limits by
construction (an announcement is one embed: title up to 256, body up to 4,000).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo

import discord

from bot.render.limits import (
    CHOICE_NAME,
    ELLIPSIS,
    EMBED_DESCRIPTION,
    EMBED_TITLE,
    FIELD_VALUE,
    pack_lines,
    truncate,
)
from bot.render.message import Message
from bot.render.spreadsheet import csv_bytes
from bot.render.words import plural
from bot.store.announcements import Announcement
from bot.store.ledger import Status
from bot.store.native import SessionFigures
from bot.store.stats import SessionRegistrations, Stats

TITLE_MAX = EMBED_TITLE
BODY_MAX = 4000
#: A session title quoted in a DM or the preview (its full title is in the programme);
#: escaped Markdown at most doubles it, so every content stays far below 2,000 characters.
SESSION_LABEL = 200
NHS_BLUE = discord.Colour(0x005EB8)
#: Ledger kinds of the DMs members receive: reminders, programme-change notices, announcements.
DM_KINDS = ("dm", "change-dm", "announcement-dm")

STATUS_LABELS = {
    "pending": "⏳ pending",
    "sent": "✅ sent",
    "late": "🕒 sent late",
    "missed": "⚠️ missed",
    "cancelled": "✖️ cancelled",
    "failed": "❌ failed",
}


def _esc(text: str) -> str:
    return discord.utils.escape_markdown(text)


AUDIT_DETAIL = 160


def _audit_detail(detail: str, limit: int = AUDIT_DETAIL) -> str:
    """An audit entry's detail cut to ``limit``, never inside a ``<…>`` mention or timestamp."""
    if len(detail) <= limit:
        return detail
    cut = detail[: max(0, limit - 1)]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    return cut.rstrip(" ,") + ELLIPSIS


def _session(title: str) -> str:
    """A session title for bold text in content: cut to a label, then escaped."""
    return _esc(truncate(" ".join(title.split()), SESSION_LABEL))


def _status(announcement: Announcement) -> str:
    return STATUS_LABELS.get(announcement.status, announcement.status)


def stamp(moment: datetime, style: str = "f") -> str:
    """A Discord timestamp: every reader sees it in their own timezone."""
    return discord.utils.format_dt(moment, style)  # type: ignore[arg-type]


def mentions_for(ping_role_id: int | None) -> discord.AllowedMentions:
    """Only the organiser's chosen role may ping; @everyone, users and other roles never do."""
    if ping_role_id is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False, users=False, roles=[discord.Object(id=ping_role_id)], replied_user=False
    )


def announcement_embed(title: str, body: str) -> discord.Embed:
    """The announcement itself: the body (up to 4,000, checked on input) is the description."""
    embed = discord.Embed(
        title=truncate(title.strip(), TITLE_MAX) or None,
        description=body[:EMBED_DESCRIPTION] or None,
        colour=NHS_BLUE,
    )
    embed.set_footer(text="QI Week · from the organisers")
    return embed


def announcement_message(
    *, title: str, body: str, ping_role_id: int | None, planned_for: datetime | None = None
) -> Message:
    """The channel post; `planned_for` marks one sent late (after the bot was down)."""
    lines = []
    if ping_role_id is not None:
        lines.append(f"<@&{ping_role_id}>")
    if planned_for is not None:
        lines.append(f"*(delayed: this was planned for {stamp(planned_for, 't')})*")
    return Message(
        content="\n".join(lines) or None,
        embed=announcement_embed(title, body),
        allowed_mentions=mentions_for(ping_role_id),
    )


def session_dm(*, title: str, body: str, session_title: str) -> Message:
    """The DM to a member registered for the session the announcement is about."""
    return Message(
        content=(
            "An announcement from the QI Week organisers about "
            f"**{_session(session_title)}**, a session you registered interest in:"
        ),
        embed=announcement_embed(title, body),
        allowed_mentions=discord.AllowedMentions.none(),
    )


def missed_dm(announcement: Announcement, *, grace_minutes: int) -> str:
    """Tells the author their scheduled announcement was not sent (the bot was down too long)."""
    return (
        f"Your QI Week announcement #{announcement.id} "
        f"(“{truncate(announcement.label, 80)}”) was due in <#{announcement.channel_id}> at "
        f"{stamp(announcement.send_at)}, but the bot was offline then and it is now more than "
        f"{grace_minutes} minutes late, so it was **not sent**. Send it again with "
        "`/organiser announce` if it is still useful."
    )


def failed_dm(announcement: Announcement, reason: str) -> str:
    """Tells the author a scheduled announcement could not be posted, and why."""
    return (
        f"Your QI Week announcement #{announcement.id} (“{truncate(announcement.label, 80)}”) "
        f"could not be posted in <#{announcement.channel_id}>: {reason}. Check the bot may post "
        "there, then send it again with `/organiser announce`."
    )


def preview_content(
    *,
    channel_id: int,
    ping_role_id: int | None,
    ping_warning: str | None,
    session_title: str | None,
    dm_count: int,
    send_at: datetime | None,
) -> str:
    """What the organiser checks before pressing Send: where, who is pinged, DMs, when."""
    if ping_role_id is None:
        ping = "nobody (no ping)"
    else:
        ping = f"everyone with <@&{ping_role_id}>"
        if ping_warning:
            ping += f" ⚠️ {truncate(ping_warning, 300)}"
    if session_title is None:
        dms = "none"
    else:
        noun = "member" if dm_count == 1 else "members"
        dms = (
            f"{dm_count} {noun} registered for **{_session(session_title)}**"
            " (members with `/reminders off` get none)"
        )
    when = (
        "as soon as you press **Send**"
        if send_at is None
        else (f"{stamp(send_at, 'F')} ({stamp(send_at, 'R')})")
    )
    return (
        "**Preview: nothing has been sent yet.** Check it, then press **Send** or **Cancel**.\n"
        f"**Channel:** <#{channel_id}>\n"
        f"**Pings:** {ping}\n"
        f"**DMs:** {dms}\n"
        f"**When:** {when}"
    )


def outcome_text(
    announcement: Announcement, *, dms: int | None = None, reason: str | None = None
) -> str:
    """The preview, edited once the organiser pressed Send."""
    where = f"<#{announcement.channel_id}>"
    if announcement.status in ("sent", "late"):
        link = ""
        if announcement.message_id:
            link = (
                f" ([jump](https://discord.com/channels/{announcement.guild_id}/"
                f"{announcement.channel_id}/{announcement.message_id}))"
            )
        extra = f" and DMed to {dms} member{'s' if dms != 1 else ''}" if dms else ""
        return f"✅ Announcement #{announcement.id} was posted in {where}{link}{extra}."
    if announcement.status == "pending":
        return (
            f"⏳ Announcement #{announcement.id} is scheduled for "
            f"{stamp(announcement.send_at, 'F')} ({stamp(announcement.send_at, 'R')}) in {where}. "
            "See it with "
            "`/organiser announcements`; cancel it with `/organiser cancel-announcement`."
        )
    if announcement.status == "failed":
        return (
            f"❌ Announcement #{announcement.id} could not be posted in {where}"
            f"{': ' + reason if reason else ''}. Check the bot may send messages and embed links "
            "there, then try again."
        )
    return f"Announcement #{announcement.id} is {_status(announcement)}."


def announcement_line(announcement: Announcement) -> str:
    """One row of `/organiser announcements`."""
    moment = announcement.sent_at if announcement.status in ("sent", "late") else None
    when = stamp(moment or announcement.send_at)
    return (
        f"`#{announcement.id}` · {when} · <#{announcement.channel_id}> · "
        f"{_status(announcement)} · by <@{announcement.author_id}> · "
        f"{_esc(truncate(announcement.label, 60))}"
    )


def announcement_list(pending: list[Announcement], recent: list[Announcement]) -> list[str]:
    """Pending then recent announcements, packed into messages of at most 2,000 characters."""
    lines = ["**Pending announcements**"]
    lines += [announcement_line(a) for a in pending] or ["None scheduled."]
    lines += ["", "**Recent announcements**"]
    lines += [announcement_line(a) for a in recent] or ["None yet."]
    return pack_lines(lines)


def choice_label(announcement: Announcement, tz: tzinfo) -> str:
    """Autocomplete label: "#12 · 14 Sep 09:00 · title…" (choices cannot show timestamps)."""
    local = announcement.send_at.astimezone(tz)
    head = f"#{announcement.id} · {local:%d %b %H:%M} · "
    return head + truncate(announcement.label, CHOICE_NAME - len(head))


def _field(lines: list[str], empty: str, limit: int = FIELD_VALUE) -> str:
    """Whole lines for one embed field or description, and how many more did not fit."""
    if not lines:
        return empty
    out: list[str] = []
    reserve = len(f"\n…and {len(lines)} more")
    for index, line in enumerate(lines):
        more = index < len(lines) - 1
        if len("\n".join([*out, line])) + (reserve if more else 0) > limit:
            out.append(f"…and {len(lines) - index} more")
            break
        out.append(line)
    return "\n".join(out)


def _counts(counts: dict[str, int]) -> str:
    return (
        f"{counts.get(Status.SENT, 0)} sent · {counts.get(Status.FAILED, 0)} failed"
        f" · {counts.get(Status.SKIPPED, 0)} skipped"
    )


def stats_embeds(stats: Stats, tz: tzinfo) -> list[discord.Embed]:
    """The `/organiser stats` embeds (two, well within the 6,000-character total)."""
    top = [
        f"{r.registrations} · {_esc(truncate(r.title or r.session_id, 70))}"
        + (" (cancelled)" if r.cancelled else "")
        + ("" if r.in_programme else " (no longer in the programme)")
        for r in stats.top_sessions
    ]
    registrations = discord.Embed(title="QI Week figures", colour=NHS_BLUE)
    registrations.add_field(
        name="Registrations of interest",
        value=(
            f"{plural(stats.total_registrations, 'registration')} for "
            f"{plural(stats.sessions_with_registrations, 'session')} by "
            f"{plural(stats.members_registered, 'member')}"
        ),
        inline=False,
    )
    registrations.add_field(
        name=f"Top {len(top)} sessions" if top else "Top sessions",
        value=_field(top, "No registrations yet."),
        inline=False,
    )
    dms = stats.delivered(*DM_KINDS)
    registrations.add_field(
        name="Reminders and DMs",
        value=(
            f"Channel reminders: {_counts(stats.deliveries.get('reminder', {}))}\n"
            f"DMs (reminders, changes, announcements): {_counts(dms)}\n"
            f"Members with DMs closed: {stats.dm_closed_members}"
        ),
        inline=False,
    )
    days = [f"{day:%a %d %b}: {count}" for day, count in stats.shares_per_day]
    share_head = (
        f"{plural(stats.total_shares, 'share')} by "
        f"{plural(stats.share_contributors, 'contributor')}"
    )
    registrations.add_field(
        name="#QIWeek shares",
        value=f"{share_head}\n" + _field(days, "No shares yet.", FIELD_VALUE - len(share_head) - 1),
        inline=False,
    )
    ann = stats.announcements
    registrations.add_field(
        name="Announcements",
        value=(
            f"{ann.get('sent', 0) + ann.get('late', 0)} sent ({ann.get('late', 0)} late) · "
            f"{ann.get('pending', 0)} pending · {ann.get('missed', 0)} missed · "
            f"{ann.get('failed', 0)} failed · {ann.get('cancelled', 0)} cancelled"
        ),
        inline=False,
    )
    actions = [
        f"{stamp(entry.created_at)} <@{entry.user_id}> **{entry.action}**"
        + (f": {_esc(_audit_detail(entry.detail))}" if entry.detail else "")
        for entry in stats.recent_actions
    ]
    audit = discord.Embed(
        title="Last organiser actions",
        description=_field(actions, "None yet.", EMBED_DESCRIPTION),
        colour=NHS_BLUE,
    )
    alerts = [
        f"{stamp(alert.created_at)} **{alert.kind}**: {_esc(truncate(alert.text, 160))}"
        + ("" if alert.posted else " (not posted)")
        for alert in stats.recent_alerts
    ]
    audit.add_field(name="Latest alerts to organisers", value=_field(alerts, "None."), inline=False)
    audit.set_footer(text=f"Times in your timezone; days grouped in {getattr(tz, 'key', tz)}.")
    return [registrations, audit]


INTEREST_CSV_COLUMNS = ("session_id", "title", "start_local", "registrations", "status")
#: Extra columns with the issue-12 figures (registrations by source, attendance, feedback).
INTEREST_FIGURE_COLUMNS = (
    "registered_command",
    "registered_discord_event",
    "attended",
    "feedback_count",
    "feedback_mean",
)


def interest_csv(
    rows: list[SessionRegistrations],
    tz: tzinfo,
    figures: Mapping[str, SessionFigures] | None = None,
) -> bytes:
    """Registrations per session as CSV (see :func:`bot.render.spreadsheet.csv_bytes`).

    With `figures` (issue 12): registrations by source, attendance and feedback columns."""
    header: tuple[str, ...] = INTEREST_CSV_COLUMNS
    if figures is not None:
        header += INTEREST_FIGURE_COLUMNS
    table: list[list[object]] = []
    for row in rows:
        start = f"{row.start.astimezone(tz):%Y-%m-%d %H:%M}" if row.start else ""
        if not row.in_programme:
            status = "removed from programme"
        else:
            status = "cancelled" if row.cancelled else "scheduled"
        line: list[object] = [row.session_id, row.title, start, row.registrations, status]
        if figures is not None:
            f = figures.get(row.session_id) or SessionFigures()
            mean = f"{f.mean:.2f}" if f.mean is not None else ""
            line += [f.by_command, f.by_event, f.attended, f.feedback, mean]
        table.append(line)
    return csv_bytes(header, table)
