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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.grammar import format_duration
from commands.core.lookup import area_key
from commands.core.messages import Line, Link, Message, bold, code, line, mention
from commands.core.notifier import Notice, Notifier, Postbox, person_ref
from commands.ownership import map as ownership
from commands.reviews import clocks as rc
from commands.reviews.card import REVIEW_AREA, card, card_key
from commands.reviews.rules import BREACH, WARN, ChannelTarget, NotifyTarget, Stage, Target
from storage.models import Area, Person, Review, ReviewClock, ReviewEvent, Role

# Within this much of its due instant a stage counts as on time; later ones say they are late.
LATE_AFTER = timedelta(seconds=60)
# Clocks fired per transaction: big enough that a thousand stages due at once take one or two
# round trips of a few statements, small enough that SQLite's write lock is not held for long.
BATCH = 500


async def next_deadline(session: AsyncSession) -> datetime | None:
    """The earliest instant any running clock needs attention (an index lookup)."""
    return await session.scalar(select(func.min(ReviewClock.next_at)))


async def fire_due(
    postbox: Postbox,
    now: datetime,
    *,
    batch: int = BATCH,
) -> int:
    """Announce every stage due at `now`; return how many stages fired.

    Clocks are taken `batch` at a time, each batch in one transaction whose statements do not
    grow with its size: the people to tell, the cards' clocks, the events and the notifications
    are each read or written for the whole batch at once.
    """
    fired = 0
    while True:
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
            if not clocks:
                return fired
            fired += await _fire(notifier, clocks)


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


async def _fire(notifier: Notifier, clocks: Sequence[ReviewClock]) -> int:
    session, now = notifier.session, notifier.now
    due = [d for clock in clocks for d in _advance(clock, now)]
    if not due:
        return 0
    reviews = list({d.clock.review_id: d.clock.review for d in due}.values())
    audience = await _Audience.load(session, reviews)
    # A breach redraws the card, which shows every current clock of its review.
    breaching = {d.clock.review_id for d in due if d.stage.step == BREACH}
    current = await rc.current_clocks_of(session, [rv for rv in reviews if rv.id in breaching])
    # One INSERT for every event (ORM objects would cost one each on SQLite, to learn their ids).
    await session.execute(insert(ReviewEvent), [_event(d, now) for d in due])
    await notifier.notify_all([n for d in due for n in _notices(d, audience, current, now)])
    return len(due)


class _Audience:
    """Whom stages can name, read once for a batch of reviews: each org's leads, and the area
    whose backup (and shadowing DRIs) hear of escalations."""

    def __init__(self, leads: dict[int, list[Person]], area: Area | None) -> None:
        self.leads = leads
        self.area = area

    @classmethod
    async def load(cls, session: AsyncSession, reviews: Sequence[Review]) -> _Audience:
        """Two statements, however many reviews."""
        orgs = {rv.reviewing_org_id for rv in reviews} | {
            rv.requester.org_id for rv in reviews if rv.requester.org_id is not None
        }
        leads: dict[int, list[Person]] = {org: [] for org in orgs}
        for chunk in _chunks(sorted(orgs)):
            found = await session.scalars(
                select(Person)
                .where(Person.org_id.in_(chunk), Person.role == Role.LEAD)
                .order_by(Person.handle)
            )
            for person in found.unique():
                if person.org_id is not None:
                    leads[person.org_id].append(person)
        area = await session.scalar(select(Area).where(Area.name_key == area_key(REVIEW_AREA)))
        return cls(leads, area)

    def recipients(
        self, review: Review, targets: Sequence[Target]
    ) -> tuple[list[Person], list[str]]:
        """The people (each once) and channels a stage's notify list names for this review."""
        people: dict[int, Person] = {}
        channels: list[str] = []

        def add(*found: Person | None) -> None:
            for person in found:
                if person is not None:
                    people.setdefault(person.id, person)

        def leads(org_id: int | None) -> list[Person]:
            return [] if org_id is None else self.leads.get(org_id, [])

        for target in targets:
            match target:
                case NotifyTarget.REVIEWER:
                    # Nobody assigned yet: the reviewing org's leads stand in.
                    add(*([review.reviewer] if review.reviewer else leads(review.reviewing_org_id)))
                case NotifyTarget.REQUESTER:
                    add(review.requester)
                case NotifyTarget.AREA_BACKUP:
                    area = self.area
                    if area is not None and area.org_id == review.reviewing_org_id:
                        # During a hand-off of the area both its DRIs hear it too (each once).
                        add(area.backup, *ownership.shadowing(area))
                case NotifyTarget.REVIEWING_ORG_LEADS:
                    add(*leads(review.reviewing_org_id))
                case NotifyTarget.REQUESTING_ORG_LEADS:
                    add(*leads(review.requester.org_id))
                case ChannelTarget(name=name):
                    if name not in channels:
                        channels.append(name)
                case _:
                    assert_never(target)
        return list(people.values()), channels


def _chunks(ids: list[int], size: int = 10_000) -> list[list[int]]:
    return [ids[n : n + size] for n in range(0, len(ids), size)] or [[]]


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
    d: _Due, audience: _Audience, current: dict[int, dict[str, ReviewClock]], now: datetime
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
    ) -> Notice:
        return Notice(key + suffix, msg, to=to, edit_of=edit_of, thread_of=thread_of, late=late)

    people, channels = audience.recipients(review, stage.notify)
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
    out.extend(send(f":@{person.handle}", message, to=person) for person in people)
    out.extend(send(f":#{name}", message, to=name) for name in channels)
    return out
