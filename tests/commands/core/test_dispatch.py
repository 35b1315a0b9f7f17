"""The dispatcher under load: no command stalls the event loop, generated from the registry."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.config import Settings
from bot.plaintext import render
from commands.core.context import Context
from commands.core.dispatch import Caller, Dispatcher
from commands.core.messages import Message
from commands.core.registry import Command, Group, Kind, Param, Registry
from storage.models import Person, Role
from tests.harness import Chat, sqlite_write_locked

# Longer than this without the loop running, and every other request waits (Discord's 3 s,
# Slack's acks, the delivery worker): the budget for any one command. Measured as CPU
# time of the loop's thread between two ticks, which other processes on a shared machine cannot
# inflate; a stall in wall time counts only past STALLED (a synchronous wait, not CPU).
BLOCKING = 0.100
STALLED = 5.0
# A command's first run also compiles its SQL (SQLAlchemy caches it) and imports what it needs:
# a one-off, but an import such as matplotlib's (0.3 to 0.7 s) must still happen off the loop.
FIRST_RUN = 0.250
TICK = 0.005

SAMPLES: dict[Kind, str] = {
    Kind.TEXT: "Loop check",
    Kind.PERSON: "@bob",
    Kind.AREA: "Loop area",
    Kind.ORG: "set",
    Kind.DURATION: "2h",
    Kind.DATE: "2026-12-10",
    Kind.QUARTER: "2027Q1",
    Kind.INT: "1",
    Kind.URL: "https://github.com/org/repo/pull/9",
    Kind.REVIEW: "1",
    Kind.POLICY: "smart-contract",
    Kind.WEEKDAY: "thursday",
    Kind.TIME: "16:00",
    Kind.UNTIL: "1h",
    Kind.TIMEZONE: "Europe/Berlin",
    Kind.CHANNEL: "shared",
    Kind.AGENDA_ITEM: "1",
    Kind.AGENDA_ITEMS: "1",
    Kind.ACTION: "1",
    Kind.ROADMAP_ITEM: "1",
    Kind.CATEGORY: "maintain",
}

SETUP = (
    '/dri set "Loop area" @bob category=maintain',
    '/handoff plan "Loop area" near 2027Q1',
    '/review request https://github.com/org/repo/pull/1 "Loop review" reviewer=@dave',
    '/agenda add "Loop topic"',
    '/action add @bob 2026-12-10 "Loop action"',
    '/roadmap add set 2027Q1 "Loop item"',
)


def sample(param: Param) -> str:
    """A value for a parameter, from its choices or its kind's sample."""
    if param.kind is Kind.CHOICE:
        return param.choices[0]
    assert param.kind in SAMPLES, f"add a sample value for parameter kind {param.kind}"
    return SAMPLES[param.kind]


@dataclass
class LoopLag:
    """The worst stretch without the event loop running a 5 ms ticker, while it was watched."""

    cpu: float = 0.0
    wall: float = 0.0

    def reset(self) -> None:
        """Start a new measurement."""
        self.cpu = self.wall = 0.0

    def blocked(self, budget: float = BLOCKING) -> bool:
        """Whether the loop was held: by CPU work on its thread, or by a long wait."""
        return self.cpu > budget or self.wall > STALLED


@asynccontextmanager
async def watching_the_loop() -> AsyncIterator[LoopLag]:
    """Measure how late, and after how much work on the loop's thread, a ticker wakes up."""
    lag = LoopLag()
    loop = asyncio.get_running_loop()

    async def tick() -> None:
        while True:
            wall, cpu = loop.time(), time.thread_time()
            await asyncio.sleep(TICK)
            lag.wall = max(lag.wall, loop.time() - wall - TICK)
            lag.cpu = max(lag.cpu, time.thread_time() - cpu)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)
    try:
        yield lag
    finally:
        ticker.cancel()


async def _run(chat: Chat, command: Command, lag: LoopLag) -> None:
    raw = {p.name: sample(p) for p in command.params}
    lag.reset()
    await chat.runtime.dispatcher.run(command, raw, Caller("console", "alice", "alice"))
    await asyncio.sleep(2 * TICK)  # the ticker's last wake-up is part of the measurement


async def test_no_command_blocks_the_event_loop_for_more_than_100_ms(chat: Chat) -> None:
    for text in SETUP:
        await chat.ok(text)
    async with chat.runtime.sessions.begin() as session:
        # An admin reaches every handler instead of its permission refusal.
        await session.execute(
            update(Person).where(Person.handle == "alice").values(role=Role.ADMIN)
        )
    slow: dict[str, str] = {}
    # A full collection of a whole test session's heap can take 100 ms by itself: what the
    # session made so far is kept out of the collector while commands are measured.
    gc.collect()
    gc.freeze()
    async with watching_the_loop() as lag:
        for run, budget in (("first run", FIRST_RUN), ("again", BLOCKING)):
            for command in chat.runtime.registry.commands():
                await _run(chat, command, lag)
                if lag.blocked(budget):
                    slow[f"{command.name} ({run})"] = f"{lag.cpu:.3f} s CPU, {lag.wall:.3f} s late"
    gc.unfreeze()
    assert slow == {}, f"commands that held the event loop: {slow}"


def _read_only(chat: Chat) -> list[Command]:
    return [c for c in chat.runtime.registry.commands() if c.read_only]


# SQLite's write lock is SQLite's own: this test runs there alone (no skipped PostgreSQL twin).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_read_only_commands_on_sqlite_never_take_the_write_lock(
    chat: Chat, settings: Settings
) -> None:
    for text in SETUP:
        await chat.ok(text)
    # Another process writing, for as long as this test.
    with sqlite_write_locked(settings.database.url):
        assert len(_read_only(chat)) >= 10
        for command in _read_only(chat):
            raw = {p.name: sample(p) for p in command.params}
            # The busy timeout is 10 s: a command queueing for the lock would time out here.
            run = chat.runtime.dispatcher.run(command, raw, Caller("console", "alice", "alice"))
            reply = await asyncio.wait_for(run, timeout=5)
            assert "failed on our side" not in render(reply.message), command.name


async def test_a_first_time_caller_of_a_read_is_enrolled_and_answered(chat: Chat) -> None:
    newcomer = Caller("console", "zed", "Zed Newman")
    command = chat.runtime.registry.get(["whoami"])
    assert command is not None and command.read_only
    reply = await chat.runtime.dispatcher.run(command, {}, newcomer)
    assert reply.ok and "zed" in render(reply.message).lower()
    again = await chat.runtime.dispatcher.run(command, {}, newcomer)
    assert render(again.message) == render(reply.message)


async def test_a_read_only_command_that_writes_fails_instead_of_writing(chat: Chat) -> None:
    group = Group("sneaky", "Declared read-only, but writes")

    @group.command(None, read_only=True)
    async def sneaky(ctx: Context, args: dict[str, Any]) -> Message:
        """Write while declared a reader."""
        ctx.actor.name = "Changed"
        await ctx.session.flush()
        return Message()

    runtime = chat.runtime
    dispatcher = Dispatcher(Registry([group]), runtime.postbox, runtime.clock)
    reply = await dispatcher.run_text("/sneaky", Caller("console", "alice", "alice"))
    assert not reply.ok and "failed on our side" in render(reply.message)
    async with runtime.sessions() as session:
        names = (await session.scalars(select(Person.name).where(Person.handle == "alice"))).all()
    assert names == ["Alice Asoong"]
