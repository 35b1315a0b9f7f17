"""The ownership map through the console, as a user types it, on both databases."""

from __future__ import annotations

from sqlalchemy import func, select

from storage.models import AreaEvent, OutboxItem
from tests.harness import Chat

SCR = '"Smart contract review"'


async def agreed(chat: Chat, area: str, plan: str = "near") -> None:
    """Plan a hand-off of a `set` area to `ic` as both sides do: alice proposes, carol accepts."""
    await chat.ok(f"/handoff plan {area} {plan}")
    await chat.ok(f"/handoff accept {area}", as_="carol")


async def handed_over(chat: Chat, area: str) -> None:
    """Carry an agreed hand-off to the end: started with @dave receiving, who takes it over."""
    await chat.ok(f"/handoff start {area} @dave")
    await chat.ok(f"/handoff own {area}", as_="dave")
    await chat.ok(f"/handoff done {area}")


async def test_dri_set_creates_the_area_and_announces_it(chat: Chat) -> None:
    said = await chat.ok(f"/dri set {SCR} @bob")
    assert "@bob is the DRI of Smart contract review" in said.reply
    note = said.notification("#shared")
    assert "New area" in note and "DRI: none → @bob" in note and "Changed by @alice" in note


async def test_the_issue_transcript(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    proposed = await chat.ok(f"/handoff plan {SCR} near 2026Q1")
    assert "proposed (set → ic, target 2026Q1), waiting for a lead of `ic`" in proposed.reply
    assert "hand-off: owned → proposed" in proposed.notification()
    planned = await chat.ok(f"/handoff accept {SCR}", as_="carol")
    assert "planned near-term (set → ic, target 2026Q1)" in planned.reply
    assert "hand-off: proposed → planned near-term" in planned.notification()
    who = await chat.ok(f"/dri who {SCR}")
    assert "DRI: @bob" in who.reply and "Owned by: Set Protocol" in who.reply
    board = await chat.ok("/handoff board")
    assert "Planned near-term (1)" in board.reply
    assert "set → ic: 0 of 1 handed off (0%) · 0 in transition · 1 planned" in board.reply


async def test_unquoted_area_names_with_spaces_are_understood(chat: Chat) -> None:
    await chat.ok("/dri set Smart contract review @bob backup=@alice")
    said = await chat.ok("/handoff plan Smart contract review near")
    assert "proposed (set → ic)" in said.reply
    assert "target" not in said.reply


async def test_area_names_match_whatever_the_case_and_spacing(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    who = await chat.ok('/dri who "smart   CONTRACT review"')
    assert who.reply.startswith("Smart contract review")


async def test_unknown_area_suggests_the_nearest(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    answer = await chat.fails('/dri who "Smart contract reveiw"')
    assert answer.startswith(
        'No area called "Smart contract reveiw". Did you mean "Smart contract review"?'
    )


async def test_unknown_area_with_nothing_near_explains_how_to_add_one(chat: Chat) -> None:
    answer = await chat.fails('/dri who "Oracle operations"')
    assert 'No area called "Oracle operations"' in answer and "/dri set" in answer


async def test_unknown_person_suggests_the_nearest(chat: Chat) -> None:
    answer = await chat.fails(f"/dri set {SCR} @bobb")
    assert answer.startswith("No person called @bobb. Did you mean @bob?")


async def test_a_member_cannot_set_a_dri(chat: Chat) -> None:
    answer = await chat.fails(f"/dri set {SCR} @bob", as_="bob")
    assert "Only leads and admins can use /dri set. Ask @alice, or an admin." in answer


async def test_a_lead_of_the_other_org_cannot_change_an_area(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    answer = await chat.fails(f"/dri set {SCR} @dave", as_="carol")
    # carol leads ic, the area belongs to set and no hand-off to ic is planned yet.
    assert "Only leads of `set` (or an admin)" in answer and "Ask @alice" in answer


async def test_only_the_owning_org_starts_and_completes_the_hand_off(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await agreed(chat, SCR, "near 2026Q1")
    refused = await chat.fails(f"/handoff start {SCR} @dave", as_="carol")
    assert refused.startswith("Only leads of `set` (or an admin) can start handing off")
    await chat.ok(f"/handoff start {SCR} @dave")
    await chat.ok(f"/handoff own {SCR}", as_="dave")
    assert "Only leads of `set`" in await chat.fails(f"/handoff done {SCR}", as_="carol")
    done = await chat.ok(f"/handoff done {SCR}")
    assert "handed off (set → ic" in done.reply
    who = await chat.ok(f"/dri who {SCR}")
    assert "Owned by: Index Coop" in who.reply and "DRI: @dave" in who.reply


async def test_malformed_line_gets_a_clear_answer(chat: Chat) -> None:
    answer = await chat.fails('/dri set "Smart contract review @bob')
    assert "unbalanced quote" in answer


async def test_missing_argument_shows_the_usage(chat: Chat) -> None:
    answer = await chat.fails(f"/dri set {SCR}")
    assert "The person (@person) is missing." in answer
    usage = "Usage: `/dri set <area> @person [backup=@person] [org=org] [category=category]`"
    assert usage in answer


async def test_bad_choice_and_bad_quarter_are_explained(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    assert "expected one of near, long" in await chat.fails(f"/handoff plan {SCR} soon")
    answer = await chat.fails(f"/handoff plan {SCR} near 2026Q5")
    assert "expected one of near, long" not in answer


async def test_unknown_commands_suggest_the_nearest(chat: Chat) -> None:
    assert "Did you mean /dri?" in await chat.fails("/dir who x")
    assert "Did you mean /dri set?" in await chat.fails("/dri sett x @bob")
    assert "/dri needs a command: set, who, list, history" in await chat.fails("/dri")


async def test_backup_must_differ_from_the_dri(chat: Chat) -> None:
    answer = await chat.fails(f"/dri set {SCR} @bob backup=@bob")
    assert answer == "The backup must be someone other than the DRI."


async def test_setting_the_same_dri_again_changes_nothing(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    again = await chat.ok(f"/dri set {SCR} @bob")
    assert again.reply.startswith("Nothing to change")
    assert again.notifications == []


async def test_history_keeps_who_when_and_old_to_new(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    chat.runtime.clock.advance(__import__("datetime").timedelta(hours=2))  # type: ignore[attr-defined]
    await chat.ok(f"/dri set {SCR} @alice backup=@bob")
    history = await chat.ok(f"/dri history {SCR}")
    lines = history.reply.splitlines()
    assert lines[0] == "History of Smart contract review"
    assert lines[1].endswith("@alice: New area, owned by set.")
    assert lines[2].endswith("@alice: DRI: none → @bob")
    assert lines[3].endswith("@alice: DRI: @bob → @alice")
    assert lines[4].endswith("@alice: backup: none → @bob")
    # Times are shown in the reader's zone: alice is in New York.
    assert lines[1].startswith("2026-01-05 04:00 EST") and lines[3].startswith(
        "2026-01-05 06:00 EST"
    )


async def test_every_change_writes_history_and_one_outbox_row(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} long")
    await chat.ok(f"/handoff cancel {SCR}")
    async with chat.runtime.sessions() as session:
        events = await session.scalar(select(func.count(AreaEvent.id)))
        keys = (await session.scalars(select(OutboxItem.key).order_by(OutboxItem.id))).all()
    assert events == 2 + 3 + 1  # created+dri, state+proposal+to, state
    assert len(keys) == 3 and len(set(keys)) == 3
    assert all(k.startswith("area:1:event:") for k in keys)


async def test_refused_commands_write_nothing(chat: Chat) -> None:
    await chat.fails(f"/dri set {SCR} @bob", as_="dave")
    async with chat.runtime.sessions() as session:
        assert await session.scalar(select(func.count(OutboxItem.id))) == 0
        assert await session.scalar(select(func.count(AreaEvent.id))) == 0


async def test_handoff_state_rules_are_explained(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    assert "propose one first" in await chat.fails(f"/handoff start {SCR} @dave")
    assert "no hand-off under way" in await chat.fails(f"/handoff done {SCR}")
    await chat.ok(f"/handoff plan {SCR} near")
    assert "not agreed yet" in await chat.fails(f"/handoff start {SCR} @dave")
    await chat.ok(f"/handoff accept {SCR}", as_="carol")
    assert "has not started" in await chat.fails(f"/handoff done {SCR}")
    assert "must be in `ic`" in await chat.fails(f"/handoff start {SCR} @bob")
    await chat.ok(f"/handoff start {SCR} @dave")
    assert "already in transition" in await chat.fails(f"/handoff start {SCR} @dave")
    assert "already in transition" in await chat.fails(f"/handoff plan {SCR} long")


async def test_dri_list_filters_by_org(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok('/dri set "Rebalance parameters" @dave', as_="carol")
    everything = await chat.ok("/dri list")
    assert "The ownership map (2 areas)" in everything.reply
    ic_only = await chat.ok("/dri list ic")
    assert "Rebalance parameters" in ic_only.reply and "Smart contract" not in ic_only.reply
    assert "No org called 'xx'" in await chat.fails("/dri list xx")


async def test_board_counts_progress_per_route(chat: Chat) -> None:
    for name in ("A", "B", "C", "D"):
        await chat.ok(f"/dri set {name} @bob")
    await agreed(chat, "A")
    await agreed(chat, "B", "long 2027Q2")
    await agreed(chat, "C")
    await chat.ok("/handoff start C @dave")
    await agreed(chat, "D")
    await handed_over(chat, "D")
    board = (await chat.ok("/handoff board")).reply
    assert "set → ic: 1 of 4 handed off (25%) · 1 in transition · 2 planned" in board
    for heading in (
        "Planned near-term (1)",
        "Planned long-term (1)",
        "In transition (1)",
        "Handed off (1)",
    ):
        assert heading in board
