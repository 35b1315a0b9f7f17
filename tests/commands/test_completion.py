"""Suggestions while typing: prefix matches first, any case, at most 25."""

from __future__ import annotations

from commands.completion import LIMIT, rank, suggest
from commands.registry import Kind
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
