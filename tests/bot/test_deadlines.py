"""The real scheduler path: APScheduler's one date job, re-armed, firing stages by itself."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.config import PolicySettings, Settings
from commands.core.clock import FakeClock, SystemClock
from storage.engine import create_engine
from tests.harness import open_chat


async def test_the_wake_up_fires_every_stage_on_its_own_in_real_time(settings: Settings) -> None:
    fast = PolicySettings.model_validate(
        {
            "name": "fast",
            "calendar": "24x7",
            # Stages tens of milliseconds apart fall due while the previous tick still runs:
            # its re-arm must not collide with the job that is running it.
            "acknowledge": "0.05s",
            "resolve": "0.1s",
            "warn_at": 0.5,
            "escalation": [{"after": "0s", "notify": ["reviewer"]}],
            # On the real clock: its pings must not wait for dave's working hours.
            "urgent": True,
        }
    )
    chat = await open_chat(
        settings.model_copy(update={"policies": [*settings.policies, fast]}), SystemClock()
    )
    try:
        await chat.runtime.start()
        await chat.ok("/review request https://x.org/pr/1 Fix policy=fast reviewer=@dave")
        wanted = "Review #1: resolve SLA escalation, level 1"
        for _ in range(100):  # at most 10 s; the last stage is due after 0.1 s
            if any(text.startswith(wanted) for _, text in chat.delivered()):
                break
            await asyncio.sleep(0.1)
        await chat.runtime.worker.drain()
        to_dave = [text.splitlines()[0] for to, text in chat.delivered() if to == "@dave"]
    finally:
        await chat.runtime.close()
    assert Counter(to_dave) == {
        "Review #1 is yours": 1,
        "Review #1: acknowledge SLA due soon": 1,
        "Review #1: acknowledge SLA escalation, level 1": 1,
        "Review #1: resolve SLA due soon": 1,
        "Review #1: resolve SLA escalation, level 1": 1,
    }


# Row locks that other replicas skip exist on PostgreSQL only.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_due_deadline_locked_by_another_replica_is_retried_after_a_pause(
    settings: Settings, clock: FakeClock
) -> None:
    chat = await open_chat(settings, clock)
    other = create_engine(settings.database.url)
    try:
        clock.set(datetime(2026, 1, 5, 9, tzinfo=UTC))
        await chat.ok("/review request https://x.org/pr/1 Fix policy=hotfix reviewer=@dave")
        clock.advance(timedelta(minutes=20))  # the acknowledge warning is due
        async with other.connect() as replica:
            await replica.execute(text("SELECT id FROM review_clock FOR UPDATE"))
            before = datetime.now(UTC)
            assert await chat.runtime.deadlines.tick() == 0
            wakes_at = chat.runtime.deadlines.wakes_at
            assert wakes_at is not None and wakes_at >= before + timedelta(seconds=1)
            await replica.rollback()
        assert await chat.runtime.deadlines.tick() == 1
    finally:
        await other.dispose()
        await chat.runtime.close()
