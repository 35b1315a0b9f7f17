"""The SLA engine's firing side: every stage that has fallen due is announced once, in order.

Each running clock stores when its next stage falls due; `fire_due` takes the clocks whose
instant has passed (earliest first, locked so replicas share the work), writes the notifications
to the outbox with idempotency keys, advances the stage and stores the next instant. A stage
that fell due while the bot was down is announced on the next run, marked late.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from typing import assert_never
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.grammar import format_duration
from commands.core.lookup import area_key
from commands.core.messages import Line, Link, Message, bold, code, line, mention
from commands.core.notifier import Notifier, Postbox, person_ref
from commands.ownership import map as ownership
from commands.reviews import away
from commands.reviews import clocks as rc
from commands.reviews.card import REVIEW_AREA, card, card_key
from commands.reviews.cover import route
from commands.reviews.rules import BREACH, WARN, ChannelTarget, NotifyTarget, Stage, Target
from storage.models import Area, Person, Review, ReviewClock, ReviewEvent, Role

# Within this much of its due instant a stage counts as on time; later ones say they are late.
LATE_AFTER = timedelta(seconds=60)


async def next_deadline(session: AsyncSession) -> datetime | None:
    """The earliest instant any running clock needs attention (an index lookup), or a time
    away begins or ends with its work for reviews not yet done."""
    clocks = await session.scalar(select(func.min(ReviewClock.next_at)))
    moment = await away.next_moment(session)
    return min((t for t in (clocks, moment) if t is not None), default=None)


async def fire_due(
    postbox: Postbox,
    now: datetime,
    *,
    batch: int = 200,
) -> int:
    """Announce every stage due at `now`; return how many stages fired."""
    fired = 0
    while True:
        async with postbox.transaction(now) as notifier:
            session = notifier.session
            clocks = (
                (
                    await session.scalars(
                        select(ReviewClock)
                        .where(ReviewClock.next_at <= now)
                        .order_by(ReviewClock.next_at, ReviewClock.id)
                        .limit(batch)
                        # Replicas skip each other's rows instead of firing them twice.
                        .with_for_update(skip_locked=True, of=ReviewClock)
                    )
                )
                .unique()
                .all()
            )
            # Reviews move to whoever covers an away reviewer before their stages are told.
            moments = await away.due_moments(notifier)
            if not clocks:
                return fired + moments
            for clock in clocks:
                fired += await _fire(notifier, clock)


async def _fire(notifier: Notifier, clock: ReviewClock) -> int:
    now = notifier.now
    review = clock.review
    all_stages = rc.stages_of(review, clock)
    calendar = rc.calendar_of(review)
    state = rc.state_of(clock)
    fired = 0
    while clock.next_stage < len(all_stages):
        stage = all_stages[clock.next_stage]
        due = state.instant_of(calendar, stage.offset)
        if due is None or due > now:
            break
        if stage.step == BREACH:
            clock.breached_at = due
        clock.next_stage += 1
        await _announce(notifier, review, clock, stage, due)
        fired += 1
    rc.reschedule(review, clock)
    return fired


async def _leads(session: AsyncSession, org_id: int | None) -> list[Person]:
    if org_id is None:
        return []
    rows = await session.scalars(
        select(Person)
        .where(Person.org_id == org_id, Person.role == Role.LEAD)
        .order_by(Person.handle)
    )
    return list(rows.unique())


async def recipients(
    session: AsyncSession,
    review: Review,
    targets: Sequence[Target],
    at: datetime,
    what: str = "escalation",
) -> tuple[list[Person], list[str]]:
    """The people (each once) and channels a stage's notify list names for this review at `at`:
    whoever covers a person who is away stands in for them (`cover.route`)."""
    people: dict[int, Person] = {}
    channels: list[str] = []

    def add(*found: Person | None) -> None:
        for person in found:
            if person is not None:
                people.setdefault(person.id, person)

    for target in targets:
        match target:
            case NotifyTarget.REVIEWER:
                # Nobody assigned yet: the reviewing org's leads stand in.
                add(
                    *(
                        [review.reviewer]
                        if review.reviewer
                        else await _leads(session, review.reviewing_org_id)
                    )
                )
            case NotifyTarget.REQUESTER:
                add(review.requester)
            case NotifyTarget.AREA_BACKUP:
                key = area_key(REVIEW_AREA)
                area = await session.scalar(select(Area).where(Area.name_key == key))
                if area is not None and area.org_id == review.reviewing_org_id:
                    # During a hand-off of the area both its DRIs hear it too (each once).
                    add(area.backup, *ownership.shadowing(area))
            case NotifyTarget.REVIEWING_ORG_LEADS:
                add(*await _leads(session, review.reviewing_org_id))
            case NotifyTarget.REQUESTING_ORG_LEADS:
                add(*await _leads(session, review.requester.org_id))
            case ChannelTarget(name=name):
                if name not in channels:
                    channels.append(name)
            case _:
                assert_never(target)
    routed, _ = await route(session, review, list(people.values()), at, what)
    return routed, channels


def _when(at: datetime, review: Review) -> str:
    return at.astimezone(ZoneInfo(review.reviewing_org.timezone)).strftime("%a %H:%M %Z")


def _message(
    review: Review, clock: ReviewClock, stage: Stage, due: datetime, now: datetime, late: bool
) -> Message:
    label = rc.LABELS[clock.kind].lower()
    target = timedelta(seconds=clock.target_seconds)
    subject: Line = line(bold(f"#{review.id}"), " ", Link(review.title, review.link))
    verb = "acknowledge" if clock.kind == "ack" else "finish reviewing"
    command = f"/review {'ack' if clock.kind == 'ack' else 'approve'} {review.id}"
    lines: tuple[Line, ...]
    if stage.step == WARN:
        calendar = rc.calendar_of(review)
        # The deadline is where the clock reaches its target, on the clock's own calendar.
        deadline = rc.state_of(clock).instant_of(calendar, target) or due
        left = target - rc.state_of(clock).elapsed_at(calendar, now)
        kind = " of business time" if rc.policy_of(review).calendar == "business" else ""
        if left > timedelta(0):
            when = f"by {_when(deadline, review)} ({format_duration(left)}{kind} left)"
        else:
            when = f"now: its deadline, {_when(deadline, review)}, has passed"
        lines = (subject, line(f"Please {verb} it {when}."), line(code(command)))
        title = f"Review #{review.id}: {label} SLA due soon"
    elif stage.step == BREACH:
        lines = (
            subject,
            line(
                f"The {label} SLA ({format_duration(target)}) was breached at {_when(due, review)}."
            ),
        )
        title = f"Review #{review.id}: {label} SLA breached"
    else:
        level = stage.step.level
        repeat = " (reminder)" if stage.step.repeat else ""
        reviewer = (
            line("Reviewer: ", mention(person_ref(review.reviewer)))
            if review.reviewer
            else line("No reviewer is assigned.")
        )
        lines = (
            subject,
            line(f"The {label} SLA was breached; this is escalation level {level}{repeat}."),
            reviewer,
            line("Requested by ", mention(person_ref(review.requester)), "."),
        )
        title = f"Review #{review.id}: {label} SLA escalation, level {level}{repeat}"
    footer = f"Sent late: this was due {_when(due, review)}." if late else ""
    return Message(
        title=title, lines=lines, footer=footer, tone="warning" if stage.step == WARN else "error"
    )


async def _announce(
    notifier: Notifier,
    review: Review,
    clock: ReviewClock,
    stage: Stage,
    due: datetime,
) -> None:
    session, now = notifier.session, notifier.now
    late = now - due > LATE_AFTER
    key = f"review:{review.id}:c{clock.cycle}:{clock.kind}:{stage.name}"
    event = ReviewEvent(
        review_id=review.id,
        cycle=clock.cycle,
        at=due,
        actor_id=None,
        kind="sla",
        data={"clock": rc.LABELS[clock.kind].lower(), "stage": stage.name, "late": late},
    )
    session.add(event)
    message = _message(review, clock, stage, due, now, late)

    def send(
        suffix: str,
        msg: Message,
        *,
        to: Person | str | None = None,
        edit_of: str | None = None,
        thread_of: str | None = None,
    ) -> Awaitable[bool]:
        return notifier.notify(
            key + suffix, msg, to=to, edit_of=edit_of, thread_of=thread_of, late=late
        )

    what = f"{rc.LABELS[clock.kind].lower()} {stage.name}"
    people, channels = await recipients(session, review, stage.notify, now, what)
    if stage.step == BREACH:
        clocks = await rc.current_clocks(session, review)
        await send(
            ":card",
            card(review, clocks, now, person_ref),
            edit_of=card_key(review.id),
        )
        await send("", Message(lines=message.lines[1:]), thread_of=card_key(review.id))
    elif stage.step != WARN:
        names = [f"@{p.handle}" for p in people] + [f"#{c}" for c in channels]
        await send(
            "",
            Message(
                lines=(
                    line(
                        f"{rc.LABELS[clock.kind]} SLA escalated ({stage.name}) to "
                        f"{', '.join(names) or 'nobody'}."
                    ),
                )
            ),
            thread_of=card_key(review.id),
        )
    for person in people:
        await notifier.notify(
            f"{key}:@{person.handle}", message, to=person, late=late, urgent=rc.is_urgent(review)
        )
    for name in channels:
        await send(f":#{name}", message, to=name)
