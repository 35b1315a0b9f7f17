"""Stalled hand-offs: no movement for `[handoff] stall_after` (3 weeks), or past the target
quarter, puts them on the next sync's agenda and in the digest, naming both orgs' leads."""

from __future__ import annotations

from datetime import timedelta

from tests.harness import Chat


def _first(delivered: list[tuple[str, str]], starts: str, having: str) -> str | None:
    """The first line of the first message starting with `starts` that contains `having`."""
    for _, text in delivered:
        if text.startswith(starts) and having in text:
            return text.splitlines()[0]
    return None


async def test_a_hand_off_with_no_movement_for_three_weeks_goes_on_the_agenda_and_digest(
    chat: Chat,
) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/handoff plan "Keeper bots" near')
    await chat.ok('/handoff accept "Keeper bots"', as_="carol")
    delivered = await chat.wait(timedelta(weeks=4))
    # Accepted on Mon 2026-01-05: the agendas of the 8th, 15th and 22nd are too early.
    assert _first(delivered, "Agenda of the weekly sync", "Stalled hand-offs") == (
        "Agenda of the weekly sync, Thu 2026-01-29"
    )
    assert _first(delivered, "Weekly digest", "Stalled hand-offs") == "Weekly digest · 2026-W05"
    agenda = next(
        t for _, t in delivered if t.startswith("Agenda of the weekly sync, Thu 2026-01-29")
    )
    assert (
        "Stalled hand-offs\n• Keeper bots (set → ic, planned near-term, no movement since "
        "2026-01-05) — @alice, @carol"
    ) in agenda


async def test_movement_resets_the_clock_and_a_done_hand_off_never_stalls(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/handoff plan "Keeper bots" near')
    await chat.wait(timedelta(days=15))
    await chat.ok('/handoff accept "Keeper bots"', as_="carol")
    delivered = await chat.wait(timedelta(days=15))
    assert _first(delivered, "Agenda", "Stalled hand-offs") is None


async def test_a_hand_off_past_its_target_quarter_is_stalled_at_once(chat: Chat) -> None:
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/handoff plan "Keeper bots" near 2025Q4')
    said = await chat.ok("/digest preview", as_="carol")
    assert (
        "Stalled hand-offs\n• Keeper bots (set → ic, proposed, past its target 2025Q4) — "
        "@alice, @carol"
    ) in said.reply
