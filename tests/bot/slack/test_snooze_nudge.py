"""Snooze and nudge on Slack: the buttons of a reminder DM and of the requester's answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from commands.core.clock import FakeClock
from tests.bot.slack.conftest import SHARED, SlackBot, shown

PR = "https://github.com/org/repo/pull/7"
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"]
        for b in message.get("blocks") or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def _dms(slack: SlackBot, channel: str) -> list[tuple[str, dict[str, Any]]]:
    return [(ts, m) for (c, ts), m in slack.fake.messages.items() if c == channel]


async def _later(slack: SlackBot, clock: FakeClock, by: timedelta) -> None:
    clock.set(clock.now() + by)
    await slack.runtime.deadlines.tick()
    await slack.settle()


async def test_the_reminder_snooze_button_and_the_requesters_nudge_button(
    slack: SlackBot, clock: FakeClock
) -> None:
    clock.set(MONDAY)
    sent = await slack.command("/review", f"request {PR} Hotfix policy=hotfix reviewer=@dave")
    answer = slack.reply(sent)
    assert _buttons(answer) == ["review:nudge:1"]
    # The requester nudges from their answer: dave hears of it in alice's name.
    await slack.press("review:nudge:1", as_="alice", ts="1.000001")
    (nudge,) = [m for _, m in _dms(slack, "DDAVE") if "Nudge: review #1" in shown(m)]
    assert "<@UALICE> is waiting for your review" in shown(nudge)
    too_soon = await slack.press("review:nudge:1", as_="alice", ts="1.000001")
    (refusal,) = slack.fake.responses(too_soon.n)
    assert "you can nudge again from 2026-01-05 08:00 EST" in refusal["text"]

    await _later(slack, clock, timedelta(minutes=16))
    ((ts, warning),) = [(t, m) for t, m in _dms(slack, "DDAVE") if "due soon" in shown(m)]
    assert _buttons(warning) == ["review:snooze:1=1h", "review:snooze:1=tomorrow"]
    pressed = await slack.press("review:snooze:1=1h", as_="dave", ts=ts, channel="DDAVE")
    (paused,) = slack.fake.responses(pressed.n)
    assert "paused until 2026-01-05 10:16 GMT" in paused["text"]
    before = len(_dms(slack, "DDAVE"))
    await _later(slack, clock, timedelta(minutes=50))
    # Dave hears nothing while snoozed; carol (ic's lead) hears of the breach on time.
    assert len(_dms(slack, "DDAVE")) == before
    assert [m for _, m in _dms(slack, "DCAROL") if "escalation, level 1" in shown(m)]
    assert [m for _, m in _dms(slack, SHARED) if "was breached" in shown(m)]
