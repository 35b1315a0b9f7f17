"""A review as people see it: states, labels, the card in the shared channel and its buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from commands.core.grammar import format_duration
from commands.core.messages import (
    Action,
    ActionId,
    ButtonStyle,
    Field,
    Line,
    Link,
    Message,
    PersonRef,
    TimeShow,
    When,
    bold,
    italic,
    line,
    mention,
)
from commands.core.notifier import person_ref
from commands.core.presence import held_until, zone_name, zone_of
from commands.reviews import clocks as rc
from storage.models import (
    Person,
    Review,
    ReviewClock,
    ReviewState,
)

OPEN = (
    ReviewState.REQUESTED,
    ReviewState.ACKNOWLEDGED,
    ReviewState.IN_REVIEW,
    ReviewState.CHANGES_REQUESTED,
    ReviewState.PAUSED,
)
STATE_LABELS = {
    ReviewState.REQUESTED: "waiting for acknowledgement",
    ReviewState.ACKNOWLEDGED: "acknowledged",
    ReviewState.IN_REVIEW: "in review",
    ReviewState.CHANGES_REQUESTED: "changes requested (clock paused)",
    ReviewState.PAUSED: "on hold (clocks paused)",
    ReviewState.APPROVED: "approved",
    ReviewState.CANCELLED: "cancelled",
}
# The same states as a sentence says them: "#4 is waiting for changes".
STATE_PHRASES = {
    ReviewState.REQUESTED: "waiting for acknowledgement",
    ReviewState.ACKNOWLEDGED: "acknowledged",
    ReviewState.IN_REVIEW: "in review",
    ReviewState.CHANGES_REQUESTED: "waiting for changes (its clock is paused)",
    ReviewState.APPROVED: "approved",
    ReviewState.CANCELLED: "cancelled",
}
# The area whose DRI reviews by default, and whose backup hears of escalations.
REVIEW_AREA = "code review"


def card_key(review_id: int) -> str:
    """The outbox key of a review's card: later versions edit it, events go in its thread."""
    return f"review:{review_id}:card"


def covering_line(person: Person, by: Person, until: datetime, ref: Any = person_ref) -> Line:
    """ "@bob is away until Mon 7 Dec; @alice is covering." """
    return line(
        mention(ref(person)),
        " is away until ",
        When(until, zone_name(person), "date"),
        "; ",
        mention(ref(by)),
        " is covering.",
    )


def told_at_line(review: Review, now: datetime, ref: Any) -> Line | None:
    """ "@dave is outside their working hours: will be told at 09:00 GMT." while the request
    waits for an assigned reviewer whose ping is held (never under an urgent policy)."""
    reviewer = review.reviewer
    if review.state is not ReviewState.REQUESTED or reviewer is None or rc.is_urgent(review):
        return None
    held = held_until(reviewer, now)
    if held is None:
        return None
    zone = zone_of(reviewer)
    show: TimeShow = (
        "time" if held.astimezone(zone).date() == now.astimezone(zone).date() else "datetime"
    )
    return line(
        mention(ref(reviewer)),
        " is outside their working hours: will be told at ",
        When(held, zone_name(reviewer), show),
        " their time.",
    )


# --- the card ------------------------------------------------------------------------------------


# Less business time than this left reads as "due now", never as "0s left".
_A_SECOND = timedelta(seconds=1)


def left_text(
    left: timedelta,
    due: datetime | None,
    now: datetime,
    say: Callable[[timedelta], str] = format_duration,
) -> str:
    """Time left on a running clock, or how long ago it breached, in words.

    Time left is said by `say`, in the unit the clock's target was written in ("1 business
    day 3h left"). Business time stands still at night and at weekends, so how long ago a
    clock breached is said on the wall clock: a breach on Friday is "2d 16h ago" on Monday.
    """
    if left >= _A_SECOND:
        return f"{say(left)} left"
    if left > timedelta(0) or due is None or now - due < _A_SECOND:
        return "due now"
    return f"BREACHED {format_duration(now - due)} ago"


def clock_line(view: rc.ClockView, zone: str, now: datetime) -> Line:
    """One clock in words: due when and how much is left, or how it ended.

    The due instant is a `When`, so Slack and Discord show it in each reader's own time zone
    (the card sits in a channel both organisations read); elsewhere it is on the wall clock of
    `zone`. How much is left stays words: it is business time, which no platform counts.
    """
    spent = view.say(view.elapsed)
    if view.status == "met":
        late = " (after its target)" if view.breached else ""
        return line(f"met after {spent}{late}")
    if view.status == "cancelled":
        return line(f"stopped at {spent}")
    left = view.remaining
    if view.status == "paused":
        if left < _A_SECOND:
            return line(f"paused, breached by {view.say(max(-left, _A_SECOND))} of business time")
        return line(f"paused with {view.say(left)} left")
    if view.due is None:
        return line("due now")
    words = left_text(left, view.due, now, view.say)
    due = When(view.due, zone)
    if words.startswith("BREACHED"):
        return line(f"{words} (was due ", due, ")")
    return line("due ", due, f", {words}")


def _actions(state: ReviewState, review_id: int) -> tuple[Action, ...]:
    def a(verb: str, label: str, style: ButtonStyle = "secondary") -> Action:
        return Action(ActionId("review", verb, str(review_id)), label, style)

    if state is ReviewState.REQUESTED:
        return (
            a("ack", "Acknowledge", "primary"),
            a("start", "Start"),
            a("changes", "Request changes"),
            a("approve", "Approve"),
            a("reassign", "Reassign"),
        )
    if state is ReviewState.ACKNOWLEDGED:
        return (
            a("start", "Start", "primary"),
            a("changes", "Request changes"),
            a("approve", "Approve"),
            a("reassign", "Reassign"),
        )
    if state is ReviewState.IN_REVIEW:
        return (
            a("changes", "Request changes"),
            a("approve", "Approve", "primary"),
            a("reassign", "Reassign"),
        )
    if state is ReviewState.CHANGES_REQUESTED:
        return (
            a("resume", "Changes pushed", "primary"),
            a("approve", "Approve"),
            a("reassign", "Reassign"),
        )
    if state is ReviewState.PAUSED:
        return (a("approve", "Approve"), a("reassign", "Reassign"))
    return ()


def card(review: Review, clocks: dict[str, ReviewClock], now: datetime, ref: Any) -> Message:
    """The review card posted in the shared channel and edited on every change."""
    zone = review.reviewing_org.timezone
    requester: PersonRef = ref(review.requester)
    reviewer: Line = (
        line(mention(ref(review.reviewer))) if review.reviewer else line(italic("unassigned"))
    )
    fields = [
        Field("Requested by", line(mention(requester), f" → {review.reviewing_org.name}")),
        Field("Reviewer", reviewer),
        Field("Policy", line(review.policy_snapshot["name"])),
        Field("State", line(bold(STATE_LABELS[review.state]))),
    ]
    # Each clock's view once: a thousand cards redrawn by one SLA firing add up.
    views = {kind: rc.view(review, c, now) for kind, c in clocks.items()}
    for kind in rc.CLOCKS:
        if kind in views:
            v = views[kind]
            running = v.status == "running" and v.remaining > timedelta(0)
            fields.append(Field(v.label, clock_line(v, zone, now), due=v.due if running else None))
    cycle = f"cycle {review.cycle} · " if review.cycle > 1 else ""
    lines = [line(Link(review.title, review.link))]
    away, until = review.covering_for, review.covering_until
    if away is not None and until is not None and now < until and review.reviewer is not None:
        lines.append(covering_line(away, review.reviewer, until, ref))
    if (told := told_at_line(review, now, ref)) is not None:
        lines.append(told)
    return Message(
        title=f"Review #{review.id}",
        lines=tuple(lines),
        fields=tuple(fields),
        actions=_actions(review.state, review.id),
        footer=f"{cycle}/review show {review.id}",
        tone="warning"
        if any(views[k].breached and c.stopped_at is None for k, c in clocks.items())
        else "info",
    )
