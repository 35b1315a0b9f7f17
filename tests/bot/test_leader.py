"""The Discord gateway lock: one holder per database, the next one once it lets go.

The real-process failover (kill -9, a dropped connection, the Discord client connecting) is in
tests/bot/test_replicas.py; this is the election itself, in one process, on both back ends.
"""

from __future__ import annotations

import asyncio
import contextlib

from bot.leader import GatewayLock
from storage.engine import is_sqlite


async def _wait(lock: GatewayLock, within: float) -> None:
    await asyncio.wait_for(lock.acquired(), within)


async def test_one_lock_holder_at_a_time_and_the_next_takes_over(database_url: str) -> None:
    first, second = (GatewayLock(database_url, retry_every=0.1, check_every=0.1) for _ in "ab")
    running = [asyncio.create_task(first.run_forever())]
    try:
        await _wait(first, 10)
        running.append(asyncio.create_task(second.run_forever()))
        if is_sqlite(database_url):
            # One process per SQLite file (bot/single.py): whoever runs holds it.
            await _wait(second, 10)
            return
        await asyncio.sleep(1.0)  # several retries and a grace period of the second
        assert first.held and not second.held
        running[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running[0]
        assert not first.held
        await _wait(second, 10)
        assert second.held
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
