"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

Every database-backed test runs on both back ends (one parametrised fixture). PostgreSQL comes
from LIAISON_TEST_DATABASE_URL, by default the local server at 127.0.0.1:5432; where none can be
reached those cases skip with the reason, except under CI, where a missing server is a failure.
Each back end is migrated once per session into a template that every test copies, so
migrations are exercised and tests stay fast.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import db
from bot.config import Settings
from commands.core.clock import FakeClock
from storage import scratch
from storage.engine import create_engine, session_factory
from storage.models import Channel
from tests.harness import Chat, demo_settings, open_chat

REPO = Path(__file__).resolve().parent.parent
PG_ENV = "LIAISON_TEST_DATABASE_URL"


PG_DEFAULT = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

# The whole run's logs are checked for the tests' secrets when it ends (tests/logcheck.py).
pytest_plugins = ["tests.logcheck"]


def postgres_url() -> str:
    """The PostgreSQL server URL for tests: LIAISON_TEST_DATABASE_URL, else the local server."""
    return os.environ.get(PG_ENV) or PG_DEFAULT


def _reachable(make: Callable[[], Coroutine[Any, Any, str]]) -> str:
    """Run a database-creating call; skip (fail under CI) when the server cannot be reached."""
    try:
        return asyncio.run(make())
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(
            f"PostgreSQL at {postgres_url()} is not reachable ({exc}): start it, or point "
            f"{PG_ENV} at one"
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(db.upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[tuple[str, str]]:
    """A PostgreSQL database migrated to head once per session, used as a template."""
    url = postgres_url()
    name = _reachable(lambda: scratch.create(url, "liaison_tpl"))
    asyncio.run(db.upgrade(scratch.with_database(url, name)))
    yield url, name
    asyncio.run(scratch.drop(url, name))


def migrated_copy(request: pytest.FixtureRequest, backend: str, path: Path) -> Iterator[str]:
    """Yield the URL of a fresh database at the newest migration; drop it afterwards.

    SQLite copies the session's migrated template file to `path`; PostgreSQL creates a
    database from the session's migrated template database.
    """
    if backend == "sqlite":
        template = f"sqlite+aiosqlite:///{request.getfixturevalue('sqlite_template')}"
    else:
        url, template_name = request.getfixturevalue("postgres_template")
        template = scratch.with_database(url, template_name)
    yield from copy_of(template, path)


def copy_of(template: str, path: Path) -> Iterator[str]:
    """Yield the URL of a copy of the database at `template`; drop it afterwards.

    SQLite copies the file to `path`; PostgreSQL creates a database with `template` as its
    template (nobody may be connected to it meanwhile).
    """
    source = make_url(template)
    if source.get_backend_name() == "sqlite":
        shutil.copyfile(str(source.database), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = asyncio.run(scratch.create(template, "liaison_t", template=source.database))
    yield scratch.with_database(template, name)
    asyncio.run(scratch.drop(template, name))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest migration, on each back end in turn."""
    yield from migrated_copy(request, request.param, tmp_path / "liaison.db")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on each back end in turn (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    url = postgres_url()
    name = _reachable(lambda: scratch.create(url, "liaison_e"))
    yield scratch.with_database(url, name)
    asyncio.run(scratch.drop(url, name))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The shipped demo configuration, pointed at the test database."""
    return demo_settings(database_url)


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


@pytest.fixture
async def chat(settings: Settings, clock: FakeClock) -> AsyncIterator[Chat]:
    """The bot on the demo configuration, driven through the console adapter."""
    opened = await open_chat(settings, clock)
    try:
        yield opened
    finally:
        await opened.runtime.close()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A database with the channels "shared", "other" and "nowhere" (which has no platform ids)."""
    engine = create_engine(database_url)
    factory = session_factory(engine)
    async with factory.begin() as session:
        session.add_all([Channel(name="shared"), Channel(name="other"), Channel(name="nowhere")])
    yield factory
    await engine.dispose()
