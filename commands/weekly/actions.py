"""Action items: who does what by when; owners are chased while an item is overdue.

The first chase is the owner's first business hour after the due date (their org's calendar:
a Friday due date is chased on Monday morning, not on Saturday), then weekly. Each chase is sent
once: its outbox key names the item and the local date of the chase.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from commands.core.context import CommandError, Context
from commands.core.messages import Message, code, line, mention
from commands.core.permissions import Relation, Who
from commands.core.registry import Group, Kind, Param
from commands.weekly.chase import (
    action_line,
    first_chase,
    local_today,
    open_actions,
    overdue_actions,
)
from commands.weekly.series import recent_meeting, series_of
from storage.models import ActionItem, ActionStatus, Person

action = Group("action", "Action items from the weekly sync: who does what by when")


@action.command(
    "add",
    Param("owner", Kind.PERSON, "Who does it"),
    Param("due", Kind.DATE, "The last day to do it"),
    Param("text", Kind.TEXT, "What to do", max_length=1000),
)
async def action_add(ctx: Context, args: dict[str, Any]) -> Message:
    """Record an action item with an owner and a due date; the owner is chased when overdue."""
    owner: Person = args["owner"]
    due: date = args["due"]
    today = local_today(owner, ctx.now)
    if due < today:
        raise CommandError(
            f"{due.isoformat()} has passed for @{owner.handle} (today is {today.isoformat()} "
            "there): give a due date from today on."
        )
    series = await series_of(ctx.session)
    m = await recent_meeting(ctx.session, series, ctx.now)
    item = ActionItem(
        meeting_id=m.id if m else None,
        text=" ".join(args["text"].split()),
        owner_id=owner.id,
        due=due,
        status=ActionStatus.OPEN,
        created_by_id=ctx.actor.id,
        created_at=ctx.now,
        next_chase_at=first_chase(owner.org, due),
        chases=0,
    )
    ctx.session.add(item)
    await ctx.session.flush()
    await ctx.session.refresh(item)
    if owner.id != ctx.actor.id:
        await ctx.notify(
            f"action:{item.id}:assigned",
            Message(
                title=f"New action item #{item.id} for you",
                lines=(
                    line(item.text),
                    line(
                        f"Due {due:%a} {due.isoformat()}. Added by ",
                        mention(ctx.ref(ctx.actor)),
                        ".",
                    ),
                    line("When it is done: ", code(f"/action done {item.id}")),
                ),
            ),
            to=owner,
        )
    return Message(lines=(line("Added action item ", *action_line(item, ctx.now)),), tone="success")


@action.command(
    "done",
    Param("id", Kind.ACTION, "The action item's number"),
    who=Who(Relation.ITEM_EDITOR, "id", "close"),
)
async def action_done(ctx: Context, args: dict[str, Any]) -> Message:
    """Mark an action item done (its owner, whoever added it, or a lead)."""
    item: ActionItem = args["id"]
    if item.status is ActionStatus.DONE:
        return Message(lines=(line(f"Action item #{item.id} is already done."),))
    item.status, item.done_at, item.done_by_id = ActionStatus.DONE, ctx.now, ctx.actor.id
    item.next_chase_at = None
    return Message(lines=(line(f"Done: action item #{item.id}: ", item.text),), tone="success")


@action.command(
    "list",
    Param(
        "which",
        Kind.CHOICE,
        "mine (yours, open), open (the default) or overdue",
        required=False,
        choices=("mine", "open", "overdue"),
    ),
    read_only=True,
)
async def action_list(ctx: Context, args: dict[str, Any]) -> Message:
    """List open action items: yours, all of them, or the overdue ones."""
    which = args["which"] or "open"
    if which == "overdue":
        items = await overdue_actions(ctx.session, ctx.now)
    else:
        mine = ctx.actor.id if which == "mine" else None
        items = await open_actions(ctx.session, owner_id=mine)
    titles = {
        "mine": "Your open action items",
        "open": "Open action items",
        "overdue": "Overdue action items",
    }
    if not items:
        return Message(lines=(line(f"{titles[which]}: none."),))
    return Message(
        title=f"{titles[which]} ({len(items)})",
        lines=tuple(line("• ", *action_line(i, ctx.now)) for i in items),
    )
