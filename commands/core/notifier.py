"""Writing notifications: one notifier per transaction, one postbox per process.

A handler or a scheduled job writes a notification with `notifier.notify(key, message, to=...)`
and nothing else: the notifier already knows the instant, the platforms the notification goes
to, the default channel, and what to wake once the transaction commits. Nothing that writes a
notification passes a platform set or a wake-up by hand.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from commands.core.messages import Message, PersonRef, person_to_dict
from commands.core.presence import held_until
from storage import outbox
from storage.engine import WriteInReadOnly, reading
from storage.models import Person


class Wake(enum.Flag):
    """What a committed transaction changed that a running part of the process must look at."""

    NOTHING = 0
    # New notifications: the delivery worker sends them.
    OUTBOX = enum.auto()
    # SLA deadlines moved: the one wake-up is re-armed.
    DEADLINES = enum.auto()
    # A calendar schedule changed (the weekly meeting): the cron jobs re-read it.
    JOBS = enum.auto()
    # A review now follows a pull request: GitHub is read for it (its title, its state).
    GITHUB = enum.auto()


def _nobody(what: Wake) -> None:
    """A postbox with no running parts to wake (the CLI, a test of the writing alone)."""


def person_ref(person: Person) -> PersonRef:
    """A message reference to a person, carrying their platform ids."""
    ids = tuple(sorted((i.platform, i.user_id) for i in person.identities))
    return PersonRef(person.id, person.handle, person.name, ids)


NOTIFY_CHOICES = ("all", "action", "daily")


def wants(person: Person, *, act: bool, daily: bool = False) -> bool:
    """Whether a person gets a direct message, by their choice (`/me notify`): the daily
    summary (`daily`) goes to those who chose it, other DMs to the others, as `act` allows."""
    if daily:
        return person.notify == "daily"
    return person.notify == "all" or (person.notify == "action" and act)


@dataclass(frozen=True)
class Postbox:
    """Where this process's notifications go, and what it wakes once some are committed."""

    sessions: async_sessionmaker[AsyncSession]
    # The platforms every notification is delivered to (one delivery row each).
    platforms: frozenset[str]
    # The shared channel a notification goes to when it names no other place.
    channel: str
    wake: Callable[[Wake], None] = _nobody

    def notifier(self, session: AsyncSession, now: datetime) -> Notifier:
        """A notifier for a transaction the caller opened and will commit (then call `done`)."""
        return Notifier(self, session, now)

    @asynccontextmanager
    async def reading(self, now: datetime) -> AsyncIterator[Notifier]:
        """A read-only transaction (see `storage.engine.reading`) and a notifier that refuses."""
        async with reading(self.sessions) as session:
            yield Notifier(self, session, now, read_only=True)

    @asynccontextmanager
    async def transaction(self, now: datetime) -> AsyncIterator[Notifier]:
        """One transaction and its notifier; what it woke is woken once it has committed."""
        async with self.sessions.begin() as session:
            notifier = Notifier(self, session, now)
            yield notifier
        notifier.done()


@dataclass(frozen=True)
class Notice:
    """One notification for `Notifier.notify_all`: the arguments `Notifier.notify` takes."""

    key: str
    message: Message
    to: Person | str | None = None
    edit_of: str | None = None
    thread_of: str | None = None
    late: bool = False
    act: bool = True
    daily: bool = False
    urgent: bool = False


class Notifier:
    """Writes notifications into one transaction; they are sent only if it commits."""

    def __init__(
        self, postbox: Postbox, session: AsyncSession, now: datetime, *, read_only: bool = False
    ) -> None:
        self.postbox = postbox
        self.session = session
        self.now = now
        self.read_only = read_only
        self.woken = Wake.NOTHING

    async def notify(
        self,
        key: str,
        message: Message,
        *,
        to: Person | str | None = None,
        edit_of: str | None = None,
        thread_of: str | None = None,
        late: bool = False,
        act: bool = True,
        daily: bool = False,
        urgent: bool = False,
    ) -> bool:
        """Write `message` for a person (a DM) or a channel (by name; the shared one if None).

        `key` makes it idempotent: False if a notification with that key was written already.
        A DM says whether its person must act on it (`act`); one who chose only those
        (`/me notify action`) is not sent the others, and one who chose a daily summary is
        sent none but the summary (`daily`), which says what waits for them. False then too:
        nothing was written. A DM outside the person's working hours waits for them to start,
        unless `urgent`; channel posts never wait.
        """
        notice = Notice(
            key,
            message,
            to=to,
            edit_of=edit_of,
            thread_of=thread_of,
            late=late,
            act=act,
            daily=daily,
            urgent=urgent,
        )
        return (await self.notify_all([notice]))[0]

    async def notify_all(self, notices: Sequence[Notice]) -> list[bool]:
        """Write many notifications at once, in order, in a constant number of statements.

        What scheduled work that writes hundreds of notifications in one go calls (the SLA
        stages fired together); for each, False if its key was written already.
        """
        if self.read_only:
            keys = ", ".join(n.key for n in notices)
            raise WriteInReadOnly(f"a read-only command tried to notify ({keys})")
        # A DM its person chose not to be sent (`/me notify`) is not written: False for it.
        wanted = [
            not isinstance(n.to, Person) or wants(n.to, act=n.act, daily=n.daily) for n in notices
        ]
        drafts = []
        for notice in (n for n, w in zip(notices, wanted, strict=True) if w):
            payload = notice.message.to_dict()
            to = notice.to
            person, channel = (
                (to, None) if isinstance(to, Person) else (None, to or self.postbox.channel)
            )
            if person is not None:
                # The recipient travels with the message, so each platform can find their account.
                payload["to"] = person_to_dict(person_ref(person))
            drafts.append(
                outbox.Draft(
                    key=notice.key,
                    payload=payload,
                    channel=channel,
                    person_id=person.id if person is not None else None,
                    edit_of=notice.edit_of,
                    thread_of=notice.thread_of,
                    late=notice.late,
                    # Held until the person's working hours start, unless urgent.
                    not_before=(
                        None if person is None or notice.urgent else held_until(person, self.now)
                    ),
                )
            )
        stored = iter(
            await outbox.enqueue_all(
                self.session, drafts, platforms=self.postbox.platforms, now=self.now
            )
        )
        written = [w and next(stored) for w in wanted]
        if any(written):
            self.woken |= Wake.OUTBOX
        return written

    def changed(self, what: Wake) -> None:
        """Say that this transaction changed something a running part must look at again."""
        self.woken |= what

    def done(self) -> None:
        """The transaction committed: wake what it changed (once)."""
        woken, self.woken = self.woken, Wake.NOTHING
        if woken:
            self.postbox.wake(woken)
