"""The weekly sync's agenda: topics people add, and what Liaison adds itself before posting it.

`automatic_items` (reviews in breach, escalations of the week, hand-offs due this quarter,
overdue actions) and `agenda_message` are platform-neutral, for the agenda post and the digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from commands.context import CommandError, Context, notify, person_ref
from commands.grammar import WEEKDAYS, GrammarError, Quarter, parse_date
from commands.meetings import (
    Section,
    carry,
    date_after,
    local_times,
    meeting_on,
    next_meeting_after,
    open_items,
    require_series,
    roll_over,
    series_of,
    upcoming,
)
from commands.messages import (
    Line,
    Link,
    Message,
    Span,
    bold,
    code,
    count,
    italic,
    line,
    mention,
)
from commands.registry import Group, Kind, Param
from commands.sla import level_of
from storage.models import (
    ActionItem,
    ActionStatus,
    AgendaItem,
    AgendaStatus,
    Area,
    HandoffState,
    Meeting,
    MeetingState,
    Person,
    Review,
    ReviewClock,
    ReviewEvent,
    ReviewState,
    Role,
)

agenda = Group("agenda", "The weekly sync's agenda: add, order, defer and remove topics")

_ITEM = Param("id", Kind.AGENDA_ITEM, "The agenda item's number, as /agenda list shows it")
_OPEN_REVIEW = (ReviewState.CANCELLED, ReviewState.APPROVED)


# --- what Liaison adds itself -------------------------------------------------------------------


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


async def open_actions(session: AsyncSession, *, owner_id: int | None = None) -> list[ActionItem]:
    """Open action items (of one owner, if given), soonest due first."""
    query = select(ActionItem).where(ActionItem.status == ActionStatus.OPEN)
    if owner_id is not None:
        query = query.where(ActionItem.owner_id == owner_id)
    rows = await session.scalars(query.order_by(ActionItem.due, ActionItem.id))
    return list(rows.unique())


async def overdue_actions(session: AsyncSession, now: datetime) -> list[ActionItem]:
    """Open action items whose due date has passed in their owner's time zone."""
    return [a for a in await open_actions(session) if is_overdue(a, now)]


def is_overdue(item: ActionItem, now: datetime) -> bool:
    """Whether an action item is open and its due date has passed in its owner's time zone."""
    return item.status is ActionStatus.OPEN and item.due < local_today(item.owner, now)


def local_today(person: Person, now: datetime) -> date:
    """The date `now` falls on where a person is."""
    return now.astimezone(owner_zone(person)).date()


def owner_zone(person: Person) -> ZoneInfo:
    """A person's time zone: their org's, or UTC."""
    return ZoneInfo(person.org.timezone if person.org else "UTC")


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


# --- the agenda as a message --------------------------------------------------------------------


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
    """The agenda of a meeting: its items in order, then what Liaison adds (if `automatic`)."""
    series = m.series
    items = await open_items(session, m)
    lines: list[Line] = [line(await local_times(session, m.starts_at))]
    if m.state is MeetingState.ENDED:
        lines.append(line(italic("This meeting has ended.")))
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
    sessions: async_sessionmaker[AsyncSession],
    scheduled_for: datetime,
    now: datetime,
    *,
    platforms: frozenset[str],
) -> bool:
    """Post the agenda of the meeting after `scheduled_for` to its channel, once (its key is
    the meeting's date); False when there was nothing to post."""
    async with sessions.begin() as session:
        series = await series_of(session)
        if series is None:
            return False
        m = await meeting_on(session, series, date_after(series, scheduled_for))
        if m.starts_at <= now or m.state is not MeetingState.SCHEDULED:
            # Caught up too late: the meeting has begun, a posted agenda would only confuse.
            return False
        await roll_over(session, series, m, now)
        message = await agenda_message(session, m, now)
        return await notify(
            session,
            f"agenda:{m.date.isoformat()}",
            message,
            platforms=platforms,
            now=now,
            channel=series.channel,
        )


# --- /agenda ------------------------------------------------------------------------------------


@agenda.command(
    "add",
    Param("topic", Kind.TEXT, "What to discuss", max_length=300),
    Param("minutes", Kind.INT, "How long it needs", required=False, keyword=True),
    Param("owner", Kind.PERSON, "Who leads it", required=False, keyword=True),
)
async def agenda_add(ctx: Context, args: dict[str, Any]) -> Message:
    """Add a topic to the next weekly sync's agenda (the one in progress, if any)."""
    minutes: int | None = args["minutes"]
    if minutes is not None and not 1 <= minutes <= 600:
        raise CommandError("minutes= is the time the topic needs, from 1 to 600, e.g. minutes=15.")
    series = await require_series(ctx.session)
    m = await upcoming(ctx.session, series, ctx.now)
    position = len(await open_items(ctx.session, m)) + 1
    owner: Person | None = args["owner"]
    item = AgendaItem(
        meeting_id=m.id,
        topic=" ".join(args["topic"].split()),
        owner_id=owner.id if owner else None,
        minutes=minutes,
        position=position,
        status=AgendaStatus.OPEN,
        carried=0,
        deferred=0,
        added_by_id=ctx.actor.id,
        created_at=ctx.now,
    )
    ctx.session.add(item)
    await ctx.session.flush()
    return Message(
        lines=(
            line(
                f"Added #{item.id} as item {position} of the agenda of {m.date:%a} ",
                bold(m.date.isoformat()),
                ": ",
                item.topic,
            ),
            line(await local_times(ctx.session, m.starts_at)),
        ),
        tone="success",
    )


@agenda.command(
    "list",
    Param("meeting", Kind.TEXT, 'Which meeting: "next" (the default) or its date', False),
)
async def agenda_list(ctx: Context, args: dict[str, Any]) -> Message:
    """Show a meeting's agenda, with the next meeting's time in every org's time zone."""
    series = await require_series(ctx.session)
    which = (args["meeting"] or "next").strip().lower()
    if which == "next":
        m = await upcoming(ctx.session, series, ctx.now)
    else:
        try:
            day = parse_date(which)
        except GrammarError:
            raise CommandError(
                f'"{args["meeting"]}" is not a meeting: say "next" or a date, e.g. 2026-01-08.',
                usage="/agenda list [meeting]",
            ) from None
        found = await ctx.session.scalar(
            select(Meeting).where(Meeting.series_id == series.id, Meeting.date == day)
        )
        if found is not None:
            m = found
        else:
            if day.weekday() != series.weekday:
                raise CommandError(
                    f"There is no meeting on {day:%a} {day.isoformat()}: the sync meets on "
                    f"{WEEKDAYS[series.weekday].capitalize()}s. /meeting next shows the next one."
                )
            m = await meeting_on(ctx.session, series, day)
    return await agenda_message(ctx.session, m, ctx.now)


async def _editable(ctx: Context, item: AgendaItem, what: str) -> None:
    if item.status is not AgendaStatus.OPEN:
        raise CommandError(
            f"Agenda item #{item.id} was already {item.status.value}; it can't be {what}."
        )
    if item.meeting.state in (MeetingState.ENDED, MeetingState.SKIPPED):
        raise CommandError(f"Agenda item #{item.id} belongs to a past meeting.")
    mine = ctx.actor.id in (item.added_by_id, item.owner_id)
    if not mine and ctx.actor.role.rank < Role.LEAD.rank:
        raise CommandError(f"Only whoever added #{item.id}, its owner, or a lead can change it.")


async def _renumber(ctx: Context, order: Sequence[AgendaItem]) -> None:
    for n, item in enumerate(order, start=1):
        item.position = n
    await ctx.session.flush()


@agenda.command("remove", _ITEM)
async def agenda_remove(ctx: Context, args: dict[str, Any]) -> Message:
    """Take a topic off the agenda."""
    item: AgendaItem = args["id"]
    await _editable(ctx, item, "removed")
    item.status, item.closed_at = AgendaStatus.REMOVED, ctx.now
    await ctx.session.flush()
    await _renumber(ctx, await open_items(ctx.session, item.meeting))
    return Message(
        lines=(line(f"Removed #{item.id} from the agenda: ", item.topic),), tone="success"
    )


@agenda.command(
    "move",
    _ITEM,
    Param("position", Kind.INT, "Its new place on the agenda, from 1"),
)
async def agenda_move(ctx: Context, args: dict[str, Any]) -> Message:
    """Move a topic to another place on its meeting's agenda."""
    item: AgendaItem = args["id"]
    await _editable(ctx, item, "moved")
    order = [i for i in await open_items(ctx.session, item.meeting) if i.id != item.id]
    position: int = args["position"]
    if not 1 <= position <= len(order) + 1:
        raise CommandError(
            f"Position {position} is off the agenda: it has {count(len(order) + 1, 'item')}, "
            f"so pick 1 to {len(order) + 1}."
        )
    order.insert(position - 1, item)
    await _renumber(ctx, order)
    return Message(
        lines=(line(f"Moved #{item.id} to position {position}: ", item.topic),), tone="success"
    )


@agenda.command("defer", _ITEM)
async def agenda_defer(ctx: Context, args: dict[str, Any]) -> Message:
    """Move a topic to the meeting after the one it is on."""
    item: AgendaItem = args["id"]
    await _editable(ctx, item, "deferred")
    series = await require_series(ctx.session)
    old = item.meeting
    following = await next_meeting_after(ctx.session, series, old)
    await carry(ctx.session, [item], following, why="deferred")
    await _renumber(ctx, await open_items(ctx.session, old))
    return Message(
        lines=(
            line(
                f"Deferred #{item.id} to the meeting of "
                f"{following.date:%a} {following.date.isoformat()}: ",
                item.topic,
            ),
        ),
        tone="success",
    )
