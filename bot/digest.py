"""The weekly digest's schedule: one cron job at `[digest] weekday, time, timezone`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import Settings
from bot.jobs import Jobs, weekly
from commands.core.notifier import Postbox
from commands.digest.compose import post_digest, week_of

DIGEST_JOB = "digest"


def schedule_digest(jobs: Jobs, postbox: Postbox, settings: Settings) -> None:
    """Register the weekly digest with the cron jobs."""
    cfg = settings.digest
    tz = ZoneInfo(cfg.timezone)

    async def run(occurrence: datetime) -> None:
        # Keyed by the occurrence's week, so a run caught up after downtime is still that
        # week's one digest; the figures are as of now.
        await post_digest(
            postbox,
            jobs.clock.now(),
            channels=settings.digest_channels,
            tz=tz,
            week=week_of(occurrence, tz),
        )

    jobs.register(DIGEST_JOB, weekly(cfg.weekday, cfg.time, cfg.timezone), run)
