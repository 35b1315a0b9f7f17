"""/whoami, /people and /me: who is who, in which org, with which role; your own settings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from commands.core.context import CommandError, Context
from commands.core.messages import Field, Message, bold, code, line, mention
from commands.core.notifier import NOTIFY_CHOICES
from commands.core.registry import Group, Kind, Param
from storage.models import Org, Person, Role

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

me = Group("me", "Your own settings: which direct messages you get")

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
