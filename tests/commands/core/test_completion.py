"""Suggestions while typing: prefix matches first, any case, at most 25."""

from __future__ import annotations

from commands.core.completion import LIMIT, rank, suggest
from commands.core.registry import Kind
from tests.harness import Chat


def test_prefix_matches_come_before_matches_inside() -> None:
    candidates = [("Smart contract review", "a"), ("Contract audits", "b"), ("Treasury", "c")]
    assert rank(candidates, "CONTR") == [("Contract audits", "b"), ("Smart contract review", "a")]


def test_nothing_matches_nothing() -> None:
    assert rank([("Treasury", "t")], "zz") == []


async def test_at_most_25_suggestions(chat: Chat) -> None:
    for n in range(30):
        await chat.ok(f'/dri set "Area {n:02}" @bob')
    async with chat.runtime.sessions() as session:
        found = await suggest(session, Kind.AREA, "area")
        assert len(found) == LIMIT
        assert found[0] == ("Area 00", "Area 00")
        assert await suggest(session, Kind.DATE, "2026") == [], "dates are not suggested"


async def test_people_are_suggested_by_handle_or_name(chat: Chat) -> None:
    async with chat.runtime.sessions() as session:
        assert await suggest(session, Kind.PERSON, "@car") == [
            ("@carol — Carol Cavalier", "@carol")
        ]
        assert await suggest(session, Kind.PERSON, "edward") == [("@dave — Dave Edwardk", "@dave")]


async def test_roadmap_items_agenda_items_and_actions_are_suggested_by_number_or_text(
    chat: Chat,
) -> None:
    await chat.ok("/roadmap add set 2030Q1 Leverage tokens v2")
    await chat.ok("/roadmap add set 2030Q2 Treasury dashboard")
    await chat.ok('/agenda add "Audit scope"')
    await chat.ok('/agenda add "Hand-off of treasury"')
    await chat.ok("/action add @dave 2030-01-10 Write the treasury doc")
    await chat.ok("/action add @dave 2030-01-11 Close the old repo")
    await chat.ok("/action done 2", as_="dave")
    async with chat.runtime.sessions() as session:
        assert await suggest(session, Kind.ROADMAP_ITEM, "treas") == [
            ("#2 Treasury dashboard", "2")
        ]
        assert await suggest(session, Kind.ROADMAP_ITEM, "#1") == [("#1 Leverage tokens v2", "1")]
        assert await suggest(session, Kind.AGENDA_ITEM, "treasury") == [
            ("#2 Hand-off of treasury", "2")
        ]
        # Done actions are not offered.
        assert await suggest(session, Kind.ACTION, "") == [("#1 Write the treasury doc", "1")]
