"""Area categories: free text on each area (create / grow / maintain in the seeds); the board and
the list group and filter by it, and a hand-off starts with its category's checklist."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from commands.core.completion import suggest
from commands.core.registry import Kind
from commands.digest.compose import compose
from tests.harness import Chat


async def _map(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob category=maintain')
    await chat.ok('/dri set "Launch process" @alice category=create')
    await chat.ok('/dri set "Dashboards" @dave category=Grow', as_="carol")
    await chat.ok('/dri set "Odd jobs" @bob')


async def test_the_list_groups_by_category_and_filters_in_any_case(chat: Chat) -> None:
    await _map(chat)
    listed = await chat.ok("/dri list")
    assert listed.reply.splitlines()[1:] == [
        "create (1)",
        "• Launch process (set) — @alice",
        "Grow (1)",
        "• Dashboards (ic) — @dave",
        "maintain (1)",
        "• Keeper bots (set) — @bob",
        "No category (1)",
        "• Odd jobs (set) — @bob",
    ]
    only = await chat.ok("/dri list category=GROW")
    assert only.reply.startswith("The ownership map, category Grow (1 area)")
    refused = await chat.fails("/dri list category=shrink")
    assert refused == (
        'No area has the category "shrink". Categories on the map: create, Grow, maintain.'
    )
    who = await chat.ok('/dri who "Keeper bots"')
    assert "Category: maintain" in who.reply


async def test_the_board_filters_by_category_and_shows_progress_per_category(chat: Chat) -> None:
    await _map(chat)
    await chat.ok('/handoff plan "Keeper bots" near')
    await chat.ok('/handoff accept "Keeper bots"', as_="carol")
    await chat.ok('/handoff plan "Launch process" long')
    await chat.ok('/handoff accept "Launch process"', as_="carol")
    board = await chat.ok("/handoff board")
    assert "• Keeper bots (set → ic) — DRI @bob · maintain" in board.reply
    assert "maintain: set → ic: 0 of 1 handed off (0%) · 0 in transition · 1 planned" in board.reply
    assert "create: set → ic: 0 of 1 handed off" in board.reply
    only = await chat.ok("/handoff board category=maintain")
    assert "Launch process" not in only.reply and "Keeper bots" in only.reply
    none = await chat.ok("/handoff board ic category=maintain")
    assert none.reply.startswith('No area owned by `ic` and of category "maintain".')


async def test_a_changed_category_is_history_and_spelled_as_the_map_has_it(chat: Chat) -> None:
    await _map(chat)
    changed = await chat.ok('/dri set "Odd jobs" @bob category=grow')
    assert "category: none → Grow" in changed.notification()
    async with chat.runtime.sessions() as session:
        assert await suggest(session, Kind.CATEGORY, "gr") == [("Grow", "Grow")]


async def test_the_digest_charts_hand_off_bars_follow_the_categories(chat: Chat) -> None:
    await _map(chat)
    for area in ("Keeper bots", "Launch process", "Odd jobs"):
        await chat.ok(f'/handoff plan "{area}" near')
        await chat.ok(f'/handoff accept "{area}"', as_="carol")
    async with chat.runtime.sessions() as session:
        made = await compose(session, chat.clock.now(), ZoneInfo("Europe/London"), chart=False)
    assert made.chart is not None
    assert [(r.category, r.source, r.target, r.planned) for r in made.chart.routes] == [
        ("create", "set", "ic", 1),
        ("maintain", "set", "ic", 1),
        ("", "set", "ic", 1),
    ]
