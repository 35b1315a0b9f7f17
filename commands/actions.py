"""Action items: who does what by when; owners are chased while an item is overdue.

The first chase is the owner's first business hour after the due date (their org's calendar:
a Friday due date is chased on Monday morning, not on Saturday), then weekly. Each chase is sent
once: its outbox key names the item and the local date of the chase.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from commands.agenda import is_overdue, local_today, open_actions, overdue_actions
from commands.calendar import BusinessCalendar
from commands.context import CommandError, Context, notify, person_ref
from commands.meetings import recent_meeting, series_of
from commands.messages import Line, Message, bold, code, line, mention
from commands.registry import Group, Kind, Param
from commands.sla import calendar_for
from storage.models import ActionItem, ActionStatus, Org, Person, Role

action = Group("action", "Action items from the weekly sync: who does what by when")

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
    sessions: async_sessionmaker[AsyncSession],
    org_key: str | None,
    scheduled_for: datetime,
    now: datetime,
    *,
    platforms: frozenset[str],
) -> int:
    """DM the owners (of one org, or in no org) whose chase is due at `scheduled_for`."""
    async with sessions.begin() as session:
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
            await notify(
                session,
                f"action:{item.id}:chase:{local_day.isoformat()}",
                _chase_message(item, late_days),
                platforms=platforms,
                now=now,
                person=item.owner,
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


@action.command(
    "add",
    Param("owner", Kind.PERSON, "Who does it"),
    Param("due", Kind.DATE, "The last day to do it"),
    Param("text", Kind.TEXT, "What to do", max_length=1000),
)
async def action_add(ctx: Context, args: dict[str, Any]) -> Message:
    """Record an action item with an owner and a due date; the owner is chased when overdue."""
    owner: Person = args["owner"]
    due: date = args["due"]
    today = local_today(owner, ctx.now)
    if due < today:
        raise CommandError(
            f"{due.isoformat()} has passed for @{owner.handle} (today is {today.isoformat()} "
            "there): give a due date from today on."
        )
    series = await series_of(ctx.session)
    m = await recent_meeting(ctx.session, series, ctx.now)
    item = ActionItem(
        meeting_id=m.id if m else None,
        text=" ".join(args["text"].split()),
        owner_id=owner.id,
        due=due,
        status=ActionStatus.OPEN,
        created_by_id=ctx.actor.id,
        created_at=ctx.now,
        next_chase_at=first_chase(owner.org, due),
        chases=0,
    )
    ctx.session.add(item)
    await ctx.session.flush()
    await ctx.session.refresh(item)
    if owner.id != ctx.actor.id:
        await ctx.notify(
            f"action:{item.id}:assigned",
            Message(
                title=f"New action item #{item.id} for you",
                lines=(
                    line(item.text),
                    line(
                        f"Due {due:%a} {due.isoformat()}. Added by ",
                        mention(ctx.ref(ctx.actor)),
                        ".",
                    ),
                    line("When it is done: ", code(f"/action done {item.id}")),
                ),
            ),
            person=owner,
        )
    return Message(lines=(line("Added action item ", *action_line(item, ctx.now)),), tone="success")


@action.command("done", Param("id", Kind.ACTION, "The action item's number"))
async def action_done(ctx: Context, args: dict[str, Any]) -> Message:
    """Mark an action item done (its owner, whoever added it, or a lead)."""
    item: ActionItem = args["id"]
    if item.status is ActionStatus.DONE:
        return Message(lines=(line(f"Action item #{item.id} is already done."),))
    allowed = ctx.actor.id in (item.owner_id, item.created_by_id)
    if not allowed and ctx.actor.role.rank < Role.LEAD.rank:
        raise CommandError(
            f"Only @{item.owner.handle} (the owner), whoever added it, or a lead can close "
            f"action item #{item.id}."
        )
    item.status, item.done_at, item.done_by_id = ActionStatus.DONE, ctx.now, ctx.actor.id
    item.next_chase_at = None
    return Message(lines=(line(f"Done: action item #{item.id}: ", item.text),), tone="success")


@action.command(
    "list",
    Param(
        "which",
        Kind.CHOICE,
        "mine (yours, open), open (the default) or overdue",
        required=False,
        choices=("mine", "open", "overdue"),
    ),
)
async def action_list(ctx: Context, args: dict[str, Any]) -> Message:
    """List open action items: yours, all of them, or the overdue ones."""
    which = args["which"] or "open"
    if which == "overdue":
        items = await overdue_actions(ctx.session, ctx.now)
    else:
        mine = ctx.actor.id if which == "mine" else None
        items = await open_actions(ctx.session, owner_id=mine)
    titles = {
        "mine": "Your open action items",
        "open": "Open action items",
        "overdue": "Overdue action items",
    }
    if not items:
        return Message(lines=(line(f"{titles[which]}: none."),))
    return Message(
        title=f"{titles[which]} ({len(items)})",
        lines=tuple(line("• ", *action_line(i, ctx.now)) for i in items),
    )
