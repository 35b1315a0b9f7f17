"""The shadow period: between start and done, what concerns the area reaches both DRIs."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tests.harness import Chat

PR = "https://github.com/org/repo/pull/7"
LEVEL_2 = "Review #1: acknowledge SLA escalation, level 2"


async def _code_review_handed_from_ic_to_set(chat: Chat) -> None:
    """ic's "Code review" area (DRI dave, backup carol) started on its way to set, bob receiving."""
    await chat.ok('/dri set "Code review" @dave backup=@carol', as_="carol")
    await chat.ok('/handoff plan "Code review" near', as_="carol")
    await chat.ok('/handoff accept "Code review"', as_="alice")
    await chat.ok('/handoff start "Code review" @bob', as_="carol")


async def test_escalations_to_the_area_backup_reach_both_dris_once(chat: Chat) -> None:
    await _code_review_handed_from_ic_to_set(chat)
    await chat.ok(f"/review request {PR} Fix the oracle")
    delivered = await chat.wait(timedelta(hours=12))
    level_2 = Counter(to for to, text in delivered if text.startswith(LEVEL_2))
    # The outgoing DRI (also the reviewer), the receiving DRI, and the backup, who is also the
    # reviewing org's lead: each exactly once.
    assert level_2 == Counter({"@dave": 1, "@bob": 1, "@carol": 1})


async def test_after_the_hand_off_only_the_backup_hears_it(chat: Chat) -> None:
    await _code_review_handed_from_ic_to_set(chat)
    await chat.ok('/handoff cancel "Code review"', as_="carol")
    await chat.ok(f"/review request {PR} Fix the oracle")
    delivered = await chat.wait(timedelta(hours=12))
    level_2 = Counter(to for to, text in delivered if text.startswith(LEVEL_2))
    assert level_2 == Counter({"@carol": 1})


async def test_a_review_request_reaches_the_receiving_dri_too(chat: Chat) -> None:
    await _code_review_handed_from_ic_to_set(chat)
    said = await chat.ok(f"/review request {PR} Fix the oracle")
    assert "Review #1 is yours" in said.notification("@dave")
    # Bob works in New York: his ping waits for 09:00 there (14:00 UTC).
    assert not [to for to, _ in said.notifications if to == "@bob"]
    morning = [text for to, text in await chat.wait(timedelta(hours=5)) if to == "@bob"]
    told = next(text for text in morning if text.startswith("Review #1 asked of"))
    assert told.startswith("Review #1 asked of Code review, which is being handed over")
    assert "until its hand-off completes" in told
    await chat.ok('/handoff own "Code review"', as_="bob")
    await chat.ok('/handoff done "Code review"', as_="carol")
    later = await chat.ok(f"/review request {PR}8 Another", as_="dave")
    # Completed: the area has one DRI again, and nobody hears of it as a shadow.
    assert not [text for _, text in later.notifications if "being handed over" in text]


async def test_both_sides_are_reminded_once_when_the_shadow_period_is_over(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/handoff plan "Keeper bots" near')
    await chat.ok('/handoff accept "Keeper bots"', as_="carol")
    started = await chat.ok('/handoff start "Keeper bots" @dave shadow=2w')
    assert "shadow period until 2026-01-19" in started.reply
    assert "shadow period until: 2026-01-19" in started.notification()
    over = "The shadow period of Keeper bots is over"
    early = await chat.jump(chat.clock.now() + timedelta(days=13))
    assert not [t for _, t in early if t.startswith(over)]
    delivered = await chat.wait(timedelta(days=3))
    told = Counter(to for to, text in delivered if text.startswith(over))
    # The outgoing DRI, the receiving DRI (asked to take it over), and the owning org's lead.
    assert told == Counter({"@bob": 1, "@dave": 1, "@alice": 1})
    to_dave = next(t for to, t in delivered if to == "@dave" and t.startswith(over))
    assert '@dave still has to say `/handoff own "Keeper bots"`' in to_dave
