"""The runtime's background tasks: one spawner that keeps each task until it ends and logs
every failure with the task's name (a task nobody awaits would otherwise fail in silence)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Spawner:
    """Starts named background tasks, holds them while they run, and reports their failures."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, object], *, name: str) -> asyncio.Task[Any]:
        """Run `work` in the background; a failure is logged as "background task <name> failed"."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        if (exc := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    def running(self) -> list[str]:
        """The names of the tasks still running, sorted (for tests and for shutdown logs)."""
        return sorted(t.get_name() for t in self._tasks)

    async def settle(self) -> None:
        """Wait until every task, and every task those start, has ended."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
