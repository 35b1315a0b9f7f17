"""Reading reviews: the open ones with their current clocks, most urgent first, and list lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.messages import (
    Line,
    Link,
    Span,
    bold,
    italic,
    line,
)
from commands.reviews import clocks as rc
from commands.reviews.card import STATE_LABELS, left_text
from storage.models import (
    Review,
    ReviewClock,
)


def _most_urgent(
    rv: Review, clocks: dict[str, ReviewClock], now: datetime
) -> tuple[timedelta | None, datetime | None]:
    """Business time left on the running clock with the least; its due instant once breached."""
    running = [c for c in clocks.values() if c.stopped_at is None and c.running_since is not None]
    if not running:
        return None, None
    calendar = rc.calendar_of(rv)
    left, clock = min(
        ((rc.remaining(rv, c, now, calendar), c) for c in running), key=lambda pair: pair[0]
    )
    # The due instant costs a walk through the calendar: it is needed only to say how long ago
    # a breach was, so only breached reviews pay for it.
    due = rc.view(rv, clock, now).due if left < timedelta(seconds=1) else None
    return left, due


@dataclass(frozen=True)
class RankedReview:
    """A review with its current clocks and the business time left on the most urgent one."""

    left: timedelta | None
    review: Review
    clocks: dict[str, ReviewClock]
    # When the most urgent clock is (or was) due, for saying how long ago it breached.
    due: datetime | None = None

    def breached(self, now: datetime) -> bool:
        """Whether a clock that is still running has passed its target."""
        return any(
            rc.view(self.review, c, now).breached and c.stopped_at is None
            for c in self.clocks.values()
        )


async def ranked(session: AsyncSession, query: Select[Review], now: datetime) -> list[RankedReview]:
    """The reviews a query finds, with business time left and current clocks, most urgent first."""
    reviews = list((await session.scalars(query)).unique())
    # One statement for every review's clocks, whatever the number of reviews (not one each).
    by_review = await rc.current_clocks_of(session, reviews)
    rows = []
    for rv in reviews:
        left, due = _most_urgent(rv, by_review[rv.id], now)
        rows.append(RankedReview(left, rv, by_review[rv.id], due))
    rows.sort(key=lambda r: (r.left is None, r.left or timedelta(0), r.review.id))
    return rows


def summary_line(row: RankedReview, reviewer: Span | None, now: datetime) -> Line:
    """One review in a list: number, title, reviewer, state and time left (or breached)."""
    rv = row.review
    status = STATE_LABELS[rv.state]
    if row.left is not None:
        status += " · " + left_text(row.left, row.due, now)
    who = reviewer or italic("unassigned")
    return line(bold(f"#{rv.id}"), " ", Link(rv.title, rv.link), " — ", who, f" · {status}")
