"""Durable before acknowledged, for presses and modals: a button or a modal's submission that
changes something is recorded before Slack hears 200, one left recorded by a process that died
is run once by the next start (a press answering through its response URL), and a re-sent one
has one effect."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.slack.adapter import ACTION, VIEW
from bot.slack.incoming import request_key
from commands.core.clock import FakeClock
from storage.models import AreaEvent, InboundRequest, Review
from tests.bot.slack.conftest import USERS, SlackBot, open_slack, shown
from tests.bot.slack.fake_slack import FakeSlack

CONFIRM = "dri:confirm:area.1"
# Bob's direct message with the bot (the fake's conversations.open): an answer there is shown.
BOBS_DM = "DBOB"


@pytest.fixture
def clock() -> FakeClock:
    """Monday 15:00 UTC, inside both orgs' working hours."""
    return FakeClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))


def _payload(body: str) -> dict[str, Any]:
    """What bolt hands a listener as `body`: the JSON of a form's `payload` field."""
    return dict(json.loads(parse_qs(body)["payload"][0]))


async def _confirmations(slack: SlackBot) -> int:
    async with slack.runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(AreaEvent).where(AreaEvent.field == "verified")
            )
            or 0
        )


async def test_a_press_is_recorded_before_its_ack_and_a_resent_press_has_one_effect(
    slack: SlackBot,
) -> None:
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    sent = await slack.press(CONFIRM, as_="bob", ts="1.1", channel=BOBS_DM)
    (answer,) = slack.fake.responses(sent.n)
    assert "you are still the DRI of" in shown(answer)
    key = request_key("action", _payload(sent.body), sent.body)
    async with slack.runtime.sessions() as session:
        record = await session.scalar(select(InboundRequest).where(InboundRequest.key == key))
    assert record is not None and record.kind == ACTION and record.done_at is not None
    # Slack sends the press again (as after an acknowledgement it thought too slow).
    assert await slack.user.post(sent.body, retry=1) == 200
    await slack.settle()
    assert await _confirmations(slack) == 1
    assert len(slack.fake.responses(sent.n)) == 1


async def test_a_press_recorded_before_a_crash_runs_once_after_a_restart(
    slack: SlackBot, settings: Settings, clock: FakeClock, fake: FakeSlack
) -> None:
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    # What a process leaves when it dies between the press's record (and ack) and its commit.
    n = 900
    raw_body = slack.user.action_body(CONFIRM, USERS["bob"], n, channel=BOBS_DM, message_ts="1.1")
    body = _payload(raw_body)
    key = request_key("action", body, raw_body)
    assert await slack.runtime.inbox.accept(key, ACTION, {"body": body, "raw_body": raw_body})
    assert await _confirmations(slack) == 0

    restarted = await open_slack(settings, clock, fake)
    try:
        clock.advance(timedelta(minutes=1))
        assert await restarted.runtime.inbox.resume() == 1
        (answer,) = fake.responses(n)
        assert "you are still the DRI of" in shown(answer)
        clock.advance(timedelta(minutes=1))
        assert await restarted.runtime.inbox.resume() == 0
        # And Slack's own re-send of it, arriving now, changes nothing either.
        assert await restarted.user.post(raw_body, retry=1) == 200
        await restarted.settle()
        assert await _confirmations(restarted) == 1
        assert len(fake.responses(n)) == 1
    finally:
        await restarted.adapter.stop()
        await restarted.runtime.close()


async def _reviews(slack: SlackBot) -> int:
    async with slack.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Review)) or 0)


async def test_a_modal_submission_recorded_before_a_crash_runs_once_after_a_restart(
    slack: SlackBot, settings: Settings, clock: FakeClock, fake: FakeSlack
) -> None:
    await slack.command("/review", "request")
    opened = fake.to("views.open")[0].args["view"]
    values = {"link": "https://github.com/org/repo/pull/9", "title": "Modal", "reviewer": "UDAVE"}
    live = await slack.submit(opened | {"id": "V1"}, values, as_="alice")
    key = request_key("view", _payload(live.body), live.body)
    async with slack.runtime.sessions() as session:
        record = await session.scalar(select(InboundRequest).where(InboundRequest.key == key))
    assert record is not None and record.kind == VIEW and record.done_at is not None

    # A second modal's submission, acknowledged by a process that then died.
    raw_body = slack.user.submit_body(opened | {"id": "V2"}, USERS["alice"], values, 901)
    key = request_key("view", _payload(raw_body), raw_body)
    assert await slack.runtime.inbox.accept(
        key, VIEW, {"body": _payload(raw_body), "raw_body": raw_body}
    )
    restarted = await open_slack(settings, clock, fake)
    try:
        clock.advance(timedelta(minutes=1))
        assert await restarted.runtime.inbox.resume() == 1
        assert await _reviews(restarted) == 2
        answers = [c.args["text"] for c in fake.to("chat.postEphemeral")]
        assert ["Review #1 requested" in a for a in answers] == [True, False]
        assert "Review #2 requested" in answers[1]
        clock.advance(timedelta(minutes=1))
        assert await restarted.runtime.inbox.resume() == 0
        assert await restarted.user.post(raw_body, retry=1) == 200
        await restarted.settle()
        assert await _reviews(restarted) == 2
        assert len(fake.to("chat.postEphemeral")) == 2
    finally:
        await restarted.adapter.stop()
        await restarted.runtime.close()
