"""Names users type, resolved to people, orgs and areas — or to an answer that helps."""

from __future__ import annotations

import re
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.context import CommandError
from commands.core.grammar import did_you_mean
from storage.models import (
    ActionItem,
    AgendaItem,
    AgendaStatus,
    Area,
    Channel,
    Identity,
    Org,
    Person,
    Review,
    RoadmapItem,
    SlaPolicy,
)

T = TypeVar("T")

# Slack writes <@U123|name> or <@U123>; Discord writes <@123> or <@!123>.
_PLATFORM_MENTION = re.compile(r"^<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>$")


def area_key(name: str) -> str:
    """The case- and space-folded form under which an area name is unique."""
    return " ".join(name.split()).casefold()


MAX_AREA_NAME = 200


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts "A2" before "A10": digits compare as numbers, the rest folded."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part)
        for part in re.split(r"(\d+)", area_key(name))
        if part
    )


def name_too_long(name: str) -> str | None:
    """Why an area name is too long to store, or None when it fits."""
    if len(clean_name(name)) > MAX_AREA_NAME:
        return f"an area name is at most {MAX_AREA_NAME} characters long"
    return None


def clean_name(name: str) -> str:
    """An area name as stored: inner whitespace collapsed, ends trimmed."""
    return " ".join(name.split())


async def find_person(session: AsyncSession, token: str, platform: str | None = None) -> Person:
    """The person a token names: @handle, handle, or a Slack/Discord mention."""
    raw = token.strip()
    mentioned = _PLATFORM_MENTION.match(raw)
    if mentioned:
        user_id = mentioned[1]
        query = select(Person).join(Identity).where(Identity.user_id == user_id)
        if platform is not None:
            query = query.where(Identity.platform == platform)
        person = (await session.scalars(query)).first()
        if person is None:
            raise CommandError(
                f"I don't know that user yet ({user_id}). People become known when they first "
                "use Liaison, or when an admin adds them to the configuration."
            )
        return person
    handle = raw.lstrip("@").strip()
    if not handle:
        raise CommandError("Name a person as @handle, e.g. @bob.")
    person = await session.scalar(select(Person).where(func.lower(Person.handle) == handle.lower()))
    if person is not None:
        return person
    handles = (await session.scalars(select(Person.handle))).all()
    hint = did_you_mean(handle, handles, before="@")
    raise CommandError(f"No person called @{handle}.{hint} /people list shows everyone.")


async def find_org(session: AsyncSession, token: str) -> Org:
    """The org a token names, by key or by name."""
    raw = token.strip()
    org = await session.scalar(
        select(Org).where(
            (func.lower(Org.key) == raw.lower()) | (func.lower(Org.name) == raw.lower())
        )
    )
    if org is not None:
        return org
    keys = (await session.scalars(select(Org.key).order_by(Org.key))).all()
    hint = did_you_mean(raw, keys, before="`", after="`")
    known = ", ".join(f"`{k}`" for k in keys)
    raise CommandError(f"No org called {raw!r}.{hint} The orgs are {known}.")


# How a button names an area: area names have spaces and colons, a button id cannot.
_AREA_REF = re.compile(r"area\.([1-9][0-9]{0,9})")


def area_ref(area: Area) -> str:
    """The name of an area in a button id ("area.3"), which `find_area` reads back."""
    return f"area.{area.id}"


def is_area_ref(name: str) -> bool:
    """Whether a name has the form buttons use for areas (so no area may be called that)."""
    return _AREA_REF.fullmatch(name.strip()) is not None


async def find_area(session: AsyncSession, name: str) -> Area | None:
    """The area with this name (any case and spacing) or button reference, or None."""
    if (ref := _AREA_REF.fullmatch(name.strip())) and int(ref[1]) <= _MAX_ID:
        return await session.get(Area, int(ref[1]))
    return await session.scalar(select(Area).where(Area.name_key == area_key(name)))


async def require_area(session: AsyncSession, name: str, *, retired_ok: bool = False) -> Area:
    """The area with this name, or an answer naming the nearest one (a retired area is refused,
    saying so, unless `retired_ok`)."""
    area = await find_area(session, name)
    if area is not None:
        if area.retired_at is not None and not retired_ok:
            raise CommandError(retired_refusal(area))
        return area
    names = (await session.scalars(select(Area.name).where(Area.retired_at.is_(None)))).all()
    hint = did_you_mean(clean_name(name), names, before='"', after='"')
    shown = clean_name(name)
    if hint:
        raise CommandError(f'No area called "{shown}".{hint}')
    raise CommandError(
        f'No area called "{shown}". /dri list shows the map; /dri set creates an area.'
    )


def retired_refusal(area: Area) -> str:
    """What anyone naming a retired area is told."""
    assert area.retired_at is not None
    return (
        f'"{area.name}" was retired on {area.retired_at.date().isoformat()}: it is off the map, '
        f'kept only for its history (/dri history "{area.name}"). Choose another area or name.'
    )


MAX_CATEGORY = 80


async def find_category(session: AsyncSession, name: str) -> str | None:
    """An area category in use, as the map spells it (any case), or None."""
    for used in await categories(session):
        if used.casefold() == name.casefold():
            return used
    return None


async def require_category(session: AsyncSession, name: str) -> str:
    """An area category in use, or an answer listing those that are."""
    found = await find_category(session, name)
    if found is not None:
        return found
    used = await categories(session)
    listed = (
        ", ".join(used) if used else "none yet (give one with /dri set <area> @dri category=...)"
    )
    raise CommandError(f'No area has the category "{name}". Categories on the map: {listed}.')


async def categories(session: AsyncSession) -> list[str]:
    """The categories of the areas on the map (retired ones aside), sorted."""
    rows = await session.scalars(
        select(Area.category)
        .where(Area.category.is_not(None), Area.retired_at.is_(None))
        .distinct()
    )
    return sorted({c for c in rows if c}, key=str.casefold)


# Ids are 32-bit integer columns: a number outside them names nothing (and cannot be sent).
_MAX_ID = 2**31 - 1


async def by_id(session: AsyncSession, model: type[T], number: int) -> T | None:
    """The row of `model` with this id, or None (also for numbers no id column can hold)."""
    if not 1 <= number <= _MAX_ID:
        return None
    return await session.get(model, number)


async def find_review(session: AsyncSession, number: int) -> Review:
    """The review with this number, or an answer saying how to find one."""
    review = await by_id(session, Review, number)
    if review is None:
        raise CommandError(f"There is no review #{number}. /review list shows the open ones.")
    return review


async def find_policy(session: AsyncSession, name: str) -> SlaPolicy:
    """The SLA policy with this name, or an answer naming the nearest one."""
    active = SlaPolicy.retired.is_(False)
    policy = await session.scalar(
        select(SlaPolicy).where(active, func.lower(SlaPolicy.name) == name.lower())
    )
    if policy is not None:
        return policy
    names = (
        await session.scalars(select(SlaPolicy.name).where(active).order_by(SlaPolicy.name))
    ).all()
    hint = did_you_mean(name, names)
    known = ", ".join(names) or "none are configured"
    raise CommandError(f"No SLA policy called {name!r}.{hint} The policies are: {known}.")


async def find_channel(session: AsyncSession, name: str) -> str:
    """The logical channel a name (with or without "#") names, or an answer listing them."""
    wanted = name.strip().lstrip("#").lower()
    names = (await session.scalars(select(Channel.name).order_by(Channel.name))).all()
    if wanted in names:
        return wanted
    hint = did_you_mean(wanted, names, before="#")
    known = ", ".join("#" + n for n in names)
    raise CommandError(f"No channel called #{wanted}.{hint} The channels are {known}.")


async def find_agenda_item(session: AsyncSession, number: int) -> AgendaItem:
    """The agenda item with this number (not removed), or an answer saying where to look."""
    item = await by_id(session, AgendaItem, number)
    if item is None or item.status is AgendaStatus.REMOVED:
        raise CommandError(f"There is no agenda item #{number}. /agenda list shows the agenda.")
    return item


async def find_action(session: AsyncSession, number: int) -> ActionItem:
    """The action item with this number, or an answer saying where to look."""
    item = await by_id(session, ActionItem, number)
    if item is None:
        raise CommandError(f"There is no action item #{number}. /action list shows the open ones.")
    return item


async def find_roadmap_item(session: AsyncSession, number: int) -> RoadmapItem:
    """The roadmap item with this number, or an answer saying where to look."""
    item = await by_id(session, RoadmapItem, number)
    if item is None:
        raise CommandError(f"There is no roadmap item #{number}. /roadmap list shows them.")
    return item
