"""Durable before deferred: a Discord command or button press that may change something is
recorded first, and one recorded by a process that died is run once by the next, which answers
its interaction with a follow-up."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import Settings
from bot.discord import DiscordAdapter
from bot.discord.adapter import COMMAND, PRESS
from bot.intake import BUSY
from bot.runtime import open_runtime
from commands.core.clock import FakeClock
from storage.models import Area, AreaEvent, InboundRequest
from tests.bot.discord.conftest import SHARED, USERS, Discord
from tests.bot.discord.fake_api import APP_ID, FakeDiscord
from tests.harness import closed_record, sqlite_write_locked


@pytest.fixture
def clock() -> FakeClock:
    """Monday 15:00 UTC, inside both orgs' working hours, so the DRI check's DM goes at once."""
    return FakeClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))


async def _restart_and_resume(
    settings: Settings, clock: FakeClock, fake: FakeDiscord, token: str
) -> str:
    """Start another process on the same database, let it resume what is due (one request),
    then once more (nothing); return the one follow-up it sent, to the interaction `token`."""
    runtime = await open_runtime(settings, platforms=["discord"], clock=clock)
    adapter = DiscordAdapter(runtime, pace=0.0)
    try:
        await adapter.login()
        clock.advance(timedelta(minutes=1))
        start = len(fake.calls)
        assert await runtime.inbox.resume() == 1
        answers = [c for c in fake.calls[start:] if c.path.startswith("webhooks/")]
        assert len(answers) == 1 and token in answers[0].path
        clock.advance(timedelta(minutes=1))
        assert await runtime.inbox.resume() == 0
        return str(answers[0].json)
    finally:
        await adapter.client.close()
        await runtime.close()


async def test_a_command_recorded_before_a_crash_runs_once_after_a_restart(
    bot: Discord, discord_settings: Settings, clock: FakeClock, fake: FakeDiscord
) -> None:
    assert "Done" in await bot.run("alice", "dri set", area="Oracle", person="bob")
    async with bot.runtime.sessions() as session:
        records = (
            await session.scalars(
                select(InboundRequest).where(InboundRequest.key.like("discord:interaction:%"))
            )
        ).all()
    # The command was recorded before it ran, and marked done with its effect.
    assert [r.done_at is not None for r in records] == [True]

    # What a process leaves when it dies between the record and the commit.
    recorded = {
        "path": ["dri", "set"],
        "raw": {"area": "Keeper", "person": f"<@{USERS['bob']}>"},
        "user_id": str(USERS["alice"]),
        "user_name": "alice",
        "application_id": str(APP_ID),
        "token": "token-77",
    }
    assert await bot.runtime.inbox.accept("discord:interaction:77", COMMAND, recorded)
    answer = await _restart_and_resume(discord_settings, clock, fake, "token-77")
    assert "is the DRI of **Keeper**" in answer
    async with bot.runtime.sessions() as session:
        rows = await session.execute(
            select(Area.name, func.count())
            .join(AreaEvent, AreaEvent.area_id == Area.id)
            .group_by(Area.name)
        )
        changes = {name: n for name, n in rows}
    # Keeper's history is Oracle's: the command ran once, not twice.
    assert changes["Keeper"] == changes["Oracle"]


CONFIRM = "dri:confirm:area.1"


async def _confirmations(bot: Discord) -> int:
    async with bot.runtime.sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(AreaEvent).where(AreaEvent.field == "verified")
            )
            or 0
        )


def _buttons(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"]]


async def test_a_press_is_recorded_first_and_a_redelivered_press_has_one_effect(
    bot: Discord,
) -> None:
    await bot.run("alice", "dri set", area="Smart contract review", person="bob")
    await bot.run("alice", "dri verify")
    await bot.drain()
    (ref,) = [
        k
        for k, m in bot.api.messages.items()
        if not k.startswith(f"{SHARED}:") and CONFIRM in _buttons(m)
    ]
    press = bot.component_payload("bob", CONFIRM, ref)
    start = len(bot.api.calls)
    await bot.deliver(press)
    assert "you are still the DRI of" in bot.reply_text(start)
    async with bot.runtime.sessions() as session:
        record = await session.scalar(
            select(InboundRequest).where(InboundRequest.key == f"discord:interaction:{press['id']}")
        )
    assert record is not None and record.kind == PRESS and record.done_at is not None
    # The gateway delivers the same interaction again (a resumed session replays it).
    start = len(bot.api.calls)
    await bot.deliver(press)
    assert bot.callbacks(start) == []
    assert await _confirmations(bot) == 1


async def test_a_press_recorded_before_a_crash_runs_once_after_a_restart(
    bot: Discord, discord_settings: Settings, clock: FakeClock, fake: FakeDiscord
) -> None:
    await bot.run("alice", "dri set", area="Smart contract review", person="bob")
    # What a process leaves when it dies between the press's record and its commit.
    recorded = {
        "action": CONFIRM,
        "extra": {},
        "user_id": str(USERS["bob"]),
        "user_name": "bob",
        "application_id": str(APP_ID),
        "token": "token-78",
    }
    assert await bot.runtime.inbox.accept("discord:interaction:78", PRESS, recorded)
    answer = await _restart_and_resume(discord_settings, clock, fake, "token-78")
    assert "you are still the DRI of" in answer
    assert await _confirmations(bot) == 1


# SQLite's write lock is SQLite's own: this test runs there alone (no skipped PostgreSQL twin).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_command_the_database_cannot_record_in_time_hears_busy_and_never_runs(
    bot: Discord, discord_settings: Settings
) -> None:
    # Another process holds the write lock for longer than a Discord answer may wait.
    with sqlite_write_locked(discord_settings.database.url):
        began = time.monotonic()
        answer = await bot.run("alice", "dri set", area="Late", person="bob")
        took = time.monotonic() - began
    # Answered before Discord's 3-second deadline ("This interaction failed"), and said so.
    assert BUSY in answer and took < 3.0
    # The record lands once the lock is free (SQLite's busy wait), and is closed, not run.
    await closed_record(bot.runtime.sessions)
    assert await bot.runtime.inbox.resume() == 0
    async with bot.runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Area)) == 0
