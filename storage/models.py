"""The database schema: every entity of the design, as SQLAlchemy 2 typed models."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with naming conventions, so migrations name constraints stably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings (no native enum type), so adding a value needs no migration dance.
    return Enum(
        cls,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Role(enum.StrEnum):
    """What a person may do: members use, leads run their org's areas, admins run everything."""

    MEMBER = "member"
    LEAD = "lead"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Order of power, for "at least" comparisons."""
        return {"member": 0, "lead": 1, "admin": 2}[self.value]


class HandoffState(enum.StrEnum):
    """Where an area stands on the hand-off map."""

    OWNED = "owned"
    # Proposed by a lead of one org, waiting for a lead of the other org to accept.
    PROPOSED = "proposed"
    PLANNED_NEAR = "planned-near"
    PLANNED_LONG = "planned-long"
    IN_TRANSITION = "in-transition"
    HANDED_OFF = "handed-off"


class DeliveryStatus(enum.StrEnum):
    """Where one notification stands on one platform."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


# --- people and places -------------------------------------------------------------------------


class Org(Base):
    """One of the organisations sharing the bot."""

    __tablename__ = "org"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    business_hours: Mapped[str] = mapped_column(String(200), default="Mon-Fri 09:00-17:00")
    holidays: Mapped[str | None] = mapped_column(String(10))


class Person(Base):
    """Somebody who uses the bot or is named in it."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.MEMBER)
    # A role given in chat outlives a restart; otherwise the configuration's role applies.
    role_set_in_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which direct messages they get: "all", "action" (only what they must act on) or
    # "daily" (a summary each working morning); chosen in chat (/me notify) it outlives a
    # restart, else `[[people]] notify` applies.
    notify: Mapped[str] = mapped_column(String(10), default="all")
    notify_set_in_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    # Their own time zone and working hours; None means their org's. Direct pings wait for
    # their working hours (commands/core/presence.py).
    timezone: Mapped[str | None] = mapped_column(String(64))
    hours: Mapped[str | None] = mapped_column(String(200))
    # Set with /me timezone or /me hours: the configuration's values no longer apply.
    hours_set_in_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    # When they left the configuration (None while they are in it): their areas are flagged.
    left_at: Mapped[datetime | None]

    org: Mapped[Org | None] = relationship(lazy="joined")
    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", lazy="selectin", cascade="all, delete-orphan"
    )


class Away(Base):
    """A stretch of time someone is away: what would go to them goes to a backup meanwhile."""

    __tablename__ = "away"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    # The instant they are back (the start of the day they return, in their time zone).
    ends_at: Mapped[datetime]
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    note: Mapped[str | None] = mapped_column(String(200))
    # "chat" (/away set) or "config" ([[people]] away): the file only replaces its own.
    source: Mapped[str] = mapped_column(String(10), default="chat")
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    # Their open reviews were handed to the backup (once, when the time away began).
    handed_at: Mapped[datetime | None]
    # They were told what was routed past them (once, when they came back).
    returned_at: Mapped[datetime | None]
    # What went to someone else meanwhile: [{"review": 3, "what": "review request"}, ...].
    routed: Mapped[list[Any]] = mapped_column(JSON, default=list)

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="joined")
    backup: Mapped[Person | None] = relationship(foreign_keys=[backup_id], lazy="joined")


class Identity(Base):
    """A person's user id on one platform."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[str] = mapped_column(String(64))

    person: Mapped[Person] = relationship(back_populates="identities")


class Channel(Base):
    """A logical shared channel; its id on each platform is one `ChannelAddress` row."""

    __tablename__ = "channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)

    addresses: Mapped[list[ChannelAddress]] = relationship(
        back_populates="channel", lazy="selectin", cascade="all, delete-orphan"
    )

    def address_on(self, platform: str) -> str | None:
        """The channel's id on a platform, if it has one there."""
        return next((a.address for a in self.addresses if a.platform == platform), None)


class ChannelAddress(Base):
    """A channel's id on one platform: a new platform is new rows, not new columns."""

    __tablename__ = "channel_address"
    __table_args__ = (UniqueConstraint("channel_id", "platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channel.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64))

    channel: Mapped[Channel] = relationship(back_populates="addresses")


# --- the ownership map ---------------------------------------------------------------------------


class Area(Base):
    """A process or task on the ownership map."""

    __tablename__ = "area"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Case-folded name: "smart contract review" and "Smart Contract Review" are one area.
    # Folding can lengthen a name ("ß" -> "ss", "ﬃ" -> "ffi"), hence three times the room.
    name_key: Mapped[str] = mapped_column(String(600), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    dri_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    backup_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    state: Mapped[HandoffState] = mapped_column(_enum(HandoffState), default=HandoffState.OWNED)
    # The hand-off in progress or done: from which org to which (None while never planned).
    handoff_from_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    handoff_to_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    target_quarter: Mapped[str | None] = mapped_column(String(7))
    # A proposal: the org whose lead proposed it (a lead of the other org must accept), and the
    # state (planned near or long) it takes once accepted.
    proposed_by_org_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    proposed_state: Mapped[HandoffState | None] = mapped_column(_enum(HandoffState))
    # Named when the hand-off starts; completing it needs their "I own this now".
    receiving_dri_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    receiver_accepted_at: Mapped[datetime | None]
    # The plan both sides had agreed before a new proposal replaced it: a decline of the new
    # proposal puts it back (None while no agreed plan is being re-planned).
    previous_state: Mapped[HandoffState | None] = mapped_column(_enum(HandoffState))
    previous_to_id: Mapped[int | None] = mapped_column(ForeignKey("org.id"))
    previous_quarter: Mapped[str | None] = mapped_column(String(7))
    # Free text (the seeds group the work into create / grow / maintain); picks the checklist.
    category: Mapped[str | None] = mapped_column(String(80))
    # When the DRI last confirmed they still run it, and when they were last asked to.
    verified_at: Mapped[datetime | None]
    verify_asked_at: Mapped[datetime | None]
    # Retired areas keep their history but are off the map.
    retired_at: Mapped[datetime | None]
    # A started hand-off's shadow period ends then: both sides are reminded to complete it.
    shadow_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    org: Mapped[Org] = relationship(foreign_keys=[org_id], lazy="joined")
    proposed_by_org: Mapped[Org | None] = relationship(
        foreign_keys=[proposed_by_org_id], lazy="joined"
    )
    receiving_dri: Mapped[Person | None] = relationship(
        foreign_keys=[receiving_dri_id], lazy="joined"
    )
    handoff_from: Mapped[Org | None] = relationship(foreign_keys=[handoff_from_id], lazy="joined")
    handoff_to: Mapped[Org | None] = relationship(foreign_keys=[handoff_to_id], lazy="joined")
    dri: Mapped[Person | None] = relationship(foreign_keys=[dri_id], lazy="joined")
    backup: Mapped[Person | None] = relationship(foreign_keys=[backup_id], lazy="joined")


class ChecklistTemplate(Base):
    """One item of the checklist a hand-off starts with, for an area category (from the config).

    Rewritten from the configuration at every start: it is configuration, not history.
    """

    __tablename__ = "checklist_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Empty: areas of no category.
    category: Mapped[str] = mapped_column(String(80))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(200))


class HandoffRules(Base):
    """The configured hand-off rules that scheduled jobs and commands read (one row, id 1)."""

    __tablename__ = "handoff_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    stall_after_seconds: Mapped[int] = mapped_column(Integer)
    # `[ownership] verify_every`: how often each DRI is asked to confirm their areas.
    verify_every_seconds: Mapped[int | None] = mapped_column(Integer)


class ReviewRules(Base):
    """The configured review rules that commands read (one row, id 1, from `[reviews]`)."""

    __tablename__ = "review_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    # How often a requester may nudge the reviewer of one review, as written ("4bh").
    nudge_every: Mapped[str] = mapped_column(String(40))


class HandoffCheck(Base):
    """One item of an area's hand-off checklist: from the template or added by hand."""

    __tablename__ = "handoff_check"
    __table_args__ = (UniqueConstraint("area_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"))
    # Its number in the checklist, from 1, as people name it: /handoff check done <area> 2.
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    done_by: Mapped[Person | None] = relationship(lazy="joined")


class AreaEvent(Base):
    """One change to an area: who changed what, when, from what to what."""

    __tablename__ = "area_event"
    __table_args__ = (Index("ix_area_event_area_at", "area_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(String(200))
    new_value: Mapped[str | None] = mapped_column(String(200))

    actor: Mapped[Person | None] = relationship(lazy="joined")


# --- reviews and SLAs (filled in by the review issue) --------------------------------------------


class SlaPolicy(Base):
    """How fast a review must be acknowledged and resolved, and who hears when it is not."""

    __tablename__ = "sla_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    calendar: Mapped[str] = mapped_column(String(10))
    # Each target in seconds, a business day counted as 8h; `written` keeps the texts as
    # configured, which win when present: a business day ("2bd") lasts the reviewing org's
    # working day, and durations are shown in the unit they were written in.
    acknowledge_seconds: Mapped[int] = mapped_column(Integer)
    resolve_seconds: Mapped[int] = mapped_column(Integer)
    warn_at: Mapped[float] = mapped_column(Float)
    escalation: Mapped[list[Any]] = mapped_column(JSON, default=list)
    written: Mapped[dict[str, str] | None] = mapped_column(JSON)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # No longer in the configuration: kept for the reviews that used it, offered to nobody.
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    # Its pings go at once, even outside the recipient's working hours.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewState(enum.StrEnum):
    """Where a review request stands."""

    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    IN_REVIEW = "in-review"
    CHANGES_REQUESTED = "changes-requested"
    # On hold (a pull request turned back into a draft): every clock paused.
    PAUSED = "paused"
    APPROVED = "approved"
    CANCELLED = "cancelled"


class Review(Base):
    """A code-review request one org owes another."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    link: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(String(200))
    requester_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    reviewing_org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # The reviewer it would have gone to, away until `covering_until`: the card says so.
    covering_for_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    covering_until: Mapped[datetime | None]
    policy_id: Mapped[int] = mapped_column(ForeignKey("sla_policy.id"))
    # The policy as it was when the cycle began: editing the config never reshuffles the
    # escalations of reviews already under way.
    policy_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[ReviewState] = mapped_column(_enum(ReviewState))
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    requester: Mapped[Person] = relationship(foreign_keys=[requester_id], lazy="joined")
    reviewer: Mapped[Person | None] = relationship(foreign_keys=[reviewer_id], lazy="joined")
    covering_for: Mapped[Person | None] = relationship(
        foreign_keys=[covering_for_id], lazy="joined"
    )
    reviewing_org: Mapped[Org] = relationship(lazy="joined")
    policy: Mapped[SlaPolicy] = relationship(lazy="joined")


class ReviewClock(Base):
    """One SLA clock of one review cycle ("ack" or "resolve"), with its next stage's instant."""

    __tablename__ = "review_clock"
    __table_args__ = (UniqueConstraint("review_id", "cycle", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"))
    cycle: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    target_seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    # Business time banked while running, in microseconds; running_since is None when paused.
    elapsed_us: Mapped[int] = mapped_column(BigInteger, default=0)
    running_since: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    # Why it stopped: "met" (acknowledged / approved) or "cancelled"; reports count only "met".
    stop_reason: Mapped[str | None] = mapped_column(String(10))
    # Index of the next stage (warning, breach, escalation levels, repeats) to fire.
    next_stage: Mapped[int] = mapped_column(Integer, default=0)
    # When that stage falls due; None once stopped or paused. The one wake-up reads its minimum.
    next_at: Mapped[datetime | None] = mapped_column(index=True)
    breached_at: Mapped[datetime | None]

    review: Mapped[Review] = relationship(lazy="joined")


class ReviewEvent(Base):
    """One state change of a review, for the timeline and SLA reports."""

    __tablename__ = "review_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), index=True)
    cycle: Mapped[int] = mapped_column(Integer, default=1)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    kind: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor: Mapped[Person | None] = relationship(lazy="joined")


# --- GitHub --------------------------------------------------------------------------------------


class GithubRule(Base):
    """Which pull requests become reviews ([[github.rules]], copied here at start), in order."""

    __tablename__ = "github_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The rule's place in the configuration: the first rule that matches applies.
    position: Mapped[int] = mapped_column(Integer, unique=True)
    repository: Mapped[str] = mapped_column(String(200))
    label: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("sla_policy.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))

    person: Mapped[Person | None] = relationship(lazy="joined")
    policy: Mapped[SlaPolicy | None] = relationship(lazy="joined")
    org: Mapped[Org] = relationship(lazy="joined")


class GithubPull(Base):
    """The pull request a review follows, and what Liaison last knew of it."""

    __tablename__ = "github_pull"
    __table_args__ = (UniqueConstraint("repository", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("review.id", ondelete="CASCADE"), unique=True)
    # "owner/name" in lower case (GitHub ignores case in both); the link keeps GitHub's spelling.
    repository: Mapped[str] = mapped_column(String(200))
    number: Mapped[int] = mapped_column(Integer)
    html_url: Mapped[str] = mapped_column(String(500))
    node_id: Mapped[str | None] = mapped_column(String(100))
    head_sha: Mapped[str | None] = mapped_column(String(64))
    # "open", "closed" or "merged".
    state: Mapped[str] = mapped_column(String(10), default="open")
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    # The GitHub review ids already applied, so neither a redelivery nor reconciliation
    # applies one twice.
    seen_reviews: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Validators of the last REST reads: an unchanged pull request costs no rate limit.
    etag: Mapped[str | None] = mapped_column(String(200))
    reviews_etag: Mapped[str | None] = mapped_column(String(200))
    checked_at: Mapped[datetime | None]

    review: Mapped[Review] = relationship(lazy="joined")


# --- the weekly sync and roadmaps -----------------------------------------------------------------


class MeetingState(enum.StrEnum):
    """Where one meeting of the series stands."""

    SCHEDULED = "scheduled"
    STARTED = "started"
    ENDED = "ended"
    # Its time passed without anyone starting it: its open items carried over.
    SKIPPED = "skipped"


class AgendaStatus(enum.StrEnum):
    """Where one agenda item stands. Deferred and carried items stay open, on a later meeting."""

    OPEN = "open"
    DISCUSSED = "discussed"
    REMOVED = "removed"


class ActionStatus(enum.StrEnum):
    """Whether an action item is still to do."""

    OPEN = "open"
    DONE = "done"


class RoadmapStatus(enum.StrEnum):
    """Where a roadmap item stands."""

    PLANNED = "planned"
    IN_PROGRESS = "in-progress"
    SHIPPED = "shipped"
    DROPPED = "dropped"


class MeetingSeries(Base):
    """The weekly meeting: when (wall-clock time in a zone), where, and how long.

    One row. It starts from the `[meeting]` configuration; once an admin changes it in chat
    (`set_in_chat`), the database wins over the configuration.
    """

    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    # 0 = Monday ... 6 = Sunday, as datetime.weekday().
    weekday: Mapped[int] = mapped_column(Integer)
    time: Mapped[str] = mapped_column(String(5))
    timezone: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(80))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    agenda_post_before_seconds: Mapped[int] = mapped_column(Integer, default=86400)
    set_in_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))


class Meeting(Base):
    """One meeting of the series, on one date (the series' local date)."""

    __tablename__ = "meeting"
    __table_args__ = (UniqueConstraint("series_id", "date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("meeting_series.id"))
    date: Mapped[date] = mapped_column(Date)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[MeetingState] = mapped_column(_enum(MeetingState), default=MeetingState.SCHEDULED)
    started_at: Mapped[datetime | None]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    ended_at: Mapped[datetime | None]
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    series: Mapped[MeetingSeries] = relationship(lazy="joined")


class AgendaItem(Base):
    """A topic on a meeting's agenda. Carrying or deferring it moves it to a later meeting."""

    __tablename__ = "agenda_item"
    __table_args__ = (Index("ix_agenda_item_meeting_position", "meeting_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"))
    topic: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    minutes: Mapped[int | None] = mapped_column(Integer)
    # 1-based order on its meeting's agenda.
    position: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[AgendaStatus] = mapped_column(_enum(AgendaStatus), default=AgendaStatus.OPEN)
    # How many meetings ended (or passed) without discussing it.
    carried: Mapped[int] = mapped_column(Integer, default=0)
    deferred: Mapped[int] = mapped_column(Integer, default=0)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime]
    # When it was discussed or removed.
    closed_at: Mapped[datetime | None]

    meeting: Mapped[Meeting] = relationship(lazy="joined")
    owner: Mapped[Person | None] = relationship(foreign_keys=[owner_id], lazy="joined")
    added_by: Mapped[Person | None] = relationship(foreign_keys=[added_by_id], lazy="joined")


class Decision(Base):
    """A decision recorded at or after a meeting."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)

    author: Mapped[Person | None] = relationship(lazy="joined")


class ActionItem(Base):
    """Something someone agreed to do by a date; chased while overdue."""

    __tablename__ = "action_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    # The last day to do it, in the owner's org's calendar.
    due: Mapped[date] = mapped_column(Date)
    status: Mapped[ActionStatus] = mapped_column(_enum(ActionStatus), default=ActionStatus.OPEN)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    # When the owner is next chased (the business morning after the due date, then weekly);
    # None once done. The chase job reads the due ones through this index.
    next_chase_at: Mapped[datetime | None] = mapped_column(index=True)
    last_chased_at: Mapped[datetime | None]
    chases: Mapped[int] = mapped_column(Integer, default=0)

    owner: Mapped[Person] = relationship(foreign_keys=[owner_id], lazy="joined")
    created_by: Mapped[Person | None] = relationship(foreign_keys=[created_by_id], lazy="joined")


class RoadmapItem(Base):
    """An item on one org's roadmap."""

    __tablename__ = "roadmap_item"
    __table_args__ = (Index("ix_roadmap_item_org_quarter", "org_id", "quarter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("org.id"))
    quarter: Mapped[str] = mapped_column(String(7))
    title: Mapped[str] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[RoadmapStatus] = mapped_column(
        _enum(RoadmapStatus), default=RoadmapStatus.PLANNED
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    org: Mapped[Org] = relationship(lazy="joined")


class RoadmapEvent(Base):
    """One change to a roadmap item ("created", "status", "quarter", ...): who, when, old -> new."""

    __tablename__ = "roadmap_event"
    __table_args__ = (Index("ix_roadmap_event_item_at", "item_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("roadmap_item.id", ondelete="CASCADE"))
    # Indexed: the digest reads the changes since the last digest.
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str | None] = mapped_column(String(300))
    new_value: Mapped[str | None] = mapped_column(String(300))

    item: Mapped[RoadmapItem] = relationship(lazy="joined")
    actor: Mapped[Person | None] = relationship(lazy="joined")


# --- scheduled jobs ------------------------------------------------------------------------------


class JobRun(Base):
    """The latest occurrence a cron job (bot/jobs.py) has run for, so downtime is caught up once."""

    __tablename__ = "job_run"

    job_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_occurrence: Mapped[datetime]
    updated_at: Mapped[datetime]


# --- delivery ------------------------------------------------------------------------------------


class OutboxItem(Base):
    """A notification, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The idempotency key ("area_event:17", "review:42:c1:resolve:breach"): one row per event, ever.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str | None] = mapped_column(String(80))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # For an in-place edit: the key of the notification whose platform message is edited.
    edit_of: Mapped[str | None] = mapped_column(String(200))
    # For a reply in a thread: the key of the notification that starts the thread.
    thread_of: Mapped[str | None] = mapped_column(String(200))
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="item", cascade="all, delete-orphan"
    )


class Delivery(Base):
    """One notification on one platform: its attempts, its message reference, its fate."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("outbox_id", "platform"),
        Index("ix_delivery_due", "platform", "status", "next_attempt_at"),
        # Finding each destination's oldest unfinished delivery (its lane's head).
        Index("ix_delivery_lane", "platform", "status", "lane"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(20))
    # The destination ("channel:shared", "person:7"): deliveries in one lane go out in order.
    lane: Mapped[str] = mapped_column(String(120))
    # An earlier attempt may have reached the platform (its answer was lost, or the sender
    # died mid-call): look for it there before sending again.
    unsure: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    # Held until then (a direct ping outside its recipient's working hours): not the lane's
    # head, not claimable, until this instant; the worker wakes for it.
    not_before: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    ref: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]

    item: Mapped[OutboxItem] = relationship(back_populates="deliveries", lazy="joined")


class DeliveryLane(Base):
    """A destination's pace on a platform, shared by every replica: when it may take more."""

    __tablename__ = "delivery_lane"
    __table_args__ = (UniqueConstraint("platform", "lane"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    lane: Mapped[str] = mapped_column(String(120))
    # The theoretical arrival time of the next message (GCRA): the lane is open while this is
    # at most the platform's burst allowance ahead of now.
    paced_until: Mapped[datetime]


class InboundRequest(Base):
    """A platform request, by its key: accepted before it is acknowledged, done exactly once.

    An accepted request carries what is needed to run it (`kind`, `payload`) and when any
    process may run it if its receiver has not (`resume_at`); the transaction of its effect
    sets `done_at` and clears `resume_at`, so a re-sent or resumed request never runs twice.
    """

    __tablename__ = "inbound_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    # e.g. "slack:command:<trigger_id>": what the platform keeps identical when it re-sends.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    # What runs it ("slack.command", "github.delivery", ...) and its input; None once done.
    kind: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    done_at: Mapped[datetime | None]
    # Not done by then, any process runs it; None when done (so the index holds only work).
    resume_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
