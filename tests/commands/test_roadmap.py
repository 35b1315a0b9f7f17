"""Roadmaps: leads edit their own org's items only; every change is kept and announced."""

from __future__ import annotations

import pytest

from tests.harness import Chat


async def test_a_lead_adds_and_updates_their_own_orgs_roadmap(chat: Chat) -> None:
    added = await chat.ok(
        '/roadmap add ic 2026Q2 "Keeper bots run by ic" link=https://gov.example/12', as_="carol"
    )
    assert "#1 [planned] ic 2026Q2 Keeper bots run by ic" in added.reply
    assert "new item" in added.notification("#shared")
    updated = await chat.ok("/roadmap update 1 status=in-progress quarter=2026Q3", as_="carol")
    assert "#1 [in-progress] ic 2026Q3" in updated.reply
    assert "status: planned → in-progress; quarter: 2026Q2 → 2026Q3" in updated.notification(
        "#shared"
    )
    history = (await chat.ok("/roadmap history 1")).reply
    assert "@carol: added for 2026Q2" in history
    assert "@carol: status: planned → in-progress" in history
    assert "@carol: quarter: 2026Q2 → 2026Q3" in history
    listed = (await chat.ok("/roadmap list ic quarter=2026Q3", as_="dave")).reply
    assert "Roadmap — ic 2026Q3 (1)" in listed
    assert "no items" in (await chat.ok("/roadmap list set")).reply


async def test_leads_cannot_edit_the_other_orgs_roadmap(chat: Chat) -> None:
    await chat.ok("/roadmap add set 2026Q1 Fee switch", as_="alice")
    refused = await chat.fails("/roadmap update 1 status=dropped", as_="carol")
    assert "Only leads of `set` (or an admin) can edit the roadmap of `set`. Ask @alice" in refused
    assert "Only leads of `ic`" in await chat.fails("/roadmap add ic 2026Q1 Audit", as_="alice")
    assert "Only leads and admins can use /roadmap add." in await chat.fails(
        "/roadmap add ic 2026Q1 Audit", as_="dave"
    )
    assert "[planned]" in (await chat.ok("/roadmap list")).reply


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/roadmap add sett 2026Q1 Audit", "No org called 'sett'. Did you mean `set`?"),
        ("/roadmap add set Q5 Audit", '"Q5" is not a quarter'),
        ("/roadmap add set 2026Q1", "The title is missing."),
        ("/roadmap add set 2026Q1 Audit link=gov", "'gov' is not a link"),
        ("/roadmap update 9 status=shipped", "There is no roadmap item #9."),
        ("/roadmap history x", "'x' is not a roadmap item number"),
        ("/roadmap list quarter=soon", '"soon" is not a quarter'),
    ],
)
async def test_bad_roadmap_input_is_answered(chat: Chat, text: str, answer: str) -> None:
    assert answer in await chat.fails(text)


async def test_roadmap_update_needs_a_change(chat: Chat) -> None:
    await chat.ok("/roadmap add set 2026Q1 Fee switch", as_="alice")
    assert "Say what changes" in await chat.fails("/roadmap update 1", as_="alice")
    assert "status=" in await chat.fails("/roadmap update 1 status=done", as_="alice")
