"""Snooze and nudge: who hears about a review when, beside its SLA clocks.

A person reminded of a review can snooze that review's reminders to them for a while: its SLA
clocks keep running, and what the stages send to everyone else keeps its time; only that
person's direct reminders of that review are left out until the snooze ends. The requester can
nudge the reviewer, at most once per `[reviews] nudge_every`. Both are review events (they show
in the timeline, and the latest one of a person counts), so they need no table of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.calendar import BusinessCalendar
from commands.core.context import CommandError, Context
from commands.core.grammar import (
    TOMORROW,
    WrittenDuration,
    format_in,
    parse_written_duration,
)
from commands.core.messages import Action, ActionId, Link, code, line, mention
from commands.reviews import lifecycle
from commands.reviews.card import OPEN, STATE_PHRASES
from commands.reviews.rules import NotifyTarget, calendar_for
from commands.reviews.targets import chunks, recipients
from storage.models import Org, Person, Review, ReviewEvent, ReviewRules, ReviewState

SNOOZED = "snoozed"
NUDGED = "nudged"
# `[reviews] nudge_every` when the configuration has not been synced (a bare database).
DEFAULT_NUDGE_EVERY = "4bh"
# A snooze is a pause, not a way out of a review: longer ones are refused.
MAX_SNOOZE = timedelta(days=7)
# The button labels, and what each snooze button asks for.
SNOOZE_BUTTONS = (("1h", "Snooze 1 hour"), (TOMORROW, "Snooze until tomorrow"))


def business_calendar(org: Org | None) -> BusinessCalendar:
    """An org's working calendar (its hours, zone and holidays); Mon-Fri 09:00-17:00 UTC if none."""
    if org is None:
        return calendar_for("business")
    return calendar_for("business", org.timezone, org.business_hours, org.holidays)


def tomorrow_morning(person: Person, now: datetime) -> datetime:
    """The start of the person's next working day after today, on their org's calendar."""
    calendar = business_calendar(person.org)
    local = now.astimezone(calendar.tz)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=calendar.tz)
    return calendar.next_open(midnight)


def actions(review: Review, person: Person) -> tuple[Action, ...]:
    """The buttons on a reminder of a review to a person: Snooze, and Nudge for the requester."""
    snooze = tuple(
        Action(ActionId("review", "snooze", str(review.id), arg), label)
        for arg, label in SNOOZE_BUTTONS
    )
    if person.id == review.requester_id:
        return (nudge_button(review.id), *snooze)
    return snooze


def nudge_button(review_id: int) -> Action:
    """The requester's Nudge button: `/review nudge <id>`."""
    return Action(ActionId("review", "nudge", str(review_id)), "Nudge the reviewer", "primary")


async def _events(session: AsyncSession, review: Review, kind: str) -> list[ReviewEvent]:
    rows = await session.scalars(
        select(ReviewEvent)
        .where(ReviewEvent.review_id == review.id, ReviewEvent.kind == kind)
        .order_by(ReviewEvent.id)
    )
    return list(rows.unique())


async def snoozed(
    session: AsyncSession, reviews: Sequence[Review], now: datetime
) -> dict[int, set[int]]:
    """For each review (by id), the people whose reminders of it are snoozed at `now`.

    One statement per chunk of reviews, so firing a batch of stages does not ask per review.
    """
    until: dict[tuple[int, int], datetime] = {}
    for chunk in chunks([rv.id for rv in reviews]):
        rows = await session.scalars(
            select(ReviewEvent)
            .where(ReviewEvent.review_id.in_(chunk), ReviewEvent.kind == SNOOZED)
            .order_by(ReviewEvent.id)
        )
        for event in rows.unique():
            if event.actor_id is not None:
                # The latest snooze of a person counts.
                until[event.review_id, event.actor_id] = datetime.fromisoformat(event.data["until"])
    held: dict[int, set[int]] = {rv.id: set() for rv in reviews}
    for (review_id, person), end in until.items():
        if end > now:
            held[review_id].add(person)
    return held


def _require_open(rv: Review, verb: str) -> None:
    if rv.state not in OPEN:
        raise CommandError(f"#{rv.id} is {STATE_PHRASES[rv.state]}: there is nothing to {verb}.")


async def snooze(ctx: Context, rv: Review, wait: timedelta | str) -> datetime:
    """Hold back the reminders of a review to the actor until a moment; return it."""
    _require_open(rv, "snooze")
    until = tomorrow_morning(ctx.actor, ctx.now) if wait == TOMORROW else None
    if isinstance(wait, timedelta):
        if wait > MAX_SNOOZE:
            raise CommandError(
                f"A snooze lasts at most 7 days; to hand #{rv.id} on, use /review reassign."
            )
        until = ctx.now + wait
    assert until is not None
    ctx.session.add(
        ReviewEvent(
            review_id=rv.id,
            cycle=rv.cycle,
            at=ctx.now,
            actor_id=ctx.actor.id,
            kind=SNOOZED,
            data={"until": until.isoformat()},
        )
    )
    await ctx.session.flush()
    return until


async def nudge_every(session: AsyncSession) -> WrittenDuration:
    """`[reviews] nudge_every` as configured."""
    rules = await session.get(ReviewRules, 1)
    return parse_written_duration(rules.nudge_every if rules else DEFAULT_NUDGE_EVERY)


async def next_nudge(session: AsyncSession, rv: Review) -> tuple[datetime | None, str]:
    """When the next nudge of a review may go (None: now), and the rule in words.

    Business units count on the reviewing org's calendar: "4bh" after a nudge at 16:00 on a
    Friday is 12:00 on Monday for a 09:00-17:00 org. Plain units count on the wall clock.
    """
    every = await nudge_every(session)
    calendar = business_calendar(rv.reviewing_org)
    day = calendar.day_length
    rule = f"one nudge per {format_in(every.on(day), every.unit, day)}"
    done = await _events(session, rv, NUDGED)
    if not done:
        return None, rule
    last = done[-1].at
    if every.unit:
        return calendar.add(last, every.on(calendar.day_length)), rule
    return last + every.time, rule


async def nudge(ctx: Context, rv: Review) -> list[Person]:
    """Ping the reviewer (the reviewing org's leads while nobody is assigned) in the actor's
    name, if the last nudge is old enough; return who was pinged."""
    _require_open(rv, "nudge")
    if rv.state is ReviewState.CHANGES_REQUESTED:
        raise CommandError(
            f"#{rv.id} is waiting for changes from its requester; once they are pushed, "
            f"/review resume {rv.id} puts it back with the reviewer."
        )
    allowed, rule = await next_nudge(ctx.session, rv)
    if allowed is not None and allowed > ctx.now:
        raise CommandError(
            f"#{rv.id} was nudged less than {rule.removeprefix('one nudge per ')} ago "
            f"({rule}): you can nudge again from {ctx.when(allowed)}."
        )
    people, _ = await recipients(ctx.session, rv, (NotifyTarget.REVIEWER,))
    event = ReviewEvent(
        review_id=rv.id, cycle=rv.cycle, at=ctx.now, actor_id=ctx.actor.id, kind=NUDGED, data={}
    )
    ctx.session.add(event)
    await ctx.session.flush()
    verb = "ack" if rv.state is ReviewState.REQUESTED else "approve"
    for person in people:
        await lifecycle.tell(
            ctx,
            rv,
            event,
            person,
            f"Nudge: review #{rv.id}",
            line(
                mention(ctx.ref(ctx.actor)),
                " is waiting for your review of ",
                Link(rv.title, rv.link),
                ".",
            ),
            line("When it is done: ", code(f"/review {verb} {rv.id}")),
        )
    return people
