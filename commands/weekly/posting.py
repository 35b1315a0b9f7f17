"""The agenda as posted the day before the sync: its items, the automatic sections, the post."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.grammar import Quarter
from commands.core.messages import (
    Line,
    Link,
    Message,
    Span,
    bold,
    code,
    italic,
    line,
    mention,
)
from commands.core.notifier import Postbox, person_ref
from commands.ownership import map as ownership
from commands.reviews.rules import level_of
from commands.weekly.chase import overdue_actions
from commands.weekly.series import (
    Section,
    date_after,
    discussed_items,
    duration_of,
    local_times,
    meeting_on,
    open_items,
    roll_over,
    series_of,
)
from storage.models import (
    AgendaItem,
    Area,
    HandoffState,
    Meeting,
    MeetingState,
    Review,
    ReviewClock,
    ReviewEvent,
    ReviewState,
)

_OPEN_REVIEW = (ReviewState.CANCELLED, ReviewState.APPROVED)


def quarter_of(day: date) -> Quarter:
    """The calendar quarter a date falls in."""
    return Quarter(day.year, (day.month - 1) // 3 + 1)


async def automatic_items(session: AsyncSession, now: datetime, tz: ZoneInfo) -> list[Section]:
    """What needs the sync's attention: breached reviews, the week's escalations, hand-offs due
    this quarter and overdue actions (each section omitted when empty)."""
    today = now.astimezone(tz).date()
    sections = [
        Section("Reviews in breach", tuple(await _breached_reviews(session))),
        Section("Escalations this week", tuple(await _escalations(session, now))),
        Section(
            f"Hand-offs due this quarter ({quarter_of(today)})",
            tuple(await _handoffs_due(session, quarter_of(today))),
        ),
        Section("Stalled hand-offs", tuple(await ownership.stalled_lines(session, now, tz))),
        Section("Overdue action items", tuple(await _overdue_actions(session, now))),
    ]
    return [s for s in sections if s.lines]


async def _breached_reviews(session: AsyncSession) -> list[Line]:
    clocks = (
        await session.scalars(
            select(ReviewClock)
            .join(Review, ReviewClock.review_id == Review.id)
            .where(
                ReviewClock.breached_at.is_not(None),
                ReviewClock.stopped_at.is_(None),
                Review.state.not_in(_OPEN_REVIEW),
            )
            .order_by(ReviewClock.breached_at)
        )
    ).unique()
    seen: set[int] = set()
    out = []
    for clock in clocks:
        review = clock.review
        if review.id in seen:
            continue
        seen.add(review.id)
        owner = review.reviewer
        out.append(
            _review_line(
                review,
                f" ({review.reviewing_org.key}) — ",
                mention(person_ref(owner)) if owner else "no reviewer",
            )
        )
    return out


def _review_line(review: Review, *rest: str | Span) -> Line:
    """A bullet naming a review by number and linked title, followed by `rest`."""
    return line("• ", bold(f"#{review.id}"), " ", Link(review.title, review.link), *rest)


async def _escalations(session: AsyncSession, now: datetime) -> list[Line]:
    events = (
        await session.scalars(
            select(ReviewEvent)
            .where(ReviewEvent.kind == "sla", ReviewEvent.at > now - timedelta(days=7))
            .order_by(ReviewEvent.at, ReviewEvent.id)
        )
    ).all()
    levels: dict[int, list[int]] = {}
    for ev in events:
        level = level_of(str(ev.data.get("stage", "")))
        if level is not None:
            levels.setdefault(ev.review_id, []).append(level)
    out = []
    for review_id, reached in levels.items():
        review = await session.get(Review, review_id)
        if review is None:
            continue
        out.append(
            _review_line(review, f" — escalated {_times(len(reached))}, up to level {max(reached)}")
        )
    return out


async def _handoffs_due(session: AsyncSession, quarter: Quarter) -> list[Line]:
    areas = (
        await session.scalars(
            select(Area)
            .where(
                Area.target_quarter == str(quarter),
                Area.state.in_(
                    (
                        HandoffState.PLANNED_NEAR,
                        HandoffState.PLANNED_LONG,
                        HandoffState.IN_TRANSITION,
                    )
                ),
            )
            .order_by(Area.name_key)
        )
    ).unique()
    out = []
    for area in areas:
        route = f"{area.handoff_from.key if area.handoff_from else '?'} → "
        route += area.handoff_to.key if area.handoff_to else "?"
        state = "in transition" if area.state is HandoffState.IN_TRANSITION else "planned"
        out.append(line("• ", area.name, f" ({route}, {state})"))
    return out


async def _overdue_actions(session: AsyncSession, now: datetime) -> list[Line]:
    return [
        line(
            f"• #{a.id} ",
            mention(person_ref(a.owner)),
            f" — due {a.due.isoformat()}: ",
            a.text,
        )
        for a in await overdue_actions(session, now)
    ]


def item_line(item: AgendaItem, number: int) -> Line:
    """One agenda item: "2. Topic (15 min) — @owner · carried twice   #7"."""
    parts: list[Any] = [f"{number}. ", item.topic]
    if item.minutes:
        parts.append(f" ({item.minutes} min)")
    if item.owner is not None:
        parts.extend([" — ", mention(person_ref(item.owner))])
    marks = []
    if item.carried:
        marks.append(f"carried {_times(item.carried)}")
    if item.deferred:
        marks.append(f"deferred {_times(item.deferred)}")
    if marks:
        parts.append(" · ")
        parts.append(italic(", ".join(marks)))
    parts.append(f"  #{item.id}")
    return line(*parts)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


async def agenda_message(
    session: AsyncSession, m: Meeting, now: datetime, *, automatic: bool = True
) -> Message:
    """The agenda of a meeting: its items in order, then what Liaison adds (if `automatic`).

    A meeting that is over shows what was discussed at it, and nothing added by Liaison: its
    automatic sections were of their day, and today's belong to the next meeting.
    """
    series = m.series
    lines: list[Line] = [line(await local_times(session, m.starts_at))]
    over = m.state in (MeetingState.ENDED, MeetingState.SKIPPED) or (
        m.state is MeetingState.SCHEDULED and m.starts_at + duration_of(series) <= now
    )
    if over:
        discussed = await discussed_items(session, m)
        held = m.state is MeetingState.ENDED
        lines.append(
            line(italic("This meeting has ended." if held else "This meeting was not held."))
        )
        if discussed:
            lines.append(line(bold("Discussed")))
            lines.extend(item_line(i, n) for n, i in enumerate(discussed, start=1))
        else:
            lines.append(line("Nothing was recorded as discussed at this meeting."))
        return Message(
            title=f"Agenda of the weekly sync, {m.date:%a} {m.date.isoformat()}", lines=tuple(lines)
        )
    items = await open_items(session, m)
    if items:
        lines.extend(item_line(i, n) for n, i in enumerate(items, start=1))
        minutes = sum(i.minutes or 0 for i in items)
        if minutes:
            lines.append(line(italic(f"{minutes} min planned of {series.duration_minutes}.")))
    else:
        lines.append(line("No topics yet. Add one with ", code("/agenda add <topic>"), "."))
    if automatic:
        for section in await automatic_items(session, now, ZoneInfo(series.timezone)):
            lines.append(line(bold(section.title)))
            lines.extend(section.lines)
    return Message(
        title=f"Agenda of the weekly sync, {m.date:%a} {m.date.isoformat()}", lines=tuple(lines)
    )


async def post_agenda(
    postbox: Postbox,
    scheduled_for: datetime,
    now: datetime,
) -> bool:
    """Post the agenda of the meeting after `scheduled_for` to its channel, once (its key is
    the meeting's date); False when there was nothing to post."""
    async with postbox.transaction(now) as notifier:
        session = notifier.session
        series = await series_of(session)
        if series is None:
            return False
        m = await meeting_on(session, series, date_after(series, scheduled_for))
        if m.starts_at <= now or m.state is not MeetingState.SCHEDULED:
            # Caught up too late: the meeting has begun, a posted agenda would only confuse.
            return False
        await roll_over(session, series, m, now)
        message = await agenda_message(session, m, now)
        return await notifier.notify(f"agenda:{m.date.isoformat()}", message, to=series.channel)
