"""The #QIWeek shares digest, pure: what counts as a share, how shares rank and group by day, and
how members' words are made safe to repost.

No Discord connection, no database, no clock: callers pass shares and times in, so every rule here
is unit-testable and cheap enough to run on every message the bot sees.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bot.programme import iso_day, weekday_named

__all__ = [
    "ACCEPTED_DIGEST_DAYS",
    "DigestStats",
    "HashtagMatcher",
    "Share",
    "compile_hashtags",
    "day_bounds",
    "digest_stats",
    "escape_text",
    "local_day",
    "parse_digest_day",
    "rank_shares",
    "sanitize",
    "shares_on",
    "snippet",
    "strip_urls",
    "weekly_stats",
]


@dataclass(frozen=True, slots=True)
class Share:
    """One collected #QIWeek message: the minimum the digest needs (no attachment bytes)."""

    guild_id: int
    channel_id: int
    message_id: int
    author_id: int
    author_name: str
    content: str
    jump_url: str
    attachment_count: int
    image_url: str | None
    created_at: datetime
    reaction_count: int

    def __post_init__(self) -> None:
        # Every stored time is UTC; a naive time would silently land on the wrong local day.
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError("Share.created_at must be timezone-aware (UTC)")


# --------------------------------------------------------------------------------------------
# Hashtag matching
# --------------------------------------------------------------------------------------------

# Code (fenced, double- and single-backtick inline) is quoted text, not a tag.
_CODE = re.compile(r"```.*?```|``.+?``|`[^`]+`", re.DOTALL)
# URLs with a scheme, <wrapped> links, www. hosts and bare host/paths ("x.org/page#qiweek") are
# blanked by :func:`strip_urls`, a linear scan. The single regex it replaces,
#   <[^\s<>:]+:[^\s<>]+> | \b[a-z][a-z0-9+.-]*://\S+ | \bwww\.\S+
#   | \b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}/\S*
# (same matches, case-insensitive), backtracked from every start position: ~300 ms on a
# 4,000-character "#qiweek a-a-a-..." message, quadratic in the length.
_ANGLE_LINK = re.compile(r"<[^\s<>:]+:[^\s<>]+>")
_TOKEN = re.compile(r"\S+")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789+.-")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


def _is_word(ch: str) -> bool:
    """What ``\\w`` matches in a str pattern: Unicode alphanumerics and the underscore."""
    return ch.isalnum() or ch == "_"


def _starts_word(text: str, i: int) -> bool:
    """``\\b`` before the word character ``text[i]``."""
    return i == 0 or not _is_word(text[i - 1])


def _scheme_start(text: str, lo: int, hi: int, end: int) -> int | None:
    """Leftmost start in [lo, hi) of ``\\b[a-z][a-z0-9+.-]*://\\S+`` (token ends at ``end``).

    "://" must follow the run of scheme characters directly, so each "://" is checked once,
    walking back over its own run only: runs of different anchors never overlap.
    """
    anchor = text.find("://", lo, hi)
    while anchor != -1:
        if anchor + 3 < end:
            run = anchor
            while run > lo and text[run - 1] in _SCHEME_CHARS:
                run -= 1
            for p in range(run, anchor):
                ch = text[p]
                if ch in _ASCII_LETTERS and (
                    (p == run and _starts_word(text, p)) or (p > run and text[p - 1] in "+.-")
                ):
                    return p
        anchor = text.find("://", anchor + 3, hi)
    return None


def _www_start(text: str, lo: int, hi: int, end: int) -> int | None:
    """Leftmost start in [lo, hi) of ``\\bwww\\.\\S+``."""
    at = text.find("www.", lo, hi)
    while at != -1:
        if at + 4 < end and _starts_word(text, at):
            return at
        at = text.find("www.", at + 1, hi)
    return None


def _host_start(text: str, lo: int, hi: int) -> int | None:
    """Leftmost start in [lo, hi) of ``\\b[\\w-]+(?:\\.[\\w-]+)*\\.[a-z]{2,}/``.

    The host is the run of ``[\\w.-]`` right before a "/", so each "/" walks back over its
    own run once; the earliest valid start lies after the run's last "..".
    """
    slash = text.find("/", lo, hi)
    while slash != -1:
        run = slash
        while run > lo and (_is_word(text[run - 1]) or text[run - 1] in ".-"):
            run -= 1
        last_dot = text.rfind(".", run, slash)
        tld = text[last_dot + 1 : slash]
        if last_dot > run and len(tld) >= 2 and all(c in _ASCII_LETTERS for c in tld):
            double = text.rfind("..", run, last_dot + 1)
            first = run if double == -1 else double + 2
            for p in range(first, last_dot):
                ch = text[p]
                if ch == ".":
                    continue
                if _starts_word(text, p) if _is_word(ch) else p > 0 and _is_word(text[p - 1]):
                    return p
        slash = text.find("/", slash + 1, hi)
    return None


def _link_start(text: str, lo: int, hi: int, end: int) -> int | None:
    """Leftmost start in [lo, hi) of a link that runs to the token's end."""
    found = [
        p
        for p in (
            _scheme_start(text, lo, hi, end),
            _www_start(text, lo, hi, end),
            _host_start(text, lo, hi),
        )
        if p is not None
    ]
    return min(found) if found else None


def strip_urls(text: str) -> str:
    """``text`` (already case-folded) with every link replaced by one space; linear time.

    Links never span whitespace, so each whitespace-free token is scanned on its own.
    ``<scheme:...>`` ends at its ``>``; every other form runs to the end of its token.
    """
    pieces: list[str] = []
    last = 0
    for token in _TOKEN.finditer(text):
        start, end = token.span()
        chunk = token.group(0)
        if "/" not in chunk and "<" not in chunk and "www." not in chunk:
            continue
        pos = start
        cut: int | None = None
        blanks: list[tuple[int, int]] = []
        for angle in _ANGLE_LINK.finditer(text, pos, end):
            cut = _link_start(text, pos, angle.start(), end)
            if cut is not None:
                break
            blanks.append(angle.span())
            pos = angle.end()
        else:
            cut = _link_start(text, pos, end, end)
        if cut is not None:
            blanks.append((cut, end))
        for a, b in blanks:
            pieces.append(text[last:a])
            pieces.append(" ")
            last = b
    pieces.append(text[last:])
    return "".join(pieces)


# Combining marks continue the preceding letter, so "#QIWeeke\u0301" is a different tag.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u200d"


def _fold(text: str) -> str:
    """Caseless, composition-independent form used on both tags and text (casefold, then NFC)."""
    folded = text.casefold()
    if not unicodedata.is_normalized("NFC", folded):
        folded = unicodedata.normalize("NFC", folded)
    return folded


class HashtagMatcher:
    """Finds configured hashtags as whole tags; built once by :func:`compile_hashtags`.

    Runs on every guild message, so untagged text leaves after a ``'#' in text`` check and a
    substring precheck; code and URLs are only stripped when a tag might be present.
    """

    __slots__ = ("_by_fold", "_folded", "_regex", "tags")

    def __init__(self, tags: tuple[str, ...]) -> None:
        self.tags = tags
        self._by_fold = {_fold(tag): tag for tag in tags}
        self._folded = tuple(self._by_fold)
        if self._folded:
            # Longest first so an alternative never shadows a longer configured tag.
            longest_first = sorted(self._folded, key=len, reverse=True)
            alternatives = "|".join(re.escape(t) for t in longest_first)
            self._regex: re.Pattern[str] | None = re.compile(
                rf"(?<![\w/{_MARKS}])(?:{alternatives})(?![\w{_MARKS}])"
            )
        else:
            self._regex = None

    def __repr__(self) -> str:
        return f"HashtagMatcher({self.tags!r})"

    def _candidate(self, text: str) -> str | None:
        """The folded text with code and URLs blanked, or None when no tag can be present."""
        if self._regex is None or not text or "#" not in text:
            return None
        folded = _fold(text)
        if not any(tag in folded for tag in self._folded):
            return None
        folded = _CODE.sub(" ", folded)
        return strip_urls(folded)

    def matches(self, text: str) -> bool:
        """Whether ``text`` carries at least one configured tag outside code and URLs."""
        candidate = self._candidate(text)
        if candidate is None or self._regex is None:
            return False
        return self._regex.search(candidate) is not None

    def found(self, text: str) -> list[str]:
        """The configured tags (as configured) present in ``text``, in order of first use."""
        candidate = self._candidate(text)
        if candidate is None or self._regex is None:
            return []
        seen: dict[str, None] = {}
        for match in self._regex.finditer(candidate):
            seen.setdefault(self._by_fold[match.group(0)], None)
        return list(seen)


def compile_hashtags(tags: Iterable[str]) -> HashtagMatcher:
    """Build a matcher for ``tags`` (``"#QIWeek"`` or ``"QIWeek"``; blanks and repeats ignored)."""
    cleaned: dict[str, str] = {}
    for raw in tags:
        tag = raw.strip()
        if not tag:
            continue
        if not tag.startswith("#"):
            tag = "#" + tag
        if len(tag) < 2 or any(ch.isspace() for ch in tag):
            raise ValueError(f"not a hashtag: {raw!r}")
        cleaned.setdefault(_fold(tag), tag)
    return HashtagMatcher(tuple(cleaned.values()))


# --------------------------------------------------------------------------------------------
# Ranking, days and figures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestStats:
    """Headline figures for a set of shares."""

    shares: int = 0
    contributors: int = 0
    channels: int = 0


def digest_stats(shares: Iterable[Share]) -> DigestStats:
    """Count shares, distinct authors and distinct channels."""
    items = list(shares)
    return DigestStats(
        shares=len(items),
        contributors=len({s.author_id for s in items}),
        channels=len({s.channel_id for s in items}),
    )


def rank_shares(shares: Iterable[Share]) -> list[Share]:
    """Most reactions first, then earliest (the first to post wins a tie), then message id."""
    return sorted(shares, key=lambda s: (-s.reaction_count, s.created_at, s.message_id))


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of a local calendar day; 23 or 25 hours long on clock-change days."""
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return start, end


def local_day(share: Share, tz: tzinfo) -> date:
    """The local calendar day a share was posted on."""
    return share.created_at.astimezone(tz).date()


def shares_on(shares: Iterable[Share], day: date, tz: tzinfo) -> list[Share]:
    """The shares posted on local ``day``, in posting order."""
    start, end = day_bounds(day, tz)
    return sorted(
        (s for s in shares if start <= s.created_at < end),
        key=lambda s: (s.created_at, s.message_id),
    )


def weekly_stats(
    shares: Iterable[Share], tz: tzinfo, days: Iterable[date] | None = None
) -> dict[date, DigestStats]:
    """Figures per local day, in date order; every day in ``days`` is present, even at zero.

    With ``days`` given, shares outside them are left out (the roundup covers the event week).
    """
    wanted = sorted(set(days)) if days is not None else None
    by_day: dict[date, list[Share]] = {d: [] for d in wanted} if wanted is not None else {}
    for share in shares:
        day = local_day(share, tz)
        if wanted is None:
            by_day.setdefault(day, []).append(share)
        elif day in by_day:
            by_day[day].append(share)
    return {day: digest_stats(by_day[day]) for day in sorted(by_day)}


# --------------------------------------------------------------------------------------------
# Making members' words safe to repost
# --------------------------------------------------------------------------------------------

# Left verbatim: links (escaping would break them) and Discord tokens (mentions, channels, custom
# emoji, timestamps, command mentions), whose underscores must not be escaped either.
_PROTECTED = re.compile(
    r"<[^\s<>:]+:/[^\s<>]+>"
    r"|(?:https?|steam)://[^\s<]+[^<.,:;\"')\]\s*_~|`]"
    r"|<a?:\w{2,32}:\d{15,21}>"
    r"|</[-_\w ]{1,100}:\d{15,21}>"
    r"|<(?:@[!&]?|#)\d{15,21}>"
    r"|<t:-?\d{1,13}(?::[tTdDfFR])?>"
)
_INLINE_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_LINE_START = re.compile(r"^(\s*)(#|>|-|\+|\d+(?=[.)]\s)|\d+(?=[.)]$))", re.MULTILINE)
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
_ZWSP = "\u200b"


def _escape_line_starts(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        lead, token = match.group(1), match.group(2)
        if token[0].isdigit():  # "1. item" -> "1\. item": escape the list dot, not the number
            return f"{lead}{token}\\"
        return f"{lead}\\{token}"

    return _LINE_START.sub(repl, text)


def escape_text(text: str) -> str:
    """Backslash-escape markdown so text shows as typed (Discord and CommonMark alike).

    Inline markers (``* _ ~ ` | [ ]`` and backslash) are escaped everywhere outside links and
    Discord tokens; headings, block quotes and list markers only at a line start. We do this
    rather than ``discord.utils.escape_markdown`` alone because that leaves the text inside a
    masked link unescaped and misses ordered lists.
    """
    pieces: list[str] = []
    last = 0
    for match in _PROTECTED.finditer(text):
        pieces.append(_INLINE_MARKDOWN.sub(r"\\\1", text[last : match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_INLINE_MARKDOWN.sub(r"\\\1", text[last:]))
    return _escape_line_starts("".join(pieces))


def _defuse_mass_mentions(text: str) -> str:
    pieces: list[str] = []
    last = 0
    for match in _PROTECTED.finditer(text):
        pieces.append(_MASS_MENTION.sub(f"@{_ZWSP}\\1", text[last : match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_MASS_MENTION.sub(f"@{_ZWSP}\\1", text[last:]))
    return "".join(pieces)


def sanitize(text: str) -> str:
    """Neutralise a member's words for reposting: markdown shows literally, no mass mention.

    ``@everyone``/``@here`` get a zero-width space after the ``@`` so they cannot ping even if a
    sender forgets. User, role and channel mentions (``<@1>``, ``<@&1>``, ``<#1>``) are left as
    they are so they still read as names: the real defence is sending with
    ``discord.AllowedMentions.none()``, which every digest send must use.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return escape_text(_defuse_mass_mentions(text))


def snippet(text: str, limit: int = 300) -> str:
    """A sanitized one-paragraph summary of at most ``limit`` characters, cut at a word break.

    The cut is marked with "…" and the digest always links to the full message, so nothing is
    lost: a snippet is a summary, not the record.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    flat = " ".join((text or "").split())
    whole = sanitize(flat)
    if len(whole) <= limit:
        return whole
    budget = limit - 1  # room for the ellipsis
    words = flat.split(" ")

    def fits(count: int) -> bool:
        return len(sanitize(" ".join(words[:count]).rstrip())) <= budget

    low, high = 0, len(words)  # largest word count whose sanitized prefix fits
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    if low > 0:
        cut = " ".join(words[:low])
    else:  # a single word longer than the limit: cut it by characters
        first = words[0]
        lo, hi = 0, len(first)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(sanitize(first[:mid])) <= budget:
                lo = mid
            else:
                hi = mid - 1
        cut = first[:lo]
    return sanitize(cut.rstrip(" ,;:-")) + "…"


# --------------------------------------------------------------------------------------------
# Which day a member means
# --------------------------------------------------------------------------------------------

ACCEPTED_DIGEST_DAYS = (
    "today, yesterday, a weekday (Monday or Mon: that day of the event week, or the most recent "
    "one when there is no event), or a date as YYYY-MM-DD (e.g. 2026-09-14)"
)


def parse_digest_day(
    text: str | None, *, today: date, event_week: tuple[date, date] | None = None
) -> date:
    """The day a member means by ``/digest day``; ValueError says which forms are accepted.

    A digest looks back, so without an event week a weekday is the most recent one (today
    included); with one, it is that weekday of the event week, as ``/programme`` reads it.
    """
    value = (text or "").strip().lower()
    if value in ("", "today"):
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    index = weekday_named(value)
    if index is not None:
        if event_week is not None:
            first, last = event_week
            span = (last - first).days
            for offset in range(span + 1):
                candidate = first + timedelta(days=offset)
                if candidate.weekday() == index:
                    return candidate
        return today - timedelta(days=(today.weekday() - index) % 7)
    found = iso_day(value, text=text, accepted=ACCEPTED_DIGEST_DAYS)
    if found is not None:
        return found
    raise ValueError(f"I can't read {text!r} as a day. Use {ACCEPTED_DIGEST_DAYS}.")
