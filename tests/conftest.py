"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

Every database-backed test runs on both back ends (one parametrised fixture). PostgreSQL comes
from LIAISON_TEST_DATABASE_URL; without it those cases skip with the reason, except under CI,
where a missing server is a failure. Each back end is migrated once per session into a template
that every test copies, so migrations are exercised and tests stay fast.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot import db
from bot.config import DatabaseSettings, Settings, load_settings
from bot.console import Console
from bot.runtime import open_runtime
from commands.clock import FakeClock
from tests.harness import Chat

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples" / "demo.toml"
PG_ENV = "LIAISON_TEST_DATABASE_URL"


def postgres_url() -> str:
    """The PostgreSQL server URL for tests, or skip (fail under CI) when none is set."""
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set, but CI must run the PostgreSQL tests")
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV}, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        )
    return url


def _pg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _pg_admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(_pg_dsn(url))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


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
    name = f"liaison_tpl_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg_admin(url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable: {exc}")
    asyncio.run(db.upgrade(make_url(url).set(database=name).render_as_string(False)))
    yield url, name
    asyncio.run(_pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the newest migration, on each back end in turn."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "liaison.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url, template_name = request.getfixturevalue("postgres_template")
    name = f"liaison_t_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(url, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield make_url(url).set(database=name).render_as_string(False)
    asyncio.run(_pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, on each back end in turn (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    url = postgres_url()
    name = f"liaison_e_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL at {PG_ENV} is not reachable: {exc}")
    yield make_url(url).set(database=name).render_as_string(False)
    asyncio.run(_pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The shipped demo configuration, pointed at the test database."""
    demo = load_settings(str(DEMO))
    return demo.model_copy(update={"database": DatabaseSettings(url=database_url)})


@pytest.fixture
def clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


@pytest.fixture
async def chat(settings: Settings, clock: FakeClock) -> AsyncIterator[Chat]:
    """The bot on the demo configuration, driven through the console adapter."""
    runtime = await open_runtime(settings, platforms=["console"], clock=clock)
    console = Console(runtime, "alice", out=_Sink())
    runtime.worker.senders.append(console)
    try:
        yield Chat(runtime, console)
    finally:
        await runtime.close()


class _Sink:
    """Swallows console output; tests read the console's transcript instead."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
