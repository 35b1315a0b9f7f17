"""Where a person is: their own time zone and working hours, and whether they are away.

Two questions every part of Liaison that tells a person something asks here, and only here:
when may they be pinged (`held_until`: direct pings wait for their working hours), and who
takes what would go to them while they are away (`cover`: their backup, else the fallback the
caller knows of, such as an area's backup, else a lead of their org).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.calendar import BusinessCalendar, working_hours
from storage.models import Away, Person, Role

DEFAULT_HOURS = "Mon-Fri 09:00-17:00"
# A backup who is away too hands on to their own backup; this many steps at most.
_CHAIN = 3


def zone_name(person: Person) -> str:
    """The person's IANA time zone: their own, else their org's, else UTC."""
    if person.timezone:
        return person.timezone
    return person.org.timezone if person.org else "UTC"


def zone_of(person: Person) -> ZoneInfo:
    """The person's time zone."""
    return ZoneInfo(zone_name(person))


def hours_of(person: Person) -> str:
    """The person's working hours as written ("Mon-Thu 08:00-16:00"): theirs, else their org's."""
    if person.hours:
        return person.hours
    return person.org.business_hours if person.org else DEFAULT_HOURS


def working_calendar(person: Person) -> BusinessCalendar:
    """The person's working time: their hours in their zone, skipping their org's holidays."""
    holidays = person.org.holidays if person.org else None
    return working_hours(hours_of(person), zone_name(person), holidays)


def held_until(person: Person, now: datetime) -> datetime | None:
    """When a direct ping written now may reach the person: None if now is working time."""
    calendar = working_calendar(person)
    if calendar.hours.always_open or calendar.is_open(now):
        return None
    return calendar.next_open(now)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight starting `day` on the wall clock of `zone`."""
    return datetime.combine(day, time(0), zone)


# --- time away -----------------------------------------------------------------------------------


def is_live(away: Away) -> bool:
    """Whether a time away still counts (not cancelled)."""
    return away.cancelled_at is None


async def away_at(session: AsyncSession, person_id: int, at: datetime) -> Away | None:
    """The person's time away that covers the instant `at`, if any."""
    return await session.scalar(
        select(Away)
        .where(
            Away.person_id == person_id,
            Away.cancelled_at.is_(None),
            Away.starts_at <= at,
            Away.ends_at > at,
        )
        .order_by(Away.ends_at.desc())
        .limit(1)
    )


async def away_among(session: AsyncSession, person_ids: set[int], at: datetime) -> set[int]:
    """Which of these people are away at the instant `at` (one statement)."""
    if not person_ids:
        return set()
    found = await session.scalars(
        select(Away.person_id).where(
            Away.person_id.in_(sorted(person_ids)),
            Away.cancelled_at.is_(None),
            Away.starts_at <= at,
            Away.ends_at > at,
        )
    )
    return set(found.all())


async def away_until(session: AsyncSession, at: datetime) -> dict[str, tuple[datetime, str]]:
    """Everyone away at `at`, by handle: the instant they are back, and their time zone."""
    rows = await session.execute(
        select(Person, Away.ends_at)
        .join(Away, Away.person_id == Person.id)
        .where(Away.cancelled_at.is_(None), Away.starts_at <= at, Away.ends_at > at)
    )
    found: dict[str, tuple[datetime, str]] = {}
    for person, ends_at in rows.unique().all():
        known = found.get(person.handle)
        if known is None or ends_at > known[0]:
            found[person.handle] = (ends_at, zone_name(person))
    return found


@dataclass(frozen=True)
class Cover:
    """Who gets what would go to `person`: `by` (themselves when they are not away)."""

    person: Person
    by: Person
    # The time away that sent it elsewhere; None when the person is there.
    away: Away | None = None

    @property
    def routed(self) -> bool:
        """Whether someone else takes it."""
        return self.away is not None and self.by.id != self.person.id


async def _lead_of(session: AsyncSession, person: Person, skip: set[int]) -> Person | None:
    if person.org_id is None:
        return None
    leads = await session.scalars(
        select(Person)
        .where(Person.org_id == person.org_id, Person.role == Role.LEAD)
        .order_by(Person.handle)
    )
    return next((p for p in leads.unique() if p.id not in skip), None)


async def cover(
    session: AsyncSession, person: Person, at: datetime, *, fallback: Person | None = None
) -> Cover:
    """Who takes what would go to `person` at `at`: they themselves, unless they are away.

    While away: the backup they named, else `fallback` (the caller's: an area's backup), else
    the first lead of their org; a backup who is away too hands on (a few steps at most).
    Nobody to hand to leaves it with the person.
    """
    away = await away_at(session, person.id, at)
    if away is None:
        return Cover(person, person)
    tried = {person.id}
    current, current_away = person, away
    for _ in range(_CHAIN):
        candidates = [current_away.backup, fallback, await _lead_of(session, current, tried)]
        nxt = next((c for c in candidates if c is not None and c.id not in tried), None)
        if nxt is None:
            break
        tried.add(nxt.id)
        nxt_away = await away_at(session, nxt.id, at)
        if nxt_away is None:
            return Cover(person, nxt, away)
        current, current_away = nxt, nxt_away
    return Cover(person, person, away)


def note_routed(away: Away, review_id: int, what: str) -> None:
    """Remember that something about a review went past the away person (told on return)."""
    entry = {"review": review_id, "what": what}
    if entry not in away.routed:
        # A new list, so the JSON column is seen as changed.
        away.routed = [*away.routed, entry]
