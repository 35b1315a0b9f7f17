"""Migrations: they build the schema the models describe, on both databases, both ways."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot import db
from storage.engine import create_engine
from storage.models import Base


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_upgrade_to_head_builds_every_table(empty_database_url: str) -> None:
    await db.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        assert await db.current(engine) == db.head()
        async with engine.connect() as conn:
            tables = await conn.run_sync(_tables)
        assert set(Base.metadata.tables) <= tables
    finally:
        await engine.dispose()


async def test_autogenerate_finds_no_difference_at_head(empty_database_url: str) -> None:
    await db.upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_up_again(empty_database_url: str) -> None:
    await db.upgrade(empty_database_url)
    await db.downgrade(empty_database_url, "base")
    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) <= {"alembic_version"}
        await db.upgrade(empty_database_url)
        assert await db.current(engine) == db.head()
    finally:
        await engine.dispose()


async def test_an_unmigrated_database_is_refused_with_the_fix(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(db.NotMigrated, match="run `liaison db upgrade` first"):
            await db.require_head(engine)
    finally:
        await engine.dispose()


def test_the_start_up_head_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert db.head() == script.get_current_head()
