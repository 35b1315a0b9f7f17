"""Action items after the sync: which are open or overdue, and the DM that chases their owners."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.calendar import BusinessCalendar
from commands.core.messages import (
    Line,
    Message,
    bold,
    code,
    line,
    mention,
)
from commands.core.notifier import Postbox, person_ref
from commands.reviews.rules import calendar_for
from storage.models import (
    ActionItem,
    ActionStatus,
    Org,
    Person,
)


async def open_actions(session: AsyncSession, *, owner_id: int | None = None) -> list[ActionItem]:
    """Open action items (of one owner, if given), soonest due first."""
    query = select(ActionItem).where(ActionItem.status == ActionStatus.OPEN)
    if owner_id is not None:
        query = query.where(ActionItem.owner_id == owner_id)
    rows = await session.scalars(query.order_by(ActionItem.due, ActionItem.id))
    return list(rows.unique())


async def overdue_actions(session: AsyncSession, now: datetime) -> list[ActionItem]:
    """Open action items whose due date has passed in their owner's time zone."""
    return [a for a in await open_actions(session) if is_overdue(a, now)]


def is_overdue(item: ActionItem, now: datetime) -> bool:
    """Whether an action item is open and its due date has passed in its owner's time zone."""
    return item.status is ActionStatus.OPEN and item.due < local_today(item.owner, now)


def local_today(person: Person, now: datetime) -> date:
    """The date `now` falls on where a person is."""
    return now.astimezone(owner_zone(person)).date()


def owner_zone(person: Person) -> ZoneInfo:
    """A person's time zone: their org's, or UTC."""
    return ZoneInfo(person.org.timezone if person.org else "UTC")


CHASE_EVERY = timedelta(days=7)


# Owners in no org are chased on this calendar.
DEFAULT_HOURS = "Mon-Fri 09:00-17:00"


def calendar_of(org: Org | None) -> BusinessCalendar:
    """The business calendar chases follow for an owner in `org` (or in no org)."""
    if org is None:
        return calendar_for("business", "UTC", DEFAULT_HOURS, None)
    return calendar_for("business", org.timezone, org.business_hours, org.holidays)


def chase_on_or_after(org: Org | None, day: date) -> datetime:
    """The first business instant of `day` or later, on the owner's org's calendar."""
    cal = calendar_of(org)
    return cal.next_open(datetime.combine(day, time(0), cal.tz))


def first_chase(org: Org | None, due: date) -> datetime:
    """When an item due on `due` is first chased: the business morning after it."""
    return chase_on_or_after(org, due + timedelta(days=1))


def next_chase(org: Org | None, due: date, after: datetime) -> datetime:
    """The first chase of an item due on `due` that falls after `after`: weekly after the first."""
    at = first_chase(org, due)
    day = at.astimezone(calendar_of(org).tz).date()
    while at <= after:
        day += CHASE_EVERY
        at = chase_on_or_after(org, day)
    return at


async def chase_due(
    postbox: Postbox,
    org_key: str | None,
    scheduled_for: datetime,
    now: datetime,
) -> int:
    """DM the owners (of one org, or in no org) whose chase is due at `scheduled_for`."""
    async with postbox.transaction(now) as notifier:
        session = notifier.session
        org = await session.scalar(select(Org).where(Org.key == org_key)) if org_key else None
        owners = select(Person.id).where(
            Person.org_id == org.id if org is not None else Person.org_id.is_(None)
        )
        items = (
            (
                await session.scalars(
                    select(ActionItem)
                    .where(
                        ActionItem.status == ActionStatus.OPEN,
                        ActionItem.next_chase_at <= scheduled_for,
                        ActionItem.owner_id.in_(owners),
                    )
                    .order_by(ActionItem.next_chase_at, ActionItem.id)
                    # Replicas skip each other's rows; the outbox key stops any repeat anyway.
                    .with_for_update(skip_locked=True, of=ActionItem)
                )
            )
            .unique()
            .all()
        )
        for item in items:
            assert item.next_chase_at is not None
            local_day = item.next_chase_at.astimezone(calendar_of(org).tz).date()
            late_days = (now.astimezone(calendar_of(org).tz).date() - item.due).days
            await notifier.notify(
                f"action:{item.id}:chase:{local_day.isoformat()}",
                _chase_message(item, late_days),
                to=item.owner,
            )
            item.chases += 1
            item.last_chased_at = now
            following = chase_on_or_after(org, local_day + CHASE_EVERY)
            while following <= scheduled_for:
                local_day += CHASE_EVERY
                following = chase_on_or_after(org, local_day + CHASE_EVERY)
            item.next_chase_at = following
        return len(items)


def _chase_message(item: ActionItem, late_days: int) -> Message:
    days = "1 day" if late_days == 1 else f"{late_days} days"
    return Message(
        title=f"Action item #{item.id} is overdue",
        lines=(
            line(item.text),
            line(f"It was due {item.due:%a} {item.due.isoformat()} ({days} ago)."),
            line("Done? ", code(f"/action done {item.id}")),
        ),
        tone="warning",
    )


def action_line(item: ActionItem, now: datetime) -> Line:
    """One action item: "#3 @bob by 2026-01-09: text (overdue)"."""
    state = (
        " — done"
        if item.status is ActionStatus.DONE
        else (" — overdue" if is_overdue(item, now) else "")
    )
    return line(
        f"#{item.id} ",
        mention(person_ref(item.owner)),
        f" by {item.due:%a} {item.due.isoformat()}: ",
        item.text,
        *((bold(state),) if state else ()),
    )
