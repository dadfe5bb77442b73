"""Proves bot/sandbox against the real discord.py client (a minimal bot defined here)."""

from __future__ import annotations

import asyncio
import io
import warnings
import zlib
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import pytest_asyncio
import yarl
from discord import app_commands
from discord.ext import commands

from bot.sandbox import FakeDiscord
from tests.sandbox_plugin import connected

SESSIONS = ["QI basics", "QI in primary care", "Measurement for improvement", "Quiz night"]


class PressView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Press", custom_id="qi:press", style=discord.ButtonStyle.primary)
    async def press(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content=f"pressed by {interaction.user.name}")


class PagerView(discord.ui.View):
    """An ephemeral message paged in place (type 7), as `/programme` does."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Next", custom_id="qi:next")
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(content="page 2")

    @discord.ui.button(label="Huge", custom_id="qi:huge")
    async def huge(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        try:
            await interaction.response.edit_message(content="x" * 2001)
        except discord.HTTPException as exc:
            interaction.client.seen.append(("huge", exc.status))  # type: ignore[attr-defined]


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="Your feedback", custom_id="fb:text", max_length=500)

    def __init__(self, bot: MiniBot) -> None:
        super().__init__(custom_id="fb:modal")
        self.bot = bot

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.bot.seen.append(("modal", self.text.value))
        await interaction.response.send_message("thanks", ephemeral=True)


class MiniBot(commands.Bot):
    """Just enough bot to exercise the fake."""

    def __init__(self, guild_id: int) -> None:
        intents = discord.Intents.default()
        intents.members = True
        intents.message_content = True
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        self.guild_obj = discord.Object(guild_id)
        self.seen: list[tuple[str, Any]] = []
        self.errors: list[BaseException] = []

    async def setup_hook(self) -> None:
        guild = self.guild_obj
        tree = self.tree

        @tree.command(name="ping", description="Ping", guild=guild)
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong", ephemeral=True)

        @tree.command(name="slow", description="Deferred", guild=guild)
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await asyncio.sleep(0.05)
            await interaction.followup.send("done")
            await interaction.followup.send("extra", ephemeral=True)

        @tree.command(name="late", description="Answers too late", guild=guild)
        async def late(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.3)
            try:
                await interaction.response.send_message("too late")
            except discord.NotFound as exc:
                self.seen.append(("late", exc.code))

        @tree.command(name="session", description="Find a session", guild=guild)
        async def session(interaction: discord.Interaction, session: str, day: int = 1) -> None:
            await interaction.response.send_message(f"{session} on day {day}")

        @session.autocomplete("session")
        async def session_ac(interaction: discord.Interaction, current: str) -> list[Any]:
            return [
                app_commands.Choice(name=s, value=s)
                for s in SESSIONS
                if current.lower() in s.lower()
            ]

        @tree.command(name="buttons", description="Buttons", guild=guild)
        async def buttons(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("press me", view=PressView())

        @tree.command(name="pager", description="Ephemeral pages", guild=guild)
        async def pager(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("page 1", view=PagerView(), ephemeral=True)

        @tree.command(name="edit", description="Send then edit", guild=guild)
        async def edit(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("draft")
            await interaction.edit_original_response(content="final")

        @tree.command(name="pick", description="Select", guild=guild)
        async def pick(interaction: discord.Interaction) -> None:
            view = discord.ui.View(timeout=30)
            select: discord.ui.Select = discord.ui.Select(
                custom_id="qi:day", options=[discord.SelectOption(label=d) for d in ("mon", "tue")]
            )

            async def chosen(inter: discord.Interaction) -> None:
                await inter.response.send_message(f"chose {select.values[0]}", ephemeral=True)

            select.callback = chosen  # type: ignore[method-assign]
            view.add_item(select)
            await interaction.response.send_message("pick a day", view=view)

        @tree.command(name="feedback", description="Modal", guild=guild)
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal(self))

        group = app_commands.Group(
            name="organiser", description="Organiser tools", guild_ids=[guild.id]
        )

        @group.command(name="announce", description="Announce")
        async def announce(
            interaction: discord.Interaction,
            message: str,
            ping: discord.Role | None = None,
            file: discord.Attachment | None = None,
        ) -> None:
            data = await file.read() if file else b""
            self.seen.append(("announce", message, ping.id if ping else None, data))
            await interaction.response.send_message(f"announced {message}", ephemeral=True)

        tree.add_command(group)

        @tree.context_menu(name="Add to QI Week digest", guild=guild)
        async def add_digest(interaction: discord.Interaction, message: discord.Message) -> None:
            self.seen.append(("digest", message.content))
            await interaction.response.send_message("added", ephemeral=True)

        await tree.sync(guild=guild)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause before a re-IDENTIFY (kept fast for tests)."""

    async def on_message(self, message: discord.Message) -> None:
        if message.author.id != self.user.id:  # type: ignore[union-attr]
            self.seen.append(("message", message.author.name, message.content))

    async def on_message_edit(self, before: discord.Message, after: discord.Message) -> None:
        self.seen.append(("edit", after.content))

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        self.seen.append(("delete", payload.message_id))

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.seen.append(("react", payload.user_id, str(payload.emoji)))

    async def on_member_join(self, member: discord.Member) -> None:
        self.seen.append(("join", member.name))


@pytest_asyncio.fixture
async def bot(discord_endpoints: FakeDiscord) -> AsyncIterator[MiniBot]:
    """A MiniBot connected to the fake and ready."""
    async with connected(discord_endpoints, MiniBot(discord_endpoints.guild.id)) as client:
        yield client


class ZlibStream:
    """discord.py's zlib-stream decompressor (utils._ZlibDecompressionContext), which it only
    defines when `zstandard` is missing; the test extra installs zstandard, so both transports
    are exercised: zstd-stream by default, zlib-stream through this stand-in."""

    COMPRESSION_TYPE = "zlib-stream"

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.context = zlib.decompressobj()

    def decompress(self, data: bytes, /) -> str | None:
        self.buffer.extend(data)
        if len(data) < 4 or data[-4:] != b"\x00\x00\xff\xff":
            return None
        message = self.context.decompress(self.buffer)
        self.buffer = bytearray()
        return message.decode("utf-8")


async def test_zlib_stream_transport(
    discord_endpoints: FakeDiscord, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.utils, "_ActiveDecompressionContext", ZlibStream)
    async with connected(discord_endpoints, MiniBot(discord_endpoints.guild.id)) as client:
        await discord_endpoints.reconnect_gateway("reconnect")
        await client.get_channel(discord_endpoints.channels["general"]).send("over zlib")
        guild = client.get_guild(discord_endpoints.guild.id)
        assert guild is not None and guild.get_member(discord_endpoints.users["member"])
    assert [q["compress"] for q in discord_endpoints.gateway_queries] == ["zlib-stream"] * 2
    assert discord_endpoints.resumes == 1


async def test_connects_and_sees_the_guild(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    expected = discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE
    assert fake_discord.gateway_queries[0]["compress"] == expected == "zstd-stream"
    assert fake_discord.identifies == 1
    guild = bot.get_guild(fake_discord.guild.id)
    assert guild is not None and guild.name == "QI Week"
    assert {c.name for c in guild.text_channels} >= {
        "general",
        "programme",
        "announcements",
        "digest",
    }
    organiser = guild.get_member(fake_discord.users["organiser"])
    assert organiser is not None
    assert [r.name for r in organiser.roles if r.name != "@everyone"] == ["organiser"]
    admin = guild.get_member(fake_discord.users["admin"])
    assert admin is not None and admin.guild_permissions.manage_guild
    assert guild.me is not None and guild.me.bot
    synced = {c["name"] for c in fake_discord.synced_commands(fake_discord.guild.id)}
    assert {"ping", "slow", "session", "organiser", "Add to QI Week digest"} <= synced
    assert bot.application_id == fake_discord.bot_user.id


async def test_slash_ephemeral_and_deferred_followups(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    it = await fake_discord.slash("member", "ping")
    response = await it.response()
    assert response["type"] == 4 and response["data"]["content"] == "pong"
    assert it.ephemeral and it.original["ephemeral"]  # type: ignore[index]
    assert it.elapsed is not None and it.elapsed < 1

    it = await fake_discord.slash("member", "slow")
    assert (await it.response())["type"] == 5
    done, extra = await it.followups(2)
    assert done["content"] == "done" and done["id"] == it.original["id"]  # type: ignore[index]
    assert extra["content"] == "extra" and extra["flags"] & 64
    general = fake_discord.bot_messages("general")
    assert [m["content"] for m in general] == ["done"]


async def test_autocomplete_subcommand_attachment_and_context_menu(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    choices = await fake_discord.autocomplete("member", "session", focused="session", session="qi")
    assert [c["name"] for c in choices] == ["QI basics", "QI in primary care"]

    it = await fake_discord.slash("member", "session", session="QI basics", day=3)
    assert (await it.response())["data"]["content"] == "QI basics on day 3"

    upload = fake_discord.attachment("notes.txt", b"hello file")
    it = await fake_discord.slash(
        "organiser",
        "organiser announce",
        message="hi",
        ping=fake_discord.roles["organiser"],
        file=upload,
    )
    await it.response()
    assert ("announce", "hi", fake_discord.roles["organiser"], b"hello file") in bot.seen

    msg = await fake_discord.post_message("member", "general", "great session")
    it = await fake_discord.context_menu("organiser", "Add to QI Week digest", msg)
    assert (await it.response())["data"]["content"] == "added"
    assert ("digest", "great session") in bot.seen


async def test_button_click_and_modal(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    it = await fake_discord.slash("member", "buttons")
    await it.response()
    message = it.original
    assert message is not None
    click = await fake_discord.click("member2", message, "qi:press")
    assert (await click.response())["type"] == 7
    assert fake_discord.message(message["id"])["content"] == "pressed by member2"  # type: ignore[index]

    it = await fake_discord.slash("member", "pick")
    await it.response()
    chosen = await fake_discord.select("member", it.original, "qi:day", ["tue"])  # type: ignore[arg-type]
    assert (await chosen.response())["data"]["content"] == "chose tue"

    it = await fake_discord.slash("member", "edit")
    final = await it.wait_original(lambda m: m["content"] == "final")
    assert final["edited_timestamp"] is not None
    assert fake_discord.requests_to("PATCH", r"/webhooks/\d+/[^/]+/messages/@original$")

    it = await fake_discord.slash("member", "feedback")
    assert (await it.response())["type"] == 9
    sub = await fake_discord.submit_modal("member", "fb:modal", {"fb:text": "lovely"})
    assert (await sub.response())["data"]["content"] == "thanks"
    assert ("modal", "lovely") in bot.seen


async def test_an_ephemeral_message_is_paged_in_place(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    it = await fake_discord.slash("member", "pager")
    await it.response()
    message = it.original
    assert message is not None and message["ephemeral"]
    click = await fake_discord.click("member", message, "qi:next")
    assert (await click.response())["type"] == 7
    assert click.payload["message"]["id"] == message["id"]  # the press carries its message
    edited = fake_discord.message(message["id"])
    assert edited is not None and edited["content"] == "page 2" and edited["ephemeral"]
    assert len(fake_discord.bot_messages("general")) == 0  # edited, nothing new posted
    # An UPDATE_MESSAGE is held to the same limits as any message.
    await fake_discord.click("member", message, "qi:huge")
    await fake_discord.wait_for(lambda: ("huge", 400) in bot.seen)
    assert fake_discord.message(message["id"])["content"] == "page 2"  # type: ignore[index]


async def test_gateway_events_reach_the_bot(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    msg = await fake_discord.post_message("member", "general", "hello bot")
    await fake_discord.wait_for(lambda: ("message", "member", "hello bot") in bot.seen)
    await fake_discord.edit_message(msg, "hello again")
    await fake_discord.react("member2", msg, "👍")
    await fake_discord.delete_message(msg)
    await fake_discord.add_member("newbie")
    await fake_discord.wait_for(lambda: ("join", "newbie") in bot.seen)
    assert ("message", "member", "hello bot") in bot.seen
    assert ("edit", "hello again") in bot.seen
    assert ("react", fake_discord.users["member2"], "👍") in bot.seen
    assert ("delete", int(msg["id"])) in bot.seen


async def test_limits_nonce_and_dm_errors(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(fake_discord.channels["general"])
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("x" * 2001)
    assert info.value.code == 50035 and info.value.status == 400
    assert fake_discord.rejected[-1].errors and "content" in fake_discord.rejected[-1].errors
    with pytest.raises(discord.HTTPException) as info:
        await channel.send(embed=discord.Embed(title="t" * 257))
    assert info.value.code == 50035

    first = await channel.send("once", nonce="qi-1")
    second = await channel.send("twice", nonce="qi-1")
    assert first.id == second.id and second.content == "once"
    assert [m["content"] for m in fake_discord.messages("general")] == ["once"]

    with_file = await channel.send("see file", file=discord.File(io.BytesIO(b"abc"), "a.txt"))
    stored = fake_discord.message(with_file.id)
    assert stored is not None and stored["attachments"][0]["bytes"] == b"abc"
    assert await with_file.attachments[0].read() == b"abc"
    await with_file.add_reaction("✅")
    assert fake_discord.message(with_file.id)["reactions"][0]["me"]  # type: ignore[index]
    history = [m.content async for m in channel.history(limit=10)]
    assert history == ["see file", "once"]
    with pytest.raises(discord.HTTPException) as info:
        await channel.send("n", nonce="x" * 26)
    assert info.value.code == 50035

    fake_discord.close_dms("member")
    member = bot.get_guild(fake_discord.guild.id).get_member(fake_discord.users["member"])  # type: ignore[union-attr]
    assert member is not None
    with pytest.raises(discord.Forbidden) as forbidden:
        await member.send("hello")
    assert forbidden.value.code == 50007
    member2 = bot.get_user(fake_discord.users["member2"])
    assert member2 is not None
    await member2.send("welcome")
    assert [m["content"] for m in fake_discord.dms("member2")] == ["welcome"]


async def test_injected_429_and_500_are_retried(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(fake_discord.channels["programme"])
    assert isinstance(channel, discord.TextChannel)
    fake_discord.inject("POST", r"/channels/\d+/messages$", 429, retry_after=0.05)
    sent = await channel.send("after a 429")
    assert sent.content == "after a 429"
    statuses = [r.status for r in fake_discord.requests_to("POST", r"/channels/\d+/messages$")]
    assert statuses == [429, 200]
    assert fake_discord.count_429 == 1
    fake_discord.inject("GET", r"/channels/\d+/messages/\d+$", 500)
    fetched = await channel.fetch_message(sent.id)
    assert fetched.id == sent.id
    fake_discord.inject(
        "GET", r"/channels/\d+/messages/\d+$", 403, code=50001, message="Missing Access"
    )
    with pytest.raises(discord.Forbidden):
        await channel.fetch_message(sent.id)


async def test_global_rate_limit(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    channel = bot.get_channel(fake_discord.channels["digest"])
    assert isinstance(channel, discord.TextChannel)
    fake_discord.set_global_rate_limit(5)
    await asyncio.gather(*(channel.send(f"m{i}") for i in range(8)))
    assert len(fake_discord.messages("digest")) == 8
    assert fake_discord.count_429 >= 1


async def test_reconnect_resumes_and_bot_still_answers(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    await fake_discord.reconnect_gateway()
    assert fake_discord.resumes == 1 and fake_discord.identifies == 1
    it = await fake_discord.slash("member", "ping")
    assert (await it.response())["data"]["content"] == "pong"


async def test_invalidated_session_identifies_again(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    await fake_discord.reconnect_gateway("invalidate")
    assert fake_discord.identifies == 2
    msg = await fake_discord.post_message("member", "general", "still there?")
    await fake_discord.wait_for(lambda: ("message", "member", "still there?") in bot.seen)
    assert msg["id"]


async def test_bad_token_is_401(fake_discord: FakeDiscord) -> None:
    old_base = discord.http.Route.BASE
    discord.http.Route.BASE = fake_discord.api_base
    client = MiniBot(fake_discord.guild.id)
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("wrong")
    finally:
        await client.close()
        discord.http.Route.BASE = old_base
    assert fake_discord.rejected[-1].status == 401


async def test_late_response_gets_unknown_interaction(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    fake_discord.interaction_deadline = 0.1
    it = await fake_discord.slash("member", "late")
    await fake_discord.wait_for(lambda: ("late", 10062) in bot.seen)
    assert it.late_callbacks and not it.callbacks
    assert fake_discord.rejected[-1].code == 10062


async def test_double_response_is_40060(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    it = await fake_discord.slash("member", "ping")
    await it.response()
    with pytest.raises(discord.HTTPException) as info:
        await bot.http.request(
            discord.http.Route("POST", "/interactions/{i}/{t}/callback", i=it.id, t=it.token),
            json={"type": 4, "data": {"content": "again"}},
        )
    assert info.value.code == 40060


async def test_unknown_route_is_recorded(fake_discord: FakeDiscord, bot: MiniBot) -> None:
    with pytest.raises(discord.NotFound):
        await bot.http.request(discord.http.Route("GET", "/no/such/route"))
    assert fake_discord.unknown_routes == [("GET", "/no/such/route")]
    fake_discord.unknown_routes.clear()


async def test_large_guild_is_chunked(fake_discord: FakeDiscord) -> None:
    for i in range(300):
        fake_discord.add_user(f"member{i:04d}")
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake_discord.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake_discord.gateway_url)
    client = MiniBot(fake_discord.guild.id)
    try:
        await client.login(fake_discord.token)
        task = asyncio.create_task(client.connect())
        await asyncio.wait_for(client.wait_until_ready(), 5)
        guild = client.get_guild(fake_discord.guild.id)
        assert guild is not None and guild.member_count == len(guild.members) > 300
        assert any(m.get("op") == 8 for m in fake_discord.gateway_received)
    finally:
        await client.close()
        await asyncio.wait_for(task, 5)
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


async def test_stop_leaves_no_warnings() -> None:
    fake = FakeDiscord(heartbeat_interval_ms=100)
    await fake.start()
    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = MiniBot(fake.guild.id)
        await client.login(fake.token)
        task = asyncio.create_task(client.connect())
        await asyncio.wait_for(client.wait_until_ready(), 5)
        await asyncio.sleep(0.35)
        await client.close()
        await asyncio.wait_for(task, 5)
        await fake.stop()
        discord.http.Route.BASE = "https://discord.com/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL("wss://gateway.discord.gg/")
        await asyncio.sleep(0)
    assert [str(w.message) for w in caught] == []
    assert sum(1 for m in fake.gateway_received if m["op"] == 1) >= 3
    assert fake.identifies == 1 and fake.gateway_connects == 1


def test_limits_module() -> None:
    from bot.sandbox import limits

    assert limits.validate_message({"content": "x" * 2000}) == {}
    assert "content" in limits.validate_message({"content": "x" * 2001})
    embed = {"title": "t", "fields": [{"name": "n", "value": "v" * 1024}] * 6}
    assert "embeds" in limits.validate_message({"embeds": [embed]})  # 6,000+ characters
    assert "embeds" in limits.validate_message({"embeds": [{"title": "t"}] * 11})
    rows = [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "b", "label": "b"}]}]
    assert "components" in limits.validate_message({"components": rows * 6})
    six = [{"type": 2, "style": 1, "custom_id": f"b{i}", "label": "b"} for i in range(6)]
    assert "components" in limits.validate_message({"components": [{"type": 1, "components": six}]})
    twins = [{"type": 2, "style": 1, "custom_id": "same", "label": "b"}] * 2
    assert "components" in limits.validate_message(
        {"components": [{"type": 1, "components": twins}]}
    )
    select = {"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}
    beside = [select, {"type": 2, "style": 1, "custom_id": "b", "label": "b"}]
    assert "components" in limits.validate_message(
        {"components": [{"type": 1, "components": beside}]}
    )
    long_id = [{"type": 2, "style": 1, "custom_id": "c" * 101, "label": "b"}]
    assert limits.validate_message({"components": [{"type": 1, "components": long_id}]})
    assert "allowed_mentions" in limits.validate_message(
        {"content": "x", "allowed_mentions": {"roles": [str(i) for i in range(101)]}}
    )
    assert limits.validate_choices([{"name": "a", "value": "a"}] * 26)
    assert limits.validate_choices([{"name": "a", "value": "v" * 101}])
    modal = {"title": "t" * 46, "custom_id": "m", "components": []}
    assert limits.validate_modal(modal)


async def test_dm_opens_refused_too_fast_with_40003(
    fake_discord: FakeDiscord, bot: MiniBot
) -> None:
    fake_discord.throttle_dm_opens(times=1)
    user = await bot.fetch_user(fake_discord.users["member2"])
    with pytest.raises(discord.HTTPException) as info:
        await user.create_dm()
    assert info.value.status == 400 and info.value.code == 40003
    assert "too fast" in info.value.text
    channel = await user.create_dm()  # only the next open was refused
    assert channel.id == fake_discord.dm_channel_id("member2")


async def test_timestamps_and_snowflakes_follow_the_server_clock() -> None:
    from datetime import UTC, datetime

    event_time = datetime(2026, 9, 14, 9, 30, tzinfo=UTC)
    fake = FakeDiscord(clock=lambda: event_time)
    message = await fake.post_message("member", "general", "hello")
    assert message["timestamp"] == event_time.isoformat()
    assert discord.utils.snowflake_time(int(message["id"])) == event_time
