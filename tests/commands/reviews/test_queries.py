"""Reading reviews, and firing their SLA stages, cost a fixed number of statements, however
many reviews are open or fall due together."""

from __future__ import annotations

from datetime import timedelta

from tests.harness import Chat, counting

LISTS = ("/review list", "/review list breached", "/sla report", "/handoff board", "/dri list")


async def _request(chat: Chat, n: int) -> None:
    for i in range(n):
        await chat.ok(f'/review request https://github.com/org/repo/pull/{i} "Change {i}"')


async def _statements(chat: Chat, line: str) -> int:
    with counting(chat.runtime.engine) as sent:
        await chat.ok(line)
    return len(sent)


async def test_review_list_takes_as_many_statements_for_ten_reviews_as_for_two(
    chat: Chat,
) -> None:
    await _request(chat, 2)
    for line in LISTS:
        await chat.ok(line)  # first runs also ask the driver about types: not a per-row cost
    few = {line: await _statements(chat, line) for line in LISTS}
    await _request(chat, 8)
    many = {line: await _statements(chat, line) for line in LISTS}
    assert many == few


async def _fire_together(chat: Chat, n: int) -> int:
    """Request `n` hotfix reviews at one instant, let their acknowledge warning, breach and first
    escalation fall due together, and count the statements of the wake-up that fires them."""
    ids = []
    for i in range(n):
        said = await chat.ok(
            f"/review request https://github.com/org/repo/pull/{i} Hot policy=hotfix"
        )
        ids.append(said.reply.split("#")[1].split()[0])
    chat.clock.advance(timedelta(minutes=31))
    with counting(chat.runtime.engine) as sent:
        fired = await chat.runtime.deadlines.tick()
    assert fired == 3 * n  # warning, breach, level 1
    for rid in ids:
        await chat.ok(f"/review cancel {rid}")  # nothing of this round falls due in the next
    return len(sent)


async def test_firing_stages_takes_as_many_statements_for_nine_reviews_as_for_two(
    chat: Chat,
) -> None:
    await _fire_together(chat, 1)  # the driver's first statements, compiled SQL
    assert await _fire_together(chat, 9) == await _fire_together(chat, 2)
