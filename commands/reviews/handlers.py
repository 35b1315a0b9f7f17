"""/review: code-review requests one org owes another, with SLA clocks, a card, and a timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from commands.core.context import CommandError, Context
from commands.core.grammar import format_duration
from commands.core.messages import (
    Field,
    Line,
    Link,
    Message,
    When,
    bold,
    code,
    italic,
    line,
    mention,
)
from commands.core.notifier import Wake
from commands.core.permissions import Relation, Who
from commands.core.presence import cover, zone_name
from commands.core.registry import Group, Kind, Param
from commands.github import pulls
from commands.reviews import clocks as rc
from commands.reviews import compliance, lifecycle, reminders
from commands.reviews.card import OPEN, STATE_LABELS, STATE_PHRASES, clock_line, left_text
from commands.reviews.compliance import figures
from commands.reviews.cover import area_backup
from commands.reviews.queries import IS_OPEN, PAGE, ranked, summary_line
from commands.reviews.rules import StageName
from storage.models import (
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
    policy = await lifecycle.default_policy(ctx.session)
    if policy is None:
        raise CommandError("No SLA policy is configured: an admin adds [[policies]] to the config.")
    return policy


@review.command(
    "request",
    Param("link", Kind.URL, "The pull request or diff to review (http/https)"),
    Param(
        "title",
        Kind.TEXT,
        "What it is, in a few words (for a GitHub pull request: its title, by default)",
        False,
        max_length=200,
    ),
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
    reviewer: Person | None = args["reviewer"] or await lifecycle.area_dri(ctx.session, org)
    if reviewer is not None and reviewer.org_id != org.id:
        raise CommandError(f"@{reviewer.handle} is not in `{org.key}`, the org that reviews.")
    ref = pulls.parse_url(args["link"])
    if ref is None and not args["title"]:
        raise CommandError("Give a title: only a GitHub pull request link brings its own.")
    # Until GitHub is read (with [github] token set), a pull request is named by its number.
    title = args["title"] or str(ref)
    rv, clocks = await lifecycle.open_review(
        ctx, link=args["link"], title=title, org=org, policy=policy, reviewer=reviewer
    )
    # A pull request an open review follows already stays with it; this one is by hand.
    if ref is not None and await _followed_by(ctx, ref) is None:
        await pulls.link(ctx.session, rv, ref, args["link"])
        if not args["title"]:
            ctx.notifier.changed(Wake.GITHUB)
    ack = rc.view(rv, clocks["ack"], ctx.now)
    who = line(" Reviewer: ", mention(ctx.ref(reviewer))) if reviewer else line(" No reviewer yet.")
    return Message(
        lines=(
            line(f"Review #{rv.id} requested from {org.name} under ", bold(policy.name), "."),
            line("Acknowledge ", *clock_line(ack, zone_name(ctx.actor), ctx.now), ".", *who),
        ),
        # The requester's copy: they nudge the reviewer from it (/review nudge).
        actions=(reminders.nudge_button(rv.id),),
        tone="success",
    )


async def _followed_by(ctx: Context, ref: pulls.PullRef) -> int | None:
    """The open review that follows this pull request, if one does."""
    row = await pulls.tracked(ctx.session, ref)
    return row.review_id if row is not None and row.review.state in OPEN else None


@review.command(
    "link",
    _ID,
    Param("pull", Kind.URL, "The pull request on GitHub (https://github.com/...)"),
    who=Who(Relation.EITHER_SIDE, "id", "link"),
)
async def link(ctx: Context, args: dict[str, Any]) -> Message:
    """Tie a review to its GitHub pull request: from then on, GitHub's events move it."""
    rv: Review = args["id"]
    ref = pulls.parse_url(args["pull"])
    if ref is None:
        raise CommandError(
            "That is not a GitHub pull request link, e.g. https://github.com/owner/name/pull/12."
        )
    other = await _followed_by(ctx, ref)
    if other is not None and other != rv.id:
        raise CommandError(f"{ref} is followed by review #{other} already.")
    await pulls.link(ctx.session, rv, ref, args["pull"])
    rv.link = args["pull"]
    event = await lifecycle.record(ctx, rv, "linked", url=args["pull"])
    what = line(mention(ctx.ref(ctx.actor)), " linked it to ", Link(str(ref), args["pull"]), ".")
    await lifecycle.publish(ctx, rv, event, what)
    ctx.notifier.changed(Wake.GITHUB)
    return _done(rv, f"follows {ref} now")


# --- the lifecycle -------------------------------------------------------------------------------


def _done(rv: Review, text: str) -> Message:
    return Message(lines=(line(f"#{rv.id} {text}."),), tone="success")


@review.command("ack", _ID, who=Who(Relation.REVIEWING_SIDE, "id", "acknowledge"))
async def ack(ctx: Context, args: dict[str, Any]) -> Message:
    """Acknowledge a review request: the acknowledge clock stops."""
    rv: Review = args["id"]
    if rv.state is not ReviewState.REQUESTED and rv.state in OPEN:
        raise CommandError(f"#{rv.id} is already acknowledged.")
    _require_state(rv, (ReviewState.REQUESTED,), "acknowledged")
    await lifecycle.acknowledge(ctx, rv)
    return _done(rv, "acknowledged")


@review.command("start", _ID, who=Who(Relation.REVIEWING_SIDE, "id", "start"))
async def start(ctx: Context, args: dict[str, Any]) -> Message:
    """Start reviewing (acknowledges too, if that was still open)."""
    rv: Review = args["id"]
    if rv.state is ReviewState.IN_REVIEW:
        raise CommandError(f"#{rv.id} is already in review.")
    _require_state(rv, (ReviewState.REQUESTED, ReviewState.ACKNOWLEDGED), "started")
    await lifecycle.start(ctx, rv)
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
    await lifecycle.request_changes(ctx, rv, args["note"])
    return _done(rv, "is waiting for changes; its resolve clock is paused")


@review.command("resume", _ID, who=Who(Relation.REQUESTING_SIDE, "id", "resume"))
async def resume(ctx: Context, args: dict[str, Any]) -> Message:
    """Say the requested changes are pushed: the resolve clock runs again."""
    rv: Review = args["id"]
    _require_state(rv, (ReviewState.CHANGES_REQUESTED,), "resumed")
    await lifecycle.resume(ctx, rv)
    return _done(rv, "is back in review; its resolve clock runs again")


@review.command("approve", _ID, who=Who(Relation.REVIEWING_SIDE, "id", "approve"))
async def approve(ctx: Context, args: dict[str, Any]) -> Message:
    """Approve the change: every clock stops; the review is done."""
    rv: Review = args["id"]
    _require_state(rv, OPEN, "approved")
    await lifecycle.approve(ctx, rv)
    return _done(rv, "is approved")


@review.command("cancel", _ID, who=Who(Relation.REQUESTER_OR_LEAD, "id", "cancel"))
async def cancel(ctx: Context, args: dict[str, Any]) -> Message:
    """Withdraw a request (the requester, or a lead): every clock stops."""
    rv: Review = args["id"]
    _require_state(rv, OPEN, "cancelled")
    await lifecycle.cancel(ctx, rv)
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
    found = await cover(ctx.session, person, ctx.now, fallback=await area_backup(ctx.session, rv))
    if found.away is not None:
        back = When(found.away.ends_at, zone_name(person), "date").text()
        instead = f" @{found.by.handle} covers for them." if found.routed else ""
        raise CommandError(
            f"@{person.handle} is away until {back}; choose someone who is there.{instead}"
        )
    await lifecycle.reassign(ctx, rv, person)
    return _done(rv, f"is now @{person.handle}'s")


@review.command("reopen", _ID, who=Who(Relation.EITHER_SIDE, "id", "reopen"))
async def reopen(ctx: Context, args: dict[str, Any]) -> Message:
    """Reopen an approved or cancelled review: a new SLA cycle starts; earlier ones are kept."""
    rv: Review = args["id"]
    if rv.state in OPEN:
        raise CommandError(f"#{rv.id} is still open: it is {STATE_PHRASES[rv.state]}.")
    await lifecycle.reopen(ctx, rv)
    return _done(rv, f"is reopened (cycle {rv.cycle})")


# --- reminders -----------------------------------------------------------------------------------


@review.command(
    "snooze",
    _ID,
    Param(
        "for",
        Kind.UNTIL,
        "A duration such as 1h or 90m (at most 7 days), or tomorrow (your next working day)",
    ),
)
async def snooze(ctx: Context, args: dict[str, Any]) -> Message:
    """Pause a review's reminders to you for a while; its SLA clock and escalation do not wait.

    What the review's stages send to others (the card, its thread, the leads) keeps its time;
    only your direct reminders of this review are left out until then. The Snooze buttons on
    a reminder run this command.
    """
    rv: Review = args["id"]
    until = await reminders.snooze(ctx, rv, args["for"])
    return Message(
        lines=(
            line(f"Reminders of #{rv.id} to you are paused until {ctx.when(until)}."),
            line("Its SLA clock keeps running, and escalation to others is not delayed."),
        ),
        tone="success",
    )


@review.command("nudge", _ID, who=Who(Relation.REQUESTING_SIDE, "id", "nudge the reviewer of"))
async def nudge(ctx: Context, args: dict[str, Any]) -> Message:
    """Ping the reviewer in your name (once per [reviews] nudge_every, 4 business hours by
    default); while nobody is assigned, the reviewing org's leads.

    The Nudge button on your copy of the request runs this command.
    """
    rv: Review = args["id"]
    pinged = await reminders.nudge(ctx, rv)
    allowed, rule = await reminders.next_nudge(ctx.session, rv)
    names = ", ".join(f"@{p.handle}" for p in pinged) or "nobody (no reviewer or lead to ask)"
    lines = [line(f"Nudged {names} about #{rv.id}.")]
    if allowed is not None:
        lines.append(line(f"The next nudge can go from {ctx.when(allowed)} ({rule})."))
    return Message(lines=tuple(lines), tone="success")


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
    Param("page", Kind.INT, f"Which page of {PAGE} (default 1)", False, keyword=True),
    read_only=True,
)
async def list_reviews(ctx: Context, args: dict[str, Any]) -> Message:
    """List reviews, most urgent first: open (default), mine, breached, or waiting for changes.

    A page shows the 20 most urgent and says how many more there are: page=2 shows the next.
    """
    which = args["filter"] or "open"
    where: list[ColumnElement[bool]] = [IS_OPEN]
    if which == "mine":
        where.append(or_(Review.reviewer_id == ctx.actor.id, Review.requester_id == ctx.actor.id))
    if which == "waiting":
        where.append(Review.state == ReviewState.CHANGES_REQUESTED)
    if args["org"] is not None:
        where.append(Review.reviewing_org_id == args["org"].id)
    page = 1 if args["page"] is None else args["page"]
    if page < 1:
        raise CommandError("Pages are counted from 1: ask for page=1, page=2, ...")
    ranking = await ranked(
        ctx.session, where, ctx.now, breached=which == "breached", first=(page - 1) * PAGE
    )
    if not ranking.total:
        org = f" for `{args['org'].key}` to review" if args["org"] is not None else ""
        return Message(lines=(line(_NONE[which].removesuffix(".") + org + "."),))
    pages = -(-ranking.total // PAGE)
    if page > pages:
        raise CommandError(
            f"There {'is' if pages == 1 else 'are'} {pages} page{'' if pages == 1 else 's'} of "
            f"{which} reviews: ask for page=1" + ("" if pages == 1 else f" to page={pages}") + "."
        )
    lines = [
        summary_line(r, mention(r.reviewer) if r.reviewer else None, ctx.now) for r in ranking.rows
    ]
    if ranking.after:
        filters = " ".join(
            part
            for part in (
                which,
                f"org={args['org'].key}" if args["org"] is not None else "",
                f"page={page + 1}",
            )
            if part
        )
        lines.append(line(italic(f"… and {ranking.after} more: "), code(f"/review list {filters}")))
    title = f"Reviews: {which} ({ranking.total})"
    if pages > 1:
        title += f", page {page} of {pages}"
    return Message(title=title, lines=tuple(lines))


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
    "paused": "paused",
    "unpaused": "resumed",
    "linked": "linked to GitHub",
    "merged": "merged the pull request",
    "closed": "closed the pull request",
    "retitled": "retitled it on GitHub",
    "snoozed": "snoozed their reminders",
    "nudged": "nudged the reviewer",
}


@review.command("show", _ID, read_only=True)
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
        spent = f"{v.status}: {v.say(v.elapsed)} elapsed of {v.say(v.target)}"
        if v.status == "running" and v.due is not None:
            spent += f", {left_text(v.remaining, v.due, ctx.now, v.say)}, due {ctx.when(v.due)}"
        elif v.status == "paused" and v.remaining >= timedelta(seconds=1):
            spent += f", {v.say(v.remaining)} left"
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
            if ev.kind == "snoozed" and ev.data.get("until"):
                text += f" until {ctx.when(datetime.fromisoformat(ev.data['until']))}"
        where: tuple[Link | str, ...] = ()
        if ev.data.get("url"):
            found = ", found by reconciliation" if ev.data.get("reconciled") else ""
            what = f"{ev.data['via']} on GitHub" if ev.data.get("via") else "on GitHub"
            where = (" (", Link(what, ev.data["url"]), f"{found})")
        timeline.append(line(f"{ctx.when(ev.at)} · c{ev.cycle} · ", actor, " ", text, *where))
    return Message(title=f"Review #{rv.id}", lines=tuple(timeline), fields=tuple(fields))


# --- /sla ----------------------------------------------------------------------------------------


def _as_written(seconds: int, text: str | None) -> str:
    """A policy's duration as configured ("2bd"), or in plain time for one kept before texts."""
    return text or format_duration(timedelta(seconds=seconds))


def _describe_levels(escalation: Sequence[dict[str, Any]]) -> str:
    parts = []
    for n, level in enumerate(escalation, start=1):
        after = _as_written(level["after_seconds"], level.get("after"))
        when = "at breach" if not level["after_seconds"] else f"breach + {after}"
        text = f"{StageName.escalation(n)} {when} → {', '.join(level['notify'])}"
        if level.get("broadcast"):
            text += " (also posted in the channel)"
        if level.get("repeat"):
            every = _as_written(level["repeat"]["every_seconds"], level["repeat"].get("every"))
            text += f", repeated every {every} up to {level['repeat']['times']} times"
        parts.append(text)
    return "; ".join(parts) or "no escalation levels (the reviewer hears of the breach)"


@sla.command("policies", read_only=True)
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
        written = p.written or {}
        ack = _as_written(p.acknowledge_seconds, written.get("acknowledge"))
        fields.append(
            Field(
                p.name + (" (default)" if p.is_default else ""),
                line(
                    f"acknowledge {ack}, "
                    f"resolve {_as_written(p.resolve_seconds, written.get('resolve'))} "
                    f"({calendar}); warn at {round(p.warn_at * 100)}%; "
                    + _describe_levels(p.escalation)
                ),
                inline=False,
            )
        )
    return Message(title="SLA policies", fields=tuple(fields))


@sla.command(
    "report",
    Param("weeks", Kind.INT, "How many weeks back (default 4)", False, keyword=True),
    read_only=True,
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
