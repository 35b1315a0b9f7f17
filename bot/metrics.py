"""What `GET /metrics` reports, in Prometheus's text format (prometheus-client).

Each runtime has its own `CollectorRegistry`, never the library's global one, so two runtimes
in one process (the tests) count apart. Counters and histograms are fed by the parts that do
the work, through their observer lists: the dispatcher (each command), the delivery worker
(each delivery attempt) and the SLA wake-up (each stage fired). What the database holds (the
outbox backlog) is read at scrape time: the endpoint first runs one grouped query, awaited on
the event loop like any other, then the collector reports that snapshot; the collector itself
never touches the database, so rendering the page cannot block the loop.
docs/operations.md lists every series and what to alert on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import OUTCOMES as DELIVERY_OUTCOMES
from bot.delivery import Outcome
from commands.core.dispatch import Ran
from commands.reviews.escalation import Fired
from commands.reviews.rules import StageKind
from storage import outbox
from storage.engine import reading

log = logging.getLogger(__name__)

# Commands answer in milliseconds; a slow database or a big digest takes seconds.
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A stage is on time within a minute; after downtime it can be hours or a weekend late.
LATENESS_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 259200.0)
CLOCKS = ("ack", "resolve")


class Metrics:
    """One runtime's series: counters fed by observers, gauges read when scraped."""

    def __init__(
        self,
        platforms: Iterable[str],
        now: Callable[[], datetime],
        holds_gateway: Callable[[], bool],
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.platforms = sorted(set(platforms))
        r = self.registry
        self.commands = Counter(
            "liaison_commands",
            "Commands run, by command and outcome (done, refused, denied, failed, again).",
            ["command", "outcome"],
            registry=r,
        )
        self.command_seconds = Histogram(
            "liaison_command_duration_seconds",
            "How long commands took, from the line or button to the answer.",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self.deliveries = Counter(
            "liaison_deliveries",
            "Delivery attempts by platform and outcome "
            "(delivered, skipped, retry, waiting, failed).",
            ["platform", "outcome"],
            registry=r,
        )
        self.api_errors = Counter(
            "liaison_platform_api_errors",
            "Errors the chat platforms answered to deliveries, by platform and error code.",
            ["platform", "code"],
            registry=r,
        )
        self.stages = Counter(
            "liaison_sla_stages",
            "SLA stages fired, by kind (warn, breach, level) and clock (ack, resolve).",
            ["stage", "clock"],
            registry=r,
        )
        self.lateness = Histogram(
            "liaison_sla_stage_lateness_seconds",
            "How long after its due instant each SLA stage was sent.",
            ["stage"],
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.breaches = Counter(
            "liaison_sla_breaches",
            "SLA clocks that breached their target, by clock (ack, resolve).",
            ["clock"],
            registry=r,
        )
        # The process's own: memory, CPU, open files, start time (process_*).
        ProcessCollector(registry=r)
        self.backlog = Backlog(self.platforms, now)
        r.register(self.backlog)
        r.register(Gateway(holds_gateway))
        # Every label value known in advance starts at 0, so rates and alerts work at once.
        for platform in self.platforms:
            for result in DELIVERY_OUTCOMES:
                self.deliveries.labels(platform, result)
        for kind in StageKind:
            self.lateness.labels(kind.value)
            for clock in CLOCKS:
                self.stages.labels(kind.value, clock)
        for clock in CLOCKS:
            self.breaches.labels(clock)

    def command(self, ran: Ran) -> None:
        """Count a command that ran (a Dispatcher observer)."""
        self.commands.labels(ran.command, ran.outcome).inc()
        self.command_seconds.labels(ran.command).observe(ran.seconds)

    def delivery(self, done: Outcome) -> None:
        """Count a delivery attempt's outcome, and the platform's error code (a worker observer)."""
        self.deliveries.labels(done.platform, done.outcome).inc()
        if done.code is not None:
            self.api_errors.labels(done.platform, done.code).inc()

    def fired(self, stages: Sequence[Fired]) -> None:
        """Count SLA stages that fired, their lateness and the breaches (a Deadlines observer)."""
        for stage in stages:
            self.stages.labels(stage.kind, stage.clock).inc()
            self.lateness.labels(stage.kind).observe(max(stage.lateness.total_seconds(), 0.0))
            if stage.kind == StageKind.BREACH:
                self.breaches.labels(stage.clock).inc()

    async def render(self, sessions: async_sessionmaker[AsyncSession]) -> bytes:
        """The page: the backlog read now (one query, awaited), then every series."""
        await self.backlog.refresh(sessions)
        return generate_latest(self.registry)


class Backlog(Collector):
    """The outbox gauges, from the snapshot the last scrape read (see `refresh`)."""

    def __init__(self, platforms: Sequence[str], now: Callable[[], datetime]) -> None:
        self.platforms = platforms
        self.now = now
        self.snapshot: dict[str, outbox.Backlog] | None = None

    async def refresh(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Read the backlog; on a database error the outbox series are left out this time."""
        try:
            async with reading(sessions) as session:
                self.snapshot = await outbox.backlog(session, self.now())
        except Exception as exc:
            log.warning("metrics: cannot read the outbox: %s", exc)
            self.snapshot = None

    def collect(self) -> Iterator[Metric]:
        """The series, from the snapshot (never a query: this runs inside the rendering)."""
        up = GaugeMetricFamily(
            "liaison_database_up", "Whether the last scrape could read the outbox (1) or not (0)."
        )
        up.add_metric([], 1.0 if self.snapshot is not None else 0.0)
        yield up
        if self.snapshot is None:
            return
        pending = GaugeMetricFamily(
            "liaison_outbox_pending",
            "Deliveries waiting to be sent or being sent, by platform.",
            labels=["platform"],
        )
        held = GaugeMetricFamily(
            "liaison_outbox_held",
            "Direct messages waiting for their recipient's working hours, by platform.",
            labels=["platform"],
        )
        failed = GaugeMetricFamily(
            "liaison_outbox_failed",
            "Deliveries given up on (listed by `liaison outbox failed`), by platform.",
            labels=["platform"],
        )
        oldest = GaugeMetricFamily(
            "liaison_outbox_oldest_pending_age_seconds",
            "Age of the oldest notification still to be delivered, by platform (0 if none).",
            labels=["platform"],
        )
        now = self.now()
        for platform in sorted({*self.platforms, *self.snapshot}):
            found = self.snapshot.get(platform, outbox.Backlog())
            pending.add_metric([platform], float(found.pending))
            held.add_metric([platform], float(found.held))
            failed.add_metric([platform], float(found.failed))
            age = (now - found.oldest_pending).total_seconds() if found.oldest_pending else 0.0
            oldest.add_metric([platform], max(age, 0.0))
        yield from (pending, held, failed, oldest)


class Gateway(Collector):
    """Whether this replica holds the Discord gateway connection, read when scraped."""

    def __init__(self, holds: Callable[[], bool]) -> None:
        self.holds = holds

    def collect(self) -> Iterator[Metric]:
        """One gauge, 1 or 0."""
        gauge = GaugeMetricFamily(
            "liaison_discord_gateway_holder",
            "Whether this replica holds the Discord gateway connection (1) or not (0).",
        )
        gauge.add_metric([], 1.0 if self.holds() else 0.0)
        yield gauge
