"""The #QIWeek digest: gateway listeners, the two message context menus, `/digest`,
`/digest-opt-out`, `/digest-opt-in`, and the organisers' `/organiser post-digest` (a mixin).

Thin: every rule is in `bot.services.digest.DigestService`.
"""

from __future__ import annotations

from datetime import date

import discord
from discord import app_commands
from discord.ext import commands

from bot.app import Services
from bot.client import QIWeekBot, first
from bot.errors import UserFacingError
from bot.render import limits
from bot.render.digest import opted_out_text, posted_digest_text, remove_refused_text
from bot.services.backfill import BackfillService
from bot.services.digest import NO_MENTIONS, DigestService
from bot.services.setup import GuildSetup
from bot.services.shares import AddResult, ShareCollector

ADD_MENU = "Add to QI Week digest"
REMOVE_MENU = "Remove from digest"


async def _resolve_day(service: DigestService, guild_id: int, text: str | None) -> date:
    try:
        return await service.resolve_day(guild_id, text)
    except ValueError as exc:
        raise UserFacingError(str(exc)) from None


async def _send_pages(interaction: discord.Interaction, pages: list[limits.Page]) -> None:
    """Ephemeral follow-ups (after a defer), one per page, pinging nobody."""
    for page in pages:
        await interaction.followup.send(
            content=page.content or discord.utils.MISSING,
            embeds=page.embeds,
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )


class DigestOrganiserCommands:
    """`/organiser post-digest`, contributed to the organiser group (which checks permission)."""

    services: Services

    @app_commands.command(name="post-digest", description="Post the #QIWeek digest now")
    @app_commands.describe(day="today (default), yesterday, a weekday, or YYYY-MM-DD")
    async def post_digest(
        self, interaction: discord.Interaction, day: app_commands.Range[str, 1, 20] | None = None
    ) -> None:
        assert interaction.guild_id is not None
        service = self.services.digest
        when = await _resolve_day(service, interaction.guild_id, day)
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            count, channel_id = await service.post_now(
                interaction.guild_id, when, by=interaction.user.id
            )
        except LookupError:
            raise UserFacingError(
                "There is no usable digest channel: set one with `/organiser setup "
                "digest_channel:` (and make sure the bot can post there)."
            ) from None
        await interaction.followup.send(posted_digest_text(when, channel_id, count), ephemeral=True)


class Digest(commands.Cog):
    """Collects shares from gateway events and answers members' digest commands."""

    def __init__(
        self,
        bot: QIWeekBot,
        digest: DigestService,
        shares: ShareCollector,
        setup: GuildSetup,
        backfill: BackfillService,
    ) -> None:
        self.bot = bot
        self.service = digest
        self.shares = shares
        self.setup = setup
        self.backfill = backfill
        # Context menus cannot live in a cog as decorated methods: build and register them here.
        self.add_menu = app_commands.ContextMenu(name=ADD_MENU, callback=self.add_to_digest)
        self.remove_menu = app_commands.ContextMenu(
            name=REMOVE_MENU, callback=self.remove_from_digest
        )
        for menu in (self.add_menu, self.remove_menu):
            menu.guild_only = True

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.add_menu)
        self.bot.tree.add_command(self.remove_menu)
        self.backfill.start_flusher()

    async def cog_unload(self) -> None:
        for menu in (self.add_menu, self.remove_menu):
            self.bot.tree.remove_command(menu.name, type=menu.type)
        await self.backfill.close()

    # ------------------------------------------------------------------ listeners

    def on_message_first(self, message: discord.Message) -> bool:
        """Every guild message, at once and without a task (see `bot.client.first`): moves
        its channel's backfill cursor; True when it may be a share (then `on_message` runs)."""
        self.backfill.seen(message)
        return self.shares.wants(message)

    @commands.Cog.listener()
    @first("on_message_first")
    async def on_message(self, message: discord.Message) -> None:
        await self.shares.handle_message(message)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        """Start, or a reconnect that was not a resume: read back what was missed (issue 10)."""
        self.backfill.start(guild)

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        await self.shares.handle_edit(payload)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self.shares.handle_delete([payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self.shares.handle_delete(payload.message_ids)

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self.shares.handle_reactions(payload.guild_id, payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self.shares.handle_reactions(payload.guild_id, payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_reaction_clear(self, payload: discord.RawReactionClearEvent) -> None:
        await self.shares.handle_reactions(payload.guild_id, payload.channel_id, payload.message_id)

    @commands.Cog.listener()
    async def on_raw_reaction_clear_emoji(
        self, payload: discord.RawReactionClearEmojiEvent
    ) -> None:
        await self.shares.handle_reactions(payload.guild_id, payload.channel_id, payload.message_id)

    # ------------------------------------------------------------- context menus

    async def add_to_digest(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Works without the hashtag and without the Message Content intent (the target is
        resolved in the interaction). A message removed from the digest comes back only when its
        author or an organiser adds it."""
        assert interaction.guild_id is not None
        problem = await self.shares.source_problem(message)
        if problem is not None:
            raise UserFacingError(problem)
        may_restore = interaction.user.id == message.author.id or (
            await self.setup.is_organiser(interaction.guild_id, interaction.user)
        )
        result = await self.shares.add_manually(message, may_restore=may_restore)
        author = discord.utils.escape_markdown(message.author.display_name)
        if result is AddResult.NOT_A_MEMBER_MESSAGE:
            raise UserFacingError("Only members' own messages can be added to the digest.")
        if result is AddResult.NOT_HERE:
            raise UserFacingError(
                "Messages from this channel can't be added to the digest (it is private or not a "
                "share channel)."
            )
        if result is AddResult.REMOVED:
            raise UserFacingError(
                "That message was removed from the digest; only its author or an organiser "
                "can add it back."
            )
        if result is AddResult.OPTED_OUT:
            raise UserFacingError(
                f"{author} has opted out of the digest, so their messages can't be added."
            )
        day = f"<t:{int(message.created_at.timestamp())}:D>"
        if result is AddResult.ALREADY:
            text = (
                f"That message was already in the digest (posted {day}); it now stays even if "
                "its hashtag is edited out."
            )
        else:
            text = f"Added {author}'s message (posted {day}) to the QI Week digest."
        if interaction.user.id == message.author.id:
            text += f" You can remove it with **{REMOVE_MENU}** (Apps menu on the message)."
        else:
            text += (
                f" Only its author or an organiser can remove it, with **{REMOVE_MENU}** "
                "(Apps menu on the message)."
            )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        await self.shares.notify_author(message)

    async def remove_from_digest(
        self, interaction: discord.Interaction, message: discord.Message
    ) -> None:
        """Its author or an organiser; anyone else is told who may."""
        assert interaction.guild_id is not None
        user = interaction.user
        if user.id != message.author.id and not await self.setup.is_organiser(
            interaction.guild_id, user
        ):
            config = await self.setup.config(interaction.guild_id)
            raise UserFacingError(remove_refused_text(config.organiser_role_id))
        removed = await self.shares.remove(interaction.guild_id, message, by=user.id)
        text = (
            "Removed that message from the digest."
            if removed
            else "That message isn't in the digest, so there was nothing to remove."
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
        if removed:  # digests already posted are edited after the answer
            await self.service.redact_pending(interaction.guild_id)

    # --------------------------------------------------------------- commands

    @app_commands.guild_only()
    @app_commands.command(name="digest", description="The #QIWeek digest so far (only you see it)")
    @app_commands.describe(day="today (default), yesterday, a weekday, or YYYY-MM-DD")
    async def digest(
        self, interaction: discord.Interaction, day: app_commands.Range[str, 1, 20] | None = None
    ) -> None:
        assert interaction.guild_id is not None
        when = await _resolve_day(self.service, interaction.guild_id, day)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await _send_pages(interaction, await self.service.digest_for(interaction.guild_id, when))

    @app_commands.guild_only()
    @app_commands.command(
        name="digest-opt-out",
        description="Remove your shares from the digest and stop collecting them",
    )
    async def digest_opt_out(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        if await self.shares.is_opted_out(interaction.guild_id, interaction.user.id):
            await interaction.response.send_message(
                "You're already opted out; nothing stored. `/digest-opt-in` resumes at any time.",
                ephemeral=True,
            )
            return
        removed = await self.shares.opt_out(interaction.guild_id, interaction.user.id)
        await interaction.response.send_message(opted_out_text(removed), ephemeral=True)
        # Digests already posted are edited after the answer (it may take a few edits).
        await self.service.redact_pending(interaction.guild_id)

    @app_commands.guild_only()
    @app_commands.command(
        name="digest-opt-in", description="Let the digest collect your #QIWeek shares again"
    )
    async def digest_opt_in(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        was_out = await self.shares.opt_in(interaction.guild_id, interaction.user.id)
        text = (
            "Welcome back: your messages with the hashtag will appear in the digest again "
            "(earlier ones were erased when you opted out, so they won't come back)."
            if was_out
            else "You're already in: your messages with the hashtag appear in the digest."
        )
        text += (
            " Please never share patient-identifiable information. `/digest-opt-out` removes "
            "your shares and stops collecting them at any time."
        )
        await interaction.response.send_message(text, ephemeral=True)


async def setup(bot: QIWeekBot) -> None:
    services = bot.services
    await bot.add_cog(
        Digest(bot, services.digest, services.shares, services.setup, services.backfill)
    )
