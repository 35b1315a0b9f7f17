"""The one wake-up for every SLA deadline: an APScheduler date job at the earliest due instant.

The database holds the deadlines (each running clock's `next_at`, indexed); the scheduler only
holds one job, re-armed to the new minimum whenever it may have changed. There is no job per
review and no scan of open reviews. A one-minute safety re-arm picks up deadlines that another
replica wrote.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.tasks import Spawner
from commands.core.clock import Clock
from commands.core.notifier import Postbox
from commands.reviews.escalation import Fired, fire_due, next_deadline
from storage.engine import reading

log = logging.getLogger(__name__)

WAKE_JOB = "sla-deadline"
REARM_JOB = "sla-rearm"


class Deadlines:
    """Fires due SLA stages and keeps one date job armed at the next one."""

    def __init__(
        self, postbox: Postbox, clock: Clock, scheduler: AsyncIOScheduler, tasks: Spawner
    ) -> None:
        self.postbox = postbox
        self.clock = clock
        # The runtime's scheduler and task spawner, shared with the cron jobs.
        self.scheduler = scheduler
        self.tasks = tasks
        # The earliest deadline, and the real time the wake-up job will run for it.
        self.armed_for: datetime | None = None
        self.wakes_at: datetime | None = None
        self._lock = asyncio.Lock()
        # Told what fired, once it is committed (the runtime's metrics).
        self.observers: list[Callable[[Sequence[Fired]], None]] = []

    async def start(self) -> None:
        """Send what fell due while the bot was down, arm the wake-up, and start scheduling."""
        if not self.scheduler.running:
            self.scheduler.start()
        self.scheduler.add_job(
            self.rearm,
            "interval",
            minutes=1,
            id=REARM_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        await self.tick()

    def stop(self) -> None:
        """Stop scheduling the wake-ups (a tick in flight finishes on its own)."""
        for job_id in (WAKE_JOB, REARM_JOB):
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)

    async def tick(self) -> int:
        """Fire every stage due now, then re-arm; return how many stages fired."""
        async with self._lock:
            now = self.clock.now()
            # The cheap index lookup first: most wake-ups of the safety re-arm find nothing due.
            if (earliest := await self._earliest()) is None or earliest > now:
                self._schedule(earliest)
                return 0
            # What fired is in the outbox; its transactions wake the delivery worker.
            fired = await fire_due(self.postbox, now, observe=self._fired)
            # Something was due yet nothing fired: another replica holds those rows. Look again
            # shortly rather than at once, so two replicas never spin against each other.
            await self._arm(backoff=timedelta(seconds=1) if not fired else timedelta(0))
            return fired

    def _fired(self, stages: Sequence[Fired]) -> None:
        for observe in self.observers:
            observe(stages)

    async def _kick(self) -> None:
        # The scheduled job only starts a tick and returns, so re-arming from inside a tick
        # never collides with the job still running (APScheduler would skip the new run).
        self.tasks.spawn(self.tick(), name="sla-deadlines.tick")

    async def rearm(self) -> datetime | None:
        """Point the wake-up at the earliest deadline (after a change, or periodically)."""
        async with self._lock:
            return await self._arm()

    def changed(self) -> None:
        """A command moved deadlines: re-arm soon, without making the command wait."""
        self.tasks.spawn(self.rearm(), name="sla-deadlines.rearm")

    async def _earliest(self) -> datetime | None:
        async with reading(self.postbox.sessions) as session:
            return await next_deadline(session)

    async def _arm(self, backoff: timedelta = timedelta(0)) -> datetime | None:
        return self._schedule(await self._earliest(), backoff)

    def _schedule(
        self, earliest: datetime | None, backoff: timedelta = timedelta(0)
    ) -> datetime | None:
        self.armed_for = earliest
        self.wakes_at = None
        if earliest is None:
            if self.scheduler.get_job(WAKE_JOB) is not None:
                self.scheduler.remove_job(WAKE_JOB)
            return None
        # The injected clock decides what is due; the scheduler only needs the real delay.
        delay = max(backoff, earliest - self.clock.now())
        self.wakes_at = datetime.now(UTC) + delay
        self.scheduler.add_job(
            self._kick,
            "date",
            run_date=self.wakes_at,
            id=WAKE_JOB,
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=None,
        )
        return earliest
