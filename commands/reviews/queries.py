"""Reading reviews: the open ones ranked most urgent first, one page at a time, and list lines.

Ranking reads a narrow row per review and running clock (ids, the calendar's name, the clock's
figures) in one statement and works out the business time left in Python, on one shared
calendar per org and policy kind; the page asked for is then read as plain rows (title, link,
state, the reviewer's name and platform ids), one more statement. So a list of 10,000 open
reviews costs the same few statements as a list of two, and builds no ORM objects at all:
loading a page as full reviews with their people, org, policy and clocks took most of a
list's CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.calendar import BusinessCalendar
from commands.core.messages import (
    Line,
    Link,
    PersonRef,
    Span,
    bold,
    italic,
    line,
)
from commands.reviews.card import OPEN, STATE_LABELS, left_text
from commands.reviews.rules import ClockState, calendar_for
from storage.models import (
    Identity,
    Org,
    Person,
    Review,
    ReviewClock,
    ReviewState,
)

# How many reviews one page of a list shows.
PAGE = 20
_US = timedelta(microseconds=1)

# The statements a list runs, built once: building a statement costs more CPU than SQLite
# takes to run these.
# Reviews still open (the filter every list starts from).
IS_OPEN = Review.state.in_(OPEN)
# One narrow row per review and unstopped clock (stopped clocks rank and breach nothing);
# callers add their filter.
_RANKING = select(
    Review.id,
    Review.reviewing_org_id,
    Review.policy_snapshot["calendar"].as_string(),
    ReviewClock.target_seconds,
    ReviewClock.elapsed_us,
    ReviewClock.running_since,
    ReviewClock.breached_at,
).outerjoin(
    ReviewClock,
    and_(
        ReviewClock.review_id == Review.id,
        ReviewClock.cycle == Review.cycle,
        ReviewClock.stopped_at.is_(None),
    ),
)
_ORGS = select(Org.id, Org.timezone, Org.business_hours, Org.holidays)
# A page's lines: each review with its reviewer's name and accounts.
_LINES = (
    select(
        Review.id,
        Review.title,
        Review.link,
        Review.state,
        Person.id,
        Person.handle,
        Person.name,
        Identity.platform,
        Identity.user_id,
    )
    .outerjoin(Person, Person.id == Review.reviewer_id)
    .outerjoin(Identity, Identity.person_id == Person.id)
    .where(Review.id.in_(bindparam("ids", expanding=True)))
)


@dataclass(frozen=True)
class RankedReview:
    """One review as a list line shows it, with the business time left on its most urgent
    running clock."""

    id: int
    title: str
    link: str
    state: ReviewState
    reviewer: PersonRef | None
    left: timedelta | None
    # When the most urgent clock was due, once breached: for saying how long ago.
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
    # The most urgent running clock, as (calendar, its state, its target): for its due instant.
    clock: tuple[BusinessCalendar, ClockState, timedelta] | None = None


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
    found = await session.execute(_RANKING.where(*where))
    calendars = await _calendars(session)
    urgency: dict[int, _Urgency] = {}
    for rid, org_id, kind, target_s, elapsed_us, running_since, breached_at in found:
        seen = urgency.setdefault(rid, _Urgency())
        if target_s is None:
            continue  # a review without an unstopped clock
        banked = elapsed_us * _US
        target = timedelta(seconds=target_s)
        if running_since is None:
            seen.breached |= breached_at is not None or banked >= target
            continue
        calendar = calendars(kind, org_id)
        left = target - banked - calendar.elapsed(running_since, now)
        seen.breached |= breached_at is not None or left <= timedelta(0)
        if seen.left is None or left < seen.left:
            seen.left = left
            seen.clock = (calendar, ClockState(banked, running_since), target)
    order = sorted(
        (rid for rid, u in urgency.items() if u.breached or not breached),
        key=lambda rid: (urgency[rid].left is None, urgency[rid].left or timedelta(0), rid),
    )
    page = order[first : first + limit]
    return Ranking(await _lines(session, page, urgency), len(order), first)


async def _calendars(session: AsyncSession) -> _CalendarCache:
    orgs = (await session.execute(_ORGS)).all()
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


async def _lines(
    session: AsyncSession, ids: list[int], urgency: dict[int, _Urgency]
) -> list[RankedReview]:
    """The page's reviews as list lines, in the page's order: one statement, plain rows."""
    if not ids:
        return []
    found = await session.execute(_LINES, {"ids": ids})
    reviews: dict[int, tuple[str, str, ReviewState]] = {}
    reviewers: dict[int, tuple[int, str, str, list[tuple[str, str]]]] = {}
    for rid, title, link, state, pid, handle, name, platform, user_id in found:
        reviews[rid] = (title, link, state)
        if pid is not None:
            person = reviewers.setdefault(rid, (pid, handle, name, []))
            if platform is not None:
                person[3].append((platform, user_id))
    rows = []
    for rid in ids:
        title, link, state = reviews[rid]
        reviewer = reviewers.get(rid)
        ref = None
        if reviewer is not None:
            pid, handle, name, accounts = reviewer
            ref = PersonRef(pid, handle, name, tuple(sorted(accounts)))
        seen = urgency[rid]
        due = None
        # The due instant costs a walk through the calendar: it is needed only to say how
        # long ago a breach was, so only breached reviews pay for it.
        if seen.left is not None and seen.left < timedelta(seconds=1) and seen.clock:
            calendar, state_now, target = seen.clock
            due = state_now.instant_of(calendar, target)
        rows.append(RankedReview(rid, title, link, state, ref, seen.left, due))
    return rows


def summary_line(row: RankedReview, reviewer: Span | None, now: datetime) -> Line:
    """One review in a list: number, title, reviewer, state and time left (or breached)."""
    status = STATE_LABELS[row.state]
    if row.left is not None:
        status += " · " + left_text(row.left, row.due, now)
    who = reviewer or italic("unassigned")
    return line(bold(f"#{row.id}"), " ", Link(row.title, row.link), " — ", who, f" · {status}")
