"""The SLA clocks of a review cycle: started, paused, resumed and stopped on the right calendar.

Each running clock stores the instant its next stage falls due (`next_at`, indexed), so the one
wake-up that fires stages only ever looks at the earliest of them.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import lazyload

from commands.core.calendar import BusinessCalendar
from commands.core.grammar import format_in
from commands.reviews.rules import ClockState, Policy, Stage, calendar_for, stages
from storage.models import Review, ReviewClock, SlaPolicy

CLOCKS = ("ack", "resolve")
LABELS = {"ack": "Acknowledge", "resolve": "Resolve"}
_US = timedelta(microseconds=1)
_CHUNK = 10_000


def snapshot(policy: SlaPolicy) -> dict[str, Any]:
    """The stored form of a policy, frozen into a review when its cycle starts."""
    return {
        "name": policy.name,
        "calendar": policy.calendar,
        "acknowledge_seconds": policy.acknowledge_seconds,
        "resolve_seconds": policy.resolve_seconds,
        "warn_at": policy.warn_at,
        "escalation": list(policy.escalation),
        "written": dict(policy.written or {}),
        "urgent": policy.urgent,
    }


def policy_of(review: Review) -> Policy:
    """The policy a review's current cycle runs under, a business day being the reviewing
    org's working day."""
    stored = review.policy_snapshot
    # Parsed once per distinct snapshot: firing a thousand stages of one policy, or listing ten
    # thousand reviews, would otherwise parse the same escalation list each time.
    return _parsed(json.dumps(stored, sort_keys=True), calendar_of(review).day_length)


@functools.lru_cache(maxsize=256)
def _parsed(stored: str, day: timedelta) -> Policy:
    return Policy.from_stored(**json.loads(stored), day=day)


def is_urgent(review: Review) -> bool:
    """Whether the review's pings go at once, outside their recipients' working hours too."""
    return bool(review.policy_snapshot.get("urgent"))


def calendar_of(review: Review) -> BusinessCalendar:
    """The calendar a review's clocks run on: 24x7, or the reviewing org's business hours."""
    org = review.reviewing_org
    kind = review.policy_snapshot["calendar"]
    return calendar_for(kind, org.timezone, org.business_hours, org.holidays)


def state_of(clock: ReviewClock) -> ClockState:
    """A stored clock as the pure SLA rules see it."""
    return ClockState(clock.elapsed_us * _US, clock.running_since)


def _store(clock: ReviewClock, state: ClockState) -> None:
    clock.elapsed_us = state.elapsed // _US
    clock.running_since = state.running_since


def stages_of(review: Review, clock: ReviewClock) -> list[Stage]:
    """Every stage of one clock, in firing order."""
    return stages(policy_of(review), timedelta(seconds=clock.target_seconds))


def reschedule(review: Review, clock: ReviewClock) -> None:
    """Set when the clock's next stage falls due (None when paused, stopped or done)."""
    all_stages = stages_of(review, clock)
    if clock.running_since is None or clock.next_stage >= len(all_stages):
        clock.next_at = None
        return
    clock.next_at = state_of(clock).instant_of(
        calendar_of(review), all_stages[clock.next_stage].offset
    )


async def current_clocks(session: AsyncSession, review: Review) -> dict[str, ReviewClock]:
    """The clocks of the review's current cycle, by kind."""
    rows = await session.scalars(
        select(ReviewClock).where(
            ReviewClock.review_id == review.id, ReviewClock.cycle == review.cycle
        )
    )
    return {c.kind: c for c in rows.unique()}


async def current_clocks_of(
    session: AsyncSession, reviews: Sequence[Review]
) -> dict[int, dict[str, ReviewClock]]:
    """The current cycle's clocks of many reviews, by review id then kind, in one statement."""
    if not reviews:
        return {}
    found: dict[int, dict[str, ReviewClock]] = {rv.id: {} for rv in reviews}
    # Chunks keep the bound parameters under every driver's limit (asyncpg: 32,767).
    for n in range(0, len(reviews), _CHUNK):
        ids = [rv.id for rv in reviews[n : n + _CHUNK]]
        rows = await session.scalars(
            select(ReviewClock)
            .join(Review, Review.id == ReviewClock.review_id)
            .where(ReviewClock.review_id.in_(ids), ReviewClock.cycle == Review.cycle)
            # The reviews are loaded already: their clocks find them in the identity map.
            .options(lazyload(ReviewClock.review))
        )
        for clock in rows:
            found[clock.review_id][clock.kind] = clock
    return found


def start_cycle(session: AsyncSession, review: Review, now: datetime) -> list[ReviewClock]:
    """Start both clocks of the review's current cycle."""
    policy = policy_of(review)
    clocks = []
    for kind in CLOCKS:
        clock = ReviewClock(
            review_id=review.id,
            cycle=review.cycle,
            kind=kind,
            target_seconds=int(policy.target(kind).total_seconds()),
            started_at=now,
            elapsed_us=0,
            running_since=now,
            next_stage=0,
        )
        clock.review = review
        reschedule(review, clock)
        session.add(clock)
        clocks.append(clock)
    return clocks


def stop(review: Review, clock: ReviewClock, now: datetime, reason: str) -> None:
    """Stop a clock for good ("met" or "cancelled"); its escalations stop with it."""
    if clock.stopped_at is not None:
        return
    _store(clock, state_of(clock).pause(calendar_of(review), now))
    clock.stopped_at, clock.stop_reason, clock.next_at = now, reason, None


def pause(review: Review, clock: ReviewClock, now: datetime) -> None:
    """Pause a running clock, banking the business time it has run."""
    if clock.stopped_at is None and clock.running_since is not None:
        _store(clock, state_of(clock).pause(calendar_of(review), now))
        clock.next_at = None


def resume(review: Review, clock: ReviewClock, now: datetime) -> None:
    """Run a paused clock again from `now`."""
    if clock.stopped_at is None and clock.running_since is None:
        _store(clock, state_of(clock).resume(now))
        reschedule(review, clock)


@dataclass(frozen=True)
class ClockView:
    """A clock as people read it."""

    kind: str
    target: timedelta
    elapsed: timedelta
    due: datetime | None
    status: str
    breached: bool
    # The unit the target was written in ("bd", "bh", "") and the calendar's working day.
    unit: str = ""
    day: timedelta = timedelta(hours=8)

    def say(self, value: timedelta) -> str:
        """A duration on this clock in the unit its target was written in: "1 business day 3h"."""
        return format_in(value, self.unit, self.day)

    @property
    def label(self) -> str:
        """ "Acknowledge" or "Resolve"."""
        return LABELS[self.kind]

    @property
    def remaining(self) -> timedelta:
        """Business time left before the target (negative once breached)."""
        return self.target - self.elapsed


def view(review: Review, clock: ReviewClock, now: datetime) -> ClockView:
    """Elapsed and remaining business time, the due instant, and the status of a clock."""
    calendar = calendar_of(review)
    state = state_of(clock)
    target = timedelta(seconds=clock.target_seconds)
    elapsed = state.elapsed_at(calendar, now)
    if clock.stopped_at is not None:
        status = clock.stop_reason or "stopped"
    elif clock.running_since is None:
        status = "paused"
    else:
        status = "running"
    due = state.instant_of(calendar, target) if status == "running" else None
    breached = clock.breached_at is not None or elapsed >= target
    unit = policy_of(review).unit(clock.kind)
    return ClockView(clock.kind, target, elapsed, due, status, breached, unit, calendar.day_length)
