"""A member who leaves the Discord server (or is kicked): their person is gone, their areas
flagged and their backups told, once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.discord.client import LiaisonClient
from commands.core.clock import FakeClock
from tests.bot.discord.conftest import GUILD, USERS, Discord, shown, user_payload


@pytest.fixture
def clock() -> FakeClock:
    """Monday 15:00 UTC: 10:00 in New York, inside alice's working hours (her DM is not held)."""
    return FakeClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))


async def _remove(bot: Discord, name: str, guild: int = GUILD) -> None:
    """GUILD_MEMBER_REMOVE, handed to the client as the gateway does; wait for its handler."""
    state = bot.adapter.client._connection
    state.parse_guild_member_remove({"guild_id": str(guild), "user": user_payload(name)})
    while pending := [
        t
        for t in asyncio.all_tasks()
        if not t.done() and t.get_name() == "discord.py: on_raw_member_remove"
    ]:
        await asyncio.wait(pending)
    await bot.drain()


def _lost(bot: Discord) -> list[dict[str, Any]]:
    return [
        m
        for m in bot.api.messages.values()
        if (m.get("embeds") or [{}])[0].get("title") == "Keeper bots has lost its DRI"
    ]


async def test_a_dri_who_leaves_the_server_has_their_area_flagged_and_backup_told_once(
    bot: Discord,
) -> None:
    await bot.run("alice", "dri set", area="Keeper bots", person="bob", backup="alice")
    # Leaving another server the bot is in is not leaving Liaison's.
    await _remove(bot, "bob", guild=GUILD + 1)
    assert not _lost(bot)
    await _remove(bot, "bob")
    (told,) = _lost(bot)
    text = shown(told["embeds"][0]["description"])
    assert "the DRI of **Keeper bots** for `set`, left the Discord server" in text
    assert "You stand in for the area" in text
    dm_channels = {
        str(c.json["recipient_id"]) for c in bot.api.called("POST", "users/@me/channels")
    }
    assert dm_channels == {str(USERS["alice"])}
    listed = await bot.run("alice", "dri list")
    assert "· DRI left" in listed
    # Kicked again after re-joining, or the event seen twice: nothing more.
    await _remove(bot, "bob")
    assert len(_lost(bot)) == 1
    history = await bot.run("alice", "dri history", area="Keeper bots")
    assert history.count("the DRI is gone from the platform") == 1
    assert "Discord" in history


async def test_the_members_intent_is_asked_for_only_when_configured(bot: Discord) -> None:
    # A privileged intent: asking for it before it is enabled in the portal is refused.
    assert not bot.adapter.client.intents.members
    assert LiaisonClient(None, members=True).intents.members
