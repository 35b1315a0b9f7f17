"""Ownership that stays true: every `[ownership] verify_every` (12 weeks) each DRI is asked by
DM to confirm their areas; unanswered after a week, their lead is told once and the area is
marked on the board, the list and the digest. On both databases, with the fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import Settings
from commands.core.clock import FakeClock
from tests.harness import Chat, open_chat


@pytest.fixture
def clock() -> FakeClock:
    """Monday 15:00 UTC: 10:00 in New York, inside both orgs' working hours, so the DMs these
    tests read are not held for the morning (see /me hours)."""
    return FakeClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))


ASKED = "Are you still the DRI of"
LATE = "Nobody confirmed who runs"


def _to(delivered: list[tuple[str, str]], address: str, starts: str) -> list[str]:
    return [text for to, text in delivered if to == address and text.startswith(starts)]


async def test_each_dri_is_asked_after_twelve_weeks_and_confirms_with_the_button(
    chat: Chat,
) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    # Eleven weeks on, nothing is due yet.
    assert not _to(await chat.jump(chat.clock.now() + timedelta(weeks=11)), "@bob", ASKED)
    # The bot was down for a while: the daily job catches up once, asking once.
    delivered = await chat.jump(chat.clock.now() + timedelta(weeks=1, days=1))
    [asked] = _to(delivered, "@bob", ASKED)
    assert asked.startswith("Are you still the DRI of Keeper bots?")
    assert "[Confirm]  [Hand to someone else]" in asked
    assert not _to(await chat.jump(chat.clock.now() + timedelta(days=2)), "@bob", ASKED)
    refused = await chat.press("dri:confirm:area.1", as_="carol")
    assert not refused.ok and "Only @bob (the DRI) can confirm" in refused.reply
    confirmed = await chat.press("dri:confirm:area.1", as_="bob")
    assert confirmed.ok and "you are still the DRI of Keeper bots" in confirmed.reply
    # The question is replaced by the answer (its buttons gone).
    assert "@bob confirmed Keeper bots on" in confirmed.notification("@bob (updated)")
    history = await chat.ok('/dri history "Keeper bots"')
    assert "still the DRI, confirmed by: @bob" in history.reply
    # Confirmed: nobody is told, and the next question comes twelve weeks later.
    later = await chat.jump(chat.clock.now() + timedelta(days=8))
    assert not _to(later, "@alice", LATE) and not _to(later, "@bob", ASKED)


async def test_an_unanswered_question_tells_the_lead_once_and_marks_the_area(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/dri set "Index methodology" @dave', as_="carol")
    asked = await chat.ok("/dri verify", as_="alice")
    assert "Asked @bob by direct message to confirm 1 area." in asked.reply
    assert _to(asked.notifications, "@bob", ASKED)
    assert "[Confirm]" in asked.notification("@bob")
    # Six days on, nobody is told; eight days on, the lead is, once (the next day's run too).
    assert not _to(await chat.jump(chat.clock.now() + timedelta(days=6)), "@alice", LATE)
    delivered = await chat.jump(chat.clock.now() + timedelta(days=2))
    delivered += await chat.jump(chat.clock.now() + timedelta(days=1))
    told = _to(delivered, "@alice", LATE)
    assert len(told) == 1 and "@bob was asked a week ago" in told[0]
    assert not _to(delivered, "@carol", LATE)
    board = await chat.ok("/handoff board")
    assert "Keeper bots (set) — DRI @bob · unconfirmed" in board.reply
    assert "Index methodology (ic) — DRI @dave\n" in board.reply + "\n"
    listed = await chat.ok("/dri list")
    assert "Keeper bots (set) — @bob · unconfirmed" in listed.reply
    digest = await chat.ok("/digest preview", as_="carol")
    assert "Ownership to confirm\n• Keeper bots (set) — @bob has not confirmed it" in digest.reply
    # The DRI asks to hand it on: the lead hears it, and the area leaves the flagged list.
    released = await chat.press("dri:release:area.1", as_="bob")
    assert released.ok and "Told @alice" in released.reply
    assert "@bob asks to hand Keeper bots to someone else" in released.notification("@alice")
    assert "unconfirmed" not in (await chat.ok("/dri list")).reply


async def test_only_the_owning_org_asks_about_an_area(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    refused = await chat.fails('/dri verify "Keeper bots"', as_="carol")
    assert refused.startswith("Only leads of `set` (or an admin)")
    assert "Only leads" in await chat.fails('/dri verify "Keeper bots"', as_="bob")


async def test_a_dri_who_leaves_the_configuration_has_their_areas_flagged_once(
    chat: Chat, settings: Settings, clock: FakeClock
) -> None:
    await chat.ok('/dri set "Keeper bots" @bob backup=@alice')
    await chat.ok('/dri set "Release process" @bob')
    await chat.runtime.close()
    without_bob = settings.model_copy(
        update={"people": [p for p in settings.people if p.handle != "bob"]}
    )
    restarted = await open_chat(without_bob, clock)
    try:
        delivered = await restarted.jump(clock.now())
        # The backup stands in for the area that has one; the lead hears of the one that has not.
        told = [(to, text.splitlines()[0]) for to, text in delivered if "lost its DRI" in text]
        assert told == [
            ("@alice", "Keeper bots has lost its DRI"),
            ("@alice", "Release process has lost its DRI"),
        ]
        listed = await restarted.ok("/dri list")
        assert "Keeper bots (set) — @bob / backup @alice · DRI left" in listed.reply
        history = await restarted.ok('/dri history "Keeper bots"')
        assert "configuration: the DRI left the configuration: @bob" in history.reply
        digest = await restarted.ok("/digest preview", as_="carol")
        assert "• Keeper bots (set) — @bob has left" in digest.reply
    finally:
        await restarted.runtime.close()
    # Another start with the same configuration tells nobody again.
    again = await open_chat(without_bob, clock)
    try:
        assert not [t for _, t in await again.jump(clock.now()) if "lost its DRI" in t]
    finally:
        await again.runtime.close()
