"""Snooze and nudge on the console: a reviewer pauses their reminders, a requester nudges.

The demo's hotfix policy (24x7): acknowledge 30m (warning at 15m), resolve 4h (warning at 2h);
L1 at the breach to the reviewer and ic's leads (carol), L2 30m later to set's leads (alice)
and #shared. `ic` works Mon-Fri 09:00-17:30 in London; `[reviews] nudge_every` is 4bh.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.harness import Chat

PR = "https://github.com/org/repo/pull/7"
MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _titles(delivered: list[tuple[str, str]], to: str) -> list[str]:
    return [text.splitlines()[0] for where, text in delivered if where == to]


async def _hotfix(chat: Chat, at: datetime = MONDAY) -> str:
    chat.clock.set(at)
    said = await chat.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    return said.reply


async def test_snooze_stops_that_persons_reminders_not_the_breach_or_escalation(
    chat: Chat,
) -> None:
    await _hotfix(chat)
    warned = await chat.wait(timedelta(minutes=16))
    (warning,) = [text for to, text in warned if to == "@dave"]
    assert "[Snooze 1 hour]  [Snooze until tomorrow]" in warning
    pressed = await chat.press("review:snooze:1=1h", as_="dave")
    assert pressed.ok and pressed.notifications == []
    assert "Reminders of #1 to you are paused until 2026-01-05 10:16 GMT." in pressed.reply
    assert "escalation to others is not delayed" in pressed.reply
    during = await chat.wait(timedelta(minutes=50))  # to 10:06
    assert _titles(during, "@dave") == []
    # The breach and both levels went out on time, to everyone else.
    assert "Review #1: acknowledge SLA escalation, level 1" in _titles(during, "@carol")
    assert "Review #1: acknowledge SLA escalation, level 2" in _titles(during, "@alice")
    thread = _titles(during, "#shared (thread)")
    assert "The acknowledge SLA (30m) was breached at Mon 5 Jan 09:30 GMT." in thread
    assert "Acknowledge SLA escalated (L2) to @alice, #shared." in thread
    # Once the snooze is over, the reminders come again: the resolve warning at 11:00.
    after = await chat.wait(timedelta(hours=1))
    assert _titles(after, "@dave") == ["Review #1: resolve SLA due soon"]
    timeline = (await chat.ok("/review show 1", as_="carol")).reply
    assert "@dave snoozed their reminders until 2026-01-05 10:16 GMT" in timeline


async def test_snooze_until_tomorrow_is_the_start_of_the_next_working_day(chat: Chat) -> None:
    await _hotfix(chat, datetime(2026, 1, 9, 16, 0, tzinfo=UTC))  # a Friday
    said = await chat.ok("/review snooze 1 tomorrow", as_="dave")
    assert "paused until 2026-01-12 09:00 GMT" in said.reply
    assert "at most 7 days" in await chat.fails("/review snooze 1 8d", as_="dave")
    assert 'neither a duration nor "tomorrow"' in await chat.fails("/review snooze 1 later")


async def test_the_requester_nudges_once_per_nudge_every(chat: Chat) -> None:
    reply = await _hotfix(chat)
    assert "[Nudge the reviewer]" in reply
    nudged = await chat.press("review:nudge:1", as_="alice")
    assert nudged.ok, nudged.reply
    assert "Nudged @dave about #1." in nudged.reply
    (ping,) = [text for to, text in nudged.notifications if to == "@dave"]
    assert ping.startswith("Nudge: review #1\n@alice is waiting for your review of Hotfix")
    # Too soon: a clear answer with when it is allowed again (4 business hours of ic: 13:00
    # in London, shown in alice's New York time).
    again = await chat.press("review:nudge:1", as_="alice")
    assert not again.ok and again.notifications == []
    assert (
        "#1 was nudged less than 4 business hours ago (one nudge per 4 business hours): "
        "you can nudge again from 2026-01-05 08:00 EST." in again.reply
    )
    # The reviewing side does not nudge itself.
    assert "nudge the reviewer of" in await chat.fails("/review nudge 1", as_="dave")
    await chat.wait(timedelta(hours=4))
    later = await chat.ok("/review nudge 1")
    assert [to for to, _ in later.notifications] == ["@dave"]
