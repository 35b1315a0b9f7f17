"""/review: code-review requests one org owes another, with SLA clocks, a card, and a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select

from commands.core.context import CommandError, Context
from commands.core.grammar import format_duration
from commands.core.lookup import area_key
from commands.core.messages import (
    Field,
    Line,
    Link,
    Message,
    bold,
    code,
    italic,
    line,
    mention,
)
from commands.core.notifier import Wake
from commands.core.permissions import Relation, Who
from commands.core.registry import Group, Kind, Param
from commands.ownership import map as ownership
from commands.reviews import clocks as rc
from commands.reviews import compliance
from commands.reviews.card import (
    OPEN,
    REVIEW_AREA,
    STATE_LABELS,
    STATE_PHRASES,
    card,
    card_key,
    clock_text,
    left_text,
)
from commands.reviews.compliance import figures
from commands.reviews.queries import ranked, summary_line
from commands.reviews.rules import StageName
from storage.models import (
    Area,
    Org,
    Person,
    Review,
    ReviewEvent,
    ReviewState,
    SlaPolicy,
)

review = Group("review", "Code-review requests with SLA clocks")
sla = Group("sla", "SLA policies and how well they are met")

_ID = Param("id", Kind.REVIEW, "The review number, e.g. 12 or #12")


async def publish(ctx: Context, rv: Review, event: ReviewEvent, what: Line) -> None:
    """Redraw the card in place and add a line to its thread, once per event."""
    clocks = await rc.current_clocks(ctx.session, rv)
    fresh = card(rv, clocks, ctx.now, ctx.ref)
    await ctx.notify(f"{card_key(rv.id)}:e{event.id}", fresh, edit_of=card_key(rv.id))
    await ctx.notify(
        f"review:{rv.id}:thread:e{event.id}", Message(lines=(what,)), thread_of=card_key(rv.id)
    )


async def record(ctx: Context, rv: Review, kind: str, **data: Any) -> ReviewEvent:
    """Add an event to the review's timeline."""
    rv.updated_at = ctx.now
    event = ReviewEvent(
        review_id=rv.id, cycle=rv.cycle, at=ctx.now, actor_id=ctx.actor.id, kind=kind, data=data
    )
    ctx.session.add(event)
    await ctx.session.flush()
    ctx.notifier.changed(Wake.DEADLINES)
    return event


# --- who may do what -----------------------------------------------------------------------------


def _require_state(rv: Review, allowed: Sequence[ReviewState], verb: str) -> None:
    if rv.state in allowed:
        return
    if rv.state in (ReviewState.APPROVED, ReviewState.CANCELLED):
        raise CommandError(
            f"#{rv.id} is already {rv.state.value}; /review reopen {rv.id} starts a new cycle."
        )
    raise CommandError(f"#{rv.id} is {STATE_PHRASES[rv.state]}, so it cannot be {verb} now.")


# --- /review request -----------------------------------------------------------------------------


async def _other_org(ctx: Context, org_id: int | None) -> Org:
    others = (
        await ctx.session.scalars(select(Org).where(Org.id != org_id).order_by(Org.key))
    ).all()
    if len(others) != 1 or org_id is None:
        raise CommandError("Say which org should review it, e.g. org=ic.")
    return others[0]


async def _default_policy(ctx: Context) -> SlaPolicy:
    policy = await ctx.session.scalar(
        select(SlaPolicy).where(SlaPolicy.is_default, SlaPolicy.retired.is_(False))
    )
    if policy is None:
        raise CommandError("No SLA policy is configured: an admin adds [[policies]] to the config.")
    return policy


async def _area_dri(ctx: Context, org: Org) -> Person | None:
    area = await ctx.session.scalar(select(Area).where(Area.name_key == area_key(REVIEW_AREA)))
    if area is not None and area.org_id == org.id and area.dri is not None:
        return area.dri
    return None


async def _tell_shadowing(ctx: Context, rv: Review, org: Org, reviewer: Person | None) -> None:
    """While the code review area is being handed over, both its DRIs hear of a new request."""
    area = await ctx.session.scalar(select(Area).where(Area.name_key == area_key(REVIEW_AREA)))
    if area is None or area.org_id != org.id:
        return
    for person in ownership.shadowing(area):
        if reviewer is not None and person.id == reviewer.id:
            continue
        await ctx.notify(
            f"review:{rv.id}:c1:shadow:{person.id}",
            Message(
                title=f"Review #{rv.id} asked of {area.name}, which is being handed over",
                lines=(
                    line(
                        mention(ctx.ref(ctx.actor)),
                        " asked for a review of ",
                        Link(rv.title, rv.link),
                        ". You hear of it as a DRI of ",
                        bold(area.name),
                        " until its hand-off completes.",
                    ),
                ),
            ),
            to=person,
        )


@review.command(
    "request",
    Param("link", Kind.URL, "The pull request or diff to review (http/https)"),
    Param("title", Kind.TEXT, "What it is, in a few words", max_length=200),
    Param(
        "policy", Kind.POLICY, "SLA policy (default: the configured default)", False, keyword=True
    ),
    Param(
        "reviewer",
        Kind.PERSON,
        "Who should review (default: the code review DRI)",
        False,
        keyword=True,
    ),
    Param("org", Kind.ORG, "The org that reviews (default: the other org)", False, keyword=True),
)
async def request(ctx: Context, args: dict[str, Any]) -> Message:
    """Ask the other org for a code review; the SLA clocks start and a card is posted.

    The reviewer defaults to the DRI of the reviewing org's "code review" area, if there is one.
    """
    org: Org = args["org"] or await _other_org(ctx, ctx.actor.org_id)
    policy: SlaPolicy = args["policy"] or await _default_policy(ctx)
    reviewer: Person | None = args["reviewer"] or await _area_dri(ctx, org)
    if reviewer is not None and reviewer.org_id != org.id:
        raise CommandError(f"@{reviewer.handle} is not in `{org.key}`, the org that reviews.")
    rv = Review(
        link=args["link"],
        title=args["title"],
        requester_id=ctx.actor.id,
        reviewing_org_id=org.id,
        reviewer_id=reviewer.id if reviewer else None,
        policy_id=policy.id,
        policy_snapshot=rc.snapshot(policy),
        state=ReviewState.REQUESTED,
        cycle=1,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(rv)
    await ctx.session.flush()
    await ctx.session.refresh(rv)
    clocks = {c.kind: c for c in rc.start_cycle(ctx.session, rv, ctx.now)}
    await ctx.session.flush()
    await record(ctx, rv, "requested", policy=policy.name)
    await ctx.notify(card_key(rv.id), card(rv, clocks, ctx.now, ctx.ref))
    if reviewer is not None:
        await ctx.notify(
            f"review:{rv.id}:c1:assigned:{reviewer.id}",
            Message(
                title=f"Review #{rv.id} is yours",
                lines=(
                    line(
                        mention(ctx.ref(ctx.actor)),
                        " asked you to review ",
                        Link(rv.title, rv.link),
                        ".",
                    ),
                    line("Acknowledge with ", code(f"/review ack {rv.id}"), "."),
                ),
            ),
            to=reviewer,
        )
    await _tell_shadowing(ctx, rv, org, reviewer)
    ack = rc.view(rv, clocks["ack"], ctx.now)
    who = line(" Reviewer: ", mention(ctx.ref(reviewer))) if reviewer else line(" No reviewer yet.")
    return Message(
        lines=(
            line(f"Review #{rv.id} requested from {org.name} under ", bold(policy.name), "."),
            line(f"Acknowledge {clock_text(ack, ctx.tz, ctx.now)}.", *who),
        ),
        tone="success",
    )


# --- the lifecycle -------------------------------------------------------------------------------


async def _transition(
    ctx: Context,
    rv: Review,
    new: ReviewState,
    kind: str,
    what: Line,
    *,
    stop: Sequence[str] = (),
    pause: Sequence[str] = (),
    resume: Sequence[str] = (),
    **data: Any,
) -> ReviewEvent:
    clocks = await rc.current_clocks(ctx.session, rv)
    for k in stop:
        rc.stop(rv, clocks[k], ctx.now, "cancelled" if new is ReviewState.CANCELLED else "met")
    for k in pause:
        rc.pause(rv, clocks[k], ctx.now)
    for k in resume:
        rc.resume(rv, clocks[k], ctx.now)
    rv.state = new
    event = await record(ctx, rv, kind, **data)
    await publish(ctx, rv, event, what)
    return event


def _done(rv: Review, text: str) -> Message:
    return Message(lines=(line(f"#{rv.id} {text}."),), tone="success")


async def _tell(
    ctx: Context, rv: Review, event: ReviewEvent, person: Person | None, title: str, *lines: Line
) -> None:
    """Write to one person about an event on a review, once per event (not about their own acts)."""
    if person is not None and person.id != ctx.actor.id:
        await ctx.notify(
            f"review:{rv.id}:e{event.id}:@{person.handle}",
            Message(title=title, lines=lines),
            to=person,
        )


def _take(ctx: Context, rv: Review) -> None:
    # Whoever acts for the reviewing org on an unassigned review becomes its reviewer
    # (never the requester: nobody reviews their own request).
    me = ctx.actor
    if rv.reviewer_id is None and me.org_id == rv.reviewing_org_id and me.id != rv.requester_id:
        rv.reviewer_id = ctx.actor.id
        rv.reviewer = ctx.actor


@review.command("ack", _ID, who=Who(Relation.REVIEWING_SIDE, "id", "acknowledge"))
async def ack(ctx: Context, args: dict[str, Any]) -> Message:
    """Acknowledge a review request: the acknowledge clock stops."""
    rv: Review = args["id"]
    if rv.state is not ReviewState.REQUESTED and rv.state in OPEN:
        raise CommandError(f"#{rv.id} is already acknowledged.")
    _require_state(rv, (ReviewState.REQUESTED,), "acknowledged")
    _take(ctx, rv)
    me = mention(ctx.ref(ctx.actor))
    await _transition(
        ctx, rv, ReviewState.ACKNOWLEDGED, "acknowledged", line(me, " acknowledged."), stop=("ack",)
    )
    return _done(rv, "acknowledged")


@review.command("start", _ID, who=Who(Relation.REVIEWING_SIDE, "id", "start"))
async def start(ctx: Context, args: dict[str, Any]) -> Message:
    """Start reviewing (acknowledges too, if that was still open)."""
    rv: Review = args["id"]
    if rv.state is ReviewState.IN_REVIEW:
        raise CommandError(f"#{rv.id} is already in review.")
    _require_state(rv, (ReviewState.REQUESTED, ReviewState.ACKNOWLEDGED), "started")
    _take(ctx, rv)
    me = mention(ctx.ref(ctx.actor))
    await _transition(
        ctx, rv, ReviewState.IN_REVIEW, "started", line(me, " started reviewing."), stop=("ack",)
    )
    return _done(rv, "is in review")


@review.command(
    "changes",
    _ID,
    Param("note", Kind.TEXT, "What needs changing", False, max_length=500),
    who=Who(Relation.REVIEWING_SIDE, "id", "request changes on"),
)
async def changes(ctx: Context, args: dict[str, Any]) -> Message:
    """Ask the requester for changes: the resolve clock pauses until they push them."""
    rv: Review = args["id"]
    if rv.state is ReviewState.CHANGES_REQUESTED:
        raise CommandError(f"#{rv.id} is already waiting for changes.")
    _require_state(
        rv,
        (ReviewState.REQUESTED, ReviewState.ACKNOWLEDGED, ReviewState.IN_REVIEW),
        "sent back for changes",
    )
    _take(ctx, rv)
    note: str | None = args["note"]
    what = line(
        mention(ctx.ref(ctx.actor)), " requested changes", *((": ", note) if note else ()), "."
    )
    event = await _transition(
        ctx,
        rv,
        ReviewState.CHANGES_REQUESTED,
        "changes",
        what,
        stop=("ack",),
        pause=("resolve",),
        note=note,
    )
    await _tell(
        ctx,
        rv,
        event,
        rv.requester,
        f"Changes requested on #{rv.id}",
        what,
        line("When they are pushed: ", code(f"/review resume {rv.id}")),
    )
    return _done(rv, "is waiting for changes; its resolve clock is paused")


@review.command("resume", _ID, who=Who(Relation.REQUESTING_SIDE, "id", "resume"))
async def resume(ctx: Context, args: dict[str, Any]) -> Message:
    """Say the requested changes are pushed: the resolve clock runs again."""
    rv: Review = args["id"]
    _require_state(rv, (ReviewState.CHANGES_REQUESTED,), "resumed")
    what = line(mention(ctx.ref(ctx.actor)), " pushed the changes; the clock runs again.")
    event = await _transition(ctx, rv, ReviewState.IN_REVIEW, "resumed", what, resume=("resolve",))
    await _tell(ctx, rv, event, rv.reviewer, f"#{rv.id} is ready again", what)
    return _done(rv, "is back in review; its resolve clock runs again")


@review.command("approve", _ID, who=Who(Relation.REVIEWING_SIDE, "id", "approve"))
async def approve(ctx: Context, args: dict[str, Any]) -> Message:
    """Approve the change: every clock stops; the review is done."""
    rv: Review = args["id"]
    _require_state(rv, OPEN, "approved")
    _take(ctx, rv)
    what = line(mention(ctx.ref(ctx.actor)), " approved.")
    event = await _transition(ctx, rv, ReviewState.APPROVED, "approved", what, stop=rc.CLOCKS)
    approved = line(Link(rv.title, rv.link), " was approved by ", mention(ctx.ref(ctx.actor)), ".")
    await _tell(ctx, rv, event, rv.requester, f"#{rv.id} approved", approved)
    return _done(rv, "is approved")


@review.command("cancel", _ID, who=Who(Relation.REQUESTER_OR_LEAD, "id", "cancel"))
async def cancel(ctx: Context, args: dict[str, Any]) -> Message:
    """Withdraw a request (the requester, or a lead): every clock stops."""
    rv: Review = args["id"]
    _require_state(rv, OPEN, "cancelled")
    what = line(mention(ctx.ref(ctx.actor)), " cancelled the request.")
    await _transition(ctx, rv, ReviewState.CANCELLED, "cancelled", what, stop=rc.CLOCKS)
    return _done(rv, "is cancelled")


@review.command(
    "reassign",
    _ID,
    Param("person", Kind.PERSON, "The new reviewer"),
    who=Who(Relation.REVIEWER_OR_REVIEWING_LEAD, "id", "reassign"),
)
async def reassign(ctx: Context, args: dict[str, Any]) -> Message:
    """Give the review to someone else in the reviewing org; the clocks keep running."""
    rv: Review = args["id"]
    person: Person = args["person"]
    _require_state(rv, OPEN, "reassigned")
    if person.org_id != rv.reviewing_org_id:
        raise CommandError(
            f"@{person.handle} is not in `{rv.reviewing_org.key}`, the org that reviews #{rv.id}."
        )
    if person.id == rv.reviewer_id:
        raise CommandError(f"@{person.handle} is already the reviewer of #{rv.id}.")
    if person.id == rv.requester_id:
        raise CommandError(
            f"@{person.handle} asked for #{rv.id}; choose someone else to review it."
        )
    old, me = rv.reviewer, ctx.actor
    rv.reviewer_id, rv.reviewer = person.id, person
    if person.id == me.id:
        what = line(mention(ctx.ref(me)), " took the review.")
    else:
        what = line(mention(ctx.ref(me)), " gave the review to ", mention(ctx.ref(person)), ".")
    event = await _transition(
        ctx,
        rv,
        rv.state,
        "reassigned",
        what,
        previous=old.handle if old else None,
        reviewer=person.handle,
    )
    await _tell(
        ctx, rv, event, person, f"Review #{rv.id} is yours", what, line(Link(rv.title, rv.link))
    )
    return _done(rv, f"is now @{person.handle}'s")


@review.command("reopen", _ID, who=Who(Relation.EITHER_SIDE, "id", "reopen"))
async def reopen(ctx: Context, args: dict[str, Any]) -> Message:
    """Reopen an approved or cancelled review: a new SLA cycle starts; earlier ones are kept."""
    rv: Review = args["id"]
    if rv.state in OPEN:
        raise CommandError(f"#{rv.id} is still open: it is {STATE_PHRASES[rv.state]}.")
    rv.cycle += 1
    rv.policy_snapshot = rc.snapshot(rv.policy)
    rv.state = ReviewState.REQUESTED
    rc.start_cycle(ctx.session, rv, ctx.now)
    await ctx.session.flush()
    event = await record(ctx, rv, "reopened")
    what = line(mention(ctx.ref(ctx.actor)), f" reopened it: cycle {rv.cycle} starts.")
    await publish(ctx, rv, event, what)
    await _tell(ctx, rv, event, rv.reviewer, f"Review #{rv.id} is open again", what)
    return _done(rv, f"is reopened (cycle {rv.cycle})")


# --- reading -------------------------------------------------------------------------------------


@review.command(
    "list",
    Param(
        "filter",
        Kind.CHOICE,
        "Which reviews",
        False,
        choices=("open", "mine", "breached", "waiting"),
    ),
    Param("org", Kind.ORG, "Only those this org reviews", False, keyword=True),
)
async def list_reviews(ctx: Context, args: dict[str, Any]) -> Message:
    """List reviews, most urgent first: open (default), mine, breached, or waiting for changes."""
    which = args["filter"] or "open"
    query = select(Review).where(Review.state.in_(OPEN))
    if which == "mine":
        query = query.where(
            or_(Review.reviewer_id == ctx.actor.id, Review.requester_id == ctx.actor.id)
        )
    if which == "waiting":
        query = query.where(Review.state == ReviewState.CHANGES_REQUESTED)
    if args["org"] is not None:
        query = query.where(Review.reviewing_org_id == args["org"].id)
    rows = await ranked(ctx.session, query, ctx.now)
    if which == "breached":
        rows = [r for r in rows if r.breached(ctx.now)]
    if not rows:
        org = f" for `{args['org'].key}` to review" if args["org"] is not None else ""
        return Message(lines=(line(_NONE[which].removesuffix(".") + org + "."),))
    lines = [
        summary_line(r, mention(ctx.ref(r.review.reviewer)) if r.review.reviewer else None, ctx.now)
        for r in rows
    ]
    return Message(title=f"Reviews: {which} ({len(rows)})", lines=tuple(lines))


_NONE = {
    "open": "No reviews are open.",
    "mine": "None of your reviews are open.",
    "breached": "No open review is past its SLA.",
    "waiting": "No review is waiting for changes.",
}
_EVENT_TEXT = {
    "requested": "requested",
    "acknowledged": "acknowledged",
    "started": "started reviewing",
    "changes": "requested changes",
    "resumed": "pushed changes",
    "approved": "approved",
    "cancelled": "cancelled",
    "reassigned": "reassigned",
    "reopened": "reopened",
}


@review.command("show", _ID)
async def show(ctx: Context, args: dict[str, Any]) -> Message:
    """Show a review: each clock (business time elapsed, left, due) and its whole timeline."""
    rv: Review = args["id"]
    clocks = await rc.current_clocks(ctx.session, rv)
    fields = [
        Field("Requested by", line(mention(ctx.ref(rv.requester)), f" → {rv.reviewing_org.name}")),
        Field(
            "Reviewer",
            line(mention(ctx.ref(rv.reviewer))) if rv.reviewer else line(italic("unassigned")),
        ),
        Field("State", line(bold(STATE_LABELS[rv.state]))),
        Field("Policy", line(f"{rv.policy_snapshot['name']} ({rv.policy_snapshot['calendar']})")),
    ]
    for kind in rc.CLOCKS:
        if kind not in clocks:
            continue
        v = rc.view(rv, clocks[kind], ctx.now)
        spent = f"{v.status}: {format_duration(v.elapsed)} elapsed of {format_duration(v.target)}"
        if v.status == "running" and v.due is not None:
            spent += f", {left_text(v.remaining, v.due, ctx.now)}, due {ctx.when(v.due)}"
        elif v.status == "paused" and v.remaining >= timedelta(seconds=1):
            spent += f", {format_duration(v.remaining)} left"
        fields.append(Field(v.label, line(spent), inline=False))
    events = (
        (
            await ctx.session.scalars(
                select(ReviewEvent)
                .where(ReviewEvent.review_id == rv.id)
                .order_by(ReviewEvent.at, ReviewEvent.id)
            )
        )
        .unique()
        .all()
    )
    timeline: list[Line] = [line(Link(rv.title, rv.link))]
    for ev in events:
        actor = mention(ctx.ref(ev.actor)) if ev.actor else bold("Liaison")
        if ev.kind == "sla":
            text = f"{ev.data.get('clock')} {ev.data.get('stage')}" + (
                " (sent late)" if ev.data.get("late") else ""
            )
        else:
            text = _EVENT_TEXT.get(ev.kind, ev.kind)
            if ev.data.get("note"):
                text += f": {ev.data['note']}"
            if ev.kind == "reassigned":
                text += f" to @{ev.data.get('reviewer')}"
        timeline.append(line(f"{ctx.when(ev.at)} · c{ev.cycle} · ", actor, " ", text))
    return Message(title=f"Review #{rv.id}", lines=tuple(timeline), fields=tuple(fields))


# --- /sla ----------------------------------------------------------------------------------------


def _describe_levels(escalation: Sequence[dict[str, Any]]) -> str:
    parts = []
    for n, level in enumerate(escalation, start=1):
        after = timedelta(seconds=level["after_seconds"])
        when = "at breach" if not after else f"breach + {format_duration(after)}"
        text = f"{StageName.escalation(n)} {when} → {', '.join(level['notify'])}"
        if level.get("repeat"):
            every = format_duration(timedelta(seconds=level["repeat"]["every_seconds"]))
            text += f", repeated every {every} up to {level['repeat']['times']} times"
        parts.append(text)
    return "; ".join(parts) or "no escalation levels (the reviewer hears of the breach)"


@sla.command("policies")
async def policies(ctx: Context, args: dict[str, Any]) -> Message:
    """List the SLA policies: targets, calendar, warning and escalation levels."""
    rows = (
        await ctx.session.scalars(
            select(SlaPolicy).where(SlaPolicy.retired.is_(False)).order_by(SlaPolicy.name)
        )
    ).all()
    if not rows:
        return Message(lines=(line("No SLA policies are configured."),))
    fields = []
    for p in rows:
        calendar = "business hours of the reviewing org" if p.calendar == "business" else "24x7"
        fields.append(
            Field(
                p.name + (" (default)" if p.is_default else ""),
                line(
                    f"acknowledge {format_duration(timedelta(seconds=p.acknowledge_seconds))}, "
                    f"resolve {format_duration(timedelta(seconds=p.resolve_seconds))} "
                    f"({calendar}); warn at {round(p.warn_at * 100)}%; "
                    + _describe_levels(p.escalation)
                ),
                inline=False,
            )
        )
    return Message(title="SLA policies", fields=tuple(fields))


@sla.command(
    "report", Param("weeks", Kind.INT, "How many weeks back (default 4)", False, keyword=True)
)
async def report(ctx: Context, args: dict[str, Any]) -> Message:
    """SLA compliance per reviewing org and policy: requests, % in time, median and p90, breaches.

    Counts review cycles started in the last N weeks (a reopened review counts again). A clock
    is within target when it was met (acknowledged, approved) without breaching; a breached
    clock counts against, even if the request was cancelled later; a request cancelled in time
    counts in neither. Times are business time.
    """
    weeks = 4 if args["weeks"] is None else args["weeks"]
    if not 1 <= weeks <= 104:
        raise CommandError("weeks= must be between 1 and 104.")
    tallies = await compliance.tally(
        ctx.session,
        since=ctx.now - timedelta(weeks=weeks),
        now=ctx.now,
        by=lambda rv: (rv.reviewing_org.key, rv.policy.name),
    )
    if not tallies:
        return Message(lines=(line(f"No review requests in the last {weeks} weeks."),))
    fields = [
        Field(
            f"{org} · {policy}",
            line(
                bold(f"{len(t.cycles)} request" + ("" if len(t.cycles) == 1 else "s")),
                f"; acknowledge: {figures(t, 'ack')}; resolve: {figures(t, 'resolve')}; "
                f"breaches: {t.breaches}",
            ),
            inline=False,
        )
        for (org, policy), t in sorted(tallies.items())
    ]
    return Message(title=f"SLA report, last {weeks} weeks", fields=tuple(fields))
