"""A burst of signed slash commands beyond capacity: none fails, the excess hears "busy" at once."""

from __future__ import annotations

import asyncio

from bot.config import LimitsSettings, Settings
from bot.intake import BUSY
from commands.core.clock import FakeClock
from tests.bot.slack.conftest import USERS, open_slack
from tests.bot.slack.fake_slack import FakeSlack


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
