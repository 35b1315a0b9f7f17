"""Which replica holds the Discord gateway: a PostgreSQL advisory lock on its own connection.

Discord sends every interaction to every gateway connection of an unsharded bot, so exactly one
replica may connect. Each replica that serves Discord runs a `GatewayLock`: it asks PostgreSQL
for a session advisory lock (`pg_try_advisory_lock`) every `retry_every` seconds on a
connection of its own, and the one that gets it holds the gateway for as long as that
connection lives. It checks the connection every `check_every` seconds and lets go the moment
the check fails. A new holder waits `grace` seconds (two checks and a margin) before it counts
as holding, so a previous holder whose session the server ended (its connection terminated, or
cut off) has noticed and left the gateway first: two replicas are never connected at once.

Why a session lock and not a lease row: PostgreSQL itself releases the lock when the holder's
session ends, so a holder killed with SIGKILL (its socket closed by the kernel) is replaced
within `retry_every` + `grace`, with no lease to expire, no clock to trust and no schema. A
holder cut off by the network is noticed by the server's TCP keepalives (set on the connection
to about 20 s), and by the holder itself sooner (its check fails within two checks). On SQLite
there is one process (bot/single.py): it holds the gateway from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from storage import locks
from storage.engine import create_engine, is_sqlite

log = logging.getLogger(__name__)

# The server drops a silent holder's session after about idle + interval * count seconds.
_KEEPALIVES = {"tcp_keepalives_idle": 5, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class GatewayLock:
    """Whether this replica holds the Discord gateway (`held`), kept up to date while it runs."""

    def __init__(self, url: str, *, retry_every: float = 2.0, check_every: float = 2.0) -> None:
        self.url = url
        self.retry_every = retry_every
        self.check_every = check_every
        # A check that hangs takes up to two periods to fail: the old holder is gone by then.
        self.grace = 2 * check_every + 1.0
        # Shown in pg_stat_activity, so an operator sees which replica holds the lock.
        self.name = f"liaison gateway {socket.gethostname()}:{os.getpid()}"[:63]
        self._held = asyncio.Event()
        self._free = asyncio.Event()
        self._free.set()

    @property
    def held(self) -> bool:
        """Whether this replica holds the gateway now."""
        return self._held.is_set()

    async def acquired(self) -> None:
        """Wait until this replica holds the gateway."""
        await self._held.wait()

    async def lost(self) -> None:
        """Wait until this replica no longer holds the gateway."""
        await self._free.wait()

    def _set(self, held: bool) -> None:
        if held == self.held:
            return
        if held:
            log.info("holding the Discord gateway (%s)", self.name)
        else:
            log.warning("no longer holding the Discord gateway")
        (self._held if held else self._free).set()
        (self._free if held else self._held).clear()

    async def run_forever(self) -> None:
        """Take the lock when it is free and keep it while the connection lives; until cancelled."""
        if is_sqlite(self.url):
            self._set(True)  # one process per SQLite file: it is the only candidate
            return
        engine = create_engine(self.url, poolclass=NullPool)
        try:
            while True:
                try:
                    async with engine.connect() as conn:
                        await self._hold(conn)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    # The database went away (or the check timed out): let go first, then retry.
                    self._set(False)
                    log.warning("gateway lock: %s; trying again", _first_line(exc))
                self._set(False)
                await asyncio.sleep(self.retry_every)
        finally:
            self._set(False)
            # Closing the session releases the lock at once for the next replica.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(engine.dispose(), self.check_every)

    async def _hold(self, conn: AsyncConnection) -> None:
        # Autocommit: the lock lives with the session, and no transaction is left open idle.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        for name, value in _KEEPALIVES.items():
            await conn.execute(text(f"SET {name} = {int(value)}"))
        label = text("SELECT set_config('application_name', :name, false)")
        await conn.execute(label, {"name": self.name})
        take = text("SELECT pg_try_advisory_lock(:key)")
        while True:
            if await conn.scalar(take, {"key": locks.GATEWAY}):
                break
            await asyncio.sleep(self.retry_every)
        began = asyncio.get_running_loop().time()
        while True:
            # A session that answers still holds its lock; one that does not has let go.
            await asyncio.sleep(self.check_every)
            await asyncio.wait_for(conn.scalar(text("SELECT 1")), self.check_every)
            if asyncio.get_running_loop().time() - began >= self.grace:
                self._set(True)


def _first_line(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0]
