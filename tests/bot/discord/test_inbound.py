"""Durable before deferred: a Discord command that may change something is recorded first, and
one recorded by a process that died is run once by the next, which answers its interaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.config import Settings
from bot.discord import DiscordAdapter
from bot.discord.adapter import COMMAND
from bot.runtime import open_runtime
from commands.core.clock import FakeClock
from storage.models import Area, AreaEvent, InboundRequest
from tests.bot.discord.conftest import USERS, Discord
from tests.bot.discord.fake_api import APP_ID, FakeDiscord


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
    runtime = await open_runtime(discord_settings, platforms=["discord"], clock=clock)
    adapter = DiscordAdapter(runtime, pace=0.0)
    try:
        await adapter.login()
        clock.advance(timedelta(minutes=1))
        start = len(fake.calls)
        assert await runtime.inbox.resume() == 1
        answers = [c for c in fake.calls[start:] if c.path.startswith("webhooks/")]
        assert len(answers) == 1 and "token-77" in answers[0].path
        assert "is the DRI of **Keeper**" in str(answers[0].json)
        clock.advance(timedelta(minutes=1))
        assert await runtime.inbox.resume() == 0
        async with runtime.sessions() as session:
            rows = await session.execute(
                select(Area.name, func.count())
                .join(AreaEvent, AreaEvent.area_id == Area.id)
                .group_by(Area.name)
            )
            changes = {name: n for name, n in rows}
        # Keeper's history is Oracle's: the command ran once, not twice.
        assert changes["Keeper"] == changes["Oracle"]
    finally:
        await adapter.client.close()
        await runtime.close()
