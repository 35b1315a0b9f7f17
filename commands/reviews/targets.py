"""Whom a review's notify targets name: the people (each once) and the channels.

Read when a stage fires (escalation) and when a requester nudges (reminders), so a reassigned
review's reminders follow its new reviewer, and an unassigned one's go to the reviewing org's
leads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.lookup import area_key
from commands.ownership import map as ownership
from commands.reviews.card import REVIEW_AREA
from commands.reviews.rules import ChannelTarget, NotifyTarget, Target
from storage.models import Area, Person, Review, Role


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
    session: AsyncSession, review: Review, targets: Sequence[Target]
) -> tuple[list[Person], list[str]]:
    """The people (each once) and channels a stage's notify list names for this review."""
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
    return list(people.values()), channels
