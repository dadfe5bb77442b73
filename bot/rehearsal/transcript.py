"""``transcript.html``: every channel, thread and member's DM as a reader would see it.

One self-contained page (inline CSS, no script, no external request): a sidebar to jump
between channels and DMs, and for each one its messages in time order under the event's day
headers, with the author, the event-local time, the content (Discord timestamps shown as local
times, mentions as names), embeds, buttons and menus as labels, and attachments by name.
Ephemeral answers (seen only by the member who acted) are left out; deleted messages too.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot.sandbox import FakeDiscord

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
sans-serif,"Apple Color Emoji","Segoe UI Emoji","Noto Color Emoji";background:#313338;
color:#dbdee1;display:flex;height:100vh;overflow:hidden}nav{width:260px;height:100vh;
overflow-y:auto;background:#2b2d31;padding:12px 8px;flex-shrink:0}
nav h1{font-size:15px;color:#f2f3f5;margin:4px 8px 12px}nav h2{font-size:11px;
text-transform:uppercase;color:#949ba4;margin:16px 8px 4px}nav a{display:flex;
justify-content:space-between;color:#949ba4;text-decoration:none;padding:3px 8px;
border-radius:4px}nav a:hover{background:#404249;color:#dbdee1}nav .n{font-size:11px}
main{flex:1;height:100vh;overflow-y:auto;padding:0 24px 40px}
section{max-width:960px;border-bottom:1px solid #3f4147;padding-bottom:24px}
section h2{position:sticky;top:0;background:#313338;margin:0;
padding:14px 0 10px;color:#f2f3f5;font-size:17px;z-index:1}
.day{display:flex;align-items:center;color:#949ba4;font-size:12px;font-weight:600;
margin:18px 0 6px}.day:before,.day:after{content:"";flex:1;border-top:1px solid #3f4147;
margin:0 8px}.msg{padding:4px 0 6px;display:grid;grid-template-columns:52px 1fr;gap:0 10px}
.t{color:#949ba4;font-size:12px;text-align:right;padding-top:2px}.a{font-weight:600;
color:#f2f3f5}.a.bot{color:#7fb5ff}.tag{background:#5865f2;color:#fff;font-size:10px;
border-radius:3px;padding:0 4px;margin-left:4px;vertical-align:1px}.c{white-space:pre-wrap;
word-wrap:break-word}.m{background:#3c4270;color:#c9cdfb;border-radius:3px;padding:0 2px}
.embed{border-left:4px solid #5865f2;background:#2b2d31;border-radius:4px;padding:8px 12px;
margin-top:4px;max-width:640px}.et{font-weight:600;color:#f2f3f5}.ef{margin-top:6px}
.efn{font-weight:600;font-size:13px}.foot{color:#949ba4;font-size:12px;margin-top:6px}
.btn{display:inline-block;background:#4e5058;color:#fff;border-radius:4px;padding:3px 12px;
margin:6px 6px 0 0;font-size:13px}.btn.primary{background:#5865f2}.btn.success{background:
#248046}.btn.danger{background:#da373c}.sel{display:inline-block;border:1px solid #1e1f22;
background:#1e1f22;border-radius:4px;padding:4px 10px;margin-top:6px;color:#b5bac1}
.att{display:inline-block;border:1px solid #3f4147;background:#2b2d31;border-radius:4px;
padding:4px 10px;margin-top:4px}.ed{color:#949ba4;font-size:11px}
.q{border-left:3px solid #4e5058;padding-left:8px;display:block}
.sub{color:#949ba4;font-size:12px}code{background:#2b2d31;border-radius:3px;padding:0 3px;
font-size:13px}.re{display:inline-block;background:#2b2d31;border:1px solid #3f4147;
border-radius:8px;padding:0 6px;margin:4px 4px 0 0;font-size:12px}.empty{color:#949ba4}
a{color:#00a8fc}
"""

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_BUTTON_STYLES = {1: "primary", 3: "success", 4: "danger"}


def relative(delta: timedelta) -> str:
    """Discord's relative timestamp text: "in 15 minutes", "2 hours ago"."""
    seconds = delta.total_seconds()
    size = abs(seconds)
    units = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))
    unit, length = next(((u, n) for u, n in units if size >= n), ("second", 1))
    count = round(size / length)
    words = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {words}" if seconds >= 0 else f"{words} ago"


class Renderer:
    """Renders the sandbox's record in ``tz`` (the event's timezone)."""

    def __init__(self, fake: FakeDiscord, tz: tzinfo, title: str) -> None:
        self.fake = fake
        self.tz = tz
        self.title = title
        self.names = {uid: u.global_name or u.username for uid, u in fake._users.items()}
        self.roles = {int(r["id"]): r["name"] for r in fake._roles.values()}
        self.channel_names = {
            int(c["id"]): c.get("name") or "" for c in fake._channels.values() if c.get("name")
        }

    def local(self, stamp: str) -> datetime:
        return datetime.fromisoformat(stamp).astimezone(self.tz)

    def text(self, raw: str, at: datetime | None = None) -> str:
        """Discord markup to HTML: timestamps as local times (relative ones from ``at``, the
        message's time), mentions as names, bold, links."""

        def stamp(match: re.Match[str]) -> str:
            moment = datetime.fromtimestamp(int(match.group(1)), UTC).astimezone(self.tz)
            style = match.group(2) or "f"
            if style == "R" and at is not None:
                shown = relative(moment - at)
            elif style in "tT":
                shown = moment.strftime("%H:%M")
            elif style in "dD":
                shown = moment.strftime("%a %d %b")
            else:
                shown = moment.strftime("%a %d %b %H:%M")
            return f'<span class="m">{shown}</span>'

        out = html.escape(raw, quote=False)
        out = re.sub(r"&lt;t:(-?\d+)(?::([tTdDfFR]))?&gt;", stamp, out)
        out = re.sub(
            r"&lt;@!?(\d+)&gt;",
            lambda m: f'<span class="m">@{html.escape(self.names.get(int(m[1]), m[1]))}</span>',
            out,
        )
        out = re.sub(
            r"&lt;@&amp;(\d+)&gt;",
            lambda m: f'<span class="m">@{html.escape(self.roles.get(int(m[1]), m[1]))}</span>',
            out,
        )
        out = re.sub(
            r"&lt;#(\d+)&gt;",
            lambda m: (
                f'<span class="m">#{html.escape(self.channel_names.get(int(m[1]), m[1]))}</span>'
            ),
            out,
        )
        out = re.sub(r"(?m)^&gt; (.*)$", r'<span class="q">\1</span>', out)
        out = re.sub(r"(?m)^-# (.*)$", r'<span class="sub">\1</span>', out)
        out = re.sub(r"`([^`\n]+)`", r"<code>\1</code>", out)
        out = _BOLD.sub(r"<b>\1</b>", out)
        return _LINK.sub(r'<a href="\2">\1</a>', out)

    def embed(self, embed: dict[str, Any], at: datetime | None = None) -> str:
        colour = embed.get("color")
        style = f' style="border-color:#{int(colour):06x}"' if colour else ""
        parts = [f'<div class="embed"{style}>']
        if embed.get("title"):
            parts.append(f'<div class="et">{self.text(embed["title"], at)}</div>')
        if embed.get("description"):
            parts.append(f'<div class="c">{self.text(embed["description"], at)}</div>')
        for f in embed.get("fields") or []:
            parts.append(
                f'<div class="ef"><div class="efn">{self.text(f.get("name", ""), at)}</div>'
                f'<div class="c">{self.text(f.get("value", ""), at)}</div></div>'
            )
        footer = (embed.get("footer") or {}).get("text")
        if footer:
            parts.append(f'<div class="foot">{self.text(footer, at)}</div>')
        parts.append("</div>")
        return "".join(parts)

    def components(self, rows: list[dict[str, Any]]) -> str:
        parts = []
        stack = list(rows)
        while stack:
            comp = stack.pop(0)
            kind = comp.get("type")
            if kind == 2:
                style = _BUTTON_STYLES.get(comp.get("style", 2), "")
                label = comp.get("label") or (comp.get("emoji") or {}).get("name") or "button"
                parts.append(f'<span class="btn {style}">{html.escape(label)}</span>')
            elif kind in (3, 5, 6, 7, 8):
                options = ", ".join(o.get("label", "") for o in comp.get("options") or [])
                label = comp.get("placeholder") or "Choose…"
                shown = f"{label} ▾" + (f" ({options})" if options else "")
                parts.append(f'<div class="sel">{html.escape(shown)}</div>')
            stack[:0] = comp.get("components") or []
        return "".join(parts)

    def message(self, msg: dict[str, Any]) -> str:
        at = self.local(msg["timestamp"])
        author = msg["author"]
        is_bot = author.get("bot") or int(author["id"]) == self.fake.bot_user.id
        name = html.escape(author.get("global_name") or author.get("username") or "?")
        tag = '<span class="tag">BOT</span>' if is_bot else ""
        edited = ' <span class="ed">(edited)</span>' if msg.get("edited_timestamp") else ""
        body = [f'<div class="a{" bot" if is_bot else ""}">{name}{tag}{edited}</div>']
        if msg.get("content"):
            body.append(f'<div class="c">{self.text(msg["content"], at)}</div>')
        body += [self.embed(e, at) for e in msg.get("embeds") or []]
        for attachment in msg.get("attachments") or []:
            body.append(
                f'<div class="att">📎 {html.escape(attachment.get("filename", "file"))}</div>'
            )
        if msg.get("components"):
            body.append(f"<div>{self.components(msg['components'])}</div>")
        reactions = [
            f'<span class="re">{html.escape((r.get("emoji") or {}).get("name") or "?")} '
            f"{r.get('count', 0)}</span>"
            for r in msg.get("reactions") or []
        ]
        if reactions:
            body.append(f"<div>{''.join(reactions)}</div>")
        when = at.strftime("%H:%M")
        return f'<div class="msg"><div class="t">{when}</div><div>{"".join(body)}</div></div>'

    def channels(self) -> list[tuple[str, str, str, list[dict[str, Any]]]]:
        """(group, anchor, label, visible messages) of every channel with messages."""
        dm_owner = {cid: uid for uid, cid in self.fake._dm_by_user.items()}
        found = []
        for cid, msgs in self.fake._messages.items():
            visible = [m for m in msgs if not m.get("ephemeral")]
            channel = self.fake._channels.get(cid, {})
            if cid in dm_owner:
                if not visible:
                    continue
                group, label = "Direct messages", self.names.get(dm_owner[cid], str(cid))
            elif channel.get("type") in (10, 11, 12):
                group, label = "Threads", f"🧵 {channel.get('name', cid)}"
            else:
                group, label = "Channels", f"# {channel.get('name', cid)}"
            position = channel.get("position", 0) if group == "Channels" else 0
            found.append((group, position, f"c{cid}", label, visible))
        order = {"Channels": 0, "Threads": 1, "Direct messages": 2}
        found.sort(key=lambda c: (order[c[0]], c[1], c[3].lower()))
        return [(group, anchor, label, msgs) for group, _, anchor, label, msgs in found]

    def page(self) -> str:
        channels = self.channels()
        nav = [f"<nav><h1>{html.escape(self.title)}</h1>"]
        group = None
        for g, anchor, label, msgs in channels:
            if g != group:
                nav.append(f"<h2>{g}</h2>")
                group = g
            nav.append(
                f'<a href="#{anchor}"><span>{html.escape(label)}</span>'
                f'<span class="n">{len(msgs)}</span></a>'
            )
        nav.append("</nav>")
        main = ["<main>"]
        for _, anchor, label, msgs in channels:
            main.append(f'<section id="{anchor}"><h2>{html.escape(label)}</h2>')
            if not msgs:
                main.append('<p class="empty">No messages.</p>')
            day = None
            for msg in sorted(msgs, key=lambda m: (m["timestamp"], int(m["id"]))):
                local_day = self.local(msg["timestamp"]).date()
                if local_day != day:
                    day = local_day
                    main.append(f'<div class="day">{local_day.strftime("%A %d %B %Y")}</div>')
                main.append(self.message(msg))
            main.append("</section>")
        main.append("</main>")
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(nav)}{''.join(main)}</body></html>"
        )


def render_transcript(fake: FakeDiscord, tz: tzinfo, title: str) -> str:
    """The whole transcript page."""
    return Renderer(fake, tz, title).page()
