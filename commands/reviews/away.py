"""The two moments of a time away, scheduled work on the SLA wake-up (`escalation.fire_due`):
when it begins, the person's open reviews go to whoever covers them (`hand_over`, once); when
it ends, they are told what went past them meanwhile (`welcome_back`, once).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.context import Context
from commands.core.messages import Line, Link, Message, bold, line, mention
from commands.core.notifier import Notifier, person_ref
from commands.core.presence import cover, note_routed
from commands.reviews import clocks as rc
from commands.reviews import lifecycle
from commands.reviews.card import covering_line
from commands.reviews.cover import area_backup, cover_review
from commands.reviews.queries import IS_OPEN
from storage.models import Away, Review

# --- the two moments of a time away --------------------------------------------------------------


async def next_moment(session: AsyncSession) -> datetime | None:
    """The earliest instant a time away begins or ends with its work not yet done."""
    starts = await session.scalar(
        select(func.min(Away.starts_at)).where(
            Away.cancelled_at.is_(None), Away.handed_at.is_(None)
        )
    )
    ends = await session.scalar(
        select(func.min(Away.ends_at)).where(
            Away.cancelled_at.is_(None), Away.returned_at.is_(None)
        )
    )
    return min((t for t in (starts, ends) if t is not None), default=None)


async def due_moments(notifier: Notifier) -> int:
    """Hand over for every time away that has begun, welcome back every one that ended."""
    session, now = notifier.session, notifier.now
    done = 0
    starting = (
        await session.scalars(
            select(Away)
            .where(Away.cancelled_at.is_(None), Away.handed_at.is_(None), Away.starts_at <= now)
            .order_by(Away.starts_at, Away.id)
            .with_for_update(skip_locked=True, of=Away)
        )
    ).unique()
    for away in list(starting):
        await hand_over(notifier, away)
        done += 1
    ending = (
        await session.scalars(
            select(Away)
            .where(Away.cancelled_at.is_(None), Away.returned_at.is_(None), Away.ends_at <= now)
            .order_by(Away.ends_at, Away.id)
            .with_for_update(skip_locked=True, of=Away)
        )
    ).unique()
    for away in list(ending):
        await welcome_back(notifier, away)
        done += 1
    return done


async def hand_over(notifier: Notifier, away: Away) -> list[Review]:
    """The time away began: each open review of the person goes to whoever covers them.

    The clocks keep running (that is the point of the SLA). The card and its thread say so
    in the shared channel; the new reviewer and the requester are told.
    """
    session, now = notifier.session, notifier.now
    away.handed_at = now
    if now >= away.ends_at:
        return []
    person = away.person
    reviews = (
        await session.scalars(
            select(Review).where(Review.reviewer_id == person.id, IS_OPEN).order_by(Review.id)
        )
    ).unique()
    ctx = Context(session, person, "liaison", notifier)
    moved = []
    for rv in list(reviews):
        found = await cover(session, person, now, fallback=await area_backup(session, rv))
        if not found.routed:
            continue
        note_routed(away, rv.id, "handed over")
        cover_review(rv, found)
        said = covering_line(person, found.by, away.ends_at)
        event = await lifecycle.record(
            ctx, rv, "reassigned", previous=person.handle, reviewer=found.by.handle, away=True
        )
        await lifecycle.publish(ctx, rv, event, said)
        urgent = rc.is_urgent(rv)
        subject = line(bold(f"#{rv.id}"), " ", Link(rv.title, rv.link))
        await notifier.notify(
            f"review:{rv.id}:away{away.id}:@{found.by.handle}",
            Message(
                title=f"Review #{rv.id} is yours while @{person.handle} is away",
                lines=(subject, said, line("Its clocks keep running.")),
            ),
            to=found.by,
            urgent=urgent,
        )
        await notifier.notify(
            f"review:{rv.id}:away{away.id}:@{rv.requester.handle}",
            Message(title=f"Review #{rv.id} has a new reviewer", lines=(subject, said)),
            to=rv.requester,
            urgent=urgent,
        )
        moved.append(rv)
    return moved


async def welcome_back(notifier: Notifier, away: Away) -> bool:
    """The time away ended: tell the person, once, what went to someone else meanwhile."""
    away.returned_at = notifier.now
    if not away.routed:
        return False
    lines: list[Line] = []
    for entry in away.routed:
        rv = await notifier.session.get(Review, entry["review"])
        if rv is None:
            continue
        now_with = (
            line(" (now with ", mention(person_ref(rv.reviewer)), ")") if rv.reviewer else line()
        )
        lines.append(
            line(
                f"• {entry['what']}: ",
                bold(f"#{rv.id}"),
                " ",
                Link(rv.title, rv.link),
                *now_with,
            )
        )
    return await notifier.notify(
        f"away:{away.id}:back",
        Message(title="Welcome back: this went to others while you were away", lines=tuple(lines)),
        to=away.person,
    )
