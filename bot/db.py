"""Schema migrations, run by `liaison db upgrade` and checked at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations


def alembic_config(url: str) -> Config:
    """An Alembic configuration for a database URL; no ini file needed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.attributes["url"] = url
    return cfg


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (Alembic runs its own loop, so in a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(url), revision)


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision`."""
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


def head(url: str = "sqlite+aiosqlite://") -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


class NotMigrated(RuntimeError):
    """The database is not at the revision the code needs."""


async def require_head(engine: AsyncEngine) -> None:
    """Stop unless the database is fully migrated, saying how to fix it."""
    at, want = await current(engine), head()
    if at != want:
        raise NotMigrated(
            f"the database is at revision {at or 'none (empty)'} but this version needs {want}: "
            "run `liaison db upgrade` first"
        )
