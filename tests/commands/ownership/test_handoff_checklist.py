"""A checklist per hand-off: from the configured template plus items added by hand; done waits
for every item, and the board and the card show how far it is."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import ChecklistSettings, HandoffSettings, Settings
from commands.core.clock import FakeClock
from tests.harness import Chat, open_chat

SCR = '"Smart contract review"'
TEMPLATE = ["Runbook written", "Access granted", "First run done by the receiving side"]


@pytest.fixture
async def chat(settings: Settings, clock: FakeClock) -> AsyncIterator[Chat]:
    """The demo configuration with a checklist template for areas of no category."""
    configured = settings.model_copy(
        update={
            "handoff": HandoffSettings(
                checklists=[
                    ChecklistSettings(items=TEMPLATE),
                    ChecklistSettings(category="grow", items=["Not for this area"]),
                ]
            )
        }
    )
    opened = await open_chat(configured, clock)
    try:
        yield opened
    finally:
        await opened.runtime.close()


async def _started(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near")
    await chat.ok(f"/handoff accept {SCR}", as_="carol")
    await chat.ok(f"/handoff start {SCR} @dave")
    await chat.ok(f"/handoff own {SCR}", as_="dave")


async def test_done_is_refused_while_items_are_open_and_names_them(chat: Chat) -> None:
    await _started(chat)
    added = await chat.ok(f'/handoff check add {SCR} "Alerts routed"', as_="carol")
    assert "4. Alerts routed (0 of 4 done)" in added.reply
    await chat.ok(f"/handoff check done {SCR} 1")
    await chat.ok(f'/handoff check done {SCR} "access GRANTED"', as_="carol")
    refused = await chat.fails(f"/handoff done {SCR}")
    assert refused == (
        '"Smart contract review" has 2 open checklist items: '
        "3. First run done by the receiving side; 4. Alerts routed. "
        'Tick each with /handoff check done "Smart contract review" <number>.'
    )
    board = await chat.ok("/handoff board")
    assert "— DRI @bob · checklist 2 of 4" in board.reply
    card = await chat.ok(f"/dri who {SCR}")
    assert "Checklist (2 of 4 done)" in card.reply
    assert "☑ 1. Runbook written; ☑ 2. Access granted; ☐ 3. First run" in card.reply
    await chat.ok(f"/handoff check done {SCR} 3", as_="carol")
    ticked = await chat.ok(f"/handoff check done {SCR} 4", as_="carol")
    assert "checklist item done: Alerts routed" in ticked.notification()
    await chat.ok(f"/handoff done {SCR}")


async def test_checklist_changes_are_history(chat: Chat) -> None:
    await _started(chat)
    await chat.ok(f'/handoff check add {SCR} "Alerts routed"', as_="carol")
    await chat.ok(f"/handoff check done {SCR} 4")
    history = (await chat.ok(f"/dri history {SCR}")).reply
    assert "@carol: checklist item added: Alerts routed" in history
    assert "@alice: checklist item done: Alerts routed" in history


async def test_a_checklist_belongs_to_one_hand_off(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    assert "no checklist" in await chat.fails(f"/handoff check add {SCR} Runbook")
    await chat.ok(f"/handoff plan {SCR} near")
    await chat.ok(f"/handoff check add {SCR} Extra", as_="carol")
    await chat.ok(f"/handoff check done {SCR} 1")
    await chat.ok(f"/handoff cancel {SCR}")
    await chat.ok(f"/handoff plan {SCR} long")
    # A new hand-off starts again from the template, with nothing ticked.
    card = await chat.ok(f"/dri who {SCR}")
    assert "Checklist (0 of 3 done)" in card.reply and "Extra" not in card.reply


async def test_unknown_and_repeated_items_are_explained(chat: Chat) -> None:
    await _started(chat)
    unknown = await chat.fails(f"/handoff check done {SCR} 9")
    assert unknown.startswith('No item "9" on the checklist of "Smart contract review": 1. Runbook')
    again = await chat.fails(f'/handoff check add {SCR} "runbook written"')
    assert "already" in again
    await chat.ok(f"/handoff check done {SCR} 1")
    assert (await chat.ok(f"/handoff check done {SCR} 1")).reply.startswith("Nothing to change")


async def test_a_member_cannot_tick_the_checklist(chat: Chat) -> None:
    await _started(chat)
    assert "Only leads and admins" in await chat.fails(f"/handoff check done {SCR} 1", as_="dave")


async def test_a_hand_off_starts_with_the_checklist_of_its_areas_category(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob category=Grow")
    await chat.ok(f"/handoff plan {SCR} near")
    who = await chat.ok(f"/dri who {SCR}")
    assert "Checklist (0 of 1 done): ☐ 1. Not for this area" in who.reply
