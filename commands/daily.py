"""The daily summary: each working morning, one direct message to each person who chose it
(`/me notify daily`) saying what waits for them: the reviews they owe, the reviews they asked
for, their open action items. Nothing waiting, no message.

Keyed by the person and their local date, so a run caught up after downtime, or run by two
replicas, sends it once.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.messages import Line, Message, Text, bold, line
from commands.core.notifier import Postbox
from commands.reviews.queries import IS_OPEN, Ranking, ranked, summary_line
from storage.models import ActionItem, ActionStatus, Org, Person, Review


async def send_daily(postbox: Postbox, org_key: str, occurrence: datetime, now: datetime) -> int:
    """Send the day's summary to every person of an org who chose it; return how many."""
    sent = 0
    async with postbox.transaction(now) as notifier:
        session = notifier.session
        people = (
            await session.scalars(
                select(Person)
                .join(Org, Person.org_id == Org.id)
                .where(Org.key == org_key, Person.notify == "daily")
                .order_by(Person.handle)
            )
        ).unique()
        for person in people:
            lines = await _waiting(notifier.session, person, now)
            if not lines:
                continue
            tz = ZoneInfo(person.org.timezone if person.org else "UTC")
            day = occurrence.astimezone(tz).date()
            message = Message(title=f"What waits for you, {day:%a %d %b}", lines=tuple(lines))
            key = f"daily:{person.id}:{day.isoformat()}"
            sent += await notifier.notify(key, message, to=person, daily=True)
    return sent


def _more(ranking: Ranking) -> list[Line]:
    """The line under a summary's list when it holds more than one page."""
    return [line(f"… and {ranking.after} more: /review list")] if ranking.after else []


async def _waiting(session: AsyncSession, person: Person, now: datetime) -> list[Line]:
    owed = await ranked(session, [IS_OPEN, Review.reviewer_id == person.id], now)
    asked = await ranked(session, [IS_OPEN, Review.requester_id == person.id], now)
    actions = (
        await session.scalars(
            select(ActionItem)
            .where(ActionItem.owner_id == person.id, ActionItem.status == ActionStatus.OPEN)
            .order_by(ActionItem.due, ActionItem.id)
        )
    ).all()
    lines: list[Line] = []
    if owed.rows:
        lines.append(line(bold(f"Reviews you owe ({owed.total})")))
        lines += [summary_line(r, bold("you"), now) for r in owed.rows]
        lines += _more(owed)
    if asked.rows:
        lines.append(line(bold(f"Reviews you asked for ({asked.total})")))
        lines += [
            summary_line(r, Text("@" + r.reviewer.handle) if r.reviewer else None, now)
            for r in asked.rows
        ]
        lines += _more(asked)
    if actions:
        lines.append(line(bold(f"Your action items ({len(actions)})")))
        lines += [line(f"#{a.id} {a.text} — due {a.due.isoformat()}") for a in actions]
    return lines
