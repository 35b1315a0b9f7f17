"""A review on Discord: requested by slash command, moved on by buttons, its card edited."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.discord import DiscordAdapter
from commands.core.clock import FakeClock
from tests.bot.discord.conftest import SHARED, USERS, Discord, shown

LINK = "https://github.com/org/repo/pull/7"


def _buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


def _fields(message: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0].get("fields", [])}


async def _request(bot: Discord) -> str:
    """Request review #1 from dave as alice; return the card's reference."""
    reply = await bot.run(
        "alice", "review request", link=LINK, title="Fix the oracle", reviewer="dave"
    )
    assert "Review #1 requested from Index Coop" in reply
    await bot.drain()
    [card] = [k for k in bot.api.messages if k.startswith(f"{SHARED}:")]
    return card


async def test_a_requested_review_posts_a_card_linked_to_the_pr_with_live_clocks(
    bot: Discord,
) -> None:
    ref = await _request(bot)
    card = bot.api.messages[ref]
    embed = card["embeds"][0]
    assert embed["title"] == "Review #1 · Fix the oracle"
    assert embed["url"] == LINK
    fields = _fields(card)
    assert fields["Reviewer"] == f"<@{USERS['dave']}>"
    assert fields["Policy"] == "smart-contract"
    assert "waiting for acknowledgement" in fields["State"]
    assert re.fullmatch(r"due <t:\d+:f> \(<t:\d+:R>\)", fields["Acknowledge"])
    assert _buttons(card) == [
        "review:ack:1",
        "review:start:1",
        "review:changes:1",
        "review:approve:1",
        "review:reassign:1",
    ]
    [call] = bot.api.called("POST", f"channels/{SHARED}/messages")
    assert call.json["allowed_mentions"] == {
        "parse": [],
        "users": [USERS["alice"], USERS["dave"]],
    }


async def test_buttons_move_the_review_on_and_the_card_is_edited_in_place(bot: Discord) -> None:
    ref = await _request(bot)
    channel, message = ref.split(":")

    reply = await bot.press("dave", "review:ack:1", ref)
    assert reply == "#1 acknowledged."
    await bot.drain()
    [edit] = bot.api.called("PATCH", f"channels/{channel}/messages/{message}")
    assert edit.json["allowed_mentions"]["parse"] == []
    assert "acknowledged" in _fields(bot.api.messages[ref])["State"]
    assert "review:ack:1" not in _buttons(bot.api.messages[ref])

    assert await bot.press("dave", "review:start:1", ref) == "#1 is in review."
    assert await bot.press("dave", "review:approve:1", ref) == "#1 is approved."
    await bot.drain()
    card = bot.api.messages[ref]
    assert "approved" in _fields(card)["State"]
    assert card["components"] == [], "an approved review has no buttons left"
    # "In review" was superseded by "approved" before it went out: only the newest is sent.
    assert len(bot.api.called("PATCH", f"channels/{channel}/messages/{message}")) == 2
    # Each step is also a reply in the card's thread, pointing at the card.
    replies = [
        c
        for c in bot.api.called("POST", f"channels/{SHARED}/messages")
        if c.json.get("message_reference")
    ]
    assert [r.json["message_reference"]["message_id"] for r in replies] == [int(message)] * 3
    assert replies[-1].json["embeds"][0]["description"] == f"<@{USERS['dave']}> approved."


async def test_a_press_has_the_permission_checks_of_the_command(bot: Discord) -> None:
    ref = await _request(bot)
    start = len(bot.api.calls)
    reply = await bot.press("bob", "review:ack:1", ref)
    assert reply == "Only @dave (the reviewer) or someone in `ic` can acknowledge #1."
    [answer] = bot.callbacks(start)
    assert answer.json["data"]["flags"] == 64, "a refusal is shown only to who pressed"
    await bot.drain()
    assert bot.api.called("PATCH", r"channels/.*") == []


async def test_reassign_asks_for_a_person_then_gives_the_review_to_them(bot: Discord) -> None:
    ref = await _request(bot)
    start = len(bot.api.calls)
    await bot.press("dave", "review:reassign:1", ref)
    [ask] = bot.callbacks(start)
    picker = ask.json["data"]["components"][0]["components"][0]
    assert picker["type"] == 5 and picker["custom_id"] == "pick:review:reassign:1"
    assert ask.json["data"]["flags"] == 64

    reply = await bot.press("dave", "pick:review:reassign:1", bot.last_reply(), picked="carol")
    assert reply == "#1 is now @carol's."
    await bot.drain()
    assert _fields(bot.api.messages[ref])["Reviewer"] == f"<@{USERS['carol']}>"


async def test_buttons_keep_working_after_a_restart(bot: Discord) -> None:
    ref = await _request(bot)
    # A new process: a new client and tree, no memory of the card it did not send.
    fresh = DiscordAdapter(bot.runtime)
    bot.runtime.worker.senders[:] = [fresh]
    await fresh.login()
    try:
        restarted = Discord(bot.runtime, fresh, bot.api)
        assert await restarted.press("dave", "review:ack:1", ref) == "#1 acknowledged."
        await restarted.drain()
        assert "acknowledged" in _fields(bot.api.messages[ref])["State"]
    finally:
        await fresh.client.close()


async def test_a_press_is_answered_once(bot: Discord) -> None:
    ref = await _request(bot)
    start = len(bot.api.calls)
    await bot.press("dave", "review:ack:1", ref)
    assert len(bot.callbacks(start)) == 1


async def test_slow_work_is_deferred_then_answered_with_a_follow_up(bot: Discord) -> None:
    bot.adapter.defer_after = 0.0
    start = len(bot.api.calls)
    reply = await bot.run("alice", "whoami")
    defer, follow_up = bot.callbacks(start)
    assert defer.json == {"type": 5, "data": {"flags": 64}}
    assert follow_up.path.startswith("webhooks/")
    assert follow_up.json["flags"] == 64
    assert "alice" in reply


async def test_the_digest_preview_comes_with_its_chart_to_the_caller_only(
    bot: Discord, clock: FakeClock
) -> None:
    await _request(bot)
    clock.advance(timedelta(hours=1))
    assert "approved" in await bot.run("dave", "review approve", id="1")
    clock.advance(timedelta(hours=1))
    start = len(bot.api.calls)
    asked = time.monotonic()
    text = await bot.run("carol", "digest preview")
    assert "Weekly digest" in text and "SLA compliance" in text
    calls = bot.callbacks(start)
    first, answer = calls[0], calls[-1]
    # Discord drops an interaction not answered (or deferred) within 3 s, chart or no chart.
    assert first.at - asked < 3.0, f"first answer after {first.at - asked:.2f} s"
    # The answer itself, or the follow-up after a deferral, which carries its fields unwrapped.
    data = answer.json.get("data", answer.json)
    assert data["flags"] & 64, "ephemeral"
    [(name, png)] = answer.files
    assert name.endswith(".png") and png.startswith(b"\x89PNG")
    assert data["embeds"][0]["image"]["url"] == f"attachment://{name}"


async def test_a_covered_review_card_says_until_when_in_a_discord_timestamp(
    bot: Discord,
) -> None:
    await bot.run("dave", "away set", **{"from": "2026-01-05", "until": "2026-01-07"})
    ref = await _request(bot)
    description = bot.api.messages[ref]["embeds"][0]["description"]
    # Wed 7 Jan 2026, 00:00 in London; carol, ic's lead, covers.
    assert description == (
        f"<@{USERS['dave']}> is away until <t:1767744000:D>; <@{USERS['carol']}> is covering."
    )


async def test_a_cards_due_time_and_a_warning_dm_are_discord_timestamps(
    bot: Discord, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # Monday; the hotfix ack is due 09:30
    await bot.run(
        "alice", "review request", link=LINK, title="Hotfix", policy="hotfix", reviewer="dave"
    )
    await bot.drain()
    [ref] = [k for k in bot.api.messages if k.startswith(f"{SHARED}:")]
    assert (
        _fields(bot.api.messages[ref])["Acknowledge"] == "due <t:1767605400:f> (<t:1767605400:R>)"
    )
    clock.set(datetime(2026, 1, 5, 9, 16, tzinfo=UTC))
    await bot.runtime.deadlines.tick()
    await bot.drain()
    [warning] = [
        m
        for m in bot.api.messages.values()
        if m["embeds"] and "due soon" in (m["embeds"][0].get("title") or "")
    ]
    description = shown(warning["embeds"][0]["description"])
    assert "Please acknowledge it by <t:1767605400:f> (14m left)." in description
    # The edited card says when a breached clock was due in a timestamp too.
    clock.set(datetime(2026, 1, 5, 9, 45, tzinfo=UTC))
    await bot.runtime.deadlines.tick()
    await bot.drain()
    acknowledge = shown(_fields(bot.api.messages[ref])["Acknowledge"])
    assert acknowledge == "BREACHED 15m ago (was due <t:1767605400:f>)"
