"""Every command of the registry, with hostile input and as every role of both orgs.

The cases are generated from the registry: a new command, or a new parameter, is covered here
without a new test. Each run goes through the dispatcher as a platform calls it (raw strings
per parameter), on both databases.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from commands import build_registry
from commands.core.arguments import TYPES, convert
from commands.core.clock import FakeClock
from commands.core.context import CommandError
from commands.core.dispatch import Caller
from commands.core.permissions import allows
from commands.core.registry import Command, Kind, Param
from storage.models import Base, Person
from tests.conftest import copy_of, migrated_copy
from tests.harness import Chat, demo_settings, open_chat

REGISTRY = build_registry()
COMMANDS = REGISTRY.commands()
PEOPLE = ("alice", "bob", "carol", "dave", "erin")
AREA = "Smart contract review"
PR = "https://github.com/org/repo/pull/7"

# A value of each kind that names something the setup below creates.
GOOD: dict[Kind, str] = {
    Kind.TEXT: "Ship the audit notes",
    Kind.CHOICE: "",  # a choice's good value is its first
    Kind.PERSON: "@dave",
    Kind.AREA: AREA,
    Kind.ORG: "ic",
    Kind.DURATION: "2h",
    Kind.DATE: "2026-03-02",
    Kind.QUARTER: "2026Q2",
    Kind.INT: "1",
    Kind.URL: PR,
    Kind.REVIEW: "1",
    Kind.POLICY: "hotfix",
    Kind.WEEKDAY: "thursday",
    Kind.TIME: "16:00",
    Kind.UNTIL: "1h",
    Kind.TIMEZONE: "Europe/London",
    Kind.CHANNEL: "#shared",
    Kind.AGENDA_ITEM: "1",
    Kind.AGENDA_ITEMS: "1",
    Kind.ACTION: "1",
    Kind.ROADMAP_ITEM: "1",
    Kind.CATEGORY: "maintain",
}

# Values every parameter refuses, whatever its kind: each has a clear answer and writes nothing.
REFUSED_BY_ALL = [
    "a\x00b",
    "a\x1b[31mb",
    "evil\u202etxt.exe",
    "x" * 10_000,
]
# Values a parameter of this kind refuses on top of those.
REFUSED: dict[Kind, list[str]] = {
    Kind.TEXT: [],
    Kind.CHOICE: ["not-a-choice"],
    Kind.PERSON: ["@nobody", "<@U999999>"],
    Kind.AREA: ["No such area at all"],
    Kind.ORG: ["acme"],
    Kind.DURATION: ["0s", "-5m", "99999999d"],
    Kind.DATE: ["9999-12-31", "9999-12-30", "0001-01-01", "2026-02-30"],
    Kind.QUARTER: ["0000Q1", "9999Q4", "2026Q5"],
    Kind.INT: ["0", "-1", "99999999999999999999", "2147483648"],
    Kind.URL: ["javascript:alert(1)", "ftp://x.org/1"],
    Kind.REVIEW: ["99999999999999999999", "2147483648", "-1", "0", "x"],
    Kind.POLICY: ["nosuch"],
    Kind.WEEKDAY: ["funday"],
    Kind.TIME: ["25:00", "9"],
    Kind.UNTIL: ["soon", "0s", "2bd", "99999999d"],
    Kind.TIMEZONE: ["Mars/Olympus"],
    Kind.CHANNEL: ["#nowhere"],
    Kind.AGENDA_ITEM: ["99999999999999999999", "0"],
    Kind.AGENDA_ITEMS: ["x,y"],
    Kind.ACTION: ["99999999999999999999", "-3"],
    Kind.ROADMAP_ITEM: ["99999999999999999999", "0"],
    Kind.CATEGORY: ["no-such-category"],
}
# Values that may be fine (text people write), but must never crash or ping anyone at large.
TOLERATED = [
    "@everyone",
    "@here",
    "<!channel>",
    "<@&1234>",
    "Robert'); DROP TABLE review;--",
    "ÅÉ café naïve",
]


def test_every_kind_has_good_and_hostile_values() -> None:
    assert set(GOOD) == set(TYPES) == set(REFUSED)


def _raw(command: Command, **override: str) -> dict[str, str]:
    raw = {}
    for p in command.params:
        if p.name in override:
            raw[p.name] = override[p.name]
        elif p.required or p.kind is Kind.CHOICE:
            raw[p.name] = p.choices[0] if p.kind is Kind.CHOICE else GOOD[p.kind]
    return raw


async def _build_world(url: str) -> None:
    """The demo orgs (and their admin, erin) with one of everything a command can name, each #1."""
    chat = await open_chat(demo_settings(url), FakeClock())
    try:
        await chat.ok(f'/dri set "{AREA}" @bob backup=@alice category=maintain')
        await chat.ok(f"/review request {PR} Audit reviewer=@dave", as_="bob")
        await chat.ok("/agenda add Roadmap review", as_="bob")
        await chat.ok("/action add @bob 2026-03-02 Send the notes")
        await chat.ok("/roadmap add set 2026Q2 Leverage tokens v2")
    finally:
        await chat.runtime.close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def built_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The world, built once per back end and test process: the database each test copies.

    Building it through the commands is most of a test's time; each test still gets a fresh
    copy and a fresh bot, so no test sees another's changes.
    """
    built = migrated_copy(request, request.param, tmp_path_factory.mktemp("world") / "world.db")
    url = next(built)
    asyncio.run(_build_world(url))
    yield url
    next(built, None)  # drops the PostgreSQL database


@pytest.fixture
def world_url(built_world: str, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the built world."""
    yield from copy_of(built_world, tmp_path / "liaison.db")


@pytest.fixture
async def world(world_url: str) -> AsyncIterator[Chat]:
    """The bot, started on a fresh copy of the built world."""
    chat = await open_chat(demo_settings(world_url), FakeClock())
    try:
        yield chat
    finally:
        await chat.runtime.close()


async def _counts(chat: Chat) -> dict[str, int]:
    """How many rows each table holds, in one statement."""
    tables = Base.metadata.tables
    counts = select(
        *(select(func.count()).select_from(t).scalar_subquery() for t in tables.values())
    )
    async with chat.runtime.sessions() as session:
        row = (await session.execute(counts)).one()
    return dict(zip(tables, row, strict=True))


async def _run(chat: Chat, command: Command, raw: dict[str, str], as_: str = "erin") -> Any:
    reply = await chat.runtime.dispatcher.run(command, raw, Caller("console", as_, as_))
    await chat.runtime.worker.drain()
    return reply


def _text(reply: Any) -> str:
    from bot.plaintext import render

    return render(reply.message)


def _refused(param: Param) -> list[str]:
    values = [*REFUSED_BY_ALL, *REFUSED[param.kind]]
    if param.allow_new:
        # A name not on the map is a new area (or category) here, not a mistake.
        values = [v for v in values if v not in REFUSED[param.kind]]
    return values


async def _hostile_values_get_an_answer_and_change_nothing(world: Chat, command: Command) -> None:
    before = await _counts(world)
    for param in command.params:
        for value in _refused(param):
            reply = await _run(world, command, _raw(command, **{param.name: value}))
            text = _text(reply)
            assert not reply.ok, f"/{command.name} {param.name}={value[:40]!r} was accepted"
            assert "failed on our side" not in text and "Traceback" not in text, text
            assert len(text) < 1500, f"the answer repeats the input: {text[:200]}"
    assert await _counts(world) == before, f"/{command.name}: a refused value wrote something"
    for param in command.params:
        for value in TOLERATED:
            reply = await _run(world, command, _raw(command, **{param.name: value}))
            text = _text(reply)
            assert "failed on our side" not in text and "Traceback" not in text, text


async def test_a_missing_required_value_names_it_and_shows_the_usage(world: Chat) -> None:
    for command in COMMANDS:
        for param in (p for p in command.params if p.required):
            raw = _raw(command)
            del raw[param.name]
            reply = await _run(world, command, raw)
            assert not reply.ok and "is missing" in _text(reply), command.name
            assert command.usage in _text(reply)


async def _person(chat: Chat, handle: str) -> Person:
    async with chat.runtime.sessions() as session:
        person = await session.scalar(
            select(Person)
            .where(Person.handle == handle)
            .options(selectinload(Person.identities), selectinload(Person.org))
        )
        assert person is not None
        return person


async def _expected(chat: Chat, command: Command, raw: dict[str, str], handle: str) -> bool:
    """What the command's declared rule says for this person, on the database as it is now."""
    async with chat.runtime.sessions() as session:
        actor = await session.scalar(
            select(Person).where(Person.handle == handle).options(selectinload(Person.org))
        )
        assert actor is not None
        if actor.role.rank < command.role.rank:
            return False
        try:
            args = await convert(session, command, raw, "console")
        except CommandError:
            # The subject is gone (an earlier run removed it): refused as input, not as person.
            return True
        return allows(command.who, actor, args)


async def _every_role_of_both_orgs_gets_what_the_rule_says(world: Chat, command: Command) -> None:
    raw = _raw(command)
    for handle in PEOPLE:
        expected = await _expected(world, command, raw, handle)
        before = await _counts(world)
        reply = await _run(world, command, raw, as_=handle)
        text = _text(reply)
        assert reply.denied == (not expected), f"/{command.name} as @{handle}: {text}"
        assert "failed on our side" not in text, text
        if reply.denied:
            assert await _counts(world) == before
            assert "Only " in text or "You asked" in text, text


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
async def test_hostile_input_then_every_role(world: Chat, command: Command) -> None:
    # One world per command for both checks: building it is most of the time taken.
    await _hostile_values_get_an_answer_and_change_nothing(world, command)
    await _every_role_of_both_orgs_gets_what_the_rule_says(world, command)
