"""Calendar work on the wall clock of a time zone: each cron occurrence runs once, even across
restarts and replicas.

The API, for every job that runs "at 16:00 London time on Wednesdays" and the like (the agenda
post, the action chase, the weekly digest):

    jobs = Jobs(sessions, clock, scheduler, tasks)  # the runtime's scheduler and spawner
    jobs.register("agenda-post", weekly(2, "16:00", "Europe/London"), run)
    jobs.register("chase:ic", Schedule("Europe/London", day_of_week="mon-fri", hour="9"), run)
    # run: async (scheduled_for: datetime) -> None, given the occurrence as a UTC instant
    await jobs.start()    # catch up what was missed while down, then arm APScheduler cron jobs
    await jobs.run_due()  # what each cron trigger calls; tests call it under the fake clock
    jobs.next_due()       # the earliest occurrence still to come, for tests stepping time
    jobs.unregister("chase:ic")
    jobs.refreshers.append(reload)  # async () -> None, re-registers from the database
    jobs.stop()

Semantics:
- `run_due(now)` runs, for each job, only the *latest* occurrence in (last run, now]: a job that
  misfired during downtime runs once on start (coalesced), never once per missed occurrence.
- The last occurrence run is kept per job id in the `job_run` table, so a restart knows what was
  missed. A job seen for the first time starts counting at its registration: it never runs an
  occurrence from before it existed.
- Occurrences are computed by APScheduler's CronTrigger in the job's own time zone, so 16:00
  London is 16:00 GMT in winter and 16:00 BST in summer (a time that does not exist in a DST gap
  fires at the shifted offset).
- A run may happen more than once (two replicas waking together, a crash before the occurrence
  was recorded): `run` must be idempotent. Derive outbox keys from the occurrence
  (`agenda:2026-11-26`, `action:17:chase:2026-11-23`, `digest:2026-W47`) and it is.
- A run that raises is logged and not recorded, so the next `run_due` tries it again (a
  one-minute safety job calls it, so that is within a minute).
- APScheduler holds the cron jobs in memory only (its job stores cannot be shared between
  processes); ids are explicit and re-registering replaces (`replace_existing=True`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.tasks import Spawner
from commands.core.clock import Clock
from storage.models import JobRun

log = logging.getLogger(__name__)

RETRY_JOB = "jobs-retry"
Run = Callable[[datetime], Awaitable[None]]
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TINY = timedelta(microseconds=1)
# A job whose last run is older than this has its catch-up look back only this far.
_LOOK_BACK = timedelta(days=400)


@dataclass(frozen=True)
class Schedule:
    """Cron fields (APScheduler syntax) on the wall clock of an IANA time zone."""

    timezone: str
    day_of_week: str = "*"
    hour: str = "0"
    minute: str = "0"

    def trigger(self) -> CronTrigger:
        """The APScheduler trigger for these fields."""
        return CronTrigger(
            day_of_week=self.day_of_week,
            hour=self.hour,
            minute=self.minute,
            second=0,
            timezone=ZoneInfo(self.timezone),
        )

    def next_after(self, after: datetime) -> datetime:
        """The first occurrence strictly after `after`, in UTC."""
        found: datetime | None = self.trigger().get_next_fire_time(None, after + _TINY)
        assert found is not None, "a cron schedule without an end always has a next time"
        return found.astimezone(UTC)

    def latest_in(self, after: datetime, until: datetime) -> datetime | None:
        """The last occurrence in (after, until], in UTC, or None."""
        trigger = self.trigger()
        latest = None
        at = trigger.get_next_fire_time(None, max(after, until - _LOOK_BACK) + _TINY)
        while at is not None and at <= until:
            latest = at
            at = trigger.get_next_fire_time(None, at + _TINY)
        return latest.astimezone(UTC) if latest is not None else None

    def describe(self) -> str:
        """The fields as a person reads them."""
        return f"{self.day_of_week} {self.hour}:{self.minute} ({self.timezone})"


def weekly(weekday: int, time: str, timezone: str) -> Schedule:
    """Once a week: weekday 0 = Monday, time "HH:MM" on the wall clock of `timezone`."""
    hour, minute = time.split(":")
    return Schedule(timezone, DAY_NAMES[weekday], str(int(hour)), str(int(minute)))


@dataclass
class _Job:
    schedule: Schedule
    run: Run
    registered_at: datetime
    # Occurrences up to this instant were looked at by this process.
    checked: datetime


class Jobs:
    """Registered cron jobs, each run once per occurrence (see the module docstring)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        scheduler: AsyncIOScheduler,
        tasks: Spawner,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        # The runtime's scheduler and task spawner, shared with the SLA wake-up.
        self.scheduler = scheduler
        self.tasks = tasks
        # Whether start() armed the cron jobs (the scheduler may run for the wake-up alone).
        self._armed = False
        self._jobs: dict[str, _Job] = {}
        # Called before each run_due, to re-register jobs whose schedule lives in the database
        # (a meeting moved in chat, perhaps on another replica).
        self.refreshers: list[Callable[[], Awaitable[None]]] = []
        self._lock = asyncio.Lock()

    def register(self, job_id: str, schedule: Schedule, run: Run) -> None:
        """Add or replace a job; it runs for occurrences from now on (and missed ones after)."""
        now = self.clock.now()
        old = self._jobs.get(job_id)
        self._jobs[job_id] = _Job(
            schedule, run, old.registered_at if old else now, old.checked if old else now
        )
        if self._armed:
            self._arm(job_id, schedule)

    def unregister(self, job_id: str) -> None:
        """Drop a job (its record stays, so registering it again catches up from there)."""
        self._jobs.pop(job_id, None)
        if self._armed and self.scheduler.get_job(job_id) is not None:
            self.scheduler.remove_job(job_id)

    def ids(self) -> list[str]:
        """The registered job ids, sorted."""
        return sorted(self._jobs)

    def schedule_of(self, job_id: str) -> Schedule | None:
        """The schedule a job runs on, if it is registered."""
        job = self._jobs.get(job_id)
        return job.schedule if job else None

    async def start(self) -> list[tuple[str, datetime]]:
        """Run what was missed while the bot was down (once per job), then arm the cron jobs."""
        ran = await self.run_due()
        if not self.scheduler.running:
            self.scheduler.start()
        self._armed = True
        for job_id, job in self._jobs.items():
            self._arm(job_id, job.schedule)
        # A run that failed is retried within a minute rather than at the next occurrence.
        self.scheduler.add_job(
            self._kick,
            "interval",
            minutes=1,
            id=RETRY_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
        )
        return ran

    def stop(self) -> None:
        """Stop scheduling the cron jobs (a run in flight finishes on its own)."""
        if not self._armed:
            return
        self._armed = False
        for job_id in [*self._jobs, RETRY_JOB]:
            if self.scheduler.get_job(job_id) is not None:
                self.scheduler.remove_job(job_id)

    def next_due(self) -> datetime | None:
        """The earliest occurrence of any job after what this process has checked."""
        return min(
            (job.schedule.next_after(job.checked) for job in self._jobs.values()), default=None
        )

    async def run_due(self, now: datetime | None = None) -> list[tuple[str, datetime]]:
        """Run each job's latest occurrence in (its last run, now], once; return what ran."""
        async with self._lock:
            await self._refresh()
            now = now or self.clock.now()
            ran = []
            for job_id, job in list(self._jobs.items()):
                last = await self._last_run(job_id, job.registered_at)
                occurrence = job.schedule.latest_in(last, now)
                job.checked = max(job.checked, now)
                if occurrence is None:
                    continue
                try:
                    await job.run(occurrence)
                except Exception:
                    # Not recorded: the next run_due tries this occurrence again.
                    log.exception("job %s for %s failed", job_id, occurrence.isoformat())
                    continue
                await self._record(job_id, occurrence)
                ran.append((job_id, occurrence))
            return ran

    async def refresh(self) -> None:
        """Re-register jobs whose schedule lives in the database (the refreshers), and record
        new jobs, so that a restart catches up from their registration."""
        async with self._lock:
            await self._refresh()
            for job_id, job in list(self._jobs.items()):
                await self._last_run(job_id, job.registered_at)

    def changed(self) -> None:
        """A command changed a schedule: refresh soon, without making the command wait."""
        self.tasks.spawn(self.refresh(), name="jobs.refresh")

    async def _refresh(self) -> None:
        for refresh in self.refreshers:
            await refresh()

    async def _last_run(self, job_id: str, registered_at: datetime) -> datetime:
        async with self.sessions.begin() as session:
            last = await session.scalar(
                select(JobRun.last_occurrence).where(JobRun.job_id == job_id)
            )
            if last is not None:
                return last
        try:
            async with self.sessions.begin() as session:
                session.add(
                    JobRun(
                        job_id=job_id, last_occurrence=registered_at, updated_at=self.clock.now()
                    )
                )
        except IntegrityError:
            # Another replica recorded it first: its record counts.
            return await self._last_run(job_id, registered_at)
        return registered_at

    async def _record(self, job_id: str, occurrence: datetime) -> None:
        async with self.sessions.begin() as session:
            # Only forward: a slower replica finishing an older occurrence never rewinds it.
            await session.execute(
                update(JobRun)
                .where(JobRun.job_id == job_id, JobRun.last_occurrence < occurrence)
                .values(last_occurrence=occurrence, updated_at=self.clock.now())
            )

    def _arm(self, job_id: str, schedule: Schedule) -> None:
        self.scheduler.add_job(
            self._kick,
            schedule.trigger(),
            id=job_id,
            replace_existing=True,
            # After a stall, one run for all missed firings; run_due picks the latest anyway.
            coalesce=True,
            misfire_grace_time=None,
            max_instances=1,
        )

    async def _kick(self) -> None:
        # Like the SLA wake-up: the trigger only starts the work, so a long run never makes
        # APScheduler skip the next firing.
        self.tasks.spawn(self.run_due(), name="jobs.run_due")
