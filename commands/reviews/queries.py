"""Reading reviews: the open ones ranked most urgent first, one page at a time, and list lines.

Ranking reads a narrow row per review and running clock (ids, the calendar's name, the clock's
figures) in one statement and works out the business time left in Python, on one shared
calendar per org and policy kind; only the page asked for is then loaded as full reviews. So a
list of 10,000 open reviews costs the same few statements as a list of two, and no more objects
than a page holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import raiseload

from commands.core.calendar import BusinessCalendar
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
from commands.reviews.rules import calendar_for
from storage.models import (
    Org,
    Review,
    ReviewClock,
)

# How many reviews one page of a list shows.
PAGE = 20
_US = timedelta(microseconds=1)


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


@dataclass(frozen=True)
class Ranking:
    """One page of ranked reviews, and how many the whole ranking holds."""

    rows: list[RankedReview]
    total: int
    # The place of the page's first row in the whole ranking, from 0.
    first: int = 0

    @property
    def after(self) -> int:
        """How many ranked reviews come after this page."""
        return max(0, self.total - self.first - len(self.rows))


@dataclass
class _Urgency:
    """What the narrow pass learns about one review."""

    left: timedelta | None = None
    breached: bool = False


async def ranked(
    session: AsyncSession,
    where: Sequence[ColumnElement[bool]],
    now: datetime,
    *,
    breached: bool = False,
    first: int = 0,
    limit: int = PAGE,
) -> Ranking:
    """The reviews matching `where`, most urgent first: `limit` of them from place `first`.

    Most urgent is least business time left on a running clock; reviews with no running clock
    come last, then by number. With `breached`, only reviews with a clock past its target that
    has not stopped (running or paused) count.
    """
    calendar_name = Review.policy_snapshot["calendar"].as_string()
    found = await session.execute(
        select(
            Review.id,
            Review.reviewing_org_id,
            calendar_name,
            ReviewClock.target_seconds,
            ReviewClock.elapsed_us,
            ReviewClock.running_since,
            ReviewClock.breached_at,
        )
        # Stopped clocks rank nothing and breach nothing: only the others are read.
        .outerjoin(
            ReviewClock,
            and_(
                ReviewClock.review_id == Review.id,
                ReviewClock.cycle == Review.cycle,
                ReviewClock.stopped_at.is_(None),
            ),
        )
        .where(*where)
    )
    calendars = await _calendars(session)
    urgency: dict[int, _Urgency] = {}
    for rid, org_id, kind, target_s, elapsed_us, running_since, breached_at in found:
        seen = urgency.setdefault(rid, _Urgency())
        if target_s is None:
            continue  # a review without an unstopped clock
        elapsed = elapsed_us * _US
        if running_since is not None:
            elapsed += calendars(kind, org_id).elapsed(running_since, now)
        left = timedelta(seconds=target_s) - elapsed
        seen.breached |= breached_at is not None or left <= timedelta(0)
        if running_since is not None and (seen.left is None or left < seen.left):
            seen.left = left
    order = sorted(
        (rid for rid, u in urgency.items() if u.breached or not breached),
        key=lambda rid: (urgency[rid].left is None, urgency[rid].left or timedelta(0), rid),
    )
    page = order[first : first + limit]
    return Ranking(await _load(session, page, now), len(order), first)


async def _calendars(session: AsyncSession) -> _CalendarCache:
    orgs = (
        await session.execute(select(Org.id, Org.timezone, Org.business_hours, Org.holidays))
    ).all()
    return _CalendarCache({oid: (tz, hours, holidays) for oid, tz, hours, holidays in orgs})


class _CalendarCache:
    """The calendar of each (policy calendar, org) pair, built once per list."""

    def __init__(self, orgs: dict[int, tuple[str, str, str | None]]) -> None:
        self.orgs = orgs
        self.built: dict[tuple[str, int], BusinessCalendar] = {}

    def __call__(self, kind: str, org_id: int) -> BusinessCalendar:
        calendar = self.built.get((kind, org_id))
        if calendar is None:
            tz, hours, holidays = self.orgs[org_id]
            calendar = self.built[kind, org_id] = calendar_for(kind, tz, hours, holidays)
        return calendar


async def _load(session: AsyncSession, ids: list[int], now: datetime) -> list[RankedReview]:
    """The full reviews of one page, with their clocks, in the page's order."""
    if not ids:
        return []
    # A list line names the reviewer and needs the reviewing org's calendar, nothing more: the
    # requester, the person covered for and the policy row are not loaded (a read that needs
    # them fails loudly instead of loading them one review at a time).
    page = (
        select(Review)
        .where(Review.id.in_(ids))
        .options(
            raiseload(Review.requester), raiseload(Review.covering_for), raiseload(Review.policy)
        )
    )
    reviews = {rv.id: rv for rv in (await session.scalars(page)).unique()}
    by_review = await rc.current_clocks_of(session, list(reviews.values()))
    rows = []
    for rid in ids:
        rv = reviews[rid]
        left, due = _most_urgent(rv, by_review[rid], now)
        rows.append(RankedReview(left, rv, by_review[rid], due))
    return rows


def summary_line(row: RankedReview, reviewer: Span | None, now: datetime) -> Line:
    """One review in a list: number, title, reviewer, state and time left (or breached)."""
    rv = row.review
    status = STATE_LABELS[rv.state]
    if row.left is not None:
        status += " · " + left_text(row.left, row.due, now)
    who = reviewer or italic("unassigned")
    return line(bold(f"#{rv.id}"), " ", Link(rv.title, rv.link), " — ", who, f" · {status}")
