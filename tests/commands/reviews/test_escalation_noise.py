"""No noise: an escalation reaches the shared channel once per level, in the card's thread.

The demo's hotfix policy (24x7, acknowledge 30m, resolve 4h) has L1 at the breach (the
reviewer and ic's leads) and L2 30m later (set's leads and channel:shared).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.config import Settings
from commands.core.clock import FakeClock
from tests.harness import Chat, open_chat

PR = "https://github.com/org/repo/pull/7"


def _shared_posts(delivered: list[tuple[str, str]]) -> Counter[str]:
    """Posts (not card edits) in #shared, top level or in a thread, per escalation level."""
    levels: Counter[str] = Counter()
    for to, text in delivered:
        if to not in ("#shared", "#shared (thread)"):
            continue
        first = text.splitlines()[0]
        for level in ("L1", "L2"):
            if f"({level})" in first or f"level {level[1]}" in first:
                levels[f"{to} {level}"] += 1
    return levels


async def test_the_shared_channel_sees_one_post_per_escalation_level(chat: Chat) -> None:
    await chat.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    posts = _shared_posts(await chat.wait(timedelta(hours=6)))
    # Two clocks (acknowledge, resolve), each with L1 and L2: one thread post per level each.
    assert posts == Counter({"#shared (thread) L1": 2, "#shared (thread) L2": 2})


@pytest.fixture
async def broadcasting(settings: Settings, clock: FakeClock) -> AsyncIterator[Chat]:
    """The demo with hotfix's level 2 marked broadcast = true."""
    policies = []
    for policy in settings.policies:
        if policy.name == "hotfix":
            l1, l2 = policy.escalation
            policy = policy.model_copy(
                update={"escalation": [l1, l2.model_copy(update={"broadcast": True})]}
            )
        policies.append(policy)
    opened = await open_chat(settings.model_copy(update={"policies": policies}), clock)
    try:
        yield opened
    finally:
        await opened.runtime.close()


async def test_a_broadcast_level_is_also_posted_once_at_the_top_level(broadcasting: Chat) -> None:
    await broadcasting.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    posts = _shared_posts(await broadcasting.wait(timedelta(hours=6)))
    assert posts == Counter({"#shared (thread) L1": 2, "#shared (thread) L2": 2, "#shared L2": 2})
    listed = (await broadcasting.ok("/sla policies")).reply
    assert "L2 breach + 30m → requesting-org-leads, channel:shared (also posted" in listed
