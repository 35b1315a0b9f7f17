"""Engines and sessions: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

BUSY_TIMEOUT_MS = 10_000
READ_ONLY = "liaison_read_only"


def is_sqlite(url: str) -> bool:
    """Whether a database URL names SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for the URL, with the connection settings Liaison relies on."""
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True, **kwargs)
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN IMMEDIATE can be used.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that later writes can fail at once with "database is locked";
        # taking the write lock up front makes concurrent writers wait their turn instead.
        # Sessions opened with reading() never write, so they need not queue for the lock.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class WriteGate:
    """SQLite's one writer, taken in turn by this process's write transactions.

    Without it, writers that find the database locked poll for it in SQLite's busy handler,
    sleeping up to 100 ms between tries and in no order: under a burst, recording a command
    before its acknowledgement waited seconds behind commands, deliveries and wake-ups. Here a
    waiting writer is handed the lock the moment the last one has committed, in arrival order,
    urgent writers (`Sessions.begin_first`) first. Another process on the same file still
    waits in the busy handler, as before.
    """

    def __init__(self) -> None:
        self._held = False
        # Waiting writers: the urgent ones, then the others.
        self._queues: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())

    @property
    def waiting(self) -> int:
        """How many write transactions wait for their turn."""
        return sum(len(q) for q in self._queues)

    @asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the process's write turn for the body of the block."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._held and not self.waiting:
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues[0 if urgent else 1]
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed over just as the waiter was cancelled: pass it on
            elif turn in queue:
                queue.remove(turn)
            raise

    def _release(self) -> None:
        for queue in self._queues:
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # the turn passes on: still held
                    return
        self._held = False


# One gate per SQLite engine (sessions made from one engine share it).
_GATES: weakref.WeakKeyDictionary[Any, WriteGate] = weakref.WeakKeyDictionary()


class Sessions(async_sessionmaker[AsyncSession]):
    """A session factory whose `begin()` takes the write turn first on SQLite (`WriteGate`)."""

    gate: WriteGate | None = None

    def begin(self) -> AbstractAsyncContextManager[AsyncSession]:  # type: ignore[override]
        """A session in a write transaction, committed at the end of the block."""
        if self.gate is None:
            return super().begin()
        return self._gated(self.gate, urgent=False)

    def begin_first(self) -> AbstractAsyncContextManager[AsyncSession]:
        """`begin()`, but ahead of every other waiting writer: for recording a request that
        a platform is waiting to hear back about."""
        if self.gate is None:
            return super().begin()
        return self._gated(self.gate, urgent=True)

    @asynccontextmanager
    async def _gated(self, gate: WriteGate, *, urgent: bool) -> AsyncIterator[AsyncSession]:
        async with gate.turn(urgent=urgent), super().begin() as session:
            yield session


def session_factory(engine: AsyncEngine) -> Sessions:
    """A session factory whose objects stay readable after commit (and, on SQLite, whose
    write transactions take turns: `WriteGate`)."""
    sessions = Sessions(engine, expire_on_commit=False)
    if engine.dialect.name == "sqlite":
        sessions.gate = _GATES.setdefault(engine.sync_engine, WriteGate())
    return sessions


class WriteInReadOnly(RuntimeError):
    """Code running in a `reading()` session tried to write: it must be declared a writer."""


def _refuse_writes(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        changed = [type(x).__name__ for x in (*session.new, *session.dirty, *session.deleted)]
        raise WriteInReadOnly(f"a read-only session tried to write {sorted(set(changed))}")


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session that only reads: on SQLite it does not wait for, or hold, the write lock.

    It refuses to flush a change (`WriteInReadOnly`), and never commits.
    """
    async with sessions() as session:
        event.listen(session.sync_session, "before_flush", _refuse_writes)
        await session.connection(execution_options={READ_ONLY: True})
        yield session
