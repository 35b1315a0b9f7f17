"""Who covers a review's people while they are away: the one place recipients are swapped.

`route` replaces each person away by whoever covers them (the request's reviewer in
`lifecycle.open_review`, the notify lists of the stages `escalation._fire` fires), and
remembers on the time away what went past them, to tell them when they are back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.presence import Cover, cover, note_routed
from commands.reviews.targets import code_review_area
from storage.models import Person, Review


async def area_backup(session: AsyncSession, review: Review) -> Person | None:
    """The backup of the reviewing org's code review area, if it has one."""
    area = await code_review_area(session)
    if area is not None and area.org_id == review.reviewing_org_id:
        return area.backup
    return None


async def route(
    session: AsyncSession, review: Review, people: Sequence[Person], at: datetime, what: str
) -> tuple[list[Person], list[Cover]]:
    """The people to tell instead of `people` (each once), and who was covered by whom.

    Each person away at `at` is replaced by whoever covers them, and the time away remembers
    `what` went past them, to tell them when they are back.
    """
    fallback = await area_backup(session, review)
    chosen: dict[int, Person] = {}
    covers: list[Cover] = []
    for person in people:
        found = await cover(session, person, at, fallback=fallback)
        if found.routed and found.away is not None:
            note_routed(found.away, review.id, what)
            covers.append(found)
        chosen.setdefault(found.by.id, found.by)
    return list(chosen.values()), covers


def cover_review(review: Review, found: Cover) -> None:
    """Give the review to whoever covers its away reviewer; the card says whom they cover."""
    assert found.away is not None
    review.reviewer_id, review.reviewer = found.by.id, found.by
    review.covering_for_id, review.covering_for = found.person.id, found.person
    review.covering_until = found.away.ends_at
