"""The SLA engine's firing side: every stage that has fallen due is announced once, in order.

Each running clock stores when its next stage falls due; `fire_due` takes the clocks whose
instant has passed (earliest first, locked so replicas share the work), writes the notifications
to the outbox with idempotency keys, advances the stage and stores the next instant. A stage
that fell due while the bot was down is announced on the next run, marked late.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.grammar import format_in
from commands.core.messages import Line, Link, Message, bold, code, line, mention
from commands.core.notifier import Notifier, Postbox, person_ref
from commands.reviews import clocks as rc
from commands.reviews import reminders
from commands.reviews.card import card, card_key
from commands.reviews.rules import BREACH, WARN, Stage
from commands.reviews.targets import recipients
from storage.models import Person, Review, ReviewClock, ReviewEvent

# Within this much of its due instant a stage counts as on time; later ones say they are late.
LATE_AFTER = timedelta(seconds=60)


async def next_deadline(session: AsyncSession) -> datetime | None:
    """The earliest instant any running clock needs attention (an index lookup)."""
    return await session.scalar(select(func.min(ReviewClock.next_at)))


@dataclass(frozen=True)
class Fired:
    """One stage that fired: what kind ("warn", "breach", "level"), on which clock ("ack",
    "resolve"), and how long after its due instant it was sent."""

    kind: str
    clock: str
    lateness: timedelta


async def fire_due(
    postbox: Postbox,
    now: datetime,
    *,
    batch: int = 200,
    observe: Callable[[Sequence[Fired]], None] | None = None,
) -> int:
    """Announce every stage due at `now`; return how many stages fired.

    `observe` is told what fired, batch by batch, once each batch's transaction has committed.
    """
    fired = 0
    while True:
        done: list[Fired] = []
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
            if not clocks:
                return fired
            for clock in clocks:
                fired += await _fire(notifier, clock, done)
        if observe is not None:
            observe(done)


async def _fire(notifier: Notifier, clock: ReviewClock, done: list[Fired]) -> int:
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
        done.append(Fired(stage.step.kind.value, clock.kind, now - due))
        fired += 1
    rc.reschedule(review, clock)
    return fired


def _when(at: datetime, review: Review) -> str:
    return at.astimezone(ZoneInfo(review.reviewing_org.timezone)).strftime("%a %H:%M %Z")


def _message(
    review: Review, clock: ReviewClock, stage: Stage, due: datetime, now: datetime, late: bool
) -> Message:
    label = rc.LABELS[clock.kind].lower()
    target = timedelta(seconds=clock.target_seconds)
    policy = rc.policy_of(review)

    def say(value: timedelta) -> str:
        return format_in(value, policy.unit(clock.kind), rc.calendar_of(review).day_length)

    subject: Line = line(bold(f"#{review.id}"), " ", Link(review.title, review.link))
    verb = "acknowledge" if clock.kind == "ack" else "finish reviewing"
    command = f"/review {'ack' if clock.kind == 'ack' else 'approve'} {review.id}"
    lines: tuple[Line, ...]
    if stage.step == WARN:
        calendar = rc.calendar_of(review)
        # The deadline is where the clock reaches its target, on the clock's own calendar.
        deadline = rc.state_of(clock).instant_of(calendar, target) or due
        left = target - rc.state_of(clock).elapsed_at(calendar, now)
        unit = policy.unit(clock.kind)
        # "2 business days" says its kind of time; plain hours on a business calendar do not.
        kind = " of business time" if policy.calendar == "business" and not unit else ""
        if left > timedelta(0):
            when = f"by {_when(deadline, review)} ({say(left)}{kind} left)"
        else:
            when = f"now: its deadline, {_when(deadline, review)}, has passed"
        lines = (subject, line(f"Please {verb} it {when}."), line(code(command)))
        title = f"Review #{review.id}: {label} SLA due soon"
    elif stage.step == BREACH:
        lines = (
            subject,
            line(f"The {label} SLA ({say(target)}) was breached at {_when(due, review)}."),
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
        act: bool = True,
    ) -> Awaitable[bool]:
        return notifier.notify(
            key + suffix, msg, to=to, edit_of=edit_of, thread_of=thread_of, late=late, act=act
        )

    people, channels = await recipients(session, review, stage.notify)
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
    # A person who snoozed this review's reminders is left out until the snooze ends; the
    # stage itself (the card, its thread, everyone else) keeps its time.
    held = await reminders.snoozed(session, review, now)
    for person in people:
        if person.id not in held:
            mine = replace(message, actions=reminders.actions(review, person))
            # The requester waits on the review; everyone else named must do something.
            act = person.id != review.requester_id
            await send(f":@{person.handle}", mine, to=person, act=act)
    for name in channels:
        # The card's own channel heard of the level in the card's thread: a top-level post
        # there too only when the level says broadcast. Another channel has no thread of it.
        if name != notifier.postbox.channel or stage.broadcast:
            await send(f":#{name}", message, to=name)
