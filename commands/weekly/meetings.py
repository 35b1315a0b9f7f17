"""/meeting: the weekly sync's schedule, and starting and ending each meeting."""

from __future__ import annotations

from typing import Any

from commands.core.context import CommandError, Context
from commands.core.grammar import format_duration
from commands.core.messages import Field, Message, bold, code, count, line, mention
from commands.core.notifier import Wake
from commands.core.registry import Group, Kind, Param
from commands.weekly.series import (
    SERIES_ID,
    START_EARLY,
    carry,
    describe_series,
    local_times,
    meeting_notes,
    next_meeting_after,
    open_items,
    realign,
    require_series,
    series_of,
    upcoming,
)
from storage.models import (
    AgendaStatus,
    MeetingSeries,
    MeetingState,
    Role,
)

meeting = Group("meeting", "The weekly sync: when it is, starting and ending it")


# --- /meeting -----------------------------------------------------------------------------------


@meeting.command(
    "schedule",
    Param("weekday", Kind.WEEKDAY, "The day of the week, e.g. thursday"),
    Param("time", Kind.TIME, "The local start time, 24-hour, e.g. 16:00"),
    Param("timezone", Kind.TIMEZONE, "The time zone of that time, e.g. Europe/London"),
    Param("channel", Kind.CHANNEL, "Where agendas and notes go (default: unchanged)", False),
    role=Role.ADMIN,
)
async def meeting_schedule(ctx: Context, args: dict[str, Any]) -> Message:
    """Change when (and where) the weekly meeting is; this overrides the configuration."""
    series = await series_of(ctx.session)
    channel = args["channel"] or (series.channel if series else ctx.announce_channel)
    old = describe_series(series) if series else None
    if series is None:
        series = MeetingSeries(id=SERIES_ID, duration_minutes=60, agenda_post_before_seconds=86400)
        ctx.session.add(series)
    series.weekday, series.time, series.timezone = args["weekday"], args["time"], args["timezone"]
    series.channel, series.set_in_chat = channel, True
    series.updated_at, series.updated_by_id = ctx.now, ctx.actor.id
    await ctx.session.flush()
    await realign(ctx.session, series, ctx.now)
    nxt = await upcoming(ctx.session, series, ctx.now)
    when = await local_times(ctx.session, nxt.starts_at)
    await ctx.notify(
        f"meeting:schedule:{ctx.now.isoformat()}",
        Message(
            title="Weekly sync moved" if old else "Weekly sync scheduled",
            lines=(
                line("From now on: ", bold(describe_series(series)), "."),
                *((line(f"Was: {old}."),) if old else ()),
                line(f"Next meeting: {when}."),
                line("Changed by ", mention(ctx.ref(ctx.actor)), "."),
            ),
        ),
        to=series.channel,
    )
    # The agenda post follows the meeting.
    ctx.notifier.changed(Wake.JOBS)
    return Message(
        lines=(
            line("Done: the weekly sync is now ", bold(describe_series(series)), "."),
            line(f"Next meeting: {when}. Announced in #{series.channel}."),
        ),
        tone="success",
    )


@meeting.command("next")
async def meeting_next(ctx: Context, args: dict[str, Any]) -> Message:
    """Show when the next weekly meeting is, in every org's time zone, and its agenda size."""
    series = await require_series(ctx.session)
    nxt = await upcoming(ctx.session, series, ctx.now)
    items = await open_items(ctx.session, nxt)
    state = " (in progress)" if nxt.state is MeetingState.STARTED else ""
    return Message(
        title=f"Weekly sync{state}",
        fields=(
            Field("When", line(await local_times(ctx.session, nxt.starts_at)), inline=False),
            Field("Schedule", line(describe_series(series)), inline=False),
            Field(
                "Agenda", line(count(len(items), "item") + ": ", code("/agenda list")), inline=False
            ),
        ),
    )


@meeting.command("start")
async def meeting_start(ctx: Context, args: dict[str, Any]) -> Message:
    """Start the weekly meeting (from two hours before its time)."""
    series = await require_series(ctx.session)
    nxt = await upcoming(ctx.session, series, ctx.now)
    if nxt.state is MeetingState.STARTED:
        raise CommandError("The meeting is already in progress. End it with /meeting end.")
    if ctx.now < nxt.starts_at - START_EARLY:
        raise CommandError(
            f"The next meeting is {ctx.when(nxt.starts_at)}; it can be started from "
            f"{format_duration(START_EARLY)} before. To move it, an admin can use "
            "/meeting schedule."
        )
    nxt.state, nxt.started_at, nxt.started_by_id = MeetingState.STARTED, ctx.now, ctx.actor.id
    items = await open_items(ctx.session, nxt)
    return Message(
        lines=(
            line(
                f"The weekly sync of {nxt.date.isoformat()} has started, with "
                f"{count(len(items), 'agenda item')}."
            ),
            line(
                "Record outcomes with ",
                code("/decision add"),
                " and ",
                code("/action add"),
                "; finish with ",
                code("/meeting end"),
                ".",
            ),
        ),
        tone="success",
    )


@meeting.command(
    "end",
    Param(
        "carry",
        Kind.AGENDA_ITEMS,
        "Agenda items not discussed, carried to the next meeting (default: none)",
        required=False,
        keyword=True,
    ),
)
async def meeting_end(ctx: Context, args: dict[str, Any]) -> Message:
    """End the meeting in progress: items are discussed unless carried; the notes are posted."""
    series = await require_series(ctx.session)
    current = await upcoming(ctx.session, series, ctx.now)
    if current.state is not MeetingState.STARTED:
        raise CommandError("No meeting is in progress. Start one with /meeting start.")
    items = await open_items(ctx.session, current)
    wanted: list[int] = args["carry"] or []
    by_id = {i.id: i for i in items}
    unknown = [n for n in wanted if n not in by_id]
    if unknown:
        listed = ", ".join(f"#{n}" for n in unknown)
        raise CommandError(
            f"{listed} {'is' if len(unknown) == 1 else 'are'} not open on this meeting's agenda. "
            "/agenda list shows its items."
        )
    carried = [by_id[n] for n in wanted]
    discussed = [i for i in items if i.id not in wanted]
    for item in discussed:
        item.status, item.closed_at = AgendaStatus.DISCUSSED, ctx.now
    current.state, current.ended_at, current.ended_by_id = MeetingState.ENDED, ctx.now, ctx.actor.id
    if carried:
        following = await next_meeting_after(ctx.session, series, current)
        await carry(ctx.session, carried, following, why="carried")
    notes = await meeting_notes(ctx.session, current, discussed, carried)
    await ctx.notify(f"meeting:{current.date.isoformat()}:notes", notes, to=series.channel)
    return Message(
        lines=(
            line(
                f"The meeting has ended: {count(len(discussed), 'item')} discussed, "
                f"{len(carried)} carried to the next meeting. Notes posted in #{series.channel}."
            ),
        ),
        tone="success",
    )
