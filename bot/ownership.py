"""The ownership check's schedule: one cron job a day asks the DRIs whose areas are due (and
reminds both sides of hand-offs whose shadow period is over).

It runs at 09:00 on the digest's wall clock; what is due is decided per area (see
`commands/ownership/verify.py`), so a day's run after downtime catches up everything once.
"""

from __future__ import annotations

from datetime import datetime

from bot.config import Settings
from bot.jobs import Jobs, Schedule
from commands.core.notifier import Postbox
from commands.ownership.verify import verify_due

VERIFY_JOB = "ownership-verify"


def schedule_verification(jobs: Jobs, postbox: Postbox, settings: Settings) -> None:
    """Register the daily ownership check with the cron jobs."""

    async def run(occurrence: datetime) -> None:
        await verify_due(postbox, occurrence, jobs.clock.now())

    jobs.register(VERIFY_JOB, Schedule(settings.digest.timezone, hour="9"), run)
