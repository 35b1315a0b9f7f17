"""What a handler is given: the caller, the transaction, the instant, and a way to notify."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from commands.core.messages import Message, PersonRef
from commands.core.notifier import Notifier, person_ref
from commands.core.presence import zone_of
from storage.models import Person


class CommandError(Exception):
    """A problem the user can fix; its text is shown to them as the answer."""

    def __init__(self, text: str, *, usage: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.usage = usage


class PermissionDenied(CommandError):
    """The caller may not run this command (on this subject); the text says who may."""


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
        """The caller's time zone (their own, else their org's), for showing times."""
        return zone_of(self.actor)

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
        act: bool = True,
        urgent: bool = False,
    ) -> bool:
        """Queue a notification in this transaction; it is sent only if the change commits.

        `act=False` marks a DM that only informs (see `Notifier.notify`). A DM outside the
        person's working hours is held until they start, unless `urgent`.
        """
        return await self.notifier.notify(
            key, message, to=to, edit_of=edit_of, thread_of=thread_of, act=act, urgent=urgent
        )
