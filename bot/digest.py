"""The weekly digest's schedule: one cron job at `[digest] weekday, time, timezone`."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.jobs import weekly
from commands.digest.compose import post_digest, week_of

if TYPE_CHECKING:
    from bot.runtime import Runtime

DIGEST_JOB = "digest"


def schedule_digest(runtime: Runtime) -> None:
    """Register the weekly digest with the runtime's cron jobs."""
    cfg = runtime.settings.digest
    tz = ZoneInfo(cfg.timezone)

    async def run(occurrence: datetime) -> None:
        # Keyed by the occurrence's week, so a run caught up after downtime is still that
        # week's one digest; the figures are as of now.
        written = await post_digest(
            runtime.sessions,
            runtime.clock.now(),
            platforms=runtime.dispatcher.platforms,
            channels=runtime.settings.digest_channels,
            tz=tz,
            week=week_of(occurrence, tz),
        )
        if written:
            runtime.worker.wake()

    runtime.jobs.register(DIGEST_JOB, weekly(cfg.weekday, cfg.time, cfg.timezone), run)
