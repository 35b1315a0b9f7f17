"""An ownership map that stays true: each DRI confirms their areas every `[ownership]
verify_every`, and areas whose DRI did not answer, or left, are flagged.

The cycle of one area: its baseline is when it was last confirmed (or named, or created). Once
`verify_every` has passed since, the daily job asks its DRI by DM (Confirm / Hand to someone
else). An answer is `/dri confirm` or `/dri release`. Still unanswered a week after the question,
the area is *unconfirmed*: the owning org's leads are told once, and the board, `/dri list` and
the digest mark it. A DRI who left the configuration (bot/sync), or whom a platform reports gone
(a Slack account deactivated, a Discord member removed: `person_gone_from`), has their areas
flagged at once.
The same daily job reminds both sides of a started hand-off once its `shadow` period is over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.lookup import area_ref
from commands.core.messages import (
    Action,
    ActionId,
    Line,
    Message,
    Span,
    bold,
    code,
    line,
    mention,
)
from commands.core.notifier import Notifier, Postbox, person_ref
from commands.ownership.map import Change, all_areas, leads_of, write_history
from storage import inbound
from storage.models import Area, HandoffRules, HandoffState, Identity, Person

# When no configuration was applied (a bare database): the documented default.
DEFAULT_VERIFY_EVERY = timedelta(weeks=12)
# How long a DRI has to answer before the area is unconfirmed and their lead is told.
ANSWER_WITHIN = timedelta(weeks=1)


async def verify_every(session: AsyncSession) -> timedelta:
    """`[ownership] verify_every`, as the last configuration applied set it."""
    rules = await session.get(HandoffRules, 1)
    if rules is None or rules.verify_every_seconds is None:
        return DEFAULT_VERIFY_EVERY
    return timedelta(seconds=rules.verify_every_seconds)


def baseline(area: Area) -> datetime:
    """Since when an area's ownership is known to be true."""
    return area.verified_at or area.created_at


def asked(area: Area) -> bool:
    """Whether its DRI was asked to confirm it and has not answered yet (an answer, or a new
    DRI named, clears the question)."""
    return area.verify_asked_at is not None


def departed(area: Area) -> bool:
    """Whether its DRI is gone: left the configuration, or gone from a platform."""
    return area.dri is not None and area.dri.left_at is not None


async def answered(notifier: Notifier, area: Area, to: Person, text: Line) -> None:
    """Replace the standing question (its buttons with it) by what its DRI answered."""
    key = ask_key(area)
    if key is None:
        return
    await notifier.notify(
        f"{key}:answer",
        Message(title=f"Who runs {area.name}", lines=(text,), tone="success"),
        to=to,
        edit_of=key,
    )


def unconfirmed(area: Area, now: datetime) -> bool:
    """Asked, and still unanswered a week later."""
    return (
        asked(area)
        and area.verify_asked_at is not None
        and now - area.verify_asked_at >= ANSWER_WITHIN
    )


def mark(area: Area, now: datetime) -> str:
    """What the board and the lists add to a flagged area: " · DRI left", " · unconfirmed"."""
    if departed(area):
        return " · DRI left"
    return " · unconfirmed" if unconfirmed(area, now) else ""


def is_due(area: Area, now: datetime, every: timedelta) -> bool:
    """Whether the daily job should ask this area's DRI now."""
    if area.dri is None or area.retired_at is not None or departed(area) or asked(area):
        return False
    return now - baseline(area) >= every


def ask_key(area: Area) -> str | None:
    """The key of the question standing for an area (its answer replaces that message)."""
    if area.verify_asked_at is None:
        return None
    return f"area:{area.id}:verify:{area.verify_asked_at.isoformat()}"


async def ask(notifier: Notifier, area: Area, at: datetime) -> bool:
    """Ask an area's DRI, by DM, to confirm they still run it, as of `at` (the job's occurrence,
    or now): False if that question was written already."""
    assert area.dri is not None
    ref = area_ref(area)
    message = Message(
        title=f"Are you still the DRI of {area.name}?",
        lines=(
            line(
                "The ownership map says you run ",
                bold(area.name),
                f" for `{area.org.key}`. Confirm it, or say it should go to someone else: ",
                code(f'/dri confirm "{area.name}"'),
                " or ",
                code(f'/dri release "{area.name}"'),
                ".",
            ),
            line("Unanswered after a week, your lead is told and the area is marked unconfirmed."),
        ),
        actions=(
            Action(ActionId("dri", "confirm", ref), "Confirm", "primary"),
            Action(ActionId("dri", "release", ref), "Hand to someone else", "secondary"),
        ),
    )
    area.verify_asked_at = at
    key = ask_key(area)
    assert key is not None
    return await notifier.notify(key, message, to=area.dri)


async def verify_due(postbox: Postbox, scheduled_for: datetime, now: datetime) -> None:
    """The daily job: ask the DRIs whose areas are due, tell the leads of areas left unanswered,
    and remind both sides of a hand-off whose shadow period is over.

    Keyed by the occurrence and by the question's instant, so a run repeated (a restart, a
    second replica) sends nothing twice.
    """
    async with postbox.transaction(now) as notifier:
        session = notifier.session
        every = await verify_every(session)
        for area in await all_areas(session):
            if is_due(area, now, every):
                await ask(notifier, area, scheduled_for)
            elif area.retired_at is None and unconfirmed(area, now) and not departed(area):
                await _tell_leads(notifier, area)
            shadow = area.shadow_until
            if area.state is HandoffState.IN_TRANSITION and shadow is not None and shadow <= now:
                await _shadow_over(notifier, area)


async def _shadow_over(notifier: Notifier, area: Area) -> None:
    """Both DRIs and the owning org's leads hear, once, that the shadow period is over."""
    assert area.shadow_until is not None
    people = [p for p in (area.dri, area.receiving_dri) if p is not None]
    people += await leads_of(notifier.session, area.org_id)
    receiver = area.receiving_dri
    for person in {p.id: p for p in people}.values():
        await notifier.notify(
            f"area:{area.id}:shadow-over:{area.shadow_until.isoformat()}:{person.id}",
            Message(
                title=f"The shadow period of {area.name} is over",
                lines=(
                    line(
                        "The hand-off of ",
                        bold(area.name),
                        f" to `{area.handoff_to.key if area.handoff_to else '?'}` planned its "
                        f"shadow period until {area.shadow_until.date().isoformat()}. ",
                        *(
                            ()
                            if receiver is None or area.receiver_accepted_at is not None
                            else (
                                mention(person_ref(receiver)),
                                " still has to say ",
                                code(f'/handoff own "{area.name}"'),
                                "; ",
                            )
                        ),
                        "a lead of ",
                        f"`{area.org.key}` completes it with ",
                        code(f'/handoff done "{area.name}"'),
                        ".",
                    ),
                ),
            ),
            to=person,
        )


async def _tell_leads(notifier: Notifier, area: Area) -> None:
    assert area.verify_asked_at is not None and area.dri is not None
    await tell_leads(
        notifier,
        area,
        f"area:{area.id}:verify-late:{area.verify_asked_at.isoformat()}",
        f"Nobody confirmed who runs {area.name}",
        mention(person_ref(area.dri)),
        " was asked a week ago to confirm they are still the DRI of ",
        bold(area.name),
        " and has not answered. Check with them, or name another DRI: ",
    )


async def tell_leads(
    notifier: Notifier, area: Area, key: str, title: str, *said: str | Span
) -> list[Person]:
    """DM each lead of the area's org what happened, and how to name a new DRI (`key` is
    completed per lead); return who was told."""
    leads = await leads_of(notifier.session, area.org_id)
    for lead in leads:
        await notifier.notify(
            f"{key}:{lead.id}",
            Message(
                title=title,
                lines=(line(*said, code(f'/dri set "{area.name}" @person'), "."),),
                tone="warning",
            ),
            to=lead,
        )
    return leads


async def flagged_lines(session: AsyncSession, now: datetime) -> list[Line]:
    """One line per area whose DRI left or did not confirm it, for the digest."""
    out = []
    for area in await all_areas(session):
        if area.retired_at is not None or not mark(area, now):
            continue
        assert area.dri is not None
        why = "has left" if departed(area) else "has not confirmed it"
        out.append(
            line("• ", area.name, f" ({area.org.key}) — ", mention(person_ref(area.dri)), f" {why}")
        )
    return out


# Why someone is gone, as the DM to whoever stands in says it.
LEFT_CONFIGURATION = "is no longer in Liaison's configuration"
# How each platform says someone is gone (the adapters' events), for the DM and the history.
GONE_ON = {
    "slack": "was deactivated on Slack",
    "discord": "left the Discord server",
}


async def person_gone_from(
    postbox: Postbox, now: datetime, platform: str, user_id: str, *, request_key: str | None = None
) -> Person | None:
    """A platform reports someone gone (a Slack account deactivated, a Discord member removed):
    mark the person with that identity as gone and flag their areas, in one transaction.

    Returns the person marked, or None when nobody has that identity, they were gone already
    (a re-sent event, or the configuration got there first), or `request_key` was seen before.
    """
    async with postbox.transaction(now) as notifier:
        session = notifier.session
        if request_key is not None and not await inbound.start(session, request_key, now):
            return None
        person = await session.scalar(
            select(Person)
            .join(Identity)
            .where(Identity.platform == platform, Identity.user_id == user_id)
        )
        if person is None:
            return None
        why = GONE_ON.get(platform, f"is gone from {platform}")
        return person if await mark_gone(notifier, person, why, platform=platform) else None


async def mark_gone(
    notifier: Notifier, person: Person, why: str, *, platform: str | None = None
) -> bool:
    """Mark a person as gone and flag the areas they run, unless they are gone already.

    The one place `left_at` is set: the configuration (bot/sync, `platform` None) and the
    platforms' events (`person_gone_from`) both come here. The update is conditional, so two
    transactions racing to mark the same person (a re-sent event, another replica) flag once:
    on PostgreSQL the second waits on the row and then finds it marked.
    """
    marked = await notifier.session.execute(
        update(Person)
        .where(Person.id == person.id, Person.left_at.is_(None))
        .values(left_at=notifier.now)
        .execution_options(synchronize_session="fetch")
    )
    if not marked.rowcount:  # type: ignore[attr-defined]
        return False
    await flag_departed_areas(notifier, person, why, platform=platform)
    return True


async def flag_departed_areas(
    notifier: Notifier, person: Person, why: str, *, platform: str | None = None
) -> None:
    """Someone is gone (`why`: "is no longer in Liaison's configuration"): flag each area they
    run (history), and tell its backup (or, with no backup, its org's leads) by DM."""
    areas = (
        await notifier.session.scalars(
            select(Area).where(Area.dri_id == person.id, Area.retired_at.is_(None))
        )
    ).unique()
    # The history says who reported it: the configuration, or the platform (kept in the
    # change's old value, which a one-off change does not otherwise show).
    change = (
        Change("dri-left", None, f"@{person.handle}")
        if platform is None
        else Change("dri-deactivated", platform, f"@{person.handle}")
    )
    for area in areas.all():
        await write_history(notifier.session, area, None, notifier.now, [change])
        told = (
            [area.backup]
            if area.backup is not None
            else await leads_of(notifier.session, area.org_id)
        )
        for who in told:
            await notifier.notify(
                f"area:{area.id}:dri-left:{person.id}:{notifier.now.isoformat()}:{who.id}",
                Message(
                    title=f"{area.name} has lost its DRI",
                    lines=(
                        line(
                            f"@{person.handle} ({person.name}), the DRI of ",
                            bold(area.name),
                            f" for `{area.org.key}`, {why}. ",
                            "You stand in for the area: " if who is area.backup else "",
                            "name a new DRI with ",
                            code(f'/dri set "{area.name}" @person'),
                            ".",
                        ),
                    ),
                    tone="warning",
                ),
                to=who,
            )
