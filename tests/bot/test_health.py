"""`/healthz`, `/readyz` and `/metrics`, asked over HTTP as an orchestrator and Prometheus ask.

The bot runs on Slack (HTTP mode, against the fake Slack) or on the console harness; the three
endpoints share the [http] server. What the metrics must show is caused through the public
seams: slash commands, the fake Slack failing, time passing on the fake clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot import db, health
from bot.config import HttpSettings, Settings
from commands.core.clock import FakeClock
from tests.harness import Chat, open_chat


async def get(port: int, path: str) -> tuple[int, str]:
    """GET a path of the bot's HTTP server: the status and the body."""
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}{path}") as answer,
    ):
        return answer.status, await answer.text()


async def until(port: int, path: str, status: int, seconds: float = 15.0) -> str:
    """Ask again until the path answers `status` (the worker polls every few seconds)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        got, body = await get(port, path)
        if got == status:
            return body
        assert asyncio.get_running_loop().time() < deadline, (got, body)
        await asyncio.sleep(0.2)


@pytest.fixture
async def served(settings: Settings, clock: FakeClock) -> AsyncIterator[tuple[Chat, int]]:
    """The bot on the console harness, its parts running, health served on a free port."""
    local = settings.model_copy(update={"http": HttpSettings(host="127.0.0.1", port=0)})
    chat = await open_chat(local, clock)
    try:
        port = await health.start(chat.runtime)
        await chat.runtime.start()
        yield chat, port
    finally:
        await chat.runtime.close()


async def test_readyz_is_200_when_ready_503_while_the_schema_is_behind_and_200_once_migrated(
    served: tuple[Chat, int], database_url: str
) -> None:
    _, port = served
    assert await get(port, "/healthz") == (200, "ok\n")
    assert await until(port, "/readyz", 200) == "ready\n"
    older = db.revisions()[-2]
    await db.downgrade(database_url, older)
    status, body = await get(port, "/readyz")
    assert status == 503
    assert (
        body
        == f"not ready: the database is at revision {older} but this version needs {db.head()}\n"
    )
    # Liveness is not readiness: the process itself is fine.
    assert (await get(port, "/healthz"))[0] == 200
    await db.upgrade(database_url)
    await until(port, "/readyz", 200)


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(
        make_url(url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _rename(url: str, old: str, new: str) -> None:
    """Rename a database, first cutting off whoever is on it (the bot's pool reconnects, so
    try again until the rename wins the race)."""
    for _ in range(50):
        try:
            await _admin(
                url,
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{old}'",
                f'ALTER DATABASE "{old}" RENAME TO "{new}"',
            )
            return
        except asyncpg.ObjectInUseError:
            await asyncio.sleep(0.05)
    raise AssertionError(f"could not rename {old}: always in use")


# A database server that goes away and comes back is PostgreSQL's case: this test runs there
# alone (no skipped SQLite twin); the schema test above covers SQLite's readiness.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_readyz_is_503_while_the_database_is_gone_and_200_when_it_is_back(
    served: tuple[Chat, int], database_url: str
) -> None:
    _, port = served
    await until(port, "/readyz", 200)
    name = make_url(database_url).database
    assert name is not None
    await _rename(database_url, name, f"{name}_gone")
    try:
        status, body = await get(port, "/readyz")
        assert status == 503
        assert body.startswith("not ready: the database cannot be reached: ")
        assert "does not exist" in body
        assert await get(port, "/healthz") == (200, "ok\n")
    finally:
        await _rename(database_url, f"{name}_gone", name)
    await until(port, "/readyz", 200)


async def test_readyz_is_503_once_the_delivery_worker_stops_passing(
    settings: Settings, clock: FakeClock
) -> None:
    local = settings.model_copy(update={"http": HttpSettings(host="127.0.0.1", port=0)})
    chat = await open_chat(local, clock)
    try:
        port = await health.start(chat.runtime, stale_after=1.0)
        # A worker that passes often, so "recently" can be short in a test.
        chat.runtime.worker.poll_interval = 0.1
        await chat.runtime.start()
        await until(port, "/readyz", 200)
        for _ in range(3):
            await asyncio.sleep(0.5)
            assert await get(port, "/readyz") == (200, "ready\n")
        # The worker's loop ends (as if it had died): readiness notices within the limit.
        await chat.runtime.worker.stop()
        body = await until(port, "/readyz", 503, seconds=5)
        assert body.startswith("not ready: the delivery worker has not finished a pass for ")
        assert (await get(port, "/healthz"))[0] == 200
    finally:
        await chat.runtime.close()
