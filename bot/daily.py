"""The daily summary's cron jobs: at each org's business opening, on its business days, the
summary (`commands/daily.py`) for its people who chose one (`/me notify daily`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.jobs import Jobs
from bot.weekly import opening_schedules
from commands.core.notifier import Postbox
from commands.daily import send_daily
from storage.engine import reading
from storage.models import Org

DAILY_JOB = "daily-summary"


async def schedule_daily(jobs: Jobs, postbox: Postbox) -> None:
    """Register one job per org and opening time (orgs come from the configuration)."""
    async with reading(postbox.sessions) as session:
        orgs = [
            (o.key, o.timezone, o.business_hours)
            for o in (await session.scalars(select(Org).order_by(Org.key))).all()
        ]
    for key, tz, hours in orgs:
        for schedule in opening_schedules(hours, tz):

            async def run(at: datetime, key: str = key) -> None:
                await send_daily(postbox, key, at, jobs.clock.now())

            jobs.register(f"{DAILY_JOB}:{key}:{schedule.hour}:{schedule.minute}", schedule, run)
