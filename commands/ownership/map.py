"""The ownership map as other features read it: hand-off states, change history, routes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.context import Context
from commands.core.lookup import natural_key
from commands.core.messages import Line, Span, bold, line, mention
from commands.core.notifier import person_ref
from storage.models import (
    Area,
    AreaEvent,
    ChecklistTemplate,
    HandoffCheck,
    HandoffRules,
    HandoffState,
    Person,
    Role,
)

STATE_LABELS = {
    HandoffState.OWNED: "Owned",
    HandoffState.PROPOSED: "Proposed",
    HandoffState.PLANNED_NEAR: "Planned near-term",
    HandoffState.PLANNED_LONG: "Planned long-term",
    HandoffState.IN_TRANSITION: "In transition",
    HandoffState.HANDED_OFF: "Handed off",
}
PLANNED = (HandoffState.PLANNED_NEAR, HandoffState.PLANNED_LONG)


@dataclass(frozen=True)
class Change:
    """One field of an area going from one value to another."""

    field: str
    old: str | None
    new: str | None


async def record(ctx: Context, area: Area, changes: Sequence[Change]) -> list[AreaEvent]:
    """Write the history of a change to an area made by a command."""
    return await write_history(ctx.session, area, ctx.actor, ctx.now, changes)


async def write_history(
    session: AsyncSession,
    area: Area,
    actor: Person | None,
    now: datetime,
    changes: Sequence[Change],
) -> list[AreaEvent]:
    """Write the history of a change to an area (no actor: the configuration or an import)."""
    area.updated_at = now
    events = [
        AreaEvent(
            area_id=area.id,
            at=now,
            actor_id=actor.id if actor else None,
            field=c.field,
            old_value=c.old,
            new_value=c.new,
        )
        for c in changes
    ]
    session.add_all(events)
    await session.flush()
    return events


@dataclass(frozen=True)
class Route:
    """Hand-off progress from one org to another: how many areas at each stage."""

    source: str
    target: str
    done: int
    in_transition: int
    planned: int
    # The areas' category, when progress is counted per category ("" otherwise, or for none).
    category: str = ""

    @property
    def total(self) -> int:
        """Every area on this route, whatever its stage."""
        return self.done + self.in_transition + self.planned


def routes(areas: Sequence[Area], *, by_category: bool = False) -> list[Route]:
    """Hand-off progress per route (from org → to org), in order of the org keys; with
    `by_category`, per category and route (categories in name order, none last)."""
    counts: dict[tuple[str, str, str], Counter[HandoffState]] = {}
    for a in areas:
        # A proposal is no hand-off until the other side accepts it.
        agreed = a.state is not HandoffState.PROPOSED
        if agreed and a.handoff_from is not None and a.handoff_to is not None:
            category = (a.category or "") if by_category else ""
            key = (category, a.handoff_from.key, a.handoff_to.key)
            counts.setdefault(key, Counter())[a.state] += 1
    ordered = sorted(counts.items(), key=lambda kv: (not kv[0][0], kv[0][0].casefold(), kv[0]))
    return [
        Route(
            src,
            dst,
            c[HandoffState.HANDED_OFF],
            c[HandoffState.IN_TRANSITION],
            sum(c[s] for s in PLANNED),
            category,
        )
        for (category, src, dst), c in ordered
    ]


def route_line(route: Route) -> Line:
    """A route's progress in words: "5 of 12 handed off (42%) · 3 in transition · 4 planned"."""
    share = round(100 * route.done / route.total)
    return line(
        bold(f"{route.done} of {route.total} handed off ({share}%)"),
        f" · {route.in_transition} in transition · {route.planned} planned",
    )


UNDER_WAY = (HandoffState.PROPOSED, *PLANNED, HandoffState.IN_TRANSITION)


async def checklist(session: AsyncSession, area: Area) -> list[HandoffCheck]:
    """An area's hand-off checklist, in order."""
    return list(
        (
            await session.scalars(
                select(HandoffCheck)
                .where(HandoffCheck.area_id == area.id)
                .order_by(HandoffCheck.position)
            )
        ).all()
    )


async def checklists(session: AsyncSession) -> dict[int, list[HandoffCheck]]:
    """Every area's hand-off checklist, by area id (one query for a whole board)."""
    found: dict[int, list[HandoffCheck]] = {}
    for check in (
        await session.scalars(select(HandoffCheck).order_by(HandoffCheck.position))
    ).all():
        found.setdefault(check.area_id, []).append(check)
    return found


def progress(checks: Sequence[HandoffCheck]) -> str:
    """How far a checklist is: "3 of 5"."""
    return f"{sum(c.done_at is not None for c in checks)} of {len(checks)}"


async def start_checklist(
    session: AsyncSession, area: Area, now: datetime, category: str = ""
) -> None:
    """Give a new hand-off its checklist from the template of its category, in any case
    (replacing any old)."""
    await session.execute(delete(HandoffCheck).where(HandoffCheck.area_id == area.id))
    template = [
        t
        for t in (
            await session.scalars(select(ChecklistTemplate).order_by(ChecklistTemplate.id))
        ).all()
        if t.category.casefold() == category.casefold()
    ]
    session.add_all(
        HandoffCheck(area_id=area.id, position=n, text=t.text, created_at=now)
        for n, t in enumerate(template, start=1)
    )
    await session.flush()


async def drop_checklist(session: AsyncSession, area: Area) -> None:
    """A hand-off called off takes its checklist with it."""
    await session.execute(delete(HandoffCheck).where(HandoffCheck.area_id == area.id))


def shadowing(area: Area) -> list[Person]:
    """Who hears what concerns an area besides its backup: during a started hand-off (the shadow
    period) both the outgoing DRI and the receiving DRI, until it completes."""
    if area.state is not HandoffState.IN_TRANSITION:
        return []
    return [p for p in (area.dri, area.receiving_dri) if p is not None]


# When no configuration was applied (a bare database): the documented default.
DEFAULT_STALL_AFTER = timedelta(weeks=3)


@dataclass(frozen=True)
class Stalled:
    """A hand-off under way that has not moved for too long, or is past its target quarter."""

    area: Area
    since: datetime
    why: str


async def stalled(session: AsyncSession, now: datetime) -> list[Stalled]:
    """Hand-offs proposed, planned or in transition with no movement for `[handoff] stall_after`,
    or whose target quarter is over; oldest first."""
    rules = await session.get(HandoffRules, 1)
    after = timedelta(seconds=rules.stall_after_seconds) if rules else DEFAULT_STALL_AFTER
    quarter = f"{now.year}Q{(now.month - 1) // 3 + 1}"
    found = []
    for area in await all_areas(session):
        if area.state not in UNDER_WAY:
            continue
        if area.target_quarter and area.target_quarter < quarter:
            found.append(Stalled(area, area.updated_at, f"past its target {area.target_quarter}"))
        elif now - area.updated_at >= after:
            found.append(Stalled(area, area.updated_at, "no movement"))
    return sorted(found, key=lambda s: s.since)


async def leads_of(session: AsyncSession, *org_ids: int | None) -> list[Person]:
    """The leads of these orgs, by handle."""
    ids = [i for i in org_ids if i is not None]
    return list(
        (
            await session.scalars(
                select(Person)
                .where(Person.org_id.in_(ids), Person.role == Role.LEAD)
                .order_by(Person.handle)
            )
        )
        .unique()
        .all()
    )


async def stalled_lines(session: AsyncSession, now: datetime, tz: ZoneInfo) -> list[Line]:
    """One line per stalled hand-off, naming the leads of both orgs, for the agenda and digest."""
    out = []
    for s in await stalled(session, now):
        a = s.area
        route = f"{a.handoff_from.key if a.handoff_from else '?'} → "
        route += a.handoff_to.key if a.handoff_to else "?"
        since = s.since.astimezone(tz).date().isoformat()
        why = f"{s.why} since {since}" if s.why == "no movement" else s.why
        leads = await leads_of(session, a.handoff_from_id, a.handoff_to_id)
        names: list[Span | str] = []
        for n, p in enumerate(leads):
            names.extend([", "] if n else [])
            names.append(mention(person_ref(p)))
        out.append(
            line(
                "• ",
                a.name,
                f" ({route}, {STATE_LABELS[a.state].lower()}, {why}) — ",
                *(names or ["no leads"]),
            )
        )
    return out


async def all_areas(session: AsyncSession) -> Sequence[Area]:
    """Every area on the map (retired ones are off it), by name (A2 before A10)."""
    areas = (await session.scalars(select(Area).where(Area.retired_at.is_(None)))).unique().all()
    return sorted(areas, key=lambda a: natural_key(a.name))
