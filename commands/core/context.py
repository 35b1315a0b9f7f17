"""What a handler is given: the caller, the transaction, the clock, and a way to notify."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.clock import Clock
from commands.core.messages import Message, PersonRef, person_to_dict
from storage import outbox
from storage.models import Org, Person, Role


class CommandError(Exception):
    """A problem the user can fix; its text is shown to them as the answer."""

    def __init__(self, text: str, *, usage: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.usage = usage


def person_ref(person: Person) -> PersonRef:
    """A message reference to a person, carrying their platform ids."""
    ids = tuple(sorted((i.platform, i.user_id) for i in person.identities))
    return PersonRef(person.id, person.handle, person.name, ids)


async def notify(
    session: AsyncSession,
    key: str,
    message: Message,
    *,
    platforms: frozenset[str],
    now: datetime,
    channel: str | None = None,
    person: Person | None = None,
    edit_of: str | None = None,
    thread_of: str | None = None,
    late: bool = False,
) -> bool:
    """Write a notification to the outbox in the session's transaction; False if already there."""
    payload = message.to_dict()
    if person is not None:
        # The recipient travels with the message, so each platform can find their account.
        payload["to"] = person_to_dict(person_ref(person))
    return await outbox.enqueue(
        session,
        key=key,
        payload=payload,
        platforms=platforms,
        now=now,
        channel=channel,
        person_id=person.id if person else None,
        edit_of=edit_of,
        thread_of=thread_of,
        late=late,
    )


@dataclass
class Context:
    """One command invocation: who, where, when, inside one database transaction."""

    session: AsyncSession
    actor: Person
    platform: str
    clock: Clock
    platforms: frozenset[str]
    announce_channel: str
    now: datetime = field(init=False)
    # What this invocation changed that running parts care about ("outbox", "deadlines").
    signals: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.now = self.clock.now()

    @property
    def tz(self) -> ZoneInfo:
        """The caller's time zone (their org's), for showing times."""
        return ZoneInfo(self.actor.org.timezone if self.actor.org else "UTC")

    def when(self, at: datetime) -> str:
        """An instant as the caller reads it: "2026-01-05 10:00 GMT"."""
        local = at.astimezone(self.tz)
        return local.strftime("%Y-%m-%d %H:%M %Z")

    def ref(self, person: Person) -> PersonRef:
        """A message reference to a person."""
        return person_ref(person)

    async def notify(
        self,
        key: str,
        message: Message,
        *,
        channel: str | None = None,
        person: Person | None = None,
        edit_of: str | None = None,
        thread_of: str | None = None,
    ) -> bool:
        """Queue a notification in this transaction; it is sent only if the change commits."""
        written = await notify(
            self.session,
            key,
            message,
            platforms=self.platforms,
            now=self.now,
            channel=channel if channel or person else self.announce_channel,
            person=person,
            edit_of=edit_of,
            thread_of=thread_of,
        )
        if written:
            self.signals.add("outbox")
        return written

    def is_lead_of(self, org: Org | None) -> bool:
        """Whether the caller is an admin, or a lead of `org`."""
        if self.actor.role is Role.ADMIN:
            return True
        return self.actor.role is Role.LEAD and org is not None and self.actor.org_id == org.id

    async def require_lead_of(self, *orgs: Org | None, what: str) -> None:
        """Stop unless the caller leads one of `orgs` or is an admin; say whom to ask."""
        if any(self.is_lead_of(o) for o in orgs):
            return
        keys = list(dict.fromkeys(o.key for o in orgs if o is not None))
        leads = (
            await self.session.scalars(
                select(Person)
                .join(Org, Person.org_id == Org.id)
                .where(Org.key.in_(keys), Person.role == Role.LEAD)
                .order_by(Person.handle)
            )
        ).all()
        who = " or ".join(f"`{k}`" for k in keys) or "the owning org"
        ask = ", ".join("@" + p.handle for p in leads)
        hint = f" Ask {ask}, or an admin." if ask else " Ask an admin."
        raise CommandError(f"Only leads of {who} (or an admin) can {what}.{hint}")
