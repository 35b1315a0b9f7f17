"""Schema migrations, run by `liaison db upgrade` and checked at start."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic is imported where it is used: it costs a sixth of a second at start-up otherwise.
_REVISION = re.compile(r"^revision(?:: str)? = [\"']([^\"']+)[\"']", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:: [^=]+)? = [\"']([^\"']+)[\"']", re.MULTILINE)


class Unavailable(Exception):
    """The database cannot be reached or opened; the message is the driver's reason."""


class BadRevision(ValueError):
    """`liaison db upgrade REVISION` names a revision the migrations do not have."""


@asynccontextmanager
async def connecting() -> AsyncIterator[None]:
    """Report a failure to reach or open the database as Unavailable, with its first line.

    An OSError only means "the database" here, where a connection is being made (asyncpg
    raises the socket's own error); elsewhere it is a file, a pipe or the network.
    """
    try:
        yield
    except DBAPIError as exc:
        raise Unavailable(_first_line(exc.orig or exc)) from exc
    except OSError as exc:
        raise Unavailable(_first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0]


def alembic_config(url: str) -> Config:
    """An Alembic configuration for a database URL; no ini file needed."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.attributes["url"] = url
    return cfg


async def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (Alembic runs its own loop, so in a thread)."""
    from alembic import command
    from alembic.util import CommandError

    try:
        async with connecting():
            await asyncio.to_thread(command.upgrade, alembic_config(url), revision)
    except CommandError as exc:
        # Alembic's own words ("Can't locate revision identified by 'bogus'", "... is not a
        # valid upgrade target ..."): it checks the target before changing anything.
        raise BadRevision(
            f"cannot upgrade to {revision!r}: {_first_line(exc)} "
            f"(the revisions are {', '.join(revisions())}; head is the newest)"
        ) from None


async def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to `revision`."""
    from alembic import command

    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


def revisions() -> list[str]:
    """Every revision the migration files define, oldest first (they are numbered)."""
    found = (
        _REVISION.search(path.read_text(encoding="utf-8"))
        for path in (Path(migrations.__file__).parent / "versions").glob("*.py")
    )
    return sorted(match[1] for match in found if match)


def head() -> str | None:
    """The newest revision the code knows, read from the migration files.

    This is what every start-up asks, so it avoids loading Alembic (a sixth of a second);
    tests check it against Alembic's own answer.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (Path(migrations.__file__).parent / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        if found := _REVISION.search(source):
            revisions.add(found[1])
        if found := _DOWN_REVISION.search(source):
            parents.add(found[1])
    heads = revisions - parents
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads: {', '.join(sorted(heads))}")
    return heads.pop() if heads else None


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None for an empty database)."""
    async with connecting(), engine.connect() as conn:
        has_table = await conn.run_sync(lambda c: inspect(c).has_table("alembic_version"))
        if not has_table:
            return None
        version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        return str(version) if version is not None else None


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
