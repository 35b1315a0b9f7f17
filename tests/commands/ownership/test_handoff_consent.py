"""Hand-offs agreed by both orgs: proposed by one, accepted by the other, taken over by the
receiving DRI; typed and through the buttons, on both databases."""

from __future__ import annotations

from tests.harness import Chat

SCR = '"Smart contract review"'


async def test_the_receiving_org_cannot_take_an_area_without_the_owner(chat: Chat) -> None:
    # The takeover path: propose a hand-off of the other org's area to yourself, accept it
    # yourself, name yourself DRI, then complete it.
    await chat.ok(f"/dri set {SCR} @bob")
    proposed = await chat.ok(f"/handoff plan {SCR} near to=ic", as_="carol")
    assert "waiting for a lead of `set` to accept" in proposed.reply
    refused = await chat.fails(f"/handoff accept {SCR}", as_="carol")
    assert refused == (
        "`ic` proposed this hand-off: only leads of `set` can accept the hand-off of "
        '"Smart contract review". Ask @alice, or an admin.'
    )
    assert "Only leads of `set`" in await chat.fails(f"/dri set {SCR} @dave", as_="carol")
    assert "Only leads of `set`" in await chat.fails(f"/handoff start {SCR} @carol", as_="carol")
    assert "Only leads of `set`" in await chat.fails(f"/handoff done {SCR}", as_="carol")
    assert "Only @" not in await chat.fails(f"/handoff own {SCR}", as_="carol")
    who = await chat.ok(f"/dri who {SCR}")
    assert "Owned by: Set Protocol" in who.reply and "DRI: @bob" in who.reply
    # Even once the owner agrees, only the owner starts and completes it.
    await chat.ok(f"/handoff accept {SCR}")
    assert "Only leads of `set`" in await chat.fails(f"/handoff start {SCR} @carol", as_="carol")
    who = await chat.ok(f"/dri who {SCR}")
    assert "Owned by: Set Protocol" in who.reply


async def test_a_proposal_by_the_receiving_org_is_planned_once_the_owner_accepts(
    chat: Chat,
) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} long 2026Q3", as_="carol")
    accepted = await chat.ok(f"/handoff accept {SCR}")
    assert "planned long-term (set → ic, target 2026Q3)" in accepted.reply
    assert "accepted by: set" in accepted.notification()


async def test_the_other_org_declines_with_the_button_and_the_area_stays(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    proposed = await chat.ok(f"/handoff plan {SCR} near")
    note = proposed.notification()
    assert "[Accept]  [Decline]" in note
    # The proposer's own side cannot answer, not even by pressing the button.
    pressed = await chat.press("handoff:decline:area.1", as_="alice")
    assert not pressed.ok and "only leads of `ic` can decline" in pressed.reply
    declined = await chat.press("handoff:decline:area.1", as_="carol")
    assert declined.ok and "owned by `set`, no hand-off planned" in declined.reply
    assert "declined by: ic" in declined.notification()
    board = await chat.ok("/handoff board")
    assert "Owned (1)" in board.reply


async def test_accepting_with_the_button_plans_the_hand_off(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near")
    pressed = await chat.press("handoff:accept:area.1", as_="carol")
    assert pressed.ok and "planned near-term (set → ic)" in pressed.reply
    again = await chat.press("handoff:accept:area.1", as_="carol")
    assert not again.ok and "no proposed hand-off to accept" in again.reply


async def test_a_member_cannot_answer_a_proposal(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near")
    assert "Only leads" in await chat.fails(f"/handoff accept {SCR}", as_="dave")


async def test_done_waits_for_the_receiving_dri_to_take_the_area_over(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near")
    await chat.ok(f"/handoff accept {SCR}", as_="carol")
    started = await chat.ok(f"/handoff start {SCR} @dave")
    dm = started.notification("@dave")
    assert "You are taking over Smart contract review" in dm
    assert "[I own this now]" in dm
    refused = await chat.fails(f"/handoff done {SCR}")
    assert 'the receiving DRI, has not said "I own this now" yet' in refused
    assert "Only @dave (the receiving DRI)" in await chat.fails(f"/handoff own {SCR}", as_="carol")
    owned = await chat.press("handoff:own:area.1", as_="dave")
    assert owned.ok and "receiving DRI @dave (ready)" in owned.reply
    assert "I own this now: @dave" in owned.notification()
    done = await chat.ok(f"/handoff done {SCR}")
    note = done.notification()
    assert "owner: set → ic" in note and "DRI: @bob → @dave" in note


async def test_a_plan_changed_after_agreement_needs_agreeing_again(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near")
    await chat.ok(f"/handoff accept {SCR}", as_="carol")
    same = await chat.ok(f"/handoff plan {SCR} near")
    assert same.reply.startswith("Nothing to change")
    changed = await chat.ok(f"/handoff plan {SCR} long")
    assert "waiting for a lead of `ic`" in changed.reply


async def test_the_proposer_may_withdraw_a_proposal(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near", as_="carol")
    withdrawn = await chat.ok(f"/handoff cancel {SCR}", as_="carol")
    assert "no hand-off planned" in withdrawn.reply


async def test_buttons_cannot_be_spoofed_into_naming_areas(chat: Chat) -> None:
    answer = await chat.fails('/dri set "area.7" @bob')
    assert "is how buttons name areas" in answer


async def test_an_area_from_set_to_ic_as_the_shared_channel_saw_it(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    seen = []
    for line, who in (
        (f"/handoff plan {SCR} near 2026Q1", "alice"),
        (f"/handoff accept {SCR}", "carol"),
        (f"/handoff start {SCR} @dave", "alice"),
        (f"/handoff own {SCR}", "dave"),
        (f"/handoff done {SCR}", "alice"),
    ):
        seen.append((await chat.ok(line, as_=who)).notification())
    transcript = "\n\n".join(seen)
    print(transcript)
    titles = [note.splitlines()[0] for note in seen]
    assert titles == [
        "Hand-off proposed",
        "Hand-off agreed",
        "Hand-off started",
        "Receiving DRI ready",
        "Hand-off done",
    ]


async def test_a_declined_change_to_an_agreed_plan_leaves_the_agreed_plan(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near 2026Q2")
    await chat.ok(f'/handoff check add {SCR} "Runbook written"')
    await chat.ok(f"/handoff accept {SCR}", as_="carol")
    await chat.ok(f"/handoff plan {SCR} long 2026Q4")
    declined = await chat.ok(f"/handoff decline {SCR}", as_="carol")
    assert "planned near-term (set → ic, target 2026Q2)" in declined.reply
    note = declined.notification()
    assert note.startswith("Hand-off change declined")
    assert "target quarter: 2026Q4 → 2026Q2" in note
    assert "The plan both sides agreed before stands." in note
    who = await chat.ok(f"/dri who {SCR}")
    assert "☐ 1. Runbook written" in who.reply
    # The agreed plan is agreed: it starts without asking again.
    await chat.ok(f"/handoff start {SCR} @dave")


async def test_a_declined_first_proposal_still_leaves_no_plan(chat: Chat) -> None:
    await chat.ok(f"/dri set {SCR} @bob")
    await chat.ok(f"/handoff plan {SCR} near")
    await chat.ok(f"/handoff accept {SCR}", as_="carol")
    await chat.ok(f"/handoff cancel {SCR}")
    await chat.ok(f"/handoff plan {SCR} long")
    declined = await chat.ok(f"/handoff decline {SCR}", as_="carol")
    assert "owned by `set`, no hand-off planned" in declined.reply
