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

from storage.models import (
    ActionItem,
    AgendaItem,
    Area,
    HandoffState,
    Org,
    Person,
    Review,
    RoadmapItem,
    Role,
)


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
    # A lead of the owning org, or of the org an area is being handed to once both sides agreed
    # (the DRI may change hands during an agreed hand-off; a mere proposal gives the receiving
    # side nothing). A new area: a lead of the org it is for.
    MAP_EDITOR = "map editor"
    # A lead of either side of a hand-off: the org that owns the area, or the org it would go to
    # (`to=`, else any other org): either side may propose.
    HANDOFF_PARTY = "hand-off party"
    # A lead of the org on the other side of a proposed hand-off from the org that proposed it:
    # nobody accepts their own proposal.
    COUNTERPART_LEAD = "counterpart lead"
    # A lead of either org of the hand-off under way (proposed, planned or started): either
    # side may call it off. With no hand-off: a lead of the owning org.
    HANDOFF_SIDES = "hand-off sides"
    # The receiving DRI named when the hand-off started: only they say "I own this now".
    RECEIVING_DRI = "receiving DRI"
    # The area's DRI: only they confirm they still run it, or ask to hand it on.
    AREA_DRI = "area DRI"
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


def _agreed_to(area: Area) -> int | None:
    """The org an area goes to once both sides agreed its hand-off (None while only proposed)."""
    return None if area.state is HandoffState.PROPOSED else area.handoff_to_id


def _accepting_org(area: Area) -> int | None:
    """The org whose lead may accept or decline a proposal: the side that did not propose it."""
    if area.state is not HandoffState.PROPOSED or area.proposed_by_org_id is None:
        return None
    if area.proposed_by_org_id == area.handoff_from_id:
        return area.handoff_to_id
    return area.handoff_from_id


def _party(actor: Person, area: Area, args: Mapping[str, Any]) -> bool:
    if _is_lead_of(actor, area.org_id):
        return True
    to = args.get("to")
    target = to.id if isinstance(to, Org) else None
    # Without `to=`, a lead of another org proposes that the area comes to their own org.
    return actor.role is Role.LEAD and actor.org_id is not None and target in (None, actor.org_id)


def _counterpart(actor: Person, area: Area, args: Mapping[str, Any]) -> bool:
    accepting = _accepting_org(area)
    # Nothing proposed: any lead may ask, and is told there is nothing to accept.
    return accepting is None or _is_lead_of(actor, accepting)


def _receiver(actor: Person, area: Area, args: Mapping[str, Any]) -> bool:
    # Nobody named yet: the command itself explains there is nothing to take over.
    return area.receiving_dri_id is None or actor.id == area.receiving_dri_id


def _sides(actor: Person, area: Area, args: Mapping[str, Any]) -> bool:
    return _is_lead_of(actor, area.org_id) or _is_lead_of(actor, area.handoff_to_id)


def _dri(actor: Person, area: Area, args: Mapping[str, Any]) -> bool:
    return actor.id == area.dri_id


_HANDOFF_RULES: dict[Relation, Callable[[Person, Area, Mapping[str, Any]], bool]] = {
    Relation.HANDOFF_PARTY: _party,
    Relation.COUNTERPART_LEAD: _counterpart,
    Relation.RECEIVING_DRI: _receiver,
    Relation.HANDOFF_SIDES: _sides,
    Relation.AREA_DRI: _dri,
}


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
    if isinstance(subject, Area) and relation in _HANDOFF_RULES:
        return _HANDOFF_RULES[relation](actor, subject, args)
    if relation is Relation.MAP_EDITOR:
        if isinstance(subject, Area):
            return _is_lead_of(actor, subject.org_id) or _is_lead_of(actor, _agreed_to(subject))
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
        if who.relation is Relation.COUNTERPART_LEAD:
            accepting = _accepting_org(subject)
            side = (
                subject.handoff_to if accepting == subject.handoff_to_id else subject.handoff_from
            )
            return [side] if side is not None else []
        if who.relation is Relation.HANDOFF_PARTY:
            to = args.get("to")
            return [subject.org, *([to] if isinstance(to, Org) else [])]
        receiving = {
            Relation.MAP_EDITOR: [subject.handoff_to] if _agreed_to(subject) else [],
            Relation.HANDOFF_SIDES: [subject.handoff_to],
        }.get(who.relation, [])
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
    if who.relation is Relation.RECEIVING_DRI and isinstance(subject, Area):
        named = f"@{subject.receiving_dri.handle}" if subject.receiving_dri else "the receiving DRI"
        return f"Only {named} (the receiving DRI) can {who.verb} {_subject_name(subject)}."
    if who.relation is Relation.AREA_DRI and isinstance(subject, Area):
        named = f"@{subject.dri.handle}" if subject.dri else "its DRI"
        return f"Only {named} (the DRI) can {who.verb} {_subject_name(subject)}."
    if who.relation is Relation.COUNTERPART_LEAD and isinstance(subject, Area):
        proposer = subject.proposed_by_org.key if subject.proposed_by_org else "one org"
        if actor.org_id == subject.proposed_by_org_id:
            answering = _owning_orgs(who, actor, args)
            names = " or ".join(f"`{o.key}`" for o in answering) or "the other org"
            return (
                f"`{proposer}` proposed this hand-off: only leads of {names} can "
                f"{who.verb} {_subject_name(subject)}." + await _ask(session, answering)
            )
    orgs = list({o.id: o for o in _owning_orgs(who, actor, args)}.values())
    names = " or ".join(f"`{o.key}`" for o in orgs) or "the owning org"
    if isinstance(subject, str) and orgs:
        what = f"add areas for `{orgs[0].key}`"
    else:
        what = f"{who.verb} {_subject_name(subject)}"
    return f"Only leads of {names} (or an admin) can {what}." + await _ask(session, orgs)


async def _ask(session: AsyncSession, orgs: list[Org]) -> str:
    """Whom a refused caller should ask: the leads of these orgs, or an admin."""
    handles = (
        await session.scalars(
            select(Person.handle)
            .where(Person.org_id.in_([o.id for o in orgs]), Person.role == Role.LEAD)
            .order_by(Person.handle)
        )
    ).all()
    ask = ", ".join("@" + h for h in handles)
    return f" Ask {ask}, or an admin." if ask else " Ask an admin."
