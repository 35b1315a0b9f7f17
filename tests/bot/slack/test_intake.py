"""A burst of signed slash commands beyond capacity: none fails, the excess hears "busy" at once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from bot.config import LimitsSettings, Settings
from bot.intake import BUSY
from commands.core.clock import FakeClock
from storage.models import Review
from tests.bot.slack.conftest import USERS, SlackBot, open_slack
from tests.bot.slack.fake_slack import FakeSlack
from tests.harness import closed_record, sqlite_write_locked


async def test_a_burst_past_the_limits_gets_busy_answers_and_no_failures(
    settings: Settings, clock: FakeClock, fake: FakeSlack
) -> None:
    limited = settings.model_copy(update={"limits": LimitsSettings(writers=1, waiting=3)})
    bot = await open_slack(limited, clock, fake)
    try:
        # Someone else's command holds the one writer's place while the burst arrives.
        running = bot.runtime.intake.admit("slack:UOTHER", read_only=False)
        assert running is not None
        people = list(USERS.values())
        burst = [
            bot.user.command("/agenda", f'add "Topic {n}"', people[n % len(people)])
            for n in range(10)
        ]
        sent = await asyncio.gather(*burst)
        running.release()
        await bot.settle()
        assert [s.status for s in sent] == [200] * 10
        busy = [s for s in sent if BUSY in s.ack]
        # Three wait for the writer; every other one is told at once, in the acknowledgement.
        assert len(busy) == 7
        assert all(s.seconds < 1.0 for s in busy), [round(s.seconds, 3) for s in busy]
        for s in sent:
            if s not in busy:
                [answer] = bot.fake.responses(s.n)
                assert "Topic" in answer["text"] and ":x:" not in answer["text"], answer
    finally:
        await bot.adapter.stop()
        await bot.runtime.close()


async def test_a_full_lane_answers_busy_only_to_signed_commands(
    settings: Settings, clock: FakeClock, fake: FakeSlack
) -> None:
    limited = settings.model_copy(
        update={"limits": LimitsSettings(writers=1, readers=1, waiting=1, per_user=1)}
    )
    bot = await open_slack(limited, clock, fake)
    try:
        # One person's share of reads is taken: their next read is "busy" at once.
        held = bot.runtime.intake.admit(f"slack:{USERS['alice']}", read_only=True)
        assert held is not None
        body = bot.user.command_body("/review", "list open", USERS["alice"], 1)
        status, text = await bot.user.exchange(body)
        assert status == 200 and BUSY in text
        # The same request with a forged signature is refused, not answered.
        status, text = await bot.user.exchange(body, signature="v0=" + "0" * 64)
        assert status == 401 and BUSY not in text
        # Someone else is not limited by alice's share.
        other = bot.user.command_body("/review", "list open", USERS["bob"], 2)
        status, text = await bot.user.exchange(other)
        assert status == 200 and BUSY not in text
        held.release()
        await bot.settle()
    finally:
        await bot.adapter.stop()
        await bot.runtime.close()


# SQLite's write lock is SQLite's own: this test runs there alone (no skipped PostgreSQL twin).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_command_the_database_cannot_record_in_time_hears_busy_and_never_runs(
    slack: SlackBot, settings: Settings
) -> None:
    # Another process holds the write lock for longer than an acknowledgement may wait.
    with sqlite_write_locked(settings.database.url):
        sent = await slack.user.command(
            "/review", "request https://github.com/org/repo/pull/7 Late", USERS["alice"]
        )
    # Answered before Slack's 3-second deadline (an error for the person), and said so.
    assert sent.status == 200 and BUSY in sent.ack
    assert sent.seconds < 3.0

    # The record lands once the lock is free (SQLite's busy wait), and is closed, not run.
    await closed_record(slack.runtime.sessions)
    # Nothing is left to resume, and nothing happened.
    assert await slack.runtime.inbox.resume() == 0
    await slack.settle()
    async with slack.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Review)) == 0
    assert slack.fake.responses(sent.n) == []
