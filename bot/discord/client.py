"""The discord.py client Liaison runs, and what it hands interactions to (the running adapter).

Its own module so the command tree, the adapter and `liaison discord sync` can each build one
without importing each other.
"""

from __future__ import annotations

from typing import Protocol

import discord

from bot.discord.buttons import ActionButton, PersonPicker
from commands.core.messages import Reply
from commands.core.registry import Command, Kind

# discord.py sleeps through rate limits up to this long; longer ones go back to the outbox.
MAX_RATELIMIT_WAIT = 10.0


class Runner(Protocol):
    """What the tree hands its work to: the running adapter."""

    async def run_command(
        self, interaction: discord.Interaction, command: Command, raw: dict[str, str]
    ) -> None:
        """Run a command for an interaction and answer it."""
        ...

    async def suggest(self, kind: Kind, typed: str) -> list[tuple[str, str]]:
        """Autocomplete suggestions (label, value) for a parameter kind."""
        ...

    async def answer(self, interaction: discord.Interaction, reply: Reply) -> None:
        """Answer an interaction with a reply, only to the person who asked."""
        ...

    async def member_left(self, guild_id: int, user_id: int) -> None:
        """Someone left a server the bot is in, or was removed from it."""
        ...


def runner_of(interaction: discord.Interaction) -> Runner | None:
    """The adapter serving this interaction's client, if the client is a running one."""
    client = interaction.client
    return client.liaison if isinstance(client, LiaisonClient) else None


def intents(*, members: bool = False) -> discord.Intents:
    """Only what the bot needs: guild events for slash commands, no message content; with
    `members` ([discord] members), the events of members leaving the server too."""
    return discord.Intents(guilds=True, members=members)


class LiaisonClient(discord.Client):
    """A discord.py client that knows the adapter serving it (None: publishing commands only)."""

    def __init__(self, liaison: Runner | None = None, *, members: bool = False) -> None:
        # Liaison has no voice: the warnings about voice libraries would only mislead.
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents(members=members),
            # Nothing pings unless a send says whom: the safe default under every call.
            allowed_mentions=discord.AllowedMentions.none(),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self.liaison = liaison

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member left or was kicked (the raw event: it comes whether or not the server's
        members are cached, and Liaison caches none)."""
        if self.liaison is not None:
            await self.liaison.member_left(payload.guild_id, payload.user.id)

    async def setup_hook(self) -> None:
        """Route button presses and picks by their custom_id templates, from any process."""
        self.add_dynamic_items(ActionButton, PersonPicker)
