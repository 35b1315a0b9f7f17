"""What each step of a review does: its state, its clocks, its timeline, its card and thread.

One way to do each thing, whoever asks for it: the /review handlers call these after checking
who may, and GitHub's events call them when a pull request moves. Nothing here checks
permissions or refuses: the caller decided the step applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.context import Context
from commands.core.messages import Line, Link, Message, Span, bold, code, line, mention
from commands.core.notifier import Wake
from commands.ownership import map as ownership
from commands.reviews import clocks as rc
from commands.reviews.card import OPEN, card, card_key, covering_line
from commands.reviews.cover import cover_review, route
from commands.reviews.targets import code_review_area
from storage.models import Org, Person, Review, ReviewEvent, ReviewState, SlaPolicy


@dataclass(frozen=True)
class Via:
    """Where a step came from when nobody typed it: what happened on GitHub, with its link."""

    # What happened there, in a few words ("review", "new commits", "pull request merged").
    what: str
    url: str
    # Found by reading GitHub's state back, because the webhook never arrived.
    reconciled: bool = False

    def data(self) -> dict[str, Any]:
        """The timeline's record of it."""
        return {"via": self.what, "url": self.url, "reconciled": self.reconciled}

    def spans(self) -> tuple[Span | str, ...]:
        """ " (review on GitHub, found by reconciliation)", the link on its words."""
        found = ", found by reconciliation" if self.reconciled else ""
        return (" (", Link(f"{self.what} on GitHub", self.url), f"{found})")


def _said(ctx: Context, text: str, via: Via | None, *rest: Span | str) -> Line:
    """ "@dave approved (review on GitHub).": the actor, what they did, where it happened."""
    return line(mention(ctx.ref(ctx.actor)), text, *rest, *(via.spans() if via else ()), ".")


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


async def publish(ctx: Context, rv: Review, event: ReviewEvent, what: Line) -> None:
    """Redraw the card in place and add a line to its thread, once per event."""
    clocks = await rc.current_clocks(ctx.session, rv)
    fresh = card(rv, clocks, ctx.now, ctx.ref)
    await ctx.notify(f"{card_key(rv.id)}:e{event.id}", fresh, edit_of=card_key(rv.id))
    await ctx.notify(
        f"review:{rv.id}:thread:e{event.id}", Message(lines=(what,)), thread_of=card_key(rv.id)
    )


async def tell(
    ctx: Context,
    rv: Review,
    event: ReviewEvent,
    person: Person | None,
    title: str,
    *lines: Line,
    act: bool = True,
) -> None:
    """Write to one person about an event on a review, once per event (not about their own acts).

    `act=False`: the news asks nothing of them (their review was approved).
    """
    if person is not None and person.id != ctx.actor.id:
        await ctx.notify(
            f"review:{rv.id}:e{event.id}:@{person.handle}",
            Message(title=title, lines=lines),
            to=person,
            act=act,
            urgent=rc.is_urgent(rv),
        )


def in_org(person: Person, org_id: int | None) -> bool:
    """Whether a person belongs to the org with this id."""
    return org_id is not None and person.org_id == org_id


def _take(ctx: Context, rv: Review) -> None:
    # Whoever acts for the reviewing org on an unassigned review becomes its reviewer
    # (never the requester: nobody reviews their own request).
    me = ctx.actor
    if rv.reviewer_id is None and in_org(me, rv.reviewing_org_id) and me.id != rv.requester_id:
        rv.reviewer_id = ctx.actor.id
        rv.reviewer = ctx.actor


async def _transition(
    ctx: Context,
    rv: Review,
    new: ReviewState,
    kind: str,
    what: Line,
    via: Via | None,
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
    event = await record(ctx, rv, kind, **data, **(via.data() if via else {}))
    await publish(ctx, rv, event, what)
    return event


async def default_policy(session: AsyncSession) -> SlaPolicy | None:
    """The policy a review gets when nobody names one."""
    return await session.scalar(
        select(SlaPolicy).where(SlaPolicy.is_default, SlaPolicy.retired.is_(False))
    )


async def area_dri(session: AsyncSession, org: Org) -> Person | None:
    """Who reviews for an org by default: the DRI of its "code review" area, if it has one."""
    area = await code_review_area(session)
    if area is not None and area.org_id == org.id and area.dri is not None:
        return area.dri
    return None


# --- the steps -----------------------------------------------------------------------------------


async def open_review(
    ctx: Context,
    *,
    link: str,
    title: str,
    org: Org,
    policy: SlaPolicy,
    reviewer: Person | None,
    via: Via | None = None,
) -> tuple[Review, dict[str, Any]]:
    """Open a review the actor asks for: its clocks start, the card is posted, the reviewer told.

    A reviewer who is away is covered: the review goes to whoever covers them, and the card
    says so. Returns the review and its clocks by kind.
    """
    rv = Review(
        link=link,
        title=title,
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
    covering: Line | None = None
    if reviewer is not None:
        _, covers = await route(ctx.session, rv, [reviewer], ctx.now, "review request")
        if covers and covers[0].away is not None:
            cover_review(rv, covers[0])
            covering = covering_line(reviewer, covers[0].by, covers[0].away.ends_at, ctx.ref)
            reviewer = covers[0].by
    clocks = {c.kind: c for c in rc.start_cycle(ctx.session, rv, ctx.now)}
    await ctx.session.flush()
    await record(ctx, rv, "requested", policy=policy.name, **(via.data() if via else {}))
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
                    *((covering,) if covering else ()),
                    line("Acknowledge with ", code(f"/review ack {rv.id}"), "."),
                ),
            ),
            to=reviewer,
            urgent=rc.is_urgent(rv),
        )
    await _tell_shadowing(ctx, rv, org, reviewer)
    return rv, clocks


async def _tell_shadowing(ctx: Context, rv: Review, org: Org, reviewer: Person | None) -> None:
    """While the code review area is being handed over, both its DRIs hear of a new request."""
    area = await code_review_area(ctx.session)
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
            act=False,
        )


async def acknowledge(ctx: Context, rv: Review, via: Via | None = None) -> ReviewEvent:
    """The reviewing side has seen the request: the acknowledge clock stops."""
    _take(ctx, rv)
    what = _said(ctx, " acknowledged", via)
    return await _transition(
        ctx, rv, ReviewState.ACKNOWLEDGED, "acknowledged", what, via, stop=("ack",)
    )


async def start(ctx: Context, rv: Review) -> ReviewEvent:
    """The reviewing side is reviewing (acknowledged too, if that was still open)."""
    _take(ctx, rv)
    what = _said(ctx, " started reviewing", None)
    return await _transition(ctx, rv, ReviewState.IN_REVIEW, "started", what, None, stop=("ack",))


async def request_changes(
    ctx: Context, rv: Review, note: str | None, via: Via | None = None
) -> ReviewEvent:
    """Changes are asked for: the resolve clock pauses until the requester pushes them."""
    _take(ctx, rv)
    what = _said(ctx, " requested changes", via, *((": ", note) if note else ()))
    event = await _transition(
        ctx,
        rv,
        ReviewState.CHANGES_REQUESTED,
        "changes",
        what,
        via,
        stop=("ack",),
        pause=("resolve",),
        note=note,
    )
    hint = (
        line("New commits on the pull request restart the clock.")
        if via
        else line("When they are pushed: ", code(f"/review resume {rv.id}"))
    )
    await tell(ctx, rv, event, rv.requester, f"Changes requested on #{rv.id}", what, hint)
    return event


async def resume(
    ctx: Context, rv: Review, via: Via | None = None, *, text: str = " pushed the changes"
) -> ReviewEvent:
    """The requested changes are in: the resolve clock runs again."""
    what = _said(ctx, text, via, "; the clock runs again")
    event = await _transition(
        ctx, rv, ReviewState.IN_REVIEW, "resumed", what, via, resume=("resolve",)
    )
    await tell(ctx, rv, event, rv.reviewer, f"#{rv.id} is ready again", what)
    return event


async def approve(ctx: Context, rv: Review, via: Via | None = None) -> ReviewEvent:
    """The change is approved: every clock stops; the review is done."""
    _take(ctx, rv)
    what = _said(ctx, " approved", via)
    event = await _transition(ctx, rv, ReviewState.APPROVED, "approved", what, via, stop=rc.CLOCKS)
    approved = line(Link(rv.title, rv.link), " was approved by ", mention(ctx.ref(ctx.actor)), ".")
    await tell(ctx, rv, event, rv.requester, f"#{rv.id} approved", approved, act=False)
    return event


async def cancel(
    ctx: Context, rv: Review, reason: str | None = None, via: Via | None = None
) -> ReviewEvent:
    """The request is withdrawn (or its pull request closed): every clock stops."""
    text = f" cancelled the request: {reason}" if reason else " cancelled the request"
    what = _said(ctx, text, via)
    return await _transition(
        ctx, rv, ReviewState.CANCELLED, "cancelled", what, via, stop=rc.CLOCKS, note=reason
    )


async def pause(ctx: Context, rv: Review, reason: str, via: Via | None = None) -> ReviewEvent:
    """The work is on hold (a draft again): every running clock pauses, the state is kept."""
    what = _said(ctx, f" paused the review: {reason}", via)
    return await _transition(
        ctx,
        rv,
        ReviewState.PAUSED,
        "paused",
        what,
        via,
        pause=rc.CLOCKS,
        note=reason,
        previous=rv.state.value,
    )


async def unpause(ctx: Context, rv: Review, reason: str, via: Via | None = None) -> ReviewEvent:
    """The hold is over: the clocks paused by `pause` run again, in the state it kept."""
    last = await _last(ctx, rv, "paused")
    previous = ReviewState((last.data if last else {}).get("previous", ReviewState.REQUESTED))
    # Changes requested keep the resolve clock paused: only new commits restart it.
    clocks = ("ack",) if previous is ReviewState.CHANGES_REQUESTED else rc.CLOCKS
    what = _said(ctx, f" resumed the review: {reason}", via)
    return await _transition(ctx, rv, previous, "unpaused", what, via, resume=clocks, note=reason)


async def note(
    ctx: Context, rv: Review, kind: str, text: str, via: Via | None = None
) -> ReviewEvent:
    """Something happened that changes no clock (a merge after approval): timeline and thread."""
    what = _said(ctx, text, via)
    return await _transition(ctx, rv, rv.state, kind, what, via)


async def reassign(ctx: Context, rv: Review, person: Person) -> ReviewEvent:
    """Give the review to someone else in the reviewing org; the clocks keep running."""
    old = rv.reviewer
    rv.reviewer_id, rv.reviewer = person.id, person
    me = ctx.actor
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
        None,
        previous=old.handle if old else None,
        reviewer=person.handle,
    )
    await tell(
        ctx, rv, event, person, f"Review #{rv.id} is yours", what, line(Link(rv.title, rv.link))
    )
    return event


async def reopen(ctx: Context, rv: Review, via: Via | None = None) -> ReviewEvent:
    """Open an approved or cancelled review again: a new SLA cycle starts; earlier ones stay."""
    rv.cycle += 1
    rv.policy_snapshot = rc.snapshot(rv.policy)
    rv.state = ReviewState.REQUESTED
    rc.start_cycle(ctx.session, rv, ctx.now)
    await ctx.session.flush()
    event = await record(ctx, rv, "reopened", **(via.data() if via else {}))
    what = _said(ctx, f" reopened it: cycle {rv.cycle} starts", via)
    await publish(ctx, rv, event, what)
    await tell(ctx, rv, event, rv.reviewer, f"Review #{rv.id} is open again", what)
    return event


def is_open(rv: Review) -> bool:
    """Whether the review still has clocks that can run."""
    return rv.state in OPEN


async def _last(ctx: Context, rv: Review, kind: str) -> ReviewEvent | None:
    return await ctx.session.scalar(
        select(ReviewEvent)
        .where(ReviewEvent.review_id == rv.id, ReviewEvent.kind == kind)
        .order_by(ReviewEvent.id.desc())
        .limit(1)
    )
