"""What a handler is given: the caller, the transaction, the instant, and a way to notify."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.messages import Message, PersonRef
from commands.core.notifier import Notifier, person_ref
from storage.models import Org, Person, Role


class CommandError(Exception):
    """A problem the user can fix; its text is shown to them as the answer."""

    def __init__(self, text: str, *, usage: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.usage = usage


@dataclass
class Context:
    """One command invocation: who, where, when, inside one database transaction."""

    session: AsyncSession
    actor: Person
    platform: str
    # Writes this transaction's notifications; it also knows the instant of the invocation.
    notifier: Notifier

    @property
    def now(self) -> datetime:
        """The instant the command runs at (one for the whole invocation)."""
        return self.notifier.now

    @property
    def announce_channel(self) -> str:
        """The shared channel changes are announced in."""
        return self.notifier.postbox.channel

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
        to: Person | str | None = None,
        edit_of: str | None = None,
        thread_of: str | None = None,
    ) -> bool:
        """Queue a notification in this transaction; it is sent only if the change commits."""
        return await self.notifier.notify(key, message, to=to, edit_of=edit_of, thread_of=thread_of)

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
