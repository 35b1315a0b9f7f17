"""Wiring: settings in, a running set of parts out (database, commands, delivery)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.config import Settings
from bot.daily import schedule_daily
from bot.deadlines import Deadlines
from bot.delivery import DeliveryWorker
from bot.digest import schedule_digest
from bot.inbound import Inbox
from bot.intake import Intake, Limits
from bot.jobs import Jobs
from bot.leader import GatewayLock
from bot.ownership import schedule_verification
from bot.sync import apply_config
from bot.tasks import Spawner
from bot.weekly import schedule_weekly_sync
from commands import build_registry
from commands.core.clock import Clock, SystemClock
from commands.core.dispatch import Dispatcher
from commands.core.notifier import Postbox, Wake
from commands.core.registry import Registry
from storage.engine import create_engine, session_factory

if TYPE_CHECKING:
    from bot.http import HttpServer


@dataclass
class Runtime:
    """The parts one Liaison process runs with."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    registry: Registry
    # Where notifications go, and what wakes when some are written (see `wake` below).
    postbox: Postbox
    dispatcher: Dispatcher
    worker: DeliveryWorker
    deadlines: Deadlines
    jobs: Jobs
    # The process's one scheduler (the SLA wake-up and the cron jobs) and one task spawner.
    scheduler: AsyncIOScheduler
    tasks: Spawner
    # Bounded, fair admission of commands from every platform (a fast "busy" past it).
    intake: Intake
    # Requests made durable before they are acknowledged, and resumed if left unfinished.
    inbox: Inbox
    # Whether this replica holds the Discord gateway; the Discord adapter runs it (bot/leader.py).
    gateway: GatewayLock
    # Called when a review starts following a pull request (set when GitHub is read).
    on_github: Callable[[], None] | None = None
    # The one HTTP server, made on first use (aiohttp is imported only then).
    http: HttpServer | None = None

    def http_server(self) -> HttpServer:
        """The process's HTTP server on [http], shared by Slack's events and GitHub's webhook."""
        if self.http is None:
            from bot.http import HttpServer

            self.http = HttpServer(self.settings.http.host, self.settings.http.port)
        return self.http

    @property
    def gateway_holder(self) -> bool:
        """Whether this replica holds the Discord gateway now (False where Discord is not run)."""
        return self.gateway.held

    async def start(self) -> None:
        """Start delivery, the SLA wake-up and the cron jobs (each first catches up)."""
        settle_heap()
        self.tasks.spawn(self.worker.run_forever(), name="delivery")
        # First resumes what a previous run acknowledged but did not finish.
        self.tasks.spawn(self.inbox.run_forever(), name="inbound.resume")
        self.scheduler.start()
        await self.deadlines.start()
        await self.jobs.start()

    def wake(self, what: Wake) -> None:
        """A transaction committed changes: wake the parts that act on them."""
        if Wake.OUTBOX in what:
            self.worker.wake()
        if Wake.DEADLINES in what:
            self.deadlines.changed()
        if Wake.JOBS in what:
            self.jobs.changed()
        if Wake.GITHUB in what and self.on_github is not None:
            self.on_github()

    async def close(self) -> None:
        """Stop the running parts and release the database connections."""
        # First, so deliveries in flight finish or go back to the outbox, never left 'sending'.
        await self.worker.stop()
        self.deadlines.stop()
        self.jobs.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.tasks.close()
        if self.http is not None:
            await self.http.stop()
        await self.engine.dispose()


def settle_heap() -> None:
    """Keep the garbage collector off what lives as long as the process (modules, settings).

    Frozen, those objects are skipped by every later collection, so a burst of work (a
    thousand SLA stages fired at once, a flood of commands) pays only for the objects it
    makes: measured, a third of the CPU time of such a burst went to walking the loaded
    modules. No full collection first: the adapters already serve requests, and it would hold
    the loop for a few hundred milliseconds.
    """
    gc.freeze()


async def open_runtime(
    settings: Settings, *, platforms: Iterable[str], clock: Clock | None = None
) -> Runtime:
    """Connect, check the schema is migrated, load the configuration, and wire the parts.

    `platforms` are where notifications go; their senders are added to `runtime.worker.senders`.
    """
    clock = clock or SystemClock()
    engine = create_engine(settings.database.url)
    runtime: Runtime | None = None

    def wake(what: Wake) -> None:
        # Transactions that commit before wiring (the configuration's) need no wake-up: the
        # delivery worker reads the outbox when it starts.
        if runtime is not None:
            runtime.wake(what)

    sessions = session_factory(engine)
    postbox = Postbox(sessions, frozenset(platforms), settings.announce_channel, wake)
    try:
        await db.require_head(engine)
        await apply_config(postbox, settings, clock.now())
    except BaseException:
        await engine.dispose()
        raise
    scheduler = AsyncIOScheduler(timezone=UTC)
    tasks = Spawner()
    jobs = Jobs(sessions, clock, scheduler, tasks)

    async def weekly_sync() -> None:
        await schedule_weekly_sync(jobs, postbox)

    await weekly_sync()
    # Every run of the jobs first re-reads the schedule: a meeting moved on any replica moves
    # its agenda post too.
    jobs.refreshers.append(weekly_sync)
    schedule_digest(jobs, postbox, settings)
    await schedule_daily(jobs, postbox)
    schedule_verification(jobs, postbox, settings)
    registry = build_registry()
    limits = settings.limits
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        registry=registry,
        postbox=postbox,
        dispatcher=Dispatcher(registry, postbox, clock),
        worker=DeliveryWorker(sessions, clock, [], tasks=tasks),
        deadlines=Deadlines(postbox, clock, scheduler, tasks),
        jobs=jobs,
        scheduler=scheduler,
        tasks=tasks,
        intake=Intake(
            Limits.for_database(
                settings.database.url,
                writers=limits.writers,
                readers=limits.readers,
                waiting=limits.waiting,
                per_user=limits.per_user,
                max_wait=limits.max_wait.total_seconds(),
            )
        ),
        inbox=Inbox(sessions, clock, tasks, limits.resume_after),
        gateway=GatewayLock(settings.database.url),
    )
    return runtime
