"""Suggestions while a value is typed (Discord autocomplete, Slack options), per parameter kind.

Each kind that can be suggested has one source: a query that returns (label, value) pairs for
what was typed so far. Ranking and the cap are shared, so adding a kind is one entry in
`SOURCES`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, String, cast, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from commands.core.messages import When
from commands.core.presence import away_until
from commands.core.registry import Kind
from storage.models import (
    ActionItem,
    ActionStatus,
    AgendaItem,
    AgendaStatus,
    Area,
    Org,
    Person,
    Review,
    ReviewState,
    RoadmapItem,
    SlaPolicy,
)

LIMIT = 25
# A source may pre-filter in SQL; it returns at most this many candidates to rank.
_FETCH = 200
_OPEN = (
    ReviewState.REQUESTED,
    ReviewState.ACKNOWLEDGED,
    ReviewState.IN_REVIEW,
    ReviewState.CHANGES_REQUESTED,
    ReviewState.PAUSED,
)

Suggestion = tuple[str, str]
Source = Callable[[AsyncSession, str], Awaitable[Sequence[Suggestion]]]


def _like(typed: str) -> str:
    escaped = typed.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _areas(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await session.scalars(
        select(Area.name)
        .where(Area.retired_at.is_(None), func.lower(Area.name).like(_like(typed), escape="\\"))
        .order_by(Area.name)
        .limit(_FETCH)
    )
    return [(name, name) for name in rows]


async def _categories(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await session.scalars(
        select(Area.category)
        .where(
            Area.category.is_not(None),
            Area.retired_at.is_(None),
            func.lower(Area.category).like(_like(typed), escape="\\"),
        )
        .distinct()
        .order_by(Area.category)
        .limit(_FETCH)
    )
    return [(name, name) for name in rows if name]


async def _numbered(
    session: AsyncSession,
    typed: str,
    number: InstrumentedAttribute[int],
    text: InstrumentedAttribute[str],
    *where: ColumnElement[bool],
) -> list[tuple[int, str]]:
    """Rows whose id starts with the typed number or whose text contains what was typed."""
    digits = typed.lstrip("#").strip()
    rows = await session.execute(
        select(number, text)
        .where(
            *where,
            or_(
                cast(number, String).like(f"{digits}%") if digits.isdigit() else false(),
                func.lower(text).like(_like(typed), escape="\\"),
            ),
        )
        .order_by(number.desc())
        .limit(_FETCH)
    )
    return [(n, t) for n, t in rows]


async def _reviews(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await _numbered(session, typed, Review.id, Review.title, Review.state.in_(_OPEN))
    return [(f"#{rid} {title}", str(rid)) for rid, title in rows]


async def _roadmap_items(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await _numbered(session, typed, RoadmapItem.id, RoadmapItem.title)
    return [(f"#{rid} {title}", str(rid)) for rid, title in rows]


async def _agenda_items(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await _numbered(
        session, typed, AgendaItem.id, AgendaItem.topic, AgendaItem.status == AgendaStatus.OPEN
    )
    return [(f"#{aid} {topic}", str(aid)) for aid, topic in rows]


async def _actions(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await _numbered(
        session, typed, ActionItem.id, ActionItem.text, ActionItem.status == ActionStatus.OPEN
    )
    return [(f"#{aid} {text}", str(aid)) for aid, text in rows]


async def _policies(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await session.scalars(
        select(SlaPolicy.name)
        .where(
            SlaPolicy.retired.is_(False),
            func.lower(SlaPolicy.name).like(_like(typed), escape="\\"),
        )
        .order_by(SlaPolicy.name)
        .limit(_FETCH)
    )
    return [(name, name) for name in rows]


async def _orgs(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    rows = await session.execute(select(Org.key, Org.name).order_by(Org.key).limit(_FETCH))
    return [(f"{key} — {name}", key) for key, name in rows]


async def _people(session: AsyncSession, typed: str) -> Sequence[Suggestion]:
    pattern = _like(typed.lstrip("@"))
    rows = await session.execute(
        select(Person.handle, Person.name)
        .where(
            or_(
                func.lower(Person.handle).like(pattern, escape="\\"),
                func.lower(Person.name).like(pattern, escape="\\"),
            )
        )
        .order_by(Person.handle)
        .limit(_FETCH)
    )
    return [(f"@{handle} — {name}", f"@{handle}") for handle, name in rows]


SOURCES: dict[Kind, Source] = {
    Kind.AREA: _areas,
    Kind.REVIEW: _reviews,
    Kind.POLICY: _policies,
    Kind.ORG: _orgs,
    Kind.PERSON: _people,
    Kind.ROADMAP_ITEM: _roadmap_items,
    Kind.AGENDA_ITEM: _agenda_items,
    Kind.ACTION: _actions,
    Kind.CATEGORY: _categories,
}


def knows(kind: Kind) -> bool:
    """Whether values of this kind can be suggested."""
    return kind in SOURCES


async def suggest(
    session: AsyncSession,
    kind: Kind,
    typed: str,
    *,
    limit: int = LIMIT,
    now: datetime | None = None,
) -> list[Suggestion]:
    """Up to `limit` (label, value) pairs for what was typed: prefix matches first.

    Given `now`, people away then are marked: "@dave — Dave Edwardk (away until Wed 7 Jan)".
    """
    source = SOURCES.get(kind)
    if source is None:
        return []
    typed = typed.strip()
    found = rank(await source(session, typed), typed)[:limit]
    if kind is Kind.PERSON and now is not None:
        away = await away_until(session, now)
        found = [
            (f"{label} (away until {When(away[v[1:]][0], away[v[1:]][1], 'date').text()})", v)
            if v[1:] in away
            else (label, v)
            for label, v in found
        ]
    return found


def rank(candidates: Sequence[Suggestion], typed: str) -> list[Suggestion]:
    """Candidates matching `typed` (any case): prefix matches, then the rest, each in order."""
    needle = typed.lower().lstrip("#@")
    prefix: list[Suggestion] = []
    inside: list[Suggestion] = []
    for label, value in candidates:
        texts = (label.lower().lstrip("#@"), value.lower().lstrip("#@"))
        if any(t.startswith(needle) for t in texts):
            prefix.append((label, value))
        elif any(needle in t for t in texts):
            inside.append((label, value))
    return prefix + inside
