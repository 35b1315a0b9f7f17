"""Applying the configuration: a channel's platform ids become, and follow, its address rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from bot.config import ChannelSettings, Settings
from bot.sync import apply_config
from commands.core.notifier import Postbox
from storage.engine import create_engine, reading, session_factory
from storage.models import Channel, ChannelAddress, Org, Person, SlaPolicy

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _with_channel(settings: Settings, channel: ChannelSettings) -> Settings:
    return settings.model_copy(update={"channels": [channel]})


async def test_channel_ids_from_the_file_are_written_changed_and_removed(
    settings: Settings,
) -> None:
    engine = create_engine(settings.database.url)
    sessions = session_factory(engine)
    postbox = Postbox(sessions, frozenset(), "shared")

    async def addresses() -> dict[str, str]:
        async with reading(sessions) as session:
            channel = await session.scalar(select(Channel).where(Channel.name == "shared"))
            assert channel is not None
            return {a.platform: a.address for a in channel.addresses}

    try:
        both = ChannelSettings(name="shared", slack="C0123456789", discord="1234567890")
        await apply_config(postbox, _with_channel(settings, both), NOW)
        assert await addresses() == {"slack": "C0123456789", "discord": "1234567890"}

        # A platform the file has no key for is left alone.
        async with sessions.begin() as session:
            channel = await session.scalar(select(Channel).where(Channel.name == "shared"))
            assert channel is not None
            session.add(ChannelAddress(channel_id=channel.id, platform="matrix", address="!r:m"))

        moved = ChannelSettings(name="shared", slack="C0000000009", discord=None)
        await apply_config(postbox, _with_channel(settings, moved), NOW)
        assert await addresses() == {"slack": "C0000000009", "matrix": "!r:m"}

        async with reading(sessions) as session:
            channel = await session.scalar(select(Channel).where(Channel.name == "shared"))
            assert channel is not None
            assert channel.address_on("slack") == "C0000000009"
            assert channel.address_on("discord") is None
    finally:
        await engine.dispose()


async def test_replicas_applying_the_configuration_at_once_all_succeed_and_agree(
    settings: Settings,
) -> None:
    # One engine each, as separate processes have: on a fresh database every one of them finds
    # the orgs, people and policies missing, and only one may insert them.
    engines = [create_engine(settings.database.url) for _ in range(4)]
    try:
        postboxes = [Postbox(session_factory(e), frozenset(), "shared") for e in engines]
        await asyncio.gather(*(apply_config(p, settings, NOW) for p in postboxes))
        async with reading(session_factory(engines[0])) as session:
            orgs = (await session.scalars(select(Org.key))).all()
            people = (await session.scalars(select(Person.handle))).all()
            policies = (await session.scalars(select(SlaPolicy.name))).all()
        assert sorted(orgs) == sorted(o.key for o in settings.orgs)
        assert sorted(people) == sorted(p.handle for p in settings.people)
        assert sorted(policies) == sorted(p.name for p in settings.policies)
    finally:
        for engine in engines:
            await engine.dispose()
