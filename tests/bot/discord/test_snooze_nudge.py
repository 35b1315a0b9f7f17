"""Snooze and nudge on Discord: the buttons of a reminder DM and of the requester's reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from commands.core.clock import FakeClock
from tests.bot.discord.conftest import USERS, Discord

LINK = "https://github.com/org/repo/pull/7"
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


def _titled(bot: Discord, words: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (ref, m)
        for ref, m in bot.api.messages.items()
        if m["embeds"] and words in (m["embeds"][0].get("title") or "")
    ]


async def _later(bot: Discord, clock: FakeClock, by: timedelta) -> None:
    clock.set(clock.now() + by)
    await bot.runtime.deadlines.tick()
    await bot.drain()


async def test_the_reminder_snooze_button_and_the_requesters_nudge_button(
    bot: Discord, clock: FakeClock
) -> None:
    clock.set(MONDAY)
    await bot.run(
        "alice", "review request", link=LINK, title="Hotfix", policy="hotfix", reviewer="dave"
    )
    reply = bot.last_reply()
    assert _buttons(bot.api.messages[reply]) == ["review:nudge:1"]
    assert "Nudged @dave about #1." in await bot.press("alice", "review:nudge:1", reply)
    await bot.drain()
    ((_, nudge),) = _titled(bot, "Nudge: review #1")
    assert f"<@{USERS['alice']}> is waiting for your review" in nudge["embeds"][0]["description"]
    too_soon = await bot.press("alice", "review:nudge:1", reply)
    assert "you can nudge again from 2026-01-05 08:00 EST" in too_soon

    await _later(bot, clock, timedelta(minutes=16))
    ((ref, warning),) = _titled(bot, "acknowledge SLA due soon")
    assert _buttons(warning) == ["review:snooze:1=1h", "review:snooze:1=tomorrow"]
    pressed = await bot.press("dave", "review:snooze:1=tomorrow", ref)
    assert "paused until 2026-01-06 09:00 GMT" in pressed
    dave_dm = warning["channel_id"]
    before = [k for k in bot.api.messages if k.startswith(f"{dave_dm}:")]
    await _later(bot, clock, timedelta(minutes=50))
    assert [k for k in bot.api.messages if k.startswith(f"{dave_dm}:")] == before
    # Escalation to others is not delayed: level 1 reached carol, the breach the card's thread.
    level_one = _titled(bot, "acknowledge SLA escalation, level 1")
    assert level_one and all(m["channel_id"] != dave_dm for _, m in level_one)
    assert any(
        "was breached" in str(m)
        for k, m in bot.api.messages.items()
        if not k.startswith(f"{dave_dm}:")
    )
