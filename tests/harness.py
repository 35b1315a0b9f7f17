"""Driving the bot as a user does: type a line in the console, read what it printed."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, cast

from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import Result

from bot.config import DatabaseSettings, Settings, load_settings
from bot.console import PLATFORM, Console
from bot.plaintext import render
from bot.runtime import Runtime, open_runtime
from commands.core.clock import Clock, FakeClock
from commands.core.dispatch import Caller
from commands.core.messages import ActionId
from storage.models import InboundRequest

# The shipped demo configuration: two orgs, five people, policies and channels.
DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.toml"


def demo_settings(url: str) -> Settings:
    """The shipped demo configuration, pointed at the database at `url`."""
    return load_settings(str(DEMO)).model_copy(update={"database": DatabaseSettings(url=url)})


@dataclass(frozen=True)
class Said:
    """What one command line produced: the reply, and the notifications it caused."""

    reply: str
    ok: bool
    notifications: list[tuple[str, str]]

    def notification(self, address: str = "#shared") -> str:
        """The only notification sent to `address`."""
        found = [text for to, text in self.notifications if to == address]
        assert len(found) == 1, f"expected one notification to {address}, got {self.notifications}"
        return found[0]


class Chat:
    """The bot with its console adapter, for tests."""

    def __init__(self, runtime: Runtime, console: Console, clock: FakeClock | Clock) -> None:
        self.runtime = runtime
        self.console = console
        self.clock = clock

    async def wait(self, by: timedelta) -> list[tuple[str, str]]:
        """Let time pass as for a running bot: each SLA stage and each cron job occurrence
        fires at its own instant.

        Returns what was delivered meanwhile, as (address, text); thread lines and card
        edits are marked "(thread)" and "(updated)" in the address.
        """
        assert isinstance(self.clock, FakeClock), "only fake time can be made to pass"
        start = len(self.console.transcript)
        end = self.clock.now() + by
        await self._tick()
        while (due := await self._next_due()) is not None and due <= end:
            self.clock.set(max(due, self.clock.now()))
            await self._tick()
        self.clock.set(end)
        await self.runtime.worker.drain()
        return self.delivered(start)

    async def _next_due(self) -> datetime | None:
        found = [
            self.runtime.deadlines.armed_for,
            self.runtime.jobs.next_due(),
            # A direct ping held for its recipient's working hours goes at its own instant.
            await self.runtime.worker.next_release(),
        ]
        return min((d for d in found if d is not None), default=None)

    async def _tick(self) -> None:
        await self.runtime.deadlines.tick()
        await self.runtime.jobs.run_due()
        await self.runtime.worker.drain()

    async def jump(self, to: datetime) -> list[tuple[str, str]]:
        """Jump to an instant at once, as if the bot had been down until then; then catch up."""
        assert isinstance(self.clock, FakeClock), "only fake time can be made to pass"
        start = len(self.console.transcript)
        self.clock.set(to)
        await self._tick()
        return self.delivered(start)

    def delivered(self, start: int = 0) -> list[tuple[str, str]]:
        """What the console received since transcript entry `start`."""
        marks = {"notification": "", "thread": " (thread)", "edit": " (updated)"}
        return [
            (e.address + marks[e.kind], e.text)
            for e in self.console.transcript[start:]
            if e.kind != "reply"
        ]

    async def say(self, text: str, *, as_: str = "alice") -> Said:
        """Type a command line as a person; return the reply and what was delivered after it."""
        self.console.handle = as_
        start = len(self.console.transcript)
        await self.console.say(text)
        # As the running bot does right after a command that moves a schedule.
        await self.runtime.jobs.refresh()
        entries = self.console.transcript[start:]
        replies = [e for e in entries if e.kind == "reply"]
        assert len(replies) == 1, entries
        return Said(replies[0].text, replies[0].ok, self.delivered(start))

    async def press(self, action_id: str, *, as_: str = "alice", **extra: str) -> Said:
        """Press a button (e.g. "review:ack:1") as a person, as a chat platform would."""
        start = len(self.console.transcript)
        reply = await self.runtime.dispatcher.run_action(
            ActionId.parse(action_id), Caller(PLATFORM, as_, as_), extra
        )
        await self.runtime.worker.drain()
        return Said(render(reply.message), reply.ok, self.delivered(start))

    async def ok(self, text: str, *, as_: str = "alice") -> Said:
        """Like say(), but the command must succeed."""
        said = await self.say(text, as_=as_)
        assert said.ok, said.reply
        return said

    async def fails(self, text: str, *, as_: str = "alice") -> str:
        """Like say(), but the command must be refused; returns the answer."""
        said = await self.say(text, as_=as_)
        assert not said.ok, said.reply
        assert said.notifications == [], "a refused command must not notify anyone"
        assert "Traceback" not in said.reply
        return said.reply


def succeeded(result: Result) -> str:
    """The output of a `liaison` CLI run that must succeed, without a traceback."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.stderr
    return result.stdout


def refused(result: Result) -> list[str]:
    """A clean refusal: status 2, only `liaison: ...` lines on stderr, no exception escaped."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(text.startswith("liaison: ") for text in lines), lines
    return lines


def problems(result: Result) -> list[str]:
    """The problems a clean refusal names, one per line, without the `liaison: ` prefix."""
    return [text.removeprefix("liaison: ") for text in refused(result)]


async def open_chat(settings: Settings, clock: FakeClock | Clock) -> Chat:
    """Start the bot (not its background tasks: tests drive time) with a console to talk to."""
    runtime = await open_runtime(settings, platforms=["console"], clock=clock)
    # The sink is the one part of a text stream the console writes to.
    console = Console(runtime, "alice", out=cast(TextIO, _Sink()))
    runtime.worker.senders.append(console)
    return Chat(runtime, console, clock)


class _Sink:
    """Swallows console output; tests read the console's transcript instead."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the body runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@contextmanager
def sqlite_write_locked(url: str) -> Iterator[None]:
    """Another process holding the SQLite file's write lock while the body runs."""
    path = make_url(url).database
    assert path is not None
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        writer.rollback()
        writer.close()


async def closed_record(sessions: async_sessionmaker[AsyncSession]) -> InboundRequest:
    """The one inbound request recorded, once it is marked done (waiting up to 5 s for it)."""
    found = None
    for _ in range(100):
        async with sessions() as session:
            found = await session.scalar(select(InboundRequest))
        if isinstance(found, InboundRequest) and found.done_at is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no inbound request was closed within 5 s: {found}")
