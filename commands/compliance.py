"""/sla: the policies, and how well each org meets them."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands import review_clocks as rc
from commands.context import CommandError, Context
from commands.grammar import format_duration
from commands.messages import Field, Message, bold, line
from commands.registry import Group, Kind, Param
from storage.models import Review, ReviewClock, SlaPolicy

sla = Group("sla", "SLA policies and how well they are met")


def _describe_levels(escalation: Sequence[dict[str, Any]]) -> str:
    parts = []
    for n, level in enumerate(escalation, start=1):
        after = timedelta(seconds=level["after_seconds"])
        when = "at breach" if not after else f"breach + {format_duration(after)}"
        text = f"L{n} {when} → {', '.join(level['notify'])}"
        if level.get("repeat"):
            every = format_duration(timedelta(seconds=level["repeat"]["every_seconds"]))
            text += f", repeated every {every} up to {level['repeat']['times']} times"
        parts.append(text)
    return "; ".join(parts) or "no escalation levels (the reviewer hears of the breach)"


@sla.command("policies")
async def policies(ctx: Context, args: dict[str, Any]) -> Message:
    """List the SLA policies: targets, calendar, warning and escalation levels."""
    rows = (
        await ctx.session.scalars(
            select(SlaPolicy).where(SlaPolicy.retired.is_(False)).order_by(SlaPolicy.name)
        )
    ).all()
    if not rows:
        return Message(lines=(line("No SLA policies are configured."),))
    fields = []
    for p in rows:
        calendar = "business hours of the reviewing org" if p.calendar == "business" else "24x7"
        fields.append(
            Field(
                p.name + (" (default)" if p.is_default else ""),
                line(
                    f"acknowledge {format_duration(timedelta(seconds=p.acknowledge_seconds))}, "
                    f"resolve {format_duration(timedelta(seconds=p.resolve_seconds))} "
                    f"({calendar}); warn at {round(p.warn_at * 100)}%; "
                    + _describe_levels(p.escalation)
                ),
                inline=False,
            )
        )
    return Message(title="SLA policies", fields=tuple(fields))


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


def _figures(t: Tally, kind: str) -> str:
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


@sla.command(
    "report", Param("weeks", Kind.INT, "How many weeks back (default 4)", False, keyword=True)
)
async def report(ctx: Context, args: dict[str, Any]) -> Message:
    """SLA compliance per reviewing org and policy: requests, % in time, median and p90, breaches.

    Counts review cycles started in the last N weeks (a reopened review counts again). A clock
    is within target when it was met (acknowledged, approved) without breaching; a breached
    clock counts against, even if the request was cancelled later; a request cancelled in time
    counts in neither. Times are business time.
    """
    weeks = 4 if args["weeks"] is None else args["weeks"]
    if not 1 <= weeks <= 104:
        raise CommandError("weeks= must be between 1 and 104.")
    tallies = await tally(
        ctx.session,
        since=ctx.now - timedelta(weeks=weeks),
        now=ctx.now,
        by=lambda rv: (rv.reviewing_org.key, rv.policy.name),
    )
    if not tallies:
        return Message(lines=(line(f"No review requests in the last {weeks} weeks."),))
    fields = [
        Field(
            f"{org} · {policy}",
            line(
                bold(f"{len(t.cycles)} request" + ("" if len(t.cycles) == 1 else "s")),
                f"; acknowledge: {_figures(t, 'ack')}; resolve: {_figures(t, 'resolve')}; "
                f"breaches: {t.breaches}",
            ),
            inline=False,
        )
        for (org, policy), t in sorted(tallies.items())
    ]
    return Message(title=f"SLA report, last {weeks} weeks", fields=tuple(fields))
