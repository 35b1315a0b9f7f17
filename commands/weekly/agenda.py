"""The weekly sync's agenda: topics people add, and what Liaison adds itself before posting it.

`automatic_items` (reviews in breach, escalations of the week, hand-offs due this quarter,
overdue actions) and `agenda_message` are platform-neutral, for the agenda post and the digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from commands.core.arguments import parse_plan_date
from commands.core.context import CommandError, Context
from commands.core.grammar import WEEKDAYS, GrammarError
from commands.core.messages import (
    Message,
    bold,
    count,
    line,
)
from commands.core.permissions import Relation, Who
from commands.core.registry import Group, Kind, Param
from commands.weekly.posting import agenda_message
from commands.weekly.series import (
    carry,
    local_times,
    meeting_on,
    next_meeting_after,
    open_items,
    require_series,
    upcoming,
)
from storage.models import (
    AgendaItem,
    AgendaStatus,
    Meeting,
    MeetingState,
    Person,
)

agenda = Group("agenda", "The weekly sync's agenda: add, order, defer and remove topics")

_ITEM = Param("id", Kind.AGENDA_ITEM, "The agenda item's number, as /agenda list shows it")


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
            day = parse_plan_date(which)
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


async def _renumber(ctx: Context, order: Sequence[AgendaItem]) -> None:
    for n, item in enumerate(order, start=1):
        item.position = n
    await ctx.session.flush()


@agenda.command("remove", _ITEM, who=Who(Relation.ITEM_EDITOR, "id", "remove"))
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
    who=Who(Relation.ITEM_EDITOR, "id", "move"),
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


@agenda.command("defer", _ITEM, who=Who(Relation.ITEM_EDITOR, "id", "defer"))
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
