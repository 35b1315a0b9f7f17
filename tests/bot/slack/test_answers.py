"""Any answer is an answer: Slack failing with HTML, text, an empty body or no answer at all is
named for what it is, waited out at start-up, and retried in delivery; never a traceback."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.platforms import PlatformError
from commands.core.clock import FakeClock
from storage.models import Delivery, DeliveryStatus
from tests.bot.slack.conftest import open_slack
from tests.bot.slack.fake_slack import FakeSlack

# What each kind of failed answer is called in the log and in the outbox.
NAMED = {
    "html503": "Slack answered 503 Service Unavailable (HTML)",
    "text503": "Slack answered 503 Service Unavailable (text)",
    "empty503": "Slack answered 503 Service Unavailable (empty)",
    "500": "Slack answered 500 Internal Server Error (text)",
    "timeout": "cannot reach the Slack Web API",
}


@pytest.mark.parametrize("how", list(NAMED))
async def test_start_up_waits_out_a_bad_answer_and_says_what_it_was(
    settings: Settings,
    clock: FakeClock,
    fake: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    fake.fail("auth.test", how, times=2)
    with caplog.at_level(logging.WARNING):
        bot = await open_slack(settings, clock, fake, start_backoff=0.01)
    try:
        assert len(fake.to("auth.test")) == 1, "it went on asking until Slack answered"
        retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        assert len(retries) == 2 and all(NAMED[how] in m for m in retries), retries
        assert "refused" not in caplog.text
    finally:
        await bot.adapter.stop()
        await bot.runtime.close()


async def test_a_refused_token_still_stops_start_up_at_once(
    settings: Settings, clock: FakeClock, fake: FakeSlack
) -> None:
    fake.fail("auth.test", "invalid_auth")
    with pytest.raises(PlatformError, match=r"Slack refused the bot token \(invalid_auth\)"):
        await open_slack(settings, clock, fake, start_backoff=0.01)


@pytest.mark.parametrize("how", ["html503", "text503", "empty503"])
async def test_the_setup_check_logs_a_bad_answer_as_a_warning_not_a_traceback(
    settings: Settings,
    clock: FakeClock,
    fake: FakeSlack,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    fake.fail("conversations.info", how)
    fake.fail("users.info", how)
    with caplog.at_level(logging.WARNING):
        bot = await open_slack(settings, clock, fake)
    try:
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.slack")]
        assert any(m.startswith("slack: cannot check channel #") and NAMED[how] in m for m in lines)
        assert any(m.startswith("slack: cannot check person @") and NAMED[how] in m for m in lines)
        assert not any(r.exc_info for r in caplog.records)
    finally:
        await bot.adapter.stop()
        await bot.runtime.close()


@pytest.mark.parametrize("how", ["html503", "text503", "empty503"])
async def test_a_bad_answer_in_delivery_is_retried_with_its_cause(
    settings: Settings, clock: FakeClock, fake: FakeSlack, how: str
) -> None:
    bot = await open_slack(settings, clock, fake)
    try:
        fake.fail("chat.postMessage", how)
        await bot.ok("/dri", 'set "Smart contract review" @bob')
        async with bot.runtime.sessions() as session:
            status, error = (await session.execute(select(Delivery.status, Delivery.error))).one()
        assert status is DeliveryStatus.PENDING
        assert error == f"chat.postMessage to #shared (CSHARED): {NAMED[how]}"
    finally:
        await bot.adapter.stop()
        await bot.runtime.close()
