"""Whom a review's notify targets name: the people (each once) and the channels.

Read when stages fire (escalation, for a whole batch of reviews at once) and when a requester
nudges (reminders), so a reassigned review's reminders follow its new reviewer, and an
unassigned one's go to the reviewing org's leads.
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

# Ids per IN (...) list: well inside SQLite's and asyncpg's parameter limits.
CHUNK = 10_000


async def code_review_area(session: AsyncSession) -> Area | None:
    """The "code review" area: its DRI reviews for its org by default, its backup hears of
    escalations, and while it is handed over both its DRIs hear of requests."""
    return await session.scalar(select(Area).where(Area.name_key == area_key(REVIEW_AREA)))


def chunks(ids: Sequence[int], size: int = CHUNK) -> list[list[int]]:
    """`ids` cut into lists short enough for one IN (...) each (one empty list if none)."""
    return [list(ids[n : n + size]) for n in range(0, len(ids), size)] or [[]]


class Audience:
    """Whom targets can name, read once for a batch of reviews: each org's leads, and the area
    whose backup (and shadowing DRIs) hear of escalations."""

    def __init__(self, leads: dict[int, list[Person]], area: Area | None) -> None:
        self.leads = leads
        self.area = area

    @classmethod
    async def load(cls, session: AsyncSession, reviews: Sequence[Review]) -> Audience:
        """Two statements, however many reviews."""
        orgs = {rv.reviewing_org_id for rv in reviews} | {
            rv.requester.org_id for rv in reviews if rv.requester.org_id is not None
        }
        leads: dict[int, list[Person]] = {org: [] for org in orgs}
        for chunk in chunks(sorted(orgs)):
            found = await session.scalars(
                select(Person)
                .where(Person.org_id.in_(chunk), Person.role == Role.LEAD)
                .order_by(Person.handle)
            )
            for person in found.unique():
                if person.org_id is not None:
                    leads[person.org_id].append(person)
        return cls(leads, await code_review_area(session))

    def recipients(
        self, review: Review, targets: Sequence[Target]
    ) -> tuple[list[Person], list[str]]:
        """The people (each once) and channels a notify list names for this review."""
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


async def recipients(
    session: AsyncSession, review: Review, targets: Sequence[Target]
) -> tuple[list[Person], list[str]]:
    """The people (each once) and channels a notify list names for one review."""
    return (await Audience.load(session, [review])).recipients(review, targets)
