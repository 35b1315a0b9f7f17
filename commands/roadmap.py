"""Each org's roadmap, shared with the other: items per quarter, their status, their history.

Leads edit their own org's items only (admins any); every change is kept as a RoadmapEvent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from commands.core.context import CommandError, Context
from commands.core.grammar import Quarter
from commands.core.messages import Line, Link, Message, bold, code, line, mention
from commands.core.permissions import Relation, Who
from commands.core.registry import Group, Kind, Param
from storage.models import Org, RoadmapEvent, RoadmapItem, RoadmapStatus, Role

roadmap = Group("roadmap", "Each org's roadmap: items per quarter and how they move")

_STATUSES = tuple(s.value for s in RoadmapStatus)
_ID = Param("id", Kind.ROADMAP_ITEM, "The roadmap item's number, as /roadmap list shows it")


async def _record(
    ctx: Context, item: RoadmapItem, changes: list[tuple[str, str | None, str]]
) -> None:
    item.updated_at = ctx.now
    events = [
        RoadmapEvent(
            item_id=item.id, at=ctx.now, actor_id=ctx.actor.id, field=f, old_value=o, new_value=n
        )
        for f, o, n in changes
    ]
    ctx.session.add_all(events)
    await ctx.session.flush()
    what = "; ".join(
        f"{f}: {o or 'none'} → {n}" if f != "created" else "new item" for f, o, n in changes
    )
    await ctx.notify(
        f"roadmap:{item.id}:event:{events[0].id}",
        Message(
            title=f"Roadmap of {item.org.key}: #{item.id}",
            lines=(
                item_line(item),
                line(what + "."),
                line("Changed by ", mention(ctx.ref(ctx.actor)), "."),
            ),
        ),
    )


def item_line(item: RoadmapItem) -> Line:
    """One roadmap item: "#4 [in-progress] 2026Q1 Title (link)"."""
    title: Any = Link(item.title, item.link) if item.link else item.title
    return line(
        f"#{item.id} ", bold(f"[{item.status.value}]"), f" {item.org.key} {item.quarter} ", title
    )


@roadmap.command(
    "add",
    Param("org", Kind.ORG, "Whose roadmap"),
    Param("quarter", Kind.QUARTER, "The quarter, e.g. 2026Q1"),
    Param("title", Kind.TEXT, "What is planned", max_length=300),
    Param("link", Kind.URL, "A link to the details", required=False, keyword=True),
    role=Role.LEAD,
    who=Who(Relation.OWNING_LEAD, "org", "edit the roadmap of"),
)
async def roadmap_add(ctx: Context, args: dict[str, Any]) -> Message:
    """Add an item to an org's roadmap (leads of that org, or admins)."""
    org: Org = args["org"]
    quarter: Quarter = args["quarter"]
    item = RoadmapItem(
        org_id=org.id,
        quarter=str(quarter),
        title=" ".join(args["title"].split()),
        link=args["link"],
        status=RoadmapStatus.PLANNED,
        created_by_id=ctx.actor.id,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(item)
    await ctx.session.flush()
    await ctx.session.refresh(item)
    await _record(ctx, item, [("created", None, str(quarter))])
    return Message(
        lines=(
            line(
                "Added to the roadmap: ",
                *item_line(item),
                f". Announced in #{ctx.announce_channel}.",
            ),
        ),
        tone="success",
    )


@roadmap.command(
    "update",
    _ID,
    Param("status", Kind.CHOICE, "The new status", required=False, keyword=True, choices=_STATUSES),
    Param("quarter", Kind.QUARTER, "Move it to another quarter", required=False, keyword=True),
    role=Role.LEAD,
    who=Who(Relation.OWNING_LEAD, "id", "edit the roadmap of"),
)
async def roadmap_update(ctx: Context, args: dict[str, Any]) -> Message:
    """Change a roadmap item's status or quarter (leads of its org, or admins)."""
    item: RoadmapItem = args["id"]
    status: str | None = args["status"]
    quarter: Quarter | None = args["quarter"]
    if status is None and quarter is None:
        raise CommandError(
            "Say what changes: status=planned|in-progress|shipped|dropped and/or quarter=YYYYQn.",
            usage="/roadmap update <id> [status=...] [quarter=...]",
        )
    changes: list[tuple[str, str | None, str]] = []
    if status is not None and status != item.status.value:
        changes.append(("status", item.status.value, status))
        item.status = RoadmapStatus(status)
    if quarter is not None and str(quarter) != item.quarter:
        changes.append(("quarter", item.quarter, str(quarter)))
        item.quarter = str(quarter)
    if not changes:
        return Message(
            lines=(line(f"Nothing to change: roadmap item #{item.id} is like that already."),)
        )
    await _record(ctx, item, changes)
    return Message(lines=(line("Updated: ", *item_line(item), "."),), tone="success")


@roadmap.command(
    "list",
    Param("org", Kind.ORG, "Only this org's roadmap", required=False),
    Param("quarter", Kind.QUARTER, "Only this quarter", required=False, keyword=True),
    read_only=True,
)
async def roadmap_list(ctx: Context, args: dict[str, Any]) -> Message:
    """List roadmap items by org and quarter (dropped ones last)."""
    org: Org | None = args["org"]
    quarter: Quarter | None = args["quarter"]
    query = select(RoadmapItem).join(Org, RoadmapItem.org_id == Org.id)
    if org is not None:
        query = query.where(RoadmapItem.org_id == org.id)
    if quarter is not None:
        query = query.where(RoadmapItem.quarter == str(quarter))
    items = (
        (await ctx.session.scalars(query.order_by(Org.key, RoadmapItem.quarter, RoadmapItem.id)))
        .unique()
        .all()
    )
    scope = " ".join(x for x in (org.key if org else "", str(quarter) if quarter else "") if x)
    title = f"Roadmap{' — ' + scope if scope else ''}"
    if not items:
        return Message(
            lines=(line(f"{title}: no items. Leads add them with ", code("/roadmap add"), "."),)
        )
    order = {s: n for n, s in enumerate(RoadmapStatus)}
    items = sorted(
        items,
        key=lambda i: (
            i.org.key,
            i.quarter,
            i.status is RoadmapStatus.DROPPED,
            order[i.status],
            i.id,
        ),
    )
    return Message(
        title=f"{title} ({len(items)})", lines=tuple(line("• ", *item_line(i)) for i in items)
    )


@roadmap.command("history", _ID, read_only=True)
async def roadmap_history(ctx: Context, args: dict[str, Any]) -> Message:
    """Show every change to a roadmap item: who, when, what from and to."""
    item: RoadmapItem = args["id"]
    events = (
        await ctx.session.scalars(
            select(RoadmapEvent)
            .where(RoadmapEvent.item_id == item.id)
            .order_by(RoadmapEvent.at, RoadmapEvent.id)
        )
    ).all()
    lines = [item_line(item)]
    for ev in events:
        who: Any = mention(ctx.ref(ev.actor)) if ev.actor else bold("import")
        what = (
            f"added for {ev.new_value}"
            if ev.field == "created"
            else f"{ev.field}: {ev.old_value or 'none'} → {ev.new_value}"
        )
        lines.append(line(ctx.when(ev.at), " ", who, ": ", what))
    return Message(title=f"History of roadmap item #{item.id}", lines=tuple(lines))
