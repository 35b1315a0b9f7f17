"""How well each org meets its SLAs: review cycles tallied per group, shares met, percentiles."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.grammar import format_duration
from commands.reviews import clocks as rc
from storage.models import Review, ReviewClock


@dataclass
class Tally:
    """SLA figures for one reviewing org and policy."""

    cycles: set[tuple[int, int]] = field(default_factory=set)
    met: dict[str, int] = field(default_factory=lambda: {"ack": 0, "resolve": 0})
    decided: dict[str, int] = field(default_factory=lambda: {"ack": 0, "resolve": 0})
    times: dict[str, list[timedelta]] = field(default_factory=lambda: {"ack": [], "resolve": []})
    breaches: int = 0

    @property
    def share(self) -> float | None:
        """The share of decided clocks (acknowledge and resolve) met in time; None if none."""
        decided = self.decided["ack"] + self.decided["resolve"]
        if not decided:
            return None
        return (self.met["ack"] + self.met["resolve"]) / decided


K = TypeVar("K", bound=Hashable)


async def tally(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime | None = None,
    now: datetime,
    by: Callable[[Review], K],
) -> dict[K, Tally]:
    """SLA figures of the review cycles started from `since` (until `until`), grouped by `by`.

    A clock is within target when it was met (acknowledged, approved) without breaching; a
    breached clock counts against, even if the request was cancelled later; a request cancelled
    in time counts in neither. Each clock is judged as it stands at `now`.
    """
    query = select(ReviewClock).join(Review).where(ReviewClock.started_at >= since)
    if until is not None:
        query = query.where(ReviewClock.started_at < until)
    clocks = (await session.scalars(query)).unique()
    tallies: dict[K, Tally] = {}
    for clock in clocks:
        rv = clock.review
        t = tallies.setdefault(by(rv), Tally())
        t.cycles.add((rv.id, clock.cycle))
        view = rc.view(rv, clock, now)
        if view.breached:
            t.breaches += 1
        if view.status == "met" or view.breached:
            t.decided[clock.kind] += 1
        if view.status == "met":
            t.times[clock.kind].append(view.elapsed)
            if not view.breached:
                t.met[clock.kind] += 1
    return tallies


def percentile(values: Sequence[timedelta], q: float) -> timedelta:
    """The nearest-rank percentile (q in 0..1) of some durations."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _median(values: Sequence[timedelta]) -> timedelta:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def figures(t: Tally, kind: str) -> str:
    if not t.decided[kind]:
        return "none finished"
    share = f"{round(100 * t.met[kind] / t.decided[kind])}% within target"
    if not t.times[kind]:
        return share
    median = _median(t.times[kind])
    return (
        f"{share}, median {format_duration(median)}, "
        f"p90 {format_duration(percentile(t.times[kind], 0.9))}"
    )
