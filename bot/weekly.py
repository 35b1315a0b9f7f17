"""The weekly sync's cron jobs: the agenda post before each meeting, and the action chases.

The agenda post runs `agenda_post_before` ahead of the meeting on the meeting's own wall clock
(Thursday 16:00 London with 24h is Wednesday 16:00 London, in summer and in winter). Action
chases run at each org's business opening, on its business days; a job per opening time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.jobs import DAY_NAMES, Jobs, Schedule, weekly
from commands.core.calendar import parse_business_hours
from commands.core.notifier import Postbox
from commands.weekly.chase import DEFAULT_HOURS, chase_due
from commands.weekly.posting import post_agenda
from commands.weekly.series import series_of
from storage.engine import reading
from storage.models import Org

AGENDA_JOB = "agenda-post"
CHASE_JOB = "action-chase"
_WEEK_MINUTES = 7 * 24 * 60


async def schedule_weekly_sync(jobs: Jobs, postbox: Postbox) -> None:
    """(Re-)register the agenda post and the chase jobs from what the database holds now."""
    async with reading(postbox.sessions) as session:
        series = await series_of(session)
        orgs = (await session.scalars(select(Org).order_by(Org.key))).all()
        post = None
        if series is not None:
            post = _before(
                series.weekday,
                series.time,
                series.agenda_post_before_seconds // 60,
                series.timezone,
            )
        chases = [(org.key, org.timezone, org.business_hours) for org in orgs]

    def clock() -> datetime:
        return jobs.clock.now()

    if post is None:
        jobs.unregister(AGENDA_JOB)
    else:

        async def post_it(at: datetime) -> None:
            await post_agenda(postbox, at, clock())

        jobs.register(AGENDA_JOB, post, post_it)
    wanted = set()
    for key, tz, hours in [*chases, (None, "UTC", DEFAULT_HOURS)]:
        for schedule in opening_schedules(hours, tz):
            job_id = f"{CHASE_JOB}:{key or '-'}:{schedule.hour}:{schedule.minute}"
            wanted.add(job_id)

            async def chase(at: datetime, key: str | None = key) -> None:
                await chase_due(postbox, key, at, clock())

            jobs.register(job_id, schedule, chase)
    for job_id in jobs.ids():
        if job_id.startswith(CHASE_JOB + ":") and job_id not in wanted:
            jobs.unregister(job_id)


def _before(weekday: int, time: str, minutes: int, tz: str) -> Schedule:
    """The weekly schedule `minutes` ahead of weekday/time, counted on the wall clock."""
    hour, minute = (int(p) for p in time.split(":"))
    at = (weekday * 24 * 60 + hour * 60 + minute - minutes) % _WEEK_MINUTES
    day, rest = divmod(at, 24 * 60)
    return weekly(day, f"{rest // 60:02d}:{rest % 60:02d}", tz)


def opening_schedules(hours: str, tz: str) -> list[Schedule]:
    """One schedule per distinct business opening time, on the days that open then."""
    by_start: dict[int, list[str]] = {}
    for day, windows in enumerate(parse_business_hours(hours).windows):
        if windows:
            by_start.setdefault(windows[0][0], []).append(DAY_NAMES[day])
    return [
        Schedule(tz, ",".join(days), str(start // 60), str(start % 60))
        for start, days in sorted(by_start.items())
    ]
