"""Who may run a command, as data: the least role, and how the caller must relate to its subject.

Each command declares a `Who` (`Group.command(..., who=Who(...))`); the dispatcher checks it
after reading the arguments and before the handler runs, so a refused command changes nothing.
Tests enumerate every command's rule and run each command as every role of both orgs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ActionItem, AgendaItem, Area, Org, Person, Review, RoadmapItem, Role


class Relation(enum.Enum):
    """How the caller must relate to a command's subject (admins always may)."""

    # Anyone who may run the command at all (its role).
    ANYONE = "anyone"
    # The reviewer or anyone in the reviewing org, never the person who asked for the review.
    REVIEWING_SIDE = "reviewing side"
    # The person who asked, or anyone in their org.
    REQUESTING_SIDE = "requesting side"
    # Anyone in either org of the review.
    EITHER_SIDE = "either side"
    # The person who asked, or a lead of either org.
    REQUESTER_OR_LEAD = "requester or lead"
    # The reviewer, or a lead of the reviewing org.
    REVIEWER_OR_REVIEWING_LEAD = "reviewer or reviewing lead"
    # A lead of the org that owns the subject (an area, a roadmap item, or the org itself).
    OWNING_LEAD = "owning lead"
    # A lead of the owning org, or of the org an area is being handed to (the DRI may change
    # hands during a hand-off the owner planned). A new area: a lead of the org it is for.
    MAP_EDITOR = "map editor"
    # Whoever added the item, its owner, or any lead.
    ITEM_EDITOR = "item editor"


@dataclass(frozen=True)
class Who:
    """A command's permission rule beyond its role: a relation to the parameter `subject`."""

    relation: Relation = Relation.ANYONE
    subject: str | None = None
    # How the refusal says what was refused: "acknowledge", "plan the hand-off of".
    verb: str = "do that"


# The rule of most commands: whoever may run it at all (its role) may run it on anything.
ANYONE = Who()


def _new_area_owner(args: Mapping[str, Any]) -> Org | None:
    """The org a new area will belong to: `org=`, else the org of the DRI being named."""
    org, person = args.get("org"), args.get("person")
    if isinstance(org, Org):
        return org
    return person.org if isinstance(person, Person) else None


def _is_lead_of(person: Person, org_id: int | None) -> bool:
    return person.role is Role.LEAD and org_id is not None and person.org_id == org_id


def _in(person: Person, org_id: int | None) -> bool:
    return org_id is not None and person.org_id == org_id


def _owner_of(subject: Any) -> int | None:
    """The id of the org that owns a subject."""
    if isinstance(subject, Org):
        return subject.id
    if isinstance(subject, (Area, RoadmapItem)):
        return subject.org_id
    return None


def _review(actor: Person, rv: Review, relation: Relation) -> bool:
    requester_org = rv.requester.org_id if rv.requester else None
    if relation is Relation.REVIEWING_SIDE:
        return actor.id != rv.requester_id and (
            actor.id == rv.reviewer_id or _in(actor, rv.reviewing_org_id)
        )
    if relation is Relation.REQUESTING_SIDE:
        return actor.id == rv.requester_id or _in(actor, requester_org)
    if relation is Relation.EITHER_SIDE:
        return (
            actor.id == rv.requester_id
            or _in(actor, rv.reviewing_org_id)
            or _in(actor, requester_org)
        )
    if relation is Relation.REQUESTER_OR_LEAD:
        return (
            actor.id == rv.requester_id
            or _is_lead_of(actor, rv.reviewing_org_id)
            or _is_lead_of(actor, requester_org)
        )
    if relation is Relation.REVIEWER_OR_REVIEWING_LEAD:
        return actor.id == rv.reviewer_id or _is_lead_of(actor, rv.reviewing_org_id)
    raise AssertionError(f"{relation} is not about reviews")


def allows(who: Who, actor: Person, args: Mapping[str, Any]) -> bool:
    """Whether `actor` may run a command with rule `who` on these (converted) arguments."""
    if actor.role is Role.ADMIN or who.relation is Relation.ANYONE:
        return True
    subject = args.get(who.subject) if who.subject else None
    relation = who.relation
    if isinstance(subject, Review):
        return _review(actor, subject, relation)
    if relation is Relation.OWNING_LEAD:
        return _is_lead_of(actor, _owner_of(subject))
    if relation is Relation.MAP_EDITOR:
        if isinstance(subject, Area):
            return _is_lead_of(actor, subject.org_id) or _is_lead_of(actor, subject.handoff_to_id)
        # A name not on the map yet: a lead of the org it will belong to (when it has one:
        # otherwise the command itself explains what is missing).
        owner = _new_area_owner(args)
        return owner is None or _is_lead_of(actor, owner.id)
    if relation is Relation.ITEM_EDITOR:
        assert isinstance(subject, (AgendaItem, ActionItem))
        adder = subject.added_by_id if isinstance(subject, AgendaItem) else subject.created_by_id
        return actor.role is Role.LEAD or actor.id in (adder, subject.owner_id)
    raise AssertionError(f"{relation} has no rule for {type(subject).__name__}")


def _subject_name(subject: Any) -> str:
    if isinstance(subject, Review):
        return f"#{subject.id}"
    if isinstance(subject, Area):
        return f'"{subject.name}"'
    if isinstance(subject, (AgendaItem, ActionItem)):
        return f"#{subject.id}"
    if isinstance(subject, RoadmapItem):
        return f"`{subject.org.key}`"
    if isinstance(subject, Org):
        return f"`{subject.key}`"
    return "it"


def _review_refusal(who: Who, actor: Person, rv: Review) -> str:
    asked = f"@{rv.requester.handle}" if rv.requester else "whoever asked"
    org = f"`{rv.reviewing_org.key}`"
    reviewer = f"@{rv.reviewer.handle} (the reviewer)" if rv.reviewer else "the reviewer"
    if who.relation is Relation.REVIEWING_SIDE and actor.id == rv.requester_id:
        return f"You asked for #{rv.id}; someone in {org} can {who.verb} it, not you."
    texts: dict[Relation, Callable[[], str]] = {
        Relation.REVIEWING_SIDE: lambda: (
            f"Only {reviewer} or someone in {org} can {who.verb} #{rv.id}."
        ),
        Relation.REQUESTING_SIDE: lambda: (
            f"Only {asked} (who asked) or their org can {who.verb} #{rv.id}."
        ),
        Relation.EITHER_SIDE: lambda: f"Only people in the two orgs of #{rv.id} can {who.verb} it.",
        Relation.REQUESTER_OR_LEAD: lambda: (
            f"Only {asked} (who asked) or a lead can {who.verb} #{rv.id}."
        ),
        Relation.REVIEWER_OR_REVIEWING_LEAD: lambda: (
            f"Only the reviewer or a lead of {org} can {who.verb} #{rv.id}."
        ),
    }
    return texts[who.relation]()


def _owning_orgs(who: Who, actor: Person, args: Mapping[str, Any]) -> list[Org]:
    """The orgs whose leads may run the command on this subject."""
    subject = args.get(who.subject) if who.subject else None
    if isinstance(subject, Org):
        return [subject]
    if isinstance(subject, RoadmapItem):
        return [subject.org]
    if isinstance(subject, Area):
        receiving = [subject.handoff_to] if who.relation is Relation.MAP_EDITOR else []
        return [subject.org, *(o for o in receiving if o is not None)]
    owner = _new_area_owner(args)
    return [owner] if owner is not None else []


async def refusal(session: AsyncSession, who: Who, actor: Person, args: Mapping[str, Any]) -> str:
    """What a refused caller is told: who may do it instead, and whom to ask."""
    subject = args.get(who.subject) if who.subject else None
    if isinstance(subject, Review):
        return _review_refusal(who, actor, subject)
    if who.relation is Relation.ITEM_EDITOR:
        if isinstance(subject, ActionItem):
            return (
                f"Only @{subject.owner.handle} (the owner), whoever added it, or a lead can "
                f"{who.verb} action item #{subject.id}."
            )
        return (
            f"Only whoever added {_subject_name(subject)}, its owner, or a lead can {who.verb} it."
        )
    orgs = list({o.id: o for o in _owning_orgs(who, actor, args)}.values())
    handles = (
        await session.scalars(
            select(Person.handle)
            .where(Person.org_id.in_([o.id for o in orgs]), Person.role == Role.LEAD)
            .order_by(Person.handle)
        )
    ).all()
    names = " or ".join(f"`{o.key}`" for o in orgs) or "the owning org"
    if isinstance(subject, str) and orgs:
        what = f"add areas for `{orgs[0].key}`"
    else:
        what = f"{who.verb} {_subject_name(subject)}"
    ask = ", ".join("@" + h for h in handles)
    hint = f" Ask {ask}, or an admin." if ask else " Ask an admin."
    return f"Only leads of {names} (or an admin) can {what}.{hint}"
