"""Reading reviews costs a fixed number of statements, however many reviews are open."""

from __future__ import annotations

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
