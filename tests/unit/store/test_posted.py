"""Posted digests: recorded once, marked by an erasure before the shares go, then settled."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.store import Store, posted

GUILD = 1
DAY = date(2026, 9, 14)
T0 = datetime(2026, 9, 14, 16, 30, tzinfo=UTC)


async def test_record_mark_and_settle(tmp_path: Path) -> None:
    async with Store(tmp_path / "p.db") as store:
        await posted.record_post(
            store, guild_id=GUILD, channel_id=9, kind="digest", day=DAY,
            message_ids=[100, 101], share_ids=[5, 6, 7], posted_at=T0,
        )  # fmt: skip
        # A re-run never widens what a post was made from.
        await posted.record_post(
            store, guild_id=GUILD, channel_id=9, kind="digest", day=DAY,
            message_ids=[100, 101], share_ids=[5, 6, 7, 8], posted_at=T0,
        )  # fmt: skip
        await posted.record_post(
            store, guild_id=GUILD, channel_id=9, kind="weekly", day=DAY,
            message_ids=[200], share_ids=[8], posted_at=T0,
        )  # fmt: skip
        assert await posted.pending(store, GUILD) == []
        assert await posted.mark_posts_with_shares(store, GUILD, [6]) == 2  # both parts
        assert await posted.mark_posts_with_shares(store, 2, [6]) == 0  # another server's
        [post] = await posted.pending(store, GUILD)
        assert (post.post_id, post.kind, post.day) == (100, "digest", DAY)
        assert post.message_ids == (100, 101) and post.share_ids == {5, 6, 7}

        for share_id in (5, 7):  # still stored (6 was the one erased)
            await store.db.execute(
                "INSERT INTO shares (message_id, guild_id, channel_id, author_id, author_name,"
                " content, jump_url, created_at) VALUES (?, ?, 9, 1, 'A', 'x #QIWeek', 'u', '')",
                (share_id, GUILD),
            )
        await posted.redacted(store, 100, [5, 7])
        assert await posted.pending(store, GUILD) == []
        await posted.mark_posts_with_shares(store, GUILD, [7])
        [again] = await posted.pending(store, GUILD)
        assert again.share_ids == {5, 7}
        # Share 7 is erased while the post is being edited to show 5 and 7: the edit is stale,
        # so the post stays marked for the next redaction.
        await store.db.execute("DELETE FROM shares WHERE message_id = 7")
        await posted.redacted(store, 100, [5, 7])
        [still] = await posted.pending(store, GUILD)
        assert still.share_ids == {5, 7}
        await posted.redacted(store, 100, [])  # nothing left to show: forgotten
        assert await posted.mark_posts_with_shares(store, GUILD, [5]) == 0

        assert await posted.mark_posts_before(store, GUILD, T0 + timedelta(seconds=1)) == 1
        [old] = await posted.pending(store, GUILD)
        assert old.kind == "weekly"
        await posted.forget_message(store, 200)
        assert await posted.pending(store, GUILD) == []


async def test_many_erased_ids_are_chunked(tmp_path: Path) -> None:
    async with Store(tmp_path / "p.db") as store:
        await posted.record_post(
            store, guild_id=GUILD, channel_id=9, kind="digest", day=DAY,
            message_ids=[1], share_ids=[2999], posted_at=T0,
        )  # fmt: skip
        assert await posted.mark_posts_with_shares(store, GUILD, range(3000)) == 1
