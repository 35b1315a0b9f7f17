"""Reading reviews: the open ones with their current clocks, most urgent first, and list lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.grammar import format_duration
from commands.core.messages import (
    Line,
    Link,
    Span,
    bold,
    italic,
    line,
)
from commands.reviews import clocks as rc
from commands.reviews.card import STATE_LABELS
from storage.models import (
    Review,
    ReviewClock,
)


def _time_left(rv: Review, clocks: dict[str, ReviewClock], now: datetime) -> timedelta | None:
    running = [c for c in clocks.values() if c.stopped_at is None and c.running_since is not None]
    if not running:
        return None
    calendar = rc.calendar_of(rv)
    return min(rc.remaining(rv, c, now, calendar) for c in running)


@dataclass(frozen=True)
class RankedReview:
    """A review with its current clocks and the business time left on the most urgent one."""

    left: timedelta | None
    review: Review
    clocks: dict[str, ReviewClock]

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
    rows = [
        RankedReview(_time_left(rv, by_review[rv.id], now), rv, by_review[rv.id]) for rv in reviews
    ]
    rows.sort(key=lambda r: (r.left is None, r.left or timedelta(0), r.review.id))
    return rows


def summary_line(rv: Review, left: timedelta | None, reviewer: Span | None) -> Line:
    """One review in a list: number, title, reviewer, state and time left (or breached)."""
    status = STATE_LABELS[rv.state]
    if left is not None:
        status += (
            f" · {format_duration(left)} left"
            if left > timedelta(0)
            else f" · BREACHED {format_duration(-left)} ago"
        )
    who = reviewer or italic("unassigned")
    return line(bold(f"#{rv.id}"), " ", Link(rv.title, rv.link), " — ", who, f" · {status}")
