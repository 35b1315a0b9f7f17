"""Wiring: settings in, a running set of parts out (database, commands, delivery)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.config import Settings
from bot.deadlines import Deadlines
from bot.delivery import DeliveryWorker
from bot.digest import schedule_digest
from bot.jobs import Jobs
from bot.sync import apply_config
from bot.weekly import schedule_weekly_sync
from commands import build_registry
from commands.core.clock import Clock, SystemClock
from commands.core.dispatch import Dispatcher
from commands.core.registry import Registry
from storage.engine import create_engine, session_factory


@dataclass
class Runtime:
    """The parts one Liaison process runs with."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    registry: Registry
    dispatcher: Dispatcher
    worker: DeliveryWorker
    deadlines: Deadlines
    jobs: Jobs
    _background: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Start delivery, the SLA wake-up and the cron jobs (each first catches up)."""
        self._background.append(asyncio.create_task(self.worker.run_forever()))
        await self.deadlines.start()
        if await self.jobs.start():
            self.worker.wake()

    async def close(self) -> None:
        """Stop the running parts and release the database connections."""
        self.deadlines.stop()
        self.jobs.stop()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background.clear()
        await self.engine.dispose()


async def open_runtime(
    settings: Settings, *, platforms: Iterable[str], clock: Clock | None = None
) -> Runtime:
    """Connect, check the schema is migrated, load the configuration, and wire the parts.

    `platforms` are where notifications go; their senders are added to `runtime.worker.senders`.
    """
    clock = clock or SystemClock()
    targets = frozenset(platforms)  # read once: several parts need it
    engine = create_engine(settings.database.url)
    try:
        await db.require_head(engine)
        sessions = session_factory(engine)
        await apply_config(sessions, settings, clock.now())
    except BaseException:
        await engine.dispose()
        raise
    registry = build_registry()
    worker = DeliveryWorker(sessions, clock, [])
    deadlines = Deadlines(
        sessions,
        clock,
        platforms=targets,
        channel=settings.announce_channel,
        on_written=worker.wake,
    )

    jobs = Jobs(sessions, clock)

    async def weekly_sync() -> None:
        await schedule_weekly_sync(jobs, sessions, platforms=targets, on_written=worker.wake)

    await weekly_sync()
    # Every run of the jobs first re-reads the schedule: a meeting moved on any replica moves
    # its agenda post too.
    jobs.refreshers.append(weekly_sync)

    def on_commit(signals: set[str]) -> None:
        if "outbox" in signals:
            worker.wake()
        if "deadlines" in signals:
            deadlines.changed()
        if "jobs" in signals:
            jobs.changed()

    dispatcher = Dispatcher(
        registry,
        sessions,
        clock,
        platforms=targets,
        announce_channel=settings.announce_channel,
        on_commit=on_commit,
    )
    runtime = Runtime(
        settings, engine, sessions, clock, registry, dispatcher, worker, deadlines, jobs
    )
    schedule_digest(runtime)
    return runtime
