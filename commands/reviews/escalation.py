"""The SLA engine's firing side: every stage that has fallen due is announced once, in order.

Each running clock stores when its next stage falls due; `fire_due` takes the clocks whose
instant has passed (earliest first, locked so replicas share the work), writes the notifications
to the outbox with idempotency keys, advances the stage and stores the next instant. A stage
that fell due while the bot was down is announced on the next run, marked late.

A batch of clocks is fired set-wise: whom the stages name, the cards' clocks, the timeline
events and the outbox rows are each read or written once for the whole batch, so a thousand
stages due in the same second cost about as many statements as one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.grammar import format_in
from commands.core.messages import Line, Link, Message, When, bold, code, line, mention
from commands.core.notifier import Notice, Notifier, Postbox, person_ref
from commands.core.presence import away_among
from commands.reviews import away, reminders
from commands.reviews import clocks as rc
from commands.reviews.card import card, card_key
from commands.reviews.cover import route
from commands.reviews.rules import BREACH, WARN, Stage
from commands.reviews.targets import Audience
from storage.models import Person, Review, ReviewClock, ReviewEvent

# Within this much of its due instant a stage counts as on time; later ones say they are late.
LATE_AFTER = timedelta(seconds=60)
# Clocks fired per transaction: big enough that a thousand stages due at once take one or two
# round trips of a few statements, small enough that SQLite's write lock is not held for long.
BATCH = 500


@dataclass(frozen=True)
class Fired:
    """One stage that fired: what kind ("warn", "breach", "level"), on which clock ("ack",
    "resolve"), and how long after its due instant it was sent."""

    kind: str
    clock: str
    lateness: timedelta


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
    batch: int = BATCH,
    observe: Callable[[Sequence[Fired]], None] | None = None,
) -> int:
    """Announce every stage due at `now`; return how many stages fired.

    Clocks are taken `batch` at a time, each batch in one transaction whose statements do not
    grow with its size: the people to tell, the cards' clocks, the events and the notifications
    are each read or written for the whole batch at once. `observe` is told what fired, batch
    by batch, once each batch's transaction has committed.
    """
    fired = 0
    while True:
        done: list[Fired] = []
        async with postbox.transaction(now) as notifier:
            clocks = (
                (
                    await notifier.session.scalars(
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
            fired += await away.due_moments(notifier)
            if not clocks:
                return fired
            due = await _fire(notifier, clocks)
            fired += len(due)
            done = [Fired(d.stage.step.kind.value, d.clock.kind, now - d.at) for d in due]
        if observe is not None:
            observe(done)


@dataclass(frozen=True)
class _Due:
    """A stage that fell due on a clock, with the instant it fell due."""

    clock: ReviewClock
    stage: Stage
    at: datetime


def _advance(clock: ReviewClock, now: datetime) -> list[_Due]:
    """Move a clock past every stage due by `now`; the stages passed, in order."""
    review = clock.review
    all_stages = rc.stages_of(review, clock)
    calendar = rc.calendar_of(review)
    state = rc.state_of(clock)
    passed = []
    while clock.next_stage < len(all_stages):
        stage = all_stages[clock.next_stage]
        due = state.instant_of(calendar, stage.offset)
        if due is None or due > now:
            break
        if stage.step == BREACH:
            clock.breached_at = due
        clock.next_stage += 1
        passed.append(_Due(clock, stage, due))
    rc.reschedule(review, clock)
    return passed


async def _fire(notifier: Notifier, clocks: Sequence[ReviewClock]) -> list[_Due]:
    """Advance the clocks and announce every stage passed; the stages, in order."""
    session, now = notifier.session, notifier.now
    due = [d for clock in clocks for d in _advance(clock, now)]
    if not due:
        return due
    reviews = list({d.clock.review_id: d.clock.review for d in due}.values())
    audience = await Audience.load(session, reviews)
    # A person who snoozed a review's reminders is left out until the snooze ends.
    held = await reminders.snoozed(session, reviews, now)
    # A breach redraws the card, which shows every current clock of its review.
    breaching = {d.clock.review_id for d in due if d.stage.step == BREACH}
    current = await rc.current_clocks_of(session, [rv for rv in reviews if rv.id in breaching])
    # One INSERT for every event (ORM objects would cost one each on SQLite, to learn their ids).
    await session.execute(insert(ReviewEvent), [_event(d, now) for d in due])
    named = [audience.recipients(d.clock.review, d.stage.notify) for d in due]
    # Whoever covers a person away stands in for them (one look for the whole batch).
    gone = await away_among(session, {p.id for people, _ in named for p in people}, now)
    for n, (d, (people, channels)) in enumerate(zip(due, named, strict=True)):
        if gone.intersection(p.id for p in people):
            what = f"{rc.LABELS[d.clock.kind].lower()} {d.stage.name}"
            routed, _ = await route(session, d.clock.review, people, now, what)
            named[n] = (routed, channels)
    channel = notifier.postbox.channel
    await notifier.notify_all(
        [
            notice
            for d, (people, channels) in zip(due, named, strict=True)
            for notice in _notices(d, people, channels, held, current, channel, now)
        ]
    )
    return due


def _when(at: datetime, review: Review) -> When:
    """An SLA instant as a `When`: Slack and Discord show it in each reader's own time zone,
    the console on the reviewing org's wall clock (one message goes to people of both orgs)."""
    return When(at, review.reviewing_org.timezone)


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
            when = line("by ", _when(deadline, review), f" ({say(left)}{kind} left)")
        else:
            when = line("now: its deadline, ", _when(deadline, review), ", has passed")
        lines = (subject, line(f"Please {verb} it ", *when, "."), line(code(command)))
        title = f"Review #{review.id}: {label} SLA due soon"
    elif stage.step == BREACH:
        lines = (
            subject,
            line(f"The {label} SLA ({say(target)}) was breached at ", _when(due, review), "."),
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
    if late:
        # A line, not the footer: a footer is plain text, where no platform shows a date token.
        lines = (*lines, line("Sent late: this was due ", _when(due, review), "."))
    return Message(title=title, lines=lines, tone="warning" if stage.step == WARN else "error")


def _event(d: _Due, now: datetime) -> dict[str, Any]:
    """The review event that records a fired stage in the review's timeline (its columns)."""
    clock = d.clock
    return {
        "review_id": clock.review_id,
        "cycle": clock.cycle,
        "at": d.at,
        "actor_id": None,
        "kind": "sla",
        "data": {
            "clock": rc.LABELS[clock.kind].lower(),
            "stage": d.stage.name,
            "late": now - d.at > LATE_AFTER,
        },
    }


def _notices(
    d: _Due,
    people: list[Person],
    channels: list[str],
    held: dict[int, set[int]],
    current: dict[int, dict[str, ReviewClock]],
    channel: str,
    now: datetime,
) -> list[Notice]:
    """The notifications one fired stage writes, each keyed so it is written once."""
    clock, stage, review = d.clock, d.stage, d.clock.review
    late = now - d.at > LATE_AFTER
    key = f"review:{review.id}:c{clock.cycle}:{clock.kind}:{stage.name}"
    message = _message(review, clock, stage, d.at, now, late)

    def send(
        suffix: str,
        msg: Message,
        *,
        to: Person | str | None = None,
        edit_of: str | None = None,
        thread_of: str | None = None,
        act: bool = True,
        urgent: bool = False,
    ) -> Notice:
        return Notice(
            key + suffix,
            msg,
            to=to,
            edit_of=edit_of,
            thread_of=thread_of,
            late=late,
            act=act,
            urgent=urgent,
        )

    out = []
    if stage.step == BREACH:
        out.append(
            send(
                ":card",
                card(review, current[review.id], now, person_ref),
                edit_of=card_key(review.id),
            )
        )
        out.append(send("", Message(lines=message.lines[1:]), thread_of=card_key(review.id)))
    elif stage.step != WARN:
        names = [f"@{p.handle}" for p in people] + [f"#{c}" for c in channels]
        out.append(
            send(
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
        )
    # A snoozed person is left out; the stage itself (the card, its thread, everyone else)
    # keeps its time. The requester waits on the review; everyone else named must act.
    out.extend(
        send(
            f":@{person.handle}",
            replace(message, actions=reminders.actions(review, person)),
            to=person,
            act=person.id != review.requester_id,
            urgent=rc.is_urgent(review),
        )
        for person in people
        if person.id not in held[review.id]
    )
    # The card's own channel heard of the level in the card's thread: a top-level post there
    # too only when the level says broadcast. Another channel has no thread of the card.
    out.extend(
        send(f":#{name}", message, to=name)
        for name in channels
        if name != channel or stage.broadcast
    )
    return out
