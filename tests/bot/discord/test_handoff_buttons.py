"""A hand-off on Discord: proposed by slash command, answered by the other org's button."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from commands.core.clock import FakeClock
from tests.bot.discord.conftest import SHARED, Discord


@pytest.fixture
def clock() -> FakeClock:
    """Monday 15:00 UTC: 10:00 in New York, inside both orgs' working hours, so the DMs these
    tests read are not held for the morning (see /me hours)."""
    return FakeClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))


def _buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


async def test_the_other_org_declines_a_proposal_with_the_button(bot: Discord) -> None:
    await bot.run("alice", "dri set", area="Smart contract review", person="bob")
    await bot.run("alice", "handoff plan", area="Smart contract review", horizon="near")
    await bot.drain()
    (ref,) = [
        k
        for k, m in bot.api.messages.items()
        if k.startswith(f"{SHARED}:") and "handoff:decline:area.1" in _buttons(m)
    ]
    assert _buttons(bot.api.messages[ref]) == ["handoff:accept:area.1", "handoff:decline:area.1"]
    refused = await bot.press("alice", "handoff:decline:area.1", ref)
    assert "only leads of `ic` can decline" in refused
    reply = await bot.press("carol", "handoff:decline:area.1", ref)
    assert "no hand-off planned" in reply
    await bot.drain()
    declined = [
        m for m in bot.api.messages.values() if m["embeds"][0].get("title") == "Hand-off declined"
    ]
    assert len(declined) == 1


async def test_a_dri_confirms_their_area_with_the_button_in_their_dm(bot: Discord) -> None:
    await bot.run("alice", "dri set", area="Smart contract review", person="bob")
    await bot.run("alice", "dri verify")
    await bot.drain()
    (ref,) = [
        k
        for k, m in bot.api.messages.items()
        if not k.startswith(f"{SHARED}:") and "dri:confirm:area.1" in _buttons(m)
    ]
    assert _buttons(bot.api.messages[ref]) == ["dri:confirm:area.1", "dri:release:area.1"]
    assert "Only @bob (the DRI) can confirm" in await bot.press("alice", "dri:confirm:area.1", ref)
    reply = await bot.press("bob", "dri:confirm:area.1", ref)
    assert "you are still the DRI of" in reply
    await bot.drain()
    # The question is replaced by the answer, so its buttons cannot be pressed again.
    assert _buttons(bot.api.messages[ref]) == []
    assert bot.api.messages[ref]["embeds"][0]["title"] == "Who runs Smart contract review"
