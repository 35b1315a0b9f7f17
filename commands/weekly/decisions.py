"""/decision: decisions taken at (or after) the weekly sync."""

from __future__ import annotations

from typing import Any

from commands.core.context import Context
from commands.core.messages import Message, line, mention
from commands.core.registry import Group, Kind, Param
from commands.weekly.series import (
    recent_meeting,
    series_of,
)
from storage.models import (
    Decision,
    MeetingState,
)

decision = Group("decision", "Decisions taken at (or after) the weekly sync")


@decision.command("add", Param("text", Kind.TEXT, "What was decided", max_length=1000))
async def decision_add(ctx: Context, args: dict[str, Any]) -> Message:
    """Record a decision of the weekly sync (the one in progress, else the last one held)."""
    series = await series_of(ctx.session)
    m = await recent_meeting(ctx.session, series, ctx.now)
    row = Decision(
        meeting_id=m.id if m else None,
        text=args["text"],
        author_id=ctx.actor.id,
        created_at=ctx.now,
    )
    ctx.session.add(row)
    await ctx.session.flush()
    where = ""
    if m is None or m.state is not MeetingState.STARTED:
        # Outside a meeting the notes are already out: tell the channel directly.
        channel = series.channel if series else ctx.announce_channel
        await ctx.notify(
            f"decision:{row.id}",
            Message(
                title="Decision recorded",
                lines=(line(args["text"]), line("Recorded by ", mention(ctx.ref(ctx.actor)), ".")),
            ),
            to=channel,
        )
        where = f" Announced in #{channel}."
    else:
        where = " It will be in the meeting notes."
    of = f" of the meeting of {m.date.isoformat()}" if m else ""
    return Message(lines=(line(f"Recorded decision #{row.id}{of}.{where}"),), tone="success")
