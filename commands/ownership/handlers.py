"""The ownership map: the DRI of every area, and each area's hand-off from one org to another.

Every change is kept as history (who, when, old -> new) and announced through the outbox.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from commands.core.context import CommandError, Context
from commands.core.lookup import (
    MAX_AREA_NAME,
    area_key,
    area_ref,
    clean_name,
    find_area,
    is_area_ref,
    natural_key,
)
from commands.core.messages import (
    Action,
    ActionId,
    ButtonStyle,
    Field,
    Line,
    Message,
    Span,
    bold,
    code,
    count,
    line,
    mention,
)
from commands.core.permissions import Relation, Who
from commands.core.registry import Group, Kind, Param
from commands.ownership import verify
from commands.ownership.map import (
    PLANNED,
    STATE_LABELS,
    UNDER_WAY,
    Change,
    checklist,
    checklists,
    drop_checklist,
    progress,
    record,
    route_line,
    routes,
    start_checklist,
)
from storage.models import Area, AreaEvent, HandoffCheck, HandoffState, Org, Person, Role

dri = Group("dri", "Who is the directly responsible individual (DRI) for each area")
handoff = Group("handoff", "Hand areas over from one org to another, and follow the progress")


_STATE_VALUES = {s.value for s in HandoffState}
_AREA = Param("area", Kind.AREA, "The area (a process or task) on the map")


def _handle(person: Person | None) -> str | None:
    return "@" + person.handle if person else None


def _org_key(org: Org | None) -> str | None:
    return org.key if org else None


async def announce(
    ctx: Context,
    area: Area,
    events: Sequence[AreaEvent],
    title: str,
    *,
    extra: Sequence[Line] = (),
    actions: tuple[Action, ...] = (),
) -> None:
    """Tell the shared channel what changed, once per change (keyed by its first event)."""
    lines = [line(bold(area.name), f" ({area.org.key})")]
    lines.extend(await _describe_changes(ctx, events))
    lines.extend(extra)
    lines.append(line("Changed by ", mention(ctx.ref(ctx.actor)), "."))
    await ctx.notify(
        f"area:{area.id}:event:{events[0].id}",
        Message(title=title, lines=tuple(lines), actions=actions),
    )


_FIELD_LABELS = {
    "dri": "DRI",
    "backup": "backup",
    "org": "owner",
    "state": "hand-off",
    "from": "from",
    "to": "goes to",
    "quarter": "target quarter",
    "proposal": "proposed",
    "agreed": "accepted by",
    "declined": "declined by",
    "receiver": "receiving DRI",
    "accepted": "I own this now",
    "check": "checklist item added",
    "checked": "checklist item done",
    "verified": "still the DRI, confirmed by",
    "release": "to hand to someone else, asked by",
    "dri-left": "the DRI left the configuration",
    "dri-deactivated": "the DRI is gone from the platform",
    "category": "category",
    "name": "name",
    "shadow": "shadow period until",
    "checklist": "checklist done",
    "retired": "retired by",
}


_ONE_OFF_FIELDS = frozenset(
    {"proposal", "agreed", "declined", "accepted", "check", "checked", "verified", "release"}
    | {"dri-left", "dri-deactivated", "retired", "shadow"}
)


async def _describe_changes(ctx: Context, events: Sequence[AreaEvent]) -> list[Line]:
    out = []
    for ev in events:
        if ev.field == "created":
            out.append(line(f"New area, owned by {ev.new_value}."))
            continue
        if ev.field in _ONE_OFF_FIELDS:
            # A step of a hand-off happens once: it has a value, not a before and after.
            label = _FIELD_LABELS[ev.field]
            out.append(line(f"{label}: ", *(await _value_spans(ctx, ev.new_value))))
            continue
        out.append(
            line(
                f"{_FIELD_LABELS.get(ev.field, ev.field)}: ",
                *(await _value_spans(ctx, ev.old_value)),
                " → ",
                *(await _value_spans(ctx, ev.new_value)),
            )
        )
    return out


async def _value_spans(ctx: Context, value: str | None) -> list[Span]:
    # People in history are stored as @handles; show them as mentions while they still exist.
    if value is None:
        return [bold("none")]
    if value.startswith("@"):
        person = await ctx.session.scalar(select(Person).where(Person.handle == value[1:]))
        if person is not None:
            return [mention(ctx.ref(person))]
    if value in _STATE_VALUES:
        return [bold(STATE_LABELS[HandoffState(value)].lower())]
    return [bold(value)]


def _person_span(ctx: Context, person: Person | None) -> Span:
    return mention(ctx.ref(person)) if person else bold("none")


# --- /dri ---------------------------------------------------------------------------------------


@dri.command(
    "set",
    Param("area", Kind.AREA, "The area; a new name adds it to the map", allow_new=True),
    Param("person", Kind.PERSON, "The new DRI"),
    Param("backup", Kind.PERSON, "Who stands in for the DRI", required=False, keyword=True),
    Param("org", Kind.ORG, "Owning org of a new area (default: the DRI's)", False, keyword=True),
    Param(
        "category",
        Kind.CATEGORY,
        "The area's category, e.g. create, grow or maintain",
        False,
        keyword=True,
        allow_new=True,
    ),
    role=Role.LEAD,
    who=Who(Relation.MAP_EDITOR, "area", "change"),
)
async def dri_set(ctx: Context, args: dict[str, Any]) -> Message:
    """Set the DRI of an area, and optionally its backup; a new name adds the area to the map."""
    person: Person = args["person"]
    backup: Person | None = args["backup"]
    org: Org | None = args["org"]
    if backup is not None and backup.id == person.id:
        raise CommandError("The backup must be someone other than the DRI.")
    changes: list[Change] = []
    area = args["area"]
    if isinstance(area, str):
        if is_area_ref(area):
            raise CommandError(f"{area!r} is how buttons name areas: choose another name.")
        owner = org or person.org
        if owner is None:
            raise CommandError(
                f"@{person.handle} is in no org, so I can't tell who owns {area!r}: add org=<key>."
            )
        area = Area(
            name=area,
            name_key=area_key(area),
            org_id=owner.id,
            state=HandoffState.OWNED,
            created_at=ctx.now,
            updated_at=ctx.now,
        )
        ctx.session.add(area)
        await ctx.session.flush()
        await ctx.session.refresh(area)
        changes.append(Change("created", None, owner.key))
    else:
        if org is not None and org.id != area.org_id:
            changes.append(Change("org", area.org.key, org.key))
            area.org_id = org.id
            if area.state is not HandoffState.OWNED:
                # Moving an area by hand ends its hand-off record: it is simply owned now.
                changes.append(Change("state", area.state.value, HandoffState.OWNED.value))
                area.state = HandoffState.OWNED
                area.handoff_from_id = area.handoff_to_id = None
                area.target_quarter = None
    if area.dri_id != person.id:
        changes.append(Change("dri", _handle(area.dri), _handle(person)))
        if backup is None and area.backup_id == person.id:
            # The backup stepped up: nobody can be their own backup.
            changes.append(Change("backup", _handle(person), None))
            area.backup_id = None
        area.dri_id = person.id
        # Named by a lead just now: true as of today.
        area.verified_at, area.verify_asked_at = ctx.now, None
    if backup is not None and area.backup_id != backup.id:
        changes.append(Change("backup", _handle(area.backup), _handle(backup)))
        area.backup_id = backup.id
    category: str | None = args["category"]
    if category is not None and category != area.category:
        changes.append(Change("category", area.category, category))
        area.category = category
    if not changes:
        return Message(
            lines=(line("Nothing to change: ", mention(ctx.ref(person)), " is already the DRI."),)
        )
    events = await record(ctx, area, changes)
    await ctx.session.refresh(area)
    await announce(ctx, area, events, "DRI set" if changes[0].field != "created" else "New area")
    return Message(
        lines=(
            line(
                "Done: ",
                mention(ctx.ref(person)),
                " is the DRI of ",
                bold(area.name),
                *((", backup ", mention(ctx.ref(backup))) if backup else ()),
                ". Announced in #",
                ctx.announce_channel,
                ".",
            ),
        ),
        tone="success",
    )


@dri.command("who", _AREA, read_only=True)
async def dri_who(ctx: Context, args: dict[str, Any]) -> Message:
    """Show the DRI, backup, owner and hand-off state of an area."""
    area: Area = args["area"]
    fields = [
        Field("DRI", line(_person_span(ctx, area.dri))),
        Field("Backup", line(_person_span(ctx, area.backup))),
        Field("Owned by", line(area.org.name)),
        *((Field("Category", line(area.category)),) if area.category else ()),
        Field("Hand-off", line(_handoff_text(area))),
        Field("Last change", line(ctx.when(area.updated_at))),
    ]
    items = await checklist(ctx.session, area) if area.state in UNDER_WAY else []
    if items:
        ticks = "; ".join(f"{'☑' if c.done_at else '☐'} {c.position}. {c.text}" for c in items)
        fields.append(Field(f"Checklist ({progress(items)} done)", line(ticks), inline=False))
    return Message(title=area.name, fields=tuple(fields))


def _handoff_text(area: Area) -> str:
    label = STATE_LABELS[area.state].lower()
    if area.state is HandoffState.OWNED:
        return f"owned by `{_org_key(area.org)}`, no hand-off planned"
    route = f"{_org_key(area.handoff_from)} → {_org_key(area.handoff_to)}"
    quarter = f", target {area.target_quarter}" if area.target_quarter else ""
    if area.state is HandoffState.PROPOSED:
        waiting = f", waiting for a lead of `{_org_key(_other_side(area))}` to accept"
        return f"{label} ({route}{quarter}){waiting}"
    if area.state is HandoffState.IN_TRANSITION and area.receiving_dri is not None:
        ready = "ready" if area.receiver_accepted_at else "not yet accepted"
        shadow = (
            f", shadow period until {area.shadow_until.date().isoformat()}"
            if area.shadow_until
            else ""
        )
        return (
            f"{label} ({route}{quarter}), receiving DRI @{area.receiving_dri.handle} "
            f"({ready}){shadow}"
        )
    return f"{label} ({route}{quarter})"


async def _areas(
    ctx: Context, org: Org | None = None, category: str | None = None
) -> Sequence[Area]:
    """The areas on the map (retired ones aside), by name; of one org, of one category."""
    query = select(Area).where(Area.retired_at.is_(None))
    if org is not None:
        query = query.where(Area.org_id == org.id)
    if category is not None:
        query = query.where(Area.category == category)
    return sorted(
        (await ctx.session.scalars(query)).unique().all(), key=lambda a: natural_key(a.name)
    )


_CATEGORY = Param(
    "category", Kind.CATEGORY, "Only areas of this category", required=False, keyword=True
)
NO_CATEGORY = "No category"


def by_category(areas: Sequence[Area]) -> list[tuple[str, list[Area]]]:
    """Areas grouped by category (in name order, any case), those with none last."""
    groups: dict[str, list[Area]] = {}
    for a in areas:
        groups.setdefault(a.category or "", []).append(a)
    named = sorted((k for k in groups if k), key=str.casefold)
    return [(k, groups[k]) for k in named] + ([(NO_CATEGORY, groups[""])] if "" in groups else [])


def _empty(org: Org | None, category: str | None) -> Message:
    if org is None and category is None:
        return Message(lines=(line("The map is empty. Add an area with ", code("/dri set"), "."),))
    which = " and ".join(
        [
            *([f"owned by `{org.key}`"] if org else []),
            *([f'of category "{category}"'] if category else []),
        ]
    )
    return Message(lines=(line(f"No area {which}. ", code("/dri list"), " shows the whole map."),))


@dri.command(
    "list",
    Param("org", Kind.ORG, "Only areas this org owns", required=False),
    _CATEGORY,
    read_only=True,
)
async def dri_list(ctx: Context, args: dict[str, Any]) -> Message:
    """List every area with its DRI and backup, grouped by category once areas have one."""
    org: Org | None = args["org"]
    category: str | None = args["category"]
    areas = await _areas(ctx, org, category)
    if not areas:
        return _empty(org, category)
    groups = by_category(areas)
    lines: list[Line] = []
    for name, group in groups:
        if len(groups) > 1 or name != NO_CATEGORY:
            lines.append(line(bold(f"{name} ({len(group)})")))
        lines.extend(
            line(
                "• ",
                bold(a.name),
                f" ({a.org.key}) — ",
                _person_span(ctx, a.dri),
                *((" / backup ", mention(ctx.ref(a.backup))) if a.backup else ()),
                *((bold(flag),) if (flag := verify.mark(a, ctx.now)) else ()),
            )
            for a in group
        )
    title = f"Areas owned by {org.name}" if org else "The ownership map"
    title += f", category {category}" if category else ""
    return Message(title=f"{title} ({count(len(areas), 'area')})", lines=tuple(lines))


@dri.command(
    "history",
    Param("area", Kind.AREA, "The area, retired ones included", retired_ok=True),
    read_only=True,
)
async def dri_history(ctx: Context, args: dict[str, Any]) -> Message:
    """Show every change to an area: who, when, what from and to."""
    area: Area = args["area"]
    events = (
        await ctx.session.scalars(
            select(AreaEvent)
            .where(AreaEvent.area_id == area.id)
            .order_by(AreaEvent.at, AreaEvent.id)
        )
    ).all()
    lines = []
    for ev in events:
        by = "configuration" if ev.field == "dri-left" else "import"
        if ev.field == "dri-deactivated":
            by = (ev.old_value or "platform").title()  # the platform that reported it
        who = mention(ctx.ref(ev.actor)) if ev.actor else bold(by)
        described = (await _describe_changes(ctx, [ev]))[0]
        lines.append(line(ctx.when(ev.at), " ", who, ": ", *described))
    return Message(title=f"History of {area.name}", lines=tuple(lines))


@dri.command(
    "verify",
    Param("area", Kind.AREA, "One area (default: every area your org owns)", required=False),
    role=Role.LEAD,
)
async def dri_verify(ctx: Context, args: dict[str, Any]) -> Message:
    """Ask DRIs now, by DM, to confirm they still run their areas (as the regular check does)."""
    area: Area | None = args["area"]
    admin = ctx.actor.role is Role.ADMIN
    if area is not None:
        if not admin and ctx.actor.org_id != area.org_id:
            raise CommandError(
                f'Only leads of `{area.org.key}` (or an admin) can ask who runs "{area.name}".'
            )
        areas: Sequence[Area] = [area]
    else:
        areas = await _areas(ctx, None if admin else ctx.actor.org)
    asked, skipped = [], []
    for a in areas:
        if a.dri is None or verify.departed(a):
            skipped.append(a.name)
            continue
        await verify.ask(ctx.notifier, a, ctx.now)
        asked.append(a)
    if not asked:
        raise CommandError(
            "No area to ask about: "
            + ("; ".join(f'"{n}" has no DRI in the configuration' for n in skipped) or "none")
            + ". Name a DRI with /dri set <area> @person."
        )
    dris = sorted({a.dri.handle for a in asked if a.dri is not None})
    return Message(
        lines=(
            line(
                f"Asked {', '.join('@' + h for h in dris)} by direct message to confirm "
                f"{count(len(asked), 'area')}.",
                *((f" Not asked (no DRI to ask): {', '.join(skipped)}.",) if skipped else ()),
            ),
        ),
        tone="success",
    )


@dri.command("confirm", _AREA, who=Who(Relation.AREA_DRI, "area", "confirm who runs"))
async def dri_confirm(ctx: Context, args: dict[str, Any]) -> Message:
    """Confirm, as its DRI, that you still run an area (the Confirm button of the check)."""
    area: Area = args["area"]
    if area.dri is not None:
        said = line(
            mention(ctx.ref(ctx.actor)), " confirmed ", bold(area.name), f" on {ctx.when(ctx.now)}."
        )
        await verify.answered(ctx.notifier, area, area.dri, said)
    area.verified_at, area.verify_asked_at = ctx.now, None
    await record(ctx, area, [Change("verified", None, _handle(ctx.actor))])
    every = await verify.verify_every(ctx.session)
    return Message(
        lines=(
            line(
                "Thanks: you are still the DRI of ",
                bold(area.name),
                f". Liaison asks again in {every.days // 7} weeks.",
            ),
        ),
        tone="success",
    )


@dri.command("release", _AREA, who=Who(Relation.AREA_DRI, "area", "hand on"))
async def dri_release(ctx: Context, args: dict[str, Any]) -> Message:
    """Say, as its DRI, that an area should go to someone else: its org's leads are told."""
    area: Area = args["area"]
    if area.dri is not None:
        said = line(
            mention(ctx.ref(ctx.actor)),
            " asked to hand ",
            bold(area.name),
            f" to someone else on {ctx.when(ctx.now)}; its org's leads were told.",
        )
        await verify.answered(ctx.notifier, area, area.dri, said)
    area.verify_asked_at = None
    await record(ctx, area, [Change("release", None, _handle(ctx.actor))])
    leads = await verify.tell_leads(
        ctx.notifier,
        area,
        f"area:{area.id}:release:{ctx.now.isoformat()}",
        f"{area.name} needs a new DRI",
        mention(ctx.ref(ctx.actor)),
        " asks to hand ",
        bold(area.name),
        " to someone else. Name the new DRI: ",
    )
    told = ", ".join("@" + p.handle for p in leads) or "nobody (the org has no lead)"
    return Message(
        lines=(line(f"Told {told}: they will name a new DRI for ", bold(area.name), "."),),
        tone="success",
    )


@dri.command(
    "rename",
    _AREA,
    Param("name", Kind.TEXT, "The area's new name", max_length=MAX_AREA_NAME),
    role=Role.LEAD,
    who=Who(Relation.OWNING_LEAD, "area", "rename"),
)
async def dri_rename(ctx: Context, args: dict[str, Any]) -> Message:
    """Give an area a new name; its history, hand-off and DRI stay with it."""
    area: Area = args["area"]
    name = clean_name(str(args["name"]))
    if not name:
        raise CommandError('Give the new name, e.g. /dri rename "Old name" "New name".')
    if is_area_ref(name):
        raise CommandError(f"{name!r} is how buttons name areas: choose another name.")
    if name == area.name:
        return Message(lines=(line(f'Nothing to change: the area is called "{name}" already.'),))
    taken = await find_area(ctx.session, name)
    if taken is not None and taken.id != area.id:
        what = "a retired area" if taken.retired_at else "an area"
        raise CommandError(f'There is {what} called "{taken.name}" already: choose another name.')
    old = area.name
    area.name, area.name_key = name, area_key(name)
    events = await record(ctx, area, [Change("name", old, name)])
    await ctx.session.refresh(area)
    await announce(ctx, area, events, "Area renamed")
    return Message(
        lines=(
            line(f'Renamed "{old}" to ', bold(name), f". Announced in #{ctx.announce_channel}."),
        ),
        tone="success",
    )


@dri.command(
    "retire",
    _AREA,
    role=Role.LEAD,
    who=Who(Relation.OWNING_LEAD, "area", "retire"),
)
async def dri_retire(ctx: Context, args: dict[str, Any]) -> Message:
    """Take an area off the map for good; its history is kept (/dri history)."""
    area: Area = args["area"]
    if area.state in UNDER_WAY:
        raise CommandError(
            f'"{area.name}" has a hand-off under way ({STATE_LABELS[area.state].lower()}): '
            f'finish it, or call it off with /handoff cancel "{area.name}", first.'
        )
    area.retired_at = ctx.now
    area.verify_asked_at = None
    events = await record(ctx, area, [Change("retired", None, _handle(ctx.actor))])
    await ctx.session.refresh(area)
    await announce(ctx, area, events, "Area retired")
    return Message(
        lines=(
            line(
                "Retired ",
                bold(area.name),
                f': it is off the map; /dri history "{area.name}" keeps its history. '
                f"Announced in #{ctx.announce_channel}.",
            ),
        ),
        tone="success",
    )


# --- /handoff -----------------------------------------------------------------------------------


async def _target(ctx: Context, area: Area, to: Org | None) -> Org:
    """The org a proposed hand-off goes to: `to=`, else the proposer's own org when it is not
    the owner, else the only other org."""
    if to is not None:
        if to.id == area.org_id:
            raise CommandError(f'"{area.name}" is already owned by `{to.key}`.')
        return to
    if ctx.actor.org is not None and ctx.actor.org_id != area.org_id:
        return ctx.actor.org
    others = (await ctx.session.scalars(select(Org).where(Org.id != area.org_id))).all()
    if len(others) != 1:
        raise CommandError("Say which org takes it over, e.g. to=ic.")
    return others[0]


def _buttons(area: Area, *verbs: tuple[str, str, ButtonStyle]) -> tuple[Action, ...]:
    return tuple(
        Action(ActionId("handoff", verb, area_ref(area)), label, style)
        for verb, label, style in verbs
    )


def _other_side(area: Area) -> Org | None:
    """The org that answers a proposal: the side that did not make it."""
    if area.proposed_by_org_id == area.handoff_from_id:
        return area.handoff_to
    return area.handoff_from


@handoff.command(
    "plan",
    _AREA,
    Param(
        "horizon", Kind.CHOICE, "near (next one or two quarters) or long", choices=("near", "long")
    ),
    Param("quarter", Kind.QUARTER, "Target quarter, e.g. 2026Q1", required=False),
    Param("to", Kind.ORG, "The org taking it over (default: the other org)", False, keyword=True),
    role=Role.LEAD,
    who=Who(Relation.HANDOFF_PARTY, "area", "propose the hand-off of"),
)
async def handoff_plan(ctx: Context, args: dict[str, Any]) -> Message:
    """Propose the hand-off of an area, near-term or long-term; a lead of the other org accepts."""
    area: Area = args["area"]
    if area.state is HandoffState.IN_TRANSITION:
        raise CommandError(
            f'"{area.name}" is already in transition to `{_org_key(area.handoff_to)}`: '
            f'finish it with /handoff done "{area.name}" or stop it with /handoff cancel.'
        )
    target = await _target(ctx, area, args["to"])
    state = HandoffState.PLANNED_NEAR if args["horizon"] == "near" else HandoffState.PLANNED_LONG
    quarter = str(args["quarter"]) if args["quarter"] else None
    same = area.handoff_to_id == target.id and area.target_quarter == quarter
    if same and state in (area.state, area.proposed_state):
        return Message(lines=(line(f'Nothing to change: "{area.name}" is planned like that.'),))
    # An admin outside both orgs proposes on the owner's behalf.
    proposer = ctx.actor.org if ctx.actor.org_id in (area.org_id, target.id) else area.org
    assert proposer is not None
    changes = [Change("state", area.state.value, HandoffState.PROPOSED.value)]
    changes.append(Change("proposal", None, f"{args['horizon']} by {proposer.key}"))
    if area.handoff_to_id != target.id:
        changes.append(Change("to", _org_key(area.handoff_to), target.key))
    if quarter != area.target_quarter:
        changes.append(Change("quarter", area.target_quarter, quarter))
    if area.state not in UNDER_WAY:
        # A new hand-off starts with the checklist of the template; a changed plan keeps its own.
        await start_checklist(ctx.session, area, ctx.now, area.category or "")
    if area.state in PLANNED:
        # The plan both sides agreed stands until the new one is accepted: a decline restores it.
        area.previous_state = area.state
        area.previous_to_id = area.handoff_to_id
        area.previous_quarter = area.target_quarter
    elif area.state is not HandoffState.PROPOSED:
        _forget_previous(area)
    # Any change to a plan is a new proposal: the other side agrees to the plan as it now is.
    area.state = HandoffState.PROPOSED
    area.proposed_state = state
    area.proposed_by_org_id = proposer.id
    area.handoff_from_id = area.org_id
    area.handoff_to_id = target.id
    area.target_quarter = quarter
    answering = area.org if proposer.id == target.id else target
    ask = line(
        f"A lead of `{answering.key}` accepts or declines: ",
        code(f'/handoff accept "{area.name}"'),
        " or ",
        code(f'/handoff decline "{area.name}"'),
        ".",
    )
    buttons = _buttons(area, ("accept", "Accept", "primary"), ("decline", "Decline", "danger"))
    return await _commit_handoff(
        ctx, area, changes, "Hand-off proposed", extra=(ask,), actions=buttons
    )


@handoff.command(
    "accept",
    _AREA,
    role=Role.LEAD,
    who=Who(Relation.COUNTERPART_LEAD, "area", "accept the hand-off of"),
)
async def handoff_accept(ctx: Context, args: dict[str, Any]) -> Message:
    """Accept a hand-off the other org proposed: it is planned from now on."""
    area = _proposed(args["area"], "accept")
    state = area.proposed_state or HandoffState.PLANNED_NEAR
    changes = [
        Change("state", area.state.value, state.value),
        Change("agreed", None, _org_key(_other_side(area))),
    ]
    area.state = state
    area.proposed_state = None
    _forget_previous(area)
    return await _commit_handoff(ctx, area, changes, "Hand-off agreed")


@handoff.command(
    "decline",
    _AREA,
    role=Role.LEAD,
    who=Who(Relation.COUNTERPART_LEAD, "area", "decline the hand-off of"),
)
async def handoff_decline(ctx: Context, args: dict[str, Any]) -> Message:
    """Decline a hand-off the other org proposed: the area stays with its owner."""
    area = _proposed(args["area"], "decline")
    declined_by = _org_key(_other_side(area))
    if area.previous_state is not None:
        return await _restore_agreed_plan(ctx, area, declined_by)
    changes = [
        Change("state", area.state.value, HandoffState.OWNED.value),
        Change("declined", None, declined_by),
    ]
    _clear_handoff(area)
    await drop_checklist(ctx.session, area)
    return await _commit_handoff(ctx, area, changes, "Hand-off declined")


async def _restore_agreed_plan(ctx: Context, area: Area, declined_by: str | None) -> Message:
    """A declined change to an agreed plan leaves the agreed plan (and its checklist) as it was."""
    assert area.previous_state is not None
    changes = [
        Change("state", area.state.value, area.previous_state.value),
        Change("declined", None, declined_by),
    ]
    if area.previous_to_id != area.handoff_to_id:
        before = await ctx.session.get(Org, area.previous_to_id) if area.previous_to_id else None
        changes.append(Change("to", _org_key(area.handoff_to), _org_key(before)))
    if area.previous_quarter != area.target_quarter:
        changes.append(Change("quarter", area.target_quarter, area.previous_quarter))
    area.state = area.previous_state
    area.handoff_to_id = area.previous_to_id
    area.target_quarter = area.previous_quarter
    area.proposed_state = None
    _forget_previous(area)
    kept = line("The plan both sides agreed before stands.")
    return await _commit_handoff(ctx, area, changes, "Hand-off change declined", extra=(kept,))


def _forget_previous(area: Area) -> None:
    area.previous_state = None
    area.previous_to_id = None
    area.previous_quarter = None


def _proposed(area: Area, verb: str) -> Area:
    if area.state is not HandoffState.PROPOSED:
        raise CommandError(
            f'"{area.name}" has no proposed hand-off to {verb} '
            f"(it is {STATE_LABELS[area.state].lower()})."
        )
    return area


def _clear_handoff(area: Area) -> None:
    area.state = HandoffState.OWNED
    area.handoff_from_id = area.handoff_to_id = None
    area.target_quarter = None
    area.proposed_state = None
    area.proposed_by_org_id = None
    area.receiving_dri_id = None
    area.receiver_accepted_at = None
    area.shadow_until = None
    _forget_previous(area)


@handoff.command(
    "start",
    _AREA,
    Param("receiver", Kind.PERSON, "The receiving DRI, in the org taking the area over"),
    Param(
        "shadow",
        Kind.DURATION,
        "How long both DRIs run it together; both sides are reminded when it is over",
        required=False,
        keyword=True,
    ),
    role=Role.LEAD,
    who=Who(Relation.OWNING_LEAD, "area", "start handing off"),
)
async def handoff_start(ctx: Context, args: dict[str, Any]) -> Message:
    """Start an agreed hand-off, naming the receiving DRI, who is asked to take the area over."""
    area: Area = args["area"]
    receiver: Person = args["receiver"]
    # A hand-off imported as already in transition names no receiving DRI yet: name one here.
    if area.state is HandoffState.IN_TRANSITION and area.receiving_dri_id is not None:
        raise CommandError(f'"{area.name}" is already in transition.')
    if area.state is HandoffState.PROPOSED:
        raise CommandError(
            f'The hand-off of "{area.name}" is not agreed yet: a lead of '
            f"`{_org_key(_other_side(area))}` must accept it first."
        )
    if area.state not in (*PLANNED, HandoffState.IN_TRANSITION):
        raise CommandError(
            f'"{area.name}" has no planned hand-off: propose one first with '
            f'/handoff plan "{area.name}" near'
        )
    target = area.handoff_to
    assert target is not None, "a planned hand-off always has a target org"
    if receiver.org_id != target.id:
        raise CommandError(
            f"The receiving DRI must be in `{target.key}`, the org taking "
            f'"{area.name}" over; @{receiver.handle} is not.'
        )
    changes = [
        Change("state", area.state.value, HandoffState.IN_TRANSITION.value),
        Change("receiver", _handle(area.receiving_dri), _handle(receiver)),
    ]
    area.state = HandoffState.IN_TRANSITION
    area.receiving_dri_id = receiver.id
    area.receiver_accepted_at = None
    shadow: timedelta | None = args["shadow"]
    area.shadow_until = ctx.now + shadow if shadow else None
    if area.shadow_until is not None:
        changes.append(Change("shadow", None, ctx.when(area.shadow_until)))
    reply = await _commit_handoff(ctx, area, changes, "Hand-off started")
    await ctx.notify(
        f"area:{area.id}:own:{receiver.id}:{ctx.now.isoformat()}",
        Message(
            title=f"You are taking over {area.name}",
            lines=(
                line(
                    mention(ctx.ref(ctx.actor)),
                    " started handing ",
                    bold(area.name),
                    f" over to `{target.key}`, with you as its DRI. "
                    "When you are ready to own it, say so: ",
                    code(f'/handoff own "{area.name}"'),
                    ".",
                ),
            ),
            actions=_buttons(area, ("own", "I own this now", "primary")),
        ),
        to=receiver,
    )
    return reply


@handoff.command(
    "own",
    _AREA,
    who=Who(Relation.RECEIVING_DRI, "area", "take over"),
)
async def handoff_own(ctx: Context, args: dict[str, Any]) -> Message:
    """Say "I own this now" as the receiving DRI: the owning org's lead may then complete it."""
    area: Area = args["area"]
    if area.state is not HandoffState.IN_TRANSITION or area.receiving_dri is None:
        raise CommandError(f'"{area.name}" is not being handed over to anyone right now.')
    if ctx.actor.id != area.receiving_dri_id:
        raise CommandError(
            f"Only @{area.receiving_dri.handle}, the receiving DRI, can say they own "
            f'"{area.name}" now.'
        )
    if area.receiver_accepted_at is not None:
        return Message(lines=(line(f'Nothing to change: you already own "{area.name}".'),))
    area.receiver_accepted_at = ctx.now
    changes = [Change("accepted", None, _handle(ctx.actor))]
    return await _commit_handoff(ctx, area, changes, "Receiving DRI ready")


@handoff.command(
    "done", _AREA, role=Role.LEAD, who=Who(Relation.OWNING_LEAD, "area", "complete the hand-off of")
)
async def handoff_done(ctx: Context, args: dict[str, Any]) -> Message:
    """Complete a started hand-off: the receiving org owns the area, the receiving DRI runs it."""
    area: Area = args["area"]
    if area.state is not HandoffState.IN_TRANSITION:
        if area.state in (HandoffState.PROPOSED, *PLANNED):
            raise CommandError(
                f'The hand-off of "{area.name}" has not started: start it with '
                f'/handoff start "{area.name}" @receiving-dri.'
            )
        raise CommandError(
            f'"{area.name}" has no hand-off under way (it is {STATE_LABELS[area.state].lower()}).'
        )
    target, receiver = area.handoff_to, area.receiving_dri
    assert target is not None, "a started hand-off always has a target org"
    if receiver is None:
        raise CommandError(
            f'The hand-off of "{area.name}" names no receiving DRI yet: name one with '
            f'/handoff start "{area.name}" @person.'
        )
    open_items = [c for c in await checklist(ctx.session, area) if c.done_at is None]
    if open_items:
        listed = "; ".join(f"{c.position}. {c.text}" for c in open_items)
        raise CommandError(
            f'"{area.name}" has {count(len(open_items), "open checklist item")}: {listed}. '
            f'Tick each with /handoff check done "{area.name}" <number>.'
        )
    if area.receiver_accepted_at is None:
        raise CommandError(
            f'@{receiver.handle}, the receiving DRI, has not said "I own this now" yet: '
            f'they can with /handoff own "{area.name}".'
        )
    changes = [
        Change("state", area.state.value, HandoffState.HANDED_OFF.value),
        Change("org", area.org.key, target.key),
    ]
    if area.dri_id != receiver.id:
        changes.append(Change("dri", _handle(area.dri), _handle(receiver)))
    if area.backup_id == receiver.id:
        changes.append(Change("backup", _handle(receiver), None))
        area.backup_id = None
    area.state = HandoffState.HANDED_OFF
    area.org_id = target.id
    area.dri_id = receiver.id
    # They said "I own this now": true as of today.
    area.verified_at, area.verify_asked_at = ctx.now, None
    area.receiving_dri_id = None
    area.receiver_accepted_at = None
    area.proposed_by_org_id = None
    area.shadow_until = None
    return await _commit_handoff(ctx, area, changes, "Hand-off done")


@handoff.command(
    "cancel",
    _AREA,
    role=Role.LEAD,
    who=Who(Relation.HANDOFF_SIDES, "area", "cancel the hand-off of"),
)
async def handoff_cancel(ctx: Context, args: dict[str, Any]) -> Message:
    """Call off a proposed, planned or started hand-off; the area stays with its owner."""
    area: Area = args["area"]
    if area.state not in (HandoffState.PROPOSED, *PLANNED, HandoffState.IN_TRANSITION):
        raise CommandError(f'"{area.name}" has no hand-off under way to cancel.')
    changes = [Change("state", area.state.value, HandoffState.OWNED.value)]
    if area.target_quarter:
        changes.append(Change("quarter", area.target_quarter, None))
    _clear_handoff(area)
    await drop_checklist(ctx.session, area)
    return await _commit_handoff(ctx, area, changes, "Hand-off cancelled")


@handoff.command(
    "check",
    Param("step", Kind.CHOICE, "add an item, or mark one done", choices=("add", "done")),
    _AREA,
    Param("item", Kind.TEXT, "The item: its text to add; its number (or text) to mark done"),
    role=Role.LEAD,
    who=Who(Relation.HANDOFF_SIDES, "area", "change the checklist of"),
)
async def handoff_check(ctx: Context, args: dict[str, Any]) -> Message:
    """Add an item to a hand-off's checklist, or mark one done; done waits for every item."""
    area: Area = args["area"]
    text = " ".join(str(args["item"]).split())
    if area.state not in UNDER_WAY:
        raise CommandError(f'"{area.name}" has no hand-off under way, so no checklist.')
    items = await checklist(ctx.session, area)
    if args["step"] == "add":
        if not text or len(text) > 200:
            raise CommandError("A checklist item is 1 to 200 characters of text.")
        if any(c.text.casefold() == text.casefold() for c in items):
            raise CommandError(f'"{text}" is on the checklist of "{area.name}" already.')
        item = HandoffCheck(area_id=area.id, position=len(items) + 1, text=text, created_at=ctx.now)
        ctx.session.add(item)
        items.append(item)
        change = Change("check", None, text)
        said = f"Added to the checklist of {area.name}: {item.position}. {text}"
    else:
        item = _find_item(area, items, text)
        if item.done_at is not None:
            return Message(lines=(line(f'Nothing to change: "{item.text}" is done already.'),))
        item.done_at, item.done_by_id = ctx.now, ctx.actor.id
        change = Change("checked", None, item.text)
        said = f"Done on the checklist of {area.name}: {item.position}. {item.text}"
    events = await record(ctx, area, [change])
    await ctx.session.refresh(area)
    await announce(ctx, area, events, "Hand-off checklist", extra=(line(progress(items)),))
    return Message(lines=(line(f"{said} ({progress(items)} done)."),), tone="success")


def _find_item(area: Area, items: Sequence[HandoffCheck], text: str) -> HandoffCheck:
    """A checklist item by its number, or by its text in any case."""
    for c in items:
        if (text.isdigit() and int(text) == c.position) or c.text.casefold() == text.casefold():
            return c
    listed = "; ".join(f"{c.position}. {c.text}" for c in items) or "it is empty"
    raise CommandError(f'No item "{text}" on the checklist of "{area.name}": {listed}.')


async def _commit_handoff(
    ctx: Context,
    area: Area,
    changes: list[Change],
    title: str,
    *,
    extra: tuple[Line, ...] = (),
    actions: tuple[Action, ...] = (),
) -> Message:
    events = await record(ctx, area, changes)
    await ctx.session.refresh(area)
    await announce(ctx, area, events, title, extra=extra, actions=actions)
    return Message(
        lines=(
            line(
                f"{title}: ",
                bold(area.name),
                f" is now {_handoff_text(area)}. Announced in #{ctx.announce_channel}.",
            ),
        ),
        tone="success",
    )


@handoff.command(
    "board",
    Param("org", Kind.ORG, "Only areas this org owns", required=False),
    _CATEGORY,
    read_only=True,
)
async def handoff_board(ctx: Context, args: dict[str, Any]) -> Message:
    """Show every area grouped by hand-off state, with progress per route and per category."""
    org: Org | None = args["org"]
    category: str | None = args["category"]
    areas = await _areas(ctx, org, category)
    if not areas:
        return _empty(org, category)
    lines: list[Line] = []
    items = await checklists(ctx.session)
    for state, label in STATE_LABELS.items():
        group = [a for a in areas if a.state is state]
        if not group:
            continue
        lines.append(line(bold(f"{label} ({len(group)})")))
        for a in group:
            where = (
                f" ({_org_key(a.handoff_from)} → {_org_key(a.handoff_to)}"
                if a.handoff_to
                else (f" ({a.org.key}")
            )
            quarter = (
                f", {a.target_quarter}"
                if a.target_quarter and state is not HandoffState.HANDED_OFF
                else ""
            )
            checks = items.get(a.id, []) if state in UNDER_WAY else []
            ticked = f" · checklist {progress(checks)}" if checks else ""
            flag = verify.mark(a, ctx.now)
            lines.append(
                line(
                    "• ",
                    a.name,
                    where + quarter + ") — DRI ",
                    _person_span(ctx, a.dri),
                    f" · {a.category}" if a.category and not category else "",
                    ticked,
                    *((bold(flag),) if flag else ()),
                )
            )
    title = f"Hand-off board — {count(len(areas), 'area')}"
    return Message(
        title=title + (f", category {category}" if category else ""),
        lines=tuple(lines),
        fields=tuple(_progress(areas)),
    )


def _progress(areas: Sequence[Area]) -> list[Field]:
    fields = [Field(f"{r.source} → {r.target}", route_line(r), inline=False) for r in routes(areas)]
    groups = by_category(areas)
    if len(groups) > 1:
        # Per category, the hand-offs of every route together: how far each kind of work is.
        for name, group in groups:
            for r in routes(group):
                label = f"{name}: {r.source} → {r.target}"
                fields.append(Field(label, route_line(r), inline=False))
    owned = Counter(a.org.key for a in areas if a.state is HandoffState.OWNED)
    if owned:
        text = ", ".join(f"{k} {n}" for k, n in sorted(owned.items()))
        fields.append(Field("Owned, no hand-off planned", line(text), inline=False))
    return fields
