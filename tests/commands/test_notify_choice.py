"""/me notify: every DM, only what one must act on, or a daily summary (a calendar job)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.config import Settings
from commands.core.clock import FakeClock
from tests.harness import Chat, open_chat

PR = "https://github.com/org/repo/pull/7"


def _to(delivered: list[tuple[str, str]], who: str) -> list[str]:
    return [text.splitlines()[0] for to, text in delivered if to == who]


async def test_action_only_leaves_out_the_news(chat: Chat) -> None:
    await chat.wait(timedelta(hours=6))  # 10:00 in New York: alice's DMs are not held
    said = await chat.ok("/me notify action")
    assert "From now on you get action: only direct messages about what you must act" in (
        said.reply
    )
    await chat.ok(f'/review request {PR} "Fix" reviewer=@dave')
    changes = await chat.ok("/review changes 1 Add a test", as_="dave")
    assert _to(changes.notifications, "@alice") == ["Changes requested on #1"]
    await chat.ok("/review resume 1")
    approved = await chat.ok("/review approve 1", as_="dave")
    assert _to(approved.notifications, "@alice") == []
    assert "'sometimes' is not a valid how" in await chat.fails("/me notify sometimes")


async def test_daily_sends_one_summary_each_working_morning_and_nothing_else(
    chat: Chat,
) -> None:
    # Monday 09:00 in London (the fake clock's start).
    await chat.ok("/me notify daily", as_="dave")
    said = await chat.ok(f'/review request {PR} "Fix the oracle" reviewer=@dave')
    assert _to(said.notifications, "@dave") == []
    tuesday = await chat.wait(timedelta(hours=25))  # to Tuesday 10:00, past ic's opening
    (summary,) = [text for to, text in tuesday if to == "@dave"]
    assert summary.startswith("What waits for you, Tue 06 Jan\nReviews you owe (1)\n#1 Fix")
    assert "you · waiting for acknowledgement" in summary
    # Caught up again (a second replica, a restart): still one for the day.
    await chat.runtime.jobs.run_due()
    await chat.runtime.worker.drain()
    assert _to(chat.delivered(), "@dave").count("What waits for you, Tue 06 Jan") == 1
    wednesday = await chat.wait(timedelta(days=1))
    assert _to(wednesday, "@dave") == ["What waits for you, Wed 07 Jan"]


@pytest.fixture
async def daily_dave(settings: Settings, clock: FakeClock) -> AsyncIterator[Chat]:
    """The demo with `notify = "daily"` for dave in the configuration."""
    people = [
        p.model_copy(update={"notify": "daily"}) if p.handle == "dave" else p
        for p in settings.people
    ]
    opened = await open_chat(settings.model_copy(update={"people": people}), clock)
    try:
        yield opened
    finally:
        await opened.runtime.close()


async def test_the_configured_default_applies_until_a_choice_in_chat(daily_dave: Chat) -> None:
    said = await daily_dave.ok(f'/review request {PR} "Fix" reviewer=@dave')
    assert _to(said.notifications, "@dave") == []
    await daily_dave.ok("/me notify all", as_="dave")
    moved = await daily_dave.ok("/review reassign 1 @carol", as_="carol")
    back = await daily_dave.ok("/review reassign 1 @dave", as_="carol")
    assert _to(moved.notifications + back.notifications, "@dave") == ["Review #1 is yours"]
