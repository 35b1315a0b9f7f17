"""A hand-off on Slack: proposed by slash command, answered by the other org's button."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.core.clock import FakeClock
from tests.bot.slack.conftest import SHARED, SlackBot, shown


@pytest.fixture
def clock() -> FakeClock:
    """Monday 15:00 UTC: 10:00 in New York, inside both orgs' working hours, so the DMs these
    tests read are not held for the morning (see /me hours)."""
    return FakeClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))


def _with_button(slack: SlackBot, action_id: str) -> str:
    """The ts of the one message in the shared channel that carries this button."""
    (ts,) = [
        ts
        for (channel, ts), m in slack.fake.messages.items()
        if channel == SHARED
        and any(
            e["action_id"] == action_id
            for b in m.get("blocks") or []
            if b["type"] == "actions"
            for e in b["elements"]
        )
    ]
    return ts


async def test_the_other_org_accepts_a_proposal_with_the_button(slack: SlackBot) -> None:
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    await slack.ok("/handoff", 'plan "Smart contract review" near')
    ts = _with_button(slack, "handoff:accept:area.1")
    refused = await slack.press("handoff:accept:area.1", as_="alice", ts=ts)
    (answer,) = slack.fake.responses(refused.n)
    assert "only leads of `ic` can accept" in answer["text"]
    await slack.press("handoff:accept:area.1", as_="carol", ts=ts)
    agreed = [m for m in slack.fake.messages.values() if "Hand-off agreed" in shown(m)]
    assert len(agreed) == 1 and "planned near-term" in shown(agreed[0])


async def test_a_dri_confirms_their_area_with_the_button_in_their_dm(slack: SlackBot) -> None:
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    await slack.ok("/dri", "verify")
    ((channel, ts),) = [
        key
        for key, m in slack.fake.messages.items()
        if key[0] != SHARED
        and any(
            e["action_id"] == "dri:confirm:area.1"
            for b in m.get("blocks") or []
            if b["type"] == "actions"
            for e in b["elements"]
        )
    ]
    refused = await slack.press("dri:confirm:area.1", as_="alice", ts=ts, channel=channel)
    (answer,) = slack.fake.responses(refused.n)
    assert "Only @bob (the DRI) can confirm" in answer["text"]
    await slack.press("dri:confirm:area.1", as_="bob", ts=ts, channel=channel)
    # The question is replaced by the answer, buttons and all, so it cannot be pressed twice.
    answered = slack.fake.messages[(channel, ts)]
    assert "<@UBOB> confirmed *Smart contract review*" in shown(answered)
    assert not [b for b in answered.get("blocks") or [] if b["type"] == "actions"]
