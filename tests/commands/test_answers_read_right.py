"""Answers that read right: wall-clock breaches, no "-0s", plurals, states as sentences, order."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.harness import Chat

PR = "https://github.com/org/repo/pull/7"


async def test_a_breach_before_the_weekend_says_how_long_ago_on_the_wall_clock(
    chat: Chat,
) -> None:
    # ic works Mon-Fri in London: acknowledging within 4 business hours from Friday 10:00 is
    # due Friday 14:00. On Monday at 08:00 no business time has passed since, but 2d 18h has.
    chat.clock.set(datetime(2026, 1, 9, 10, 0, tzinfo=UTC))
    await chat.ok(f"/review request {PR} Audit reviewer=@dave")
    await chat.wait(datetime(2026, 1, 12, 8, 0, tzinfo=UTC) - chat.clock.now())
    listed = (await chat.ok("/review list")).reply
    assert "BREACHED 2d 18h ago" in listed, listed
    assert "0s" not in listed
    shown = (await chat.ok("/review show 1")).reply
    assert "BREACHED 2d 18h ago" in shown and "-0s" not in shown, shown


async def test_a_met_clock_shows_no_time_left(chat: Chat) -> None:
    chat.clock.set(datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    await chat.ok(f"/review request {PR} Audit reviewer=@dave")
    await chat.ok("/review ack 1", as_="dave")
    shown = (await chat.ok("/review show 1")).reply
    [ack] = [ln for ln in shown.splitlines() if ln.startswith("Acknowledge")]
    assert ack.startswith("Acknowledge: met: ") and "left" not in ack, ack


async def test_states_and_hand_offs_read_as_sentences(chat: Chat) -> None:
    chat.clock.set(datetime(2026, 1, 5, 10, 0, tzinfo=UTC))
    await chat.ok(f"/review request {PR} Audit reviewer=@dave")
    await chat.ok("/review changes 1 Needs tests", as_="dave")
    refused = await chat.fails("/review start 1", as_="dave")
    assert refused == (
        "#1 is waiting for changes (its clock is paused), so it cannot be started now."
    )
    await chat.ok('/dri set "Oracle keepers" @bob')
    await chat.ok('/handoff plan "Oracle keepers" near')
    cancelled = (await chat.ok('/handoff cancel "Oracle keepers"')).reply
    assert "is now owned by `set`, no hand-off planned" in cancelled
    assert "none planned" not in cancelled


async def test_lists_sort_numbers_as_numbers_and_count_in_words(chat: Chat) -> None:
    for name in ("Area 10", "Area 2", "Area 1"):
        await chat.ok(f'/dri set "{name}" @bob')
    listed = (await chat.ok("/dri list")).reply
    assert listed.index("Area 1") < listed.index("Area 2") < listed.index("Area 10")
    await chat.ok('/dri set "Only one" @dave', as_="carol")
    assert "(1 area)" in (await chat.ok("/dri list ic")).reply


async def test_time_zones_quarters_and_help_take_what_people_type(chat: Chat) -> None:
    assert "0000Q1 is outside the quarters" in await chat.fails("/roadmap add set 0000Q1 Something")
    await chat.ok("/roadmap add set 2026q3 Something")
    assert "Type /help for the list." in await chat.fails("/help nosuch")


async def test_carrying_an_item_twice_carries_it_once(chat: Chat) -> None:
    chat.clock.set(datetime(2026, 1, 8, 15, 30, tzinfo=UTC))
    await chat.ok("/agenda add Gas report")
    await chat.ok("/meeting start")
    ended = await chat.ok("/meeting end carry=1,1")
    assert "1 carried to the next meeting" in ended.reply
    nxt = (await chat.ok("/agenda list")).reply
    assert nxt.count("Gas report") == 1
