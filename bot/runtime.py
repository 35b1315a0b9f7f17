"""Wiring: settings in, a running set of parts out (database, commands, delivery)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import db
from bot.config import Settings
from bot.delivery import DeliveryWorker
from bot.sync import apply_config
from commands import build_registry
from commands.clock import Clock, SystemClock
from commands.dispatch import Dispatcher
from commands.registry import Registry
from storage.engine import create_engine, session_factory


@dataclass
class Runtime:
    """The parts one Liaison process runs with."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    registry: Registry
    dispatcher: Dispatcher
    worker: DeliveryWorker

    async def close(self) -> None:
        """Release the database connections."""
        await self.engine.dispose()


async def open_runtime(
    settings: Settings, *, platforms: Iterable[str], clock: Clock | None = None
) -> Runtime:
    """Connect, check the schema is migrated, load the configuration, and wire the parts.

    `platforms` are where notifications go; their senders are added to `runtime.worker.senders`.
    """
    clock = clock or SystemClock()
    engine = create_engine(settings.database.url)
    try:
        await db.require_head(engine)
        sessions = session_factory(engine)
        await apply_config(sessions, settings, clock.now())
    except BaseException:
        await engine.dispose()
        raise
    registry = build_registry()
    worker = DeliveryWorker(sessions, clock, [])
    dispatcher = Dispatcher(
        registry,
        sessions,
        clock,
        platforms=frozenset(platforms),
        announce_channel=settings.announce_channel,
        on_notify=worker.wake,
    )
    return Runtime(settings, engine, sessions, clock, registry, dispatcher, worker)
