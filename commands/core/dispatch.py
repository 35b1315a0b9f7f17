"""One way in for every platform: a command line or parsed options in, a reply out.

Each invocation is one transaction: the change and the notifications it causes commit together
or not at all. Errors the user can fix become answers; anything else is logged, rolled back, and
answered with an apology — never a traceback in chat.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from commands.core.arguments import convert, split
from commands.core.clock import Clock
from commands.core.context import CommandError, Context, PermissionDenied
from commands.core.grammar import GrammarError, tokenize
from commands.core.messages import ActionId, Message, Reply, code, line
from commands.core.notifier import Notifier, Postbox
from commands.core.permissions import allows, refusal
from commands.core.registry import Command, CommandNotFound, Param, Registry
from storage import inbound
from storage.models import Identity, Person, Role

log = logging.getLogger(__name__)

# Who is typing, with their accounts: every command asks it first, so it is built once.
_KNOWN = (
    select(Person)
    .join(Identity)
    .where(Identity.platform == bindparam("platform"), Identity.user_id == bindparam("user_id"))
    .options(joinedload(Person.identities))
)


@dataclass(frozen=True)
class Caller:
    """Who is typing, as their platform knows them."""

    platform: str
    user_id: str
    name: str = ""


@dataclass(frozen=True)
class Ran:
    """What one command did, for the log line and for whoever counts (the metrics).

    `outcome` is one of OUTCOMES: done; refused (bad input, answered with what to do); denied
    (the caller's role or rights); failed (an error on our side, logged with its ref); again
    (a re-sent request that had already run).
    """

    command: str
    outcome: str
    seconds: float
    caller: Caller
    request_key: str | None = None


OUTCOMES = ("done", "refused", "denied", "failed", "again")
# The name a line that matched no command is counted under (never the typed words: a metric
# label per typo would grow without end).
UNKNOWN = "(unknown)"


class AlreadyHandled(Exception):
    """A request with this key already ran (the platform sent it again): nothing ran twice."""


def error_reply(text: str, usage: str | None = None) -> Reply:
    """An answer to a command that could not run, saying what to do."""
    lines = [line(text)]
    if usage:
        lines.append(line("Usage: ", code(usage)))
    return Reply(Message(lines=tuple(lines), tone="error"), ok=False)


class Dispatcher:
    """Runs commands from the registry for any adapter."""

    def __init__(self, registry: Registry, postbox: Postbox, clock: Clock) -> None:
        self.registry = registry
        self.postbox = postbox
        self.clock = clock
        # Told about every command once it has run (the runtime's metrics).
        self.observers: list[Callable[[Ran], None]] = []

    async def run_text(self, text: str, caller: Caller, *, request_key: str | None = None) -> Reply:
        """Run a typed command line such as `/dri who "Smart contract review"`.

        `request_key` names the platform request: a second request with the same key raises
        `AlreadyHandled` instead of running (see `run`).
        """
        began = time.perf_counter()
        try:
            words = tokenize(text.strip())
            command, rest = self.registry.find(words)
        except (GrammarError, CommandNotFound) as exc:
            self._ran(UNKNOWN, "refused", began, caller, request_key)
            return error_reply(str(exc))
        try:
            raw = split(command, rest)
        except CommandError as exc:
            self._ran(command.name, "refused", began, caller, request_key)
            return error_reply(exc.text, exc.usage or command.usage)
        return await self.run(command, raw, caller, request_key=request_key)

    async def run_action(
        self,
        action: ActionId | None,
        caller: Caller,
        extra: Mapping[str, str] | None = None,
        *,
        request_key: str | None = None,
    ) -> Reply:
        """Run the command behind a button: "review:ack:42" is `/review ack 42`.

        Adapters pass what `ActionId.parse` made of the id the platform sent, None included: a
        malformed id is answered like a button for a command that no longer exists. `extra`
        fills further parameters by name (a picked user for `reassign`). A press goes through
        the same permission checks as the typed command.
        """
        command = self.registry.get(action.path) if action is not None else None
        if (
            action is None
            or command is None
            or not command.params
            or (action.arg and len(command.params) < 2)
        ):
            log.warning("unknown button %s pressed by %s", action or "(malformed id)", caller)
            self._ran(UNKNOWN, "refused", time.perf_counter(), caller, request_key)
            return error_reply(
                "That button is not one Liaison knows (it may be from an older version). "
                "Type the command instead; /help lists them."
            )
        raw = {command.params[0].name: action.value, **(extra or {})}
        if action.arg:
            raw[command.params[1].name] = action.arg
        return await self.run(command, raw, caller, request_key=request_key)

    async def run(
        self,
        command: Command,
        raw: Mapping[str, str],
        caller: Caller,
        *,
        request_key: str | None = None,
    ) -> Reply:
        """Run a command with raw string arguments (Discord's typed options arrive this way).

        With a `request_key`, the key is recorded in the command's own transaction: a platform
        that re-sends a request (Slack's retries) gets `AlreadyHandled` the second time, even
        from another replica, and nothing runs twice. A refused command records nothing. A
        read-only command records no key: running it twice changes nothing, and it stays a read.
        """
        began = time.perf_counter()
        try:
            if command.read_only:
                message = await self._read(command, raw, caller)
            else:
                message = await self._write(command, raw, caller, request_key)
        except PermissionDenied as exc:
            self._ran(command.name, "denied", began, caller, request_key)
            return replace(error_reply(exc.text, exc.usage), denied=True)
        except CommandError as exc:
            self._ran(command.name, "refused", began, caller, request_key)
            return error_reply(exc.text, exc.usage)
        except AlreadyHandled:
            self._ran(command.name, "again", began, caller, request_key)
            raise
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("command /%s failed (ref %s)", command.name, ref)
            self._ran(command.name, "failed", began, caller, request_key)
            return error_reply(
                f"Sorry, /{command.name} failed on our side and nothing was changed. "
                f"Please tell an admin (error ref {ref})."
            )
        self._ran(command.name, "done", began, caller, request_key)
        return Reply(message)

    def _ran(
        self, name: str, outcome: str, began: float, caller: Caller, request_key: str | None
    ) -> None:
        """One log line per command, with who, what, the request's key and the outcome."""
        ran = Ran(name, outcome, time.perf_counter() - began, caller, request_key)
        log.info(
            "command /%s by %s:%s: %s in %.0f ms (request %s)",
            name,
            caller.platform,
            caller.user_id,
            outcome,
            ran.seconds * 1000,
            request_key or "-",
            extra={
                "command": name,
                "outcome": outcome,
                "platform": caller.platform,
                "user": caller.user_id,
                "request": request_key,
                "ms": round(ran.seconds * 1000, 1),
            },
        )
        for observe in self.observers:
            observe(ran)

    async def _write(
        self, command: Command, raw: Mapping[str, str], caller: Caller, request_key: str | None
    ) -> Message:
        async with self.postbox.transaction(self.clock.now()) as notifier:
            session = notifier.session
            if request_key is not None:
                await first_time(session, request_key, self.clock.now())
            actor = await self._known(session, caller) or await self._enrol(session, caller)
            return await self._handle(notifier, actor, command, raw, caller)

    async def _read(self, command: Command, raw: Mapping[str, str], caller: Caller) -> Message:
        async with self.postbox.reading(self.clock.now()) as notifier:
            actor = await self._known(notifier.session, caller)
            if actor is not None:
                return await self._handle(notifier, actor, command, raw, caller)
        # Someone's first use of the bot writes their person row: in a short write transaction
        # of its own, so the command itself still runs as a read (in a fresh snapshot).
        try:
            async with self.postbox.sessions.begin() as session:
                if await self._known(session, caller) is None:
                    await self._enrol(session, caller)
        except IntegrityError:
            pass  # their twin request enrolled them first
        async with self.postbox.reading(self.clock.now()) as notifier:
            actor = await self._known(notifier.session, caller)
            if actor is None:
                raise RuntimeError(f"{caller} was enrolled but cannot be found")
            return await self._handle(notifier, actor, command, raw, caller)

    async def _handle(
        self,
        notifier: Notifier,
        actor: Person,
        command: Command,
        raw: Mapping[str, str],
        caller: Caller,
    ) -> Message:
        session = notifier.session
        if actor.role.rank < command.role.rank:
            raise PermissionDenied(await self._role_refusal(session, actor, command))
        args = await convert(session, command, raw, caller.platform)
        if not allows(command.who, actor, args):
            raise PermissionDenied(await refusal(session, command.who, actor, args))
        return await command.handler(Context(session, actor, caller.platform, notifier), args)

    async def _known(self, session: AsyncSession, caller: Caller) -> Person | None:
        # Every command asks this first: one statement, the person's accounts joined in.
        found = await session.scalars(
            _KNOWN, {"platform": caller.platform, "user_id": caller.user_id}
        )
        return found.unique().first()

    async def _enrol(self, session: AsyncSession, caller: Caller) -> Person:
        # Anyone who uses the bot is recorded, so they can be named, assigned and pinged later.
        handle = await free_handle(session, caller.name or caller.user_id)
        person = Person(
            handle=handle,
            name=caller.name or handle,
            role=Role.MEMBER,
            created_at=self.clock.now(),
            identities=[Identity(platform=caller.platform, user_id=caller.user_id)],
        )
        session.add(person)
        await session.flush()
        log.info("new person @%s from %s user %s", handle, caller.platform, caller.user_id)
        return person

    async def _role_refusal(self, session: AsyncSession, actor: Person, command: Command) -> str:
        needed = "admins" if command.role is Role.ADMIN else "leads and admins"
        text = f"Only {needed} can use /{command.name}."
        if command.role is Role.LEAD and actor.org_id is not None:
            leads = (
                await session.scalars(
                    select(Person.handle)
                    .where(Person.org_id == actor.org_id, Person.role == Role.LEAD)
                    .order_by(Person.handle)
                )
            ).all()
            if leads:
                return text + " Ask " + ", ".join("@" + h for h in leads) + ", or an admin."
        return text + " Ask an admin."


def unfilled(command: Command, action: ActionId) -> list[Param]:
    """The required parameters a press of this button does not fill: its id carries the first
    (and, with an arg, the second), so a platform asks for the rest (Reassign: to whom?)."""
    carried = 2 if action.arg else 1
    return [p for p in command.params[carried:] if p.required]


async def first_time(session: AsyncSession, key: str, now: datetime) -> None:
    """Mark a request done in its effect's transaction, or raise AlreadyHandled if it was.

    Every inbound request a platform may send again (Slack's retries, GitHub's redeliveries,
    a command resumed after a crash) marks its key in the transaction of its effect: both
    commit, or neither, and a twin run finds it done.
    """
    if not await inbound.start(session, key, now):
        raise AlreadyHandled(key)


async def free_handle(session: AsyncSession, name: str) -> str:
    """A handle made from a name that nobody has yet ("alice", else "alice2", ...)."""
    base = re.sub(r"[^a-z0-9_.-]+", "", name.lower().replace(" ", ".")) or "user"
    handle, n = base, 1
    while await session.scalar(select(Person.id).where(Person.handle == handle)) is not None:
        n += 1
        handle = f"{base}{n}"
    return handle
