"""Migration 0005: channel ids move from per-platform columns to rows and back, data intact."""

from __future__ import annotations

from sqlalchemy import text

from bot import db
from storage.engine import create_engine


async def test_channel_ids_survive_becoming_rows_and_back(empty_database_url: str) -> None:
    url = empty_database_url
    await db.upgrade(url, "0004")
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO channel (id, name, slack_id, discord_id) VALUES "
                    "(1, 'shared', 'C0123456789', '123456789012345678'), "
                    "(2, 'slack-only', 'C0000000002', NULL), "
                    "(3, 'nowhere', '', NULL)"
                )
            )

        await db.upgrade(url)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT channel_id, platform, address FROM channel_address "
                        "ORDER BY channel_id, platform"
                    )
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, "discord", "123456789012345678"),
            (1, "slack", "C0123456789"),
            (2, "slack", "C0000000002"),
        ]

        await db.downgrade(url, "0004")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT id, name, slack_id, discord_id FROM channel ORDER BY id")
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, "shared", "C0123456789", "123456789012345678"),
            (2, "slack-only", "C0000000002", None),
            (3, "nowhere", None, None),
        ]
    finally:
        await engine.dispose()
