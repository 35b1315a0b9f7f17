"""The weekly sync's series and its meetings: dates, carrying items over, the notes.

The series is one row (`MeetingSeries`) on the wall clock of its time zone. Each date of the
series becomes a `Meeting` row when something refers to it. Undiscussed agenda items move on to
the next meeting: when a meeting ends (those not discussed), and when one passes unheld.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.context import CommandError
from commands.core.grammar import WEEKDAYS, format_duration
from commands.core.messages import Line, Message, bold, line, mention
from commands.core.notifier import person_ref
from storage.models import (
    ActionItem,
    AgendaItem,
    AgendaStatus,
    Decision,
    Meeting,
    MeetingSeries,
    MeetingState,
    Org,
)

# A meeting can be started this long before its time (people gather early).
START_EARLY = timedelta(hours=2)


# A started meeting nobody ended counts as over this long after its scheduled end.
OVERRUN = timedelta(hours=12)


SERIES_ID = 1


async def series_of(session: AsyncSession) -> MeetingSeries | None:
    """The weekly meeting series, if one is configured or was set in chat."""
    return await session.get(MeetingSeries, SERIES_ID)


async def require_series(session: AsyncSession) -> MeetingSeries:
    """The series, or an answer saying how to set one up."""
    series = await series_of(session)
    if series is None:
        raise CommandError(
            "No weekly meeting is set up. An admin can set one with "
            "/meeting schedule <weekday> <HH:MM> <timezone>, or add [meeting] to the configuration."
        )
    return series


def starts_on(series: MeetingSeries, day: date) -> datetime:
    """The instant (UTC) the meeting of the series' local date `day` starts."""
    hour, minute = (int(p) for p in series.time.split(":"))
    local = datetime.combine(day, time(hour, minute), ZoneInfo(series.timezone))
    return local.astimezone(ZoneInfo("UTC"))


def date_after(series: MeetingSeries, after: datetime) -> date:
    """The date of the first meeting of the series that starts strictly after `after`."""
    local = after.astimezone(ZoneInfo(series.timezone)).date()
    day = local + timedelta(days=(series.weekday - local.weekday()) % 7)
    while starts_on(series, day) <= after:
        day += timedelta(days=7)
    return day


def duration_of(series: MeetingSeries) -> timedelta:
    """How long each meeting lasts."""
    return timedelta(minutes=series.duration_minutes)


async def meeting_on(session: AsyncSession, series: MeetingSeries, day: date) -> Meeting:
    """The meeting row of a date of the series, created when first needed."""
    found = await session.scalar(
        select(Meeting).where(Meeting.series_id == series.id, Meeting.date == day)
    )
    if found is not None:
        return found
    try:
        async with session.begin_nested():
            row = Meeting(
                series_id=series.id,
                date=day,
                starts_at=starts_on(series, day),
                state=MeetingState.SCHEDULED,
            )
            session.add(row)
            await session.flush()
            return row
    except IntegrityError:
        # Another replica created it in the meantime.
        found = await session.scalar(
            select(Meeting).where(Meeting.series_id == series.id, Meeting.date == day)
        )
        assert found is not None
        return found


async def upcoming(session: AsyncSession, series: MeetingSeries, now: datetime) -> Meeting:
    """The meeting agenda changes go to: the one in progress, else the next one.

    Meetings that passed unheld, and started ones left unended for long, are closed first and
    their open items carried to it.
    """
    started = await session.scalar(
        select(Meeting)
        .where(Meeting.series_id == series.id, Meeting.state == MeetingState.STARTED)
        .order_by(Meeting.date.desc())
    )
    if started is not None and now < started.starts_at + duration_of(series) + OVERRUN:
        return started
    day = date_after(series, now - duration_of(series))
    while True:
        target = await meeting_on(session, series, day)
        if target.state in (MeetingState.SCHEDULED, MeetingState.STARTED):
            break
        # That date's meeting already ended (early): the next date is the upcoming one.
        day += timedelta(days=7)
    await roll_over(session, series, target, now)
    return target


async def roll_over(
    session: AsyncSession, series: MeetingSeries, target: Meeting, now: datetime
) -> None:
    """Close meetings before `target` that are still open, carrying their open items to it."""
    stale = (
        await session.scalars(
            select(Meeting)
            .where(
                Meeting.series_id == series.id,
                Meeting.date < target.date,
                Meeting.state.in_((MeetingState.SCHEDULED, MeetingState.STARTED)),
            )
            .order_by(Meeting.date)
        )
    ).all()
    for old in stale:
        if old.state is MeetingState.STARTED:
            old.state, old.ended_at = MeetingState.ENDED, now
        else:
            old.state = MeetingState.SKIPPED
        # Every meeting date it sat out counts, held or not (the dates between have no rows).
        missed = max(1, (target.date - old.date).days // 7)
        await carry(session, await open_items(session, old), target, why="carried", times=missed)


async def open_items(session: AsyncSession, meeting: Meeting) -> list[AgendaItem]:
    """The open agenda items of a meeting, in agenda order."""
    return await _items(session, meeting, AgendaStatus.OPEN)


async def discussed_items(session: AsyncSession, meeting: Meeting) -> list[AgendaItem]:
    """The items closed as discussed at a meeting, in agenda order."""
    return await _items(session, meeting, AgendaStatus.DISCUSSED)


async def _items(session: AsyncSession, meeting: Meeting, status: AgendaStatus) -> list[AgendaItem]:
    rows = await session.scalars(
        select(AgendaItem)
        .where(AgendaItem.meeting_id == meeting.id, AgendaItem.status == status)
        .order_by(AgendaItem.position, AgendaItem.id)
    )
    return list(rows.unique())


async def carry(
    session: AsyncSession,
    items: Sequence[AgendaItem],
    to: Meeting,
    *,
    why: Literal["carried", "deferred", "moved"],
    times: int = 1,
) -> None:
    """Move items to the end of another meeting's agenda, counting why (a move counts nothing)."""
    last = await session.scalar(
        select(func.max(AgendaItem.position)).where(
            AgendaItem.meeting_id == to.id, AgendaItem.status == AgendaStatus.OPEN
        )
    )
    position = last or 0
    for item in items:
        position += 1
        item.meeting_id, item.position = to.id, position
        if why == "carried":
            item.carried += times
        elif why == "deferred":
            item.deferred += 1
    await session.flush()


async def next_meeting_after(session: AsyncSession, series: MeetingSeries, m: Meeting) -> Meeting:
    """The meeting of the series after `m` (for carrying and deferring)."""
    return await meeting_on(session, series, m.date + timedelta(days=7))


async def local_times(session: AsyncSession, at: datetime) -> str:
    """An instant in every org's time zone: "Thu 8 Jan 16:00 GMT (ic) · 11:00 EST (set)"."""
    orgs = (await session.scalars(select(Org).order_by(Org.key))).all()
    zones: dict[str, list[str]] = {}
    for org in orgs:
        zones.setdefault(org.timezone, []).append(org.key)
    if not zones:
        zones["UTC"] = []
    parts = []
    for zone, keys in zones.items():
        local = at.astimezone(ZoneInfo(zone))
        who = f" ({', '.join(keys)})" if keys else ""
        parts.append(f"{local:%a} {local.day} {local:%b %H:%M %Z}{who}")
    return " · ".join(parts)


def describe_series(series: MeetingSeries) -> str:
    """The schedule as people say it: "Thursdays 16:00 Europe/London, 1h, in #shared"."""
    return (
        f"{WEEKDAYS[series.weekday].capitalize()}s {series.time} {series.timezone}, "
        f"{format_duration(duration_of(series))}, in #{series.channel}"
    )


async def realign(session: AsyncSession, series: MeetingSeries, now: datetime) -> None:
    """After a schedule change: future meetings on another weekday hand their items on."""
    future = (
        await session.scalars(
            select(Meeting).where(
                Meeting.series_id == series.id,
                Meeting.state == MeetingState.SCHEDULED,
                Meeting.starts_at > now,
            )
        )
    ).all()
    moved = []
    for m in future:
        if m.date.weekday() == series.weekday:
            m.starts_at = starts_on(series, m.date)
        else:
            moved.append(m)
    await session.flush()
    if not moved:
        return
    target = await meeting_on(session, series, date_after(series, now))
    for old in sorted(moved, key=lambda m: m.date):
        await carry(session, await open_items(session, old), target, why="moved")
        # Kept (not deleted) for the items it held that were removed: they still point at it.
        old.state = MeetingState.SKIPPED
    await session.flush()


@dataclass(frozen=True)
class Section:
    """A titled list of lines, in agenda posts, meeting notes and the digest."""

    title: str
    lines: tuple[Line, ...]


async def meeting_notes(
    session: AsyncSession,
    m: Meeting,
    discussed: Sequence[AgendaItem],
    carried: Sequence[AgendaItem],
) -> Message:
    """The notes of a meeting: items discussed and carried, decisions, actions."""
    decisions = (
        await session.scalars(
            select(Decision).where(Decision.meeting_id == m.id).order_by(Decision.id)
        )
    ).all()
    actions = (
        await session.scalars(
            select(ActionItem).where(ActionItem.meeting_id == m.id).order_by(ActionItem.id)
        )
    ).all()
    sections = [
        Section("Discussed", tuple(line("• ", i.topic) for i in discussed)),
        Section("Carried to the next meeting", tuple(line("• ", i.topic) for i in carried)),
        Section("Decisions", tuple(line("• ", d.text) for d in decisions)),
        Section(
            "Actions",
            tuple(
                line(
                    f"• #{a.id} ",
                    mention(person_ref(a.owner)),
                    f" by {a.due.isoformat()}: ",
                    a.text,
                )
                for a in actions
            ),
        ),
    ]
    lines: list[Line] = []
    for section in sections:
        if section.lines:
            lines.append(line(bold(section.title)))
            lines.extend(section.lines)
    if not lines:
        lines.append(line("Nothing was recorded."))
    return Message(title=f"Notes of the weekly sync, {m.date.isoformat()}", lines=tuple(lines))


async def recent_meeting(
    session: AsyncSession, series: MeetingSeries | None, now: datetime
) -> Meeting | None:
    """The meeting decisions and actions belong to: in progress, else the last one held."""
    if series is None:
        return None
    return await session.scalar(
        select(Meeting)
        .where(
            Meeting.series_id == series.id,
            Meeting.state.in_((MeetingState.STARTED, MeetingState.ENDED)),
            Meeting.starts_at <= now + START_EARLY,
        )
        .order_by(Meeting.date.desc())
    )
