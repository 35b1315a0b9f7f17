"""/whoami, /people and /me: who is who, in which org, with which role; your own settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from commands.core import presence
from commands.core.calendar import parse_business_hours
from commands.core.context import CommandError, Context
from commands.core.messages import Field, Line, Message, When, bold, code, line, mention
from commands.core.notifier import NOTIFY_CHOICES, Wake
from commands.core.registry import Group, Kind, Param
from commands.reviews import away as away_work
from storage.models import Away, Org, Person, Role

whoami = Group("whoami", "Who Liaison thinks you are")
people = Group("people", "The people of both orgs and their roles")


@whoami.command(None, read_only=True)
async def show_me(ctx: Context, args: dict[str, Any]) -> Message:
    """Show your handle, org, role and linked platform accounts."""
    me = ctx.actor
    org = f"{me.org.name} (`{me.org.key}`)" if me.org else "none yet: ask an admin to add you"
    accounts = ", ".join(f"{i.platform}: {i.user_id}" for i in me.identities) or "none"
    return Message(
        title=f"You are @{me.handle}",
        fields=(
            Field("Name", line(me.name)),
            Field("Org", line(org)),
            Field("Role", line(me.role.value)),
            Field("Accounts", line(accounts)),
        ),
    )


@people.command("list", Param("org", Kind.ORG, "Only this org", required=False), read_only=True)
async def list_people(ctx: Context, args: dict[str, Any]) -> Message:
    """List everyone, by org, with their roles."""
    query = select(Person).order_by(Person.org_id.is_(None), Person.org_id, Person.handle)
    org: Org | None = args["org"]
    if org is not None:
        query = query.where(Person.org_id == org.id)
    found = (await ctx.session.scalars(query)).unique().all()
    if not found:
        return Message(lines=(line("Nobody here yet."),))
    lines = [
        line(
            mention(ctx.ref(p)),
            f" — {p.name}, ",
            bold(p.role.value),
            f" of {p.org.key}" if p.org else " (no org)",
        )
        for p in found
    ]
    title = f"People of {org.name}" if org else "People"
    return Message(title=f"{title} ({len(found)})", lines=tuple(lines))


@people.command(
    "role",
    Param("person", Kind.PERSON, "Whose role to change"),
    Param("role", Kind.CHOICE, "The new role", choices=tuple(r.value for r in Role)),
    role=Role.ADMIN,
)
async def set_role(ctx: Context, args: dict[str, Any]) -> Message:
    """Give someone the role member, lead or admin."""
    person: Person = args["person"]
    new = Role(args["role"])
    if person.id == ctx.actor.id and new is not Role.ADMIN:
        others = await ctx.session.scalar(
            select(Person.id).where(Person.role == Role.ADMIN, Person.id != person.id)
        )
        if others is None:
            raise CommandError("You are the last admin; make someone else admin first.")
    if person.role is new:
        return Message(lines=(line(mention(ctx.ref(person)), f" is already a {new.value}."),))
    old = person.role
    person.role = new
    person.role_set_in_chat = True
    await ctx.session.flush()
    await ctx.notify(
        f"person:{person.id}:role:{ctx.now.isoformat()}",
        Message(
            title="Role changed",
            lines=(
                line(
                    mention(ctx.ref(person)),
                    f" is now a {new.value} (was {old.value}), set by ",
                    mention(ctx.ref(ctx.actor)),
                    ".",
                ),
            ),
        ),
    )
    return Message(
        lines=(line("Done: ", mention(ctx.ref(person)), " is now a ", code(new.value), "."),),
        tone="success",
    )


# --- /me: your own settings ----------------------------------------------------------------------

me = Group("me", "Your own settings: time zone, working hours, which direct messages you get")
_DEFAULT = "default"


def _my_hours(person: Person) -> Line:
    own = " (your own)" if person.hours or person.timezone else " (your org's)"
    return line(code(presence.hours_of(person)), " in ", code(presence.zone_name(person)), own)


@me.command("timezone", Param("zone", Kind.TIMEZONE, "Your time zone, e.g. Asia/Singapore"))
async def set_timezone(ctx: Context, args: dict[str, Any]) -> Message:
    """Set your own time zone: direct pings wait for your working hours in it."""
    ctx.actor.timezone = args["zone"]
    ctx.actor.hours_set_in_chat = True
    await ctx.session.flush()
    return Message(
        lines=(line("Done: your working hours are ", *_my_hours(ctx.actor), "."),), tone="success"
    )


@me.command(
    "hours",
    Param(
        "hours",
        Kind.TEXT,
        'e.g. "Mon-Thu 08:00-16:00", or "default" for your org\'s',
        max_length=200,
    ),
)
async def set_hours(ctx: Context, args: dict[str, Any]) -> Message:
    """Set your own working hours: direct pings outside them wait until they start."""
    text = args["hours"].strip()
    if text.lower() == _DEFAULT:
        ctx.actor.hours = None
    else:
        try:
            ctx.actor.hours = parse_business_hours(text).describe()
        except ValueError as exc:
            raise CommandError(
                f'{exc}. Write them like "Mon-Thu 08:00-16:00" (or "default" for your org\'s).'
            ) from None
    ctx.actor.hours_set_in_chat = True
    await ctx.session.flush()
    return Message(
        lines=(line("Done: your working hours are ", *_my_hours(ctx.actor), "."),), tone="success"
    )


_NOTIFY_MEANING = {
    "all": "every direct message Liaison has for you",
    "action": "only direct messages about what you must act on (no news such as approvals)",
    "daily": "no direct messages, but a summary each working morning of what waits for you",
}


@me.command(
    "notify",
    Param(
        "how",
        Kind.CHOICE,
        "all (every DM), action (only what you must act on) or daily (a morning summary)",
        choices=NOTIFY_CHOICES,
    ),
)
async def notify(ctx: Context, args: dict[str, Any]) -> Message:
    """Choose your direct messages: all of them, only what you must act on, or a daily summary.

    Your choice outlives restarts; until you make one, `[[people]] notify` in the configuration
    applies. Channel posts and cards are not affected.
    """
    how: str = args["how"]
    ctx.actor.notify, ctx.actor.notify_set_in_chat = how, True
    return Message(
        lines=(line("From now on you get ", bold(how), f": {_NOTIFY_MEANING[how]}."),),
        tone="success",
    )


# --- /away: time away, and who covers ------------------------------------------------------------

away = Group("away", "Time away: who covers your reviews and escalations meanwhile")


async def _mine_ahead(ctx: Context) -> list[Away]:
    rows = await ctx.session.scalars(
        select(Away)
        .where(Away.person_id == ctx.actor.id, Away.cancelled_at.is_(None), Away.ends_at > ctx.now)
        .order_by(Away.starts_at)
    )
    return list(rows.unique())


def _span(row: Away) -> Line:
    zone = presence.zone_name(row.person)
    return line(When(row.starts_at, zone, "date"), " until ", When(row.ends_at, zone, "date"))


@away.command(
    "set",
    Param("from", Kind.DATE, "Your first day away (YYYY-MM-DD)"),
    Param("until", Kind.DATE, "The day you are back (YYYY-MM-DD)"),
    Param(
        "backup",
        Kind.PERSON,
        "Who covers for you (default: the area's backup, else a lead)",
        False,
        keyword=True,
    ),
    Param("note", Kind.TEXT, "A note for the people who look you up", False, max_length=200),
)
async def set_away(ctx: Context, args: dict[str, Any]) -> Message:
    """Say you are away from one day until the day you are back; your reviews go to a backup.

    Reviews you have open then are handed to your backup, and what would come to you meanwhile
    goes to them; you are told what went past you when you are back. The clocks keep running.
    """
    me_, zone = ctx.actor, presence.zone_of(ctx.actor)
    first, back = args["from"], args["until"]
    if back <= first:
        raise CommandError(
            f"The day you are back ({back}) must come after your first day away ({first})."
        )
    starts, ends = presence.day_start(first, zone), presence.day_start(back, zone)
    if ends <= ctx.now:
        raise CommandError(f"{back} has passed already: give the day you will be back.")
    backup: Person | None = args["backup"]
    if backup is not None and backup.id == me_.id:
        raise CommandError("Name someone else as your backup (or leave it out for the default).")
    if backup is not None and backup.org_id != me_.org_id:
        raise CommandError(f"@{backup.handle} is not in your org; name a backup from it.")
    for other in await _mine_ahead(ctx):
        if other.starts_at < ends and starts < other.ends_at:
            raise CommandError(
                f"You are already away {other.starts_at.astimezone(zone):%Y-%m-%d} until "
                f"{other.ends_at.astimezone(zone):%Y-%m-%d}: /away cancel it first."
            )
    row = Away(
        person_id=me_.id,
        person=me_,
        starts_at=starts,
        ends_at=ends,
        backup_id=backup.id if backup else None,
        backup=backup,
        note=args["note"],
        source="chat",
        created_at=ctx.now,
        routed=[],
    )
    ctx.session.add(row)
    await ctx.session.flush()
    ctx.notifier.changed(Wake.DEADLINES)
    said = [line("Done: you are away ", *_span(row), ".")]
    if backup is not None:
        said.append(line(mention(ctx.ref(backup)), " covers for you."))
        await ctx.notify(
            f"away:{row.id}:backup",
            Message(
                title=f"You cover for @{me_.handle}",
                lines=(
                    line(
                        mention(ctx.ref(me_)),
                        " is away ",
                        *_span(row),
                        " and named you as their backup.",
                    ),
                ),
            ),
            to=backup,
        )
    if starts <= ctx.now:
        moved = await away_work.hand_over(ctx.notifier, row)
        if moved:
            said.append(
                line(
                    f"Your open reviews ({', '.join(f'#{r.id}' for r in moved)}) "
                    "went to whoever covers you."
                )
            )
    return Message(lines=tuple(said), tone="success")


@away.command("list", read_only=True)
async def list_away(ctx: Context, args: dict[str, Any]) -> Message:
    """Who is away now or soon, until when, and who covers."""
    rows = (
        (
            await ctx.session.scalars(
                select(Away)
                .where(Away.cancelled_at.is_(None), Away.ends_at > ctx.now)
                .order_by(Away.starts_at, Away.id)
            )
        )
        .unique()
        .all()
    )
    if not rows:
        return Message(lines=(line("Nobody is away, now or planned."),))
    lines = []
    for row in rows:
        now_ = " (now)" if row.starts_at <= ctx.now else ""
        cover = line(", backup ", mention(ctx.ref(row.backup))) if row.backup else line()
        note = line(f" — {row.note}") if row.note else line()
        lines.append(line(mention(ctx.ref(row.person)), ": ", *_span(row), now_, *cover, *note))
    return Message(title=f"Time away ({len(rows)})", lines=tuple(lines))


@away.command("cancel")
async def cancel_away(ctx: Context, args: dict[str, Any]) -> Message:
    """Cancel your next time away, or end the current one now (you are back)."""
    ahead = await _mine_ahead(ctx)
    if not ahead:
        raise CommandError("You have no time away to cancel: /away list shows who is away.")
    row = ahead[0]
    ctx.notifier.changed(Wake.DEADLINES)
    if row.starts_at > ctx.now:
        row.cancelled_at = ctx.now
        return Message(
            lines=(line("Done: cancelled your time away ", *_span(row), "."),), tone="success"
        )
    row.ends_at = ctx.now
    await away_work.welcome_back(ctx.notifier, row)
    return Message(lines=(line("Welcome back: your time away ends now."),), tone="success")
