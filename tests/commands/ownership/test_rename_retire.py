"""The map as a whole: areas renamed and retired by the owning org's lead, history kept."""

from __future__ import annotations

from tests.harness import Chat


async def test_a_renamed_area_keeps_its_history_and_answers_to_its_new_name(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/dri set "Release process" @alice')
    refused = await chat.fails('/dri rename "Keeper bots" "Keeper network"', as_="carol")
    assert refused.startswith("Only leads of `set` (or an admin) can rename")
    taken = await chat.fails('/dri rename "Keeper bots" "release PROCESS"')
    assert taken == 'There is an area called "Release process" already: choose another name.'
    renamed = await chat.ok('/dri rename "Keeper bots" "Keeper network"')
    assert 'Renamed "Keeper bots" to Keeper network' in renamed.reply
    assert "name: Keeper bots → Keeper network" in renamed.notification()
    history = await chat.ok('/dri history "keeper network"')
    assert "New area, owned by set." in history.reply
    assert 'No area called "Keeper bots"' in await chat.fails('/dri who "Keeper bots"')


async def test_a_retired_area_is_off_the_map_but_keeps_its_history(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/dri set "Release process" @alice')
    await chat.ok('/handoff plan "Keeper bots" near')
    under_way = await chat.fails('/dri retire "Keeper bots"')
    assert "has a hand-off under way (proposed)" in under_way
    await chat.ok('/handoff cancel "Keeper bots"')
    assert "Only leads of `set`" in await chat.fails('/dri retire "Keeper bots"', as_="carol")
    retired = await chat.ok('/dri retire "Keeper bots"')
    assert "retired by: @alice" in retired.notification()
    assert "Keeper bots" not in (await chat.ok("/dri list")).reply
    assert "Keeper bots" not in (await chat.ok("/handoff board")).reply
    for typed in ('/dri who "Keeper bots"', '/handoff plan "Keeper bots" near'):
        assert (await chat.fails(typed)).startswith(
            '"Keeper bots" was retired on 2026-01-05: it is off the map, kept only for its '
            'history (/dri history "Keeper bots").'
        )
    assert "was retired" in await chat.fails('/dri set "Keeper bots" @bob')
    history = await chat.ok('/dri history "Keeper bots"')
    assert "retired by: @alice" in history.reply
