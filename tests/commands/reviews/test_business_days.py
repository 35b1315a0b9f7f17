"""SLAs written in business days: counted on the reviewing org's working day, shown as written.

The demo's `ic` reviews on London time, Mon-Fri 09:00-17:30 with GB holidays: its business day
is 8h30. The policy below asks for an acknowledgement within 4 business hours and a resolution
within 2 business days.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import PolicySettings, Settings
from commands.core.clock import FakeClock
from tests.harness import Chat, open_chat

PR = "https://github.com/org/repo/pull/7"


@pytest.fixture
async def chat(settings: Settings, clock: FakeClock) -> AsyncIterator[Chat]:
    """The demo, with a default policy written in business days."""
    days = PolicySettings.model_validate(
        {"name": "two-days", "acknowledge": "4bh", "resolve": "2 business days", "default": True}
    )
    others = [p.model_copy(update={"default": False}) for p in settings.policies]
    opened = await open_chat(settings.model_copy(update={"policies": [days, *others]}), clock)
    try:
        yield opened
    finally:
        await opened.runtime.close()


async def _clock_line(chat: Chat, label: str) -> str:
    shown = (await chat.ok("/review show 1", as_="carol")).reply
    return next(ln for ln in shown.splitlines() if ln.startswith(f"{label}:"))


async def test_two_business_days_fall_due_across_a_holiday_and_a_weekend(chat: Chat) -> None:
    # Christmas Eve, Thursday 16:00 in London: 1h30 that day; Christmas, the weekend and the
    # observed Boxing Day (Monday 28) are closed; 8h30 on Tuesday; 7h on Wednesday: 16:00.
    chat.clock.set(datetime(2026, 12, 24, 16, 0, tzinfo=UTC))
    said = await chat.ok(f'/review request {PR} "Upgrade" reviewer=@dave')
    assert "Resolve: due Wed 30 Dec 16:00 GMT, 2 business days left" in said.notification()
    assert (await _clock_line(chat, "Resolve")).endswith(
        "0s elapsed of 2 business days, 2 business days left, due 2026-12-30 16:00 GMT"
    )
    # The acknowledge clock was written in business hours and reads in them.
    assert "4 business hours left" in await _clock_line(chat, "Acknowledge")
    await chat.ok("/review ack 1", as_="dave")
    chat.clock.set(datetime(2026, 12, 29, 12, 0, tzinfo=UTC))
    # 1h30 + 3h run: 12h30 of the 17h left, one business day (8h30) and 4h.
    assert "1 business day 4h left" in await _clock_line(chat, "Resolve")
    delivered = await chat.wait(timedelta(days=2))
    assert (
        "#shared (thread)",
        "The resolve SLA (2 business days) was breached at Wed 30 Dec 16:00 GMT.",
    ) in delivered


async def test_sla_policies_show_durations_as_written(chat: Chat) -> None:
    listed = (await chat.ok("/sla policies")).reply
    assert "two-days (default): acknowledge 4bh, resolve 2bd (business hours" in listed
