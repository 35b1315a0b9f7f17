"""Commands declared once — group, name, typed parameters, required role — for every platform."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from commands.core.grammar import did_you_mean
from commands.core.permissions import ANYONE, Who
from storage.models import Role

if TYPE_CHECKING:
    from commands.core.context import Context
    from commands.core.messages import Message


class Kind(enum.StrEnum):
    """The type of a parameter: decides parsing, validation, and each platform's option type."""

    TEXT = "text"
    PERSON = "person"
    AREA = "area"
    ORG = "org"
    DURATION = "duration"
    DATE = "date"
    CHOICE = "choice"
    QUARTER = "quarter"
    INT = "int"
    URL = "url"
    REVIEW = "review"
    POLICY = "policy"
    WEEKDAY = "weekday"
    TIME = "time"
    TIMEZONE = "timezone"
    CHANNEL = "channel"
    AGENDA_ITEM = "agenda-item"
    AGENDA_ITEMS = "agenda-items"
    ACTION = "action"
    ROADMAP_ITEM = "roadmap-item"
    # A wait: a duration from now, or "tomorrow" (the start of the next working day).
    UNTIL = "until"
    CATEGORY = "category"


_SHAPES = {
    Kind.PERSON: "@person",
    Kind.ORG: "org",
    Kind.DURATION: "duration",
    Kind.DATE: "YYYY-MM-DD",
    Kind.QUARTER: "YYYYQn",
    Kind.INT: "n",
    Kind.URL: "https://...",
    Kind.REVIEW: "id",
    Kind.POLICY: "policy",
    Kind.WEEKDAY: "weekday",
    Kind.TIME: "HH:MM",
    Kind.TIMEZONE: "Area/City",
    Kind.CHANNEL: "channel",
    Kind.AGENDA_ITEM: "id",
    Kind.AGENDA_ITEMS: "id,id",
    Kind.ACTION: "id",
    Kind.ROADMAP_ITEM: "id",
    Kind.UNTIL: "1h|tomorrow",
    Kind.CATEGORY: "category",
}


@dataclass(frozen=True)
class Param:
    """One parameter of a command."""

    name: str
    kind: Kind
    help: str
    required: bool = True
    keyword: bool = False
    choices: tuple[str, ...] = ()
    max_length: int | None = None
    # AREA and CATEGORY: accept a name that is not on the map yet (the handler creates it).
    allow_new: bool = False
    # AREA only: a retired area is accepted too (to read its history); otherwise it is refused.
    retired_ok: bool = False

    def shape(self) -> str:
        """What a value looks like: "@person", "YYYY-MM-DD", "near|long"."""
        if self.kind is Kind.CHOICE:
            return "|".join(self.choices)
        return _SHAPES.get(self.kind, self.name)

    def usage(self) -> str:
        """How the parameter is written in a usage line: <area>, [quarter], [backup=@person]."""
        if self.keyword:
            body = f"{self.name}={self.shape()}"
        elif self.kind is Kind.CHOICE:
            body = self.shape()
        elif self.kind is Kind.PERSON:
            body = "@" + self.name
        else:
            body = f"<{self.name}>"
        return body if self.required else f"[{body.strip('<>')}]"


Handler = Callable[["Context", dict[str, Any]], Awaitable["Message"]]


@dataclass(frozen=True)
class Command:
    """A command: where it lives, what it takes, who may run it, and what it does."""

    path: tuple[str, ...]
    params: tuple[Param, ...]
    role: Role
    handler: Handler
    summary: str
    details: str = ""
    # Who may run it beyond the role: a relation to one of its parameters.
    who: Who = ANYONE
    # Declared by the command (it cannot be seen from the handler's code): it only reads, so it
    # runs in a read-only transaction that never waits for, or holds, SQLite's write lock. The
    # session refuses to flush a change, so a wrong declaration fails loudly, not silently.
    read_only: bool = False

    @property
    def name(self) -> str:
        """The command as typed, without the slash: "dri set"."""
        return " ".join(self.path)

    @property
    def usage(self) -> str:
        """The usage line: "/dri set <area> @person [backup=@person]"."""
        return " ".join(["/" + self.name, *(p.usage() for p in self.params)])

    def param(self, name: str) -> Param:
        """The parameter called `name`."""
        return next(p for p in self.params if p.name == name)


class Group:
    """A command group (`dri`, `handoff`, ...): one slash command on Slack, a group on Discord."""

    def __init__(self, name: str, summary: str) -> None:
        self.name = name
        self.summary = summary
        self.commands: list[Command] = []

    def command(
        self,
        name: str | None,
        *params: Param,
        role: Role = Role.MEMBER,
        who: Who = ANYONE,
        read_only: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Declare the decorated handler as `/group name`; None makes it `/group` itself.

        `read_only=True` says the handler never writes (see `Command.read_only`).
        """

        def decorate(handler: Handler) -> Handler:
            doc = inspect.getdoc(handler) or ""
            if not doc:
                raise ValueError(f"{handler.__name__} needs a docstring: it is the command's help")
            summary, _, details = doc.partition("\n")
            path = (self.name,) if name is None else (self.name, name)
            self.commands.append(
                Command(
                    path,
                    tuple(params),
                    role,
                    handler,
                    summary.strip(),
                    details.strip(),
                    who,
                    read_only,
                )
            )
            return handler

        return decorate


class CommandNotFound(LookupError):
    """A command line names no command; the message says what to type instead."""


class Registry:
    """Every command the bot has; adapters build their native commands from it."""

    def __init__(self, groups: Iterable[Group] = ()) -> None:
        self._groups: dict[str, Group] = {}
        self._commands: dict[tuple[str, ...], Command] = {}
        for group in groups:
            self.add(group)

    def add(self, group: Group) -> None:
        """Add a group, refusing any name that is already taken."""
        if group.name in self._groups:
            raise ValueError(f"two command groups are called {group.name!r}")
        paths = [c.path for c in group.commands]
        for cmd in group.commands:
            if cmd.path in self._commands or paths.count(cmd.path) > 1:
                raise ValueError(f"two commands are called /{cmd.name}")
            names = [p.name for p in cmd.params]
            if len(set(names)) != len(names):
                raise ValueError(f"/{cmd.name} has two parameters with one name")
        if any(len(c.path) == 1 for c in group.commands) and len(group.commands) > 1:
            raise ValueError(f"/{group.name} cannot be both a command and a group")
        self._groups[group.name] = group
        for cmd in group.commands:
            self._commands[cmd.path] = cmd

    def groups(self) -> list[Group]:
        """The groups, in the order they were added."""
        return list(self._groups.values())

    def commands(self) -> list[Command]:
        """Every command, in declaration order."""
        return list(self._commands.values())

    def get(self, path: Sequence[str]) -> Command | None:
        """The command at `path` (e.g. ("review", "ack")), if any."""
        return self._commands.get(tuple(w.lower() for w in path))

    def group(self, name: str) -> Group | None:
        """The group called `name`, if any."""
        return self._groups.get(name.lower())

    def find(self, words: Sequence[str]) -> tuple[Command, list[str]]:
        """The command named by the first words of a line, and the words after it."""
        if not words:
            raise CommandNotFound("Type a command, e.g. /help")
        head = words[0].lstrip("/").lower()
        group = self._groups.get(head)
        if group is None:
            hint = did_you_mean(head, self._groups, before="/")
            raise CommandNotFound(f"There is no command /{head}.{hint} Type /help for the list.")
        if len(group.commands) == 1 and len(group.commands[0].path) == 1:
            return group.commands[0], list(words[1:])
        if len(words) < 2:
            raise CommandNotFound(_group_hint(group))
        sub = words[1].lower()
        cmd = self._commands.get((group.name, sub))
        if cmd is None:
            subs = [c.path[1] for c in group.commands]
            hint = did_you_mean(sub, subs, before=f"/{group.name} ")
            raise CommandNotFound(
                f"/{group.name} has no command {sub!r}.{hint} Type /help {group.name} for the list."
            )
        return cmd, list(words[2:])


def _group_hint(group: Group) -> str:
    subs = ", ".join(c.path[1] for c in group.commands)
    return f"/{group.name} needs a command: {subs}. Type /help {group.name} for details."
