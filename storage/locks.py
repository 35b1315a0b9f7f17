"""PostgreSQL advisory locks: the few things replicas take turns at, each with its own key.

Advisory locks belong to one database, so two Liaison databases on one server never contend.
SQLite needs none of them: one process serves a SQLite file (`bot/single.py` makes sure).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# "Liai" in ASCII, then a number per lock: recognisable in pg_locks (classid 1281974633).
_BASE = 0x4C69_6169 << 32
# Applying the configuration at start (bot/sync.py): one replica at a time.
CONFIG = _BASE | 1
# Holding the Discord gateway (bot/leader.py): one replica at a time, for as long as it lives.
GATEWAY = _BASE | 2


async def one_at_a_time(session: AsyncSession, key: int) -> None:
    """Wait for, then hold until the transaction ends, the lock `key` (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
