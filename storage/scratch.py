"""Throw-away PostgreSQL databases, for tests and benchmarks that need one of their own."""

from __future__ import annotations

import uuid

import asyncpg
from sqlalchemy.engine import make_url


def with_database(url: str, name: str) -> str:
    """The same server URL, naming another database."""
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _admin(url: str, statement: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create(url: str, prefix: str = "liaison_s", template: str | None = None) -> str:
    """Create an empty database (or a copy of `template`) beside `url`; return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await _admin(url, f'CREATE DATABASE "{name}"{copy}')
    return name


async def drop(url: str, name: str) -> None:
    """Drop a database made by create(), disconnecting anyone still on it."""
    await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
