"""The runtime's one task spawner: no background failure goes unseen."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.tasks import Spawner


async def test_a_failing_task_is_logged_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("the database went away")

    tasks = Spawner()
    with caplog.at_level(logging.ERROR, logger="bot.tasks"):
        tasks.spawn(broken(), name="sla-deadlines.tick")
        await tasks.settle()
    [record] = caplog.records
    assert record.getMessage() == "background task sla-deadlines.tick failed"
    assert record.exc_info is not None and "database went away" in str(record.exc_info[1])
    assert tasks.running() == []


async def test_close_cancels_what_still_runs_and_logs_no_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = Spawner()
    tasks.spawn(asyncio.sleep(3600), name="delivery")
    await asyncio.sleep(0)
    assert tasks.running() == ["delivery"]
    with caplog.at_level(logging.ERROR, logger="bot.tasks"):
        await tasks.close()
    assert tasks.running() == [] and caplog.records == []
