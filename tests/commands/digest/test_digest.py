"""The weekly digest: /digest preview, the weekly post at local time, once per ISO week.

The demo config posts it on Mondays at 09:00 Europe/London to #shared. The fake clock starts on
Monday 2026-01-05 09:00 UTC, so the first digest is due on Monday 2026-01-12 at 09:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import Settings
from bot.plaintext import render
from commands.core.clock import FakeClock
from commands.core.messages import Message, line
from commands.digest.compose import LIMITS, Digest, Section, message_cost, post_digest
from storage.models import OutboxItem
from tests.harness import Chat, open_chat

PR = "https://github.com/org/repo/pull/"
LONDON = ZoneInfo("Europe/London")


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _digests(chat: Chat) -> list[tuple[str, datetime]]:
    async with chat.runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxItem.key, OutboxItem.created_at)
            .where(OutboxItem.key.like("digest:%"))
            .order_by(OutboxItem.id)
        )
        return [(k, at) for k, at in rows.all()]


def _within_limits(message: Message) -> None:
    assert message_cost(message) <= LIMITS.text_chars
    assert len(message.lines) <= LIMITS.lines
    assert len(message.fields) <= LIMITS.fields
    assert all(len(f.value) <= LIMITS.field_chars for f in message.fields)


async def test_a_quiet_week_previews_with_no_sections(chat: Chat) -> None:
    said = await chat.ok("/digest preview")
    assert said.reply.startswith("Weekly digest · 2026-W02\n")
    assert "A quiet week: nothing to report." in said.reply
    for heading in ("SLA compliance", "Open reviews", "Hand-offs", "Delivery problems"):
        assert heading not in said.reply
    assert said.notifications == [], "a preview is for the caller only"


async def test_preview_shows_the_sections_that_have_something_to_say(chat: Chat) -> None:
    await chat.ok(f'/review request {PR}1 "Fix the oracle" reviewer=@dave')
    await chat.ok(f'/review request {PR}2 "Fee module" policy=hotfix reviewer=@dave')
    await chat.wait(timedelta(hours=2))
    await chat.ok("/review approve 1", as_="dave")
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/handoff plan "Keeper bots" near 2026Q1')
    await chat.ok('/handoff accept "Keeper bots"', as_="carol")

    said = await chat.ok("/digest preview", as_="carol")

    text = said.reply
    assert "Open reviews (1)\n#2 Fee module <https://github.com/org/repo/pull/2> — @dave" in text
    assert "BREACHED" in text
    assert "Breaches and escalations this week (1)\n#2 Fee module — acknowledge breached" in text
    assert (
        "SLA compliance\nic reviewing: 67% this week (2 of 3 clocks met in time, 1 breached)"
        in text
    )
    assert "set → ic: 0 of 1 handed off (0%) · 0 in transition · 1 planned" in text
    # Both steps of the agreement: proposed by set, then accepted by ic.
    assert "• Keeper bots: owned → proposed" in text
    assert "• Keeper bots: proposed → planned near-term" in text
    # Nothing happened on these fronts, so they are left out.
    for heading in ("Next sync", "Action items", "Roadmap changes", "Delivery problems"):
        assert heading not in text
    assert "Chart: SLA compliance per week and hand-off progress: " in text
    assert text.endswith(".png") and said.notifications == []


async def test_the_digest_is_posted_once_on_monday_at_nine_london_time(chat: Chat) -> None:
    await chat.ok(f'/review request {PR}1 "Fix the oracle" reviewer=@dave')
    delivered = await chat.wait(timedelta(days=7))
    posts = [text for to, text in delivered if to == "#shared" and "Weekly digest" in text]
    assert len(posts) == 1
    assert posts[0].startswith("Weekly digest · 2026-W03\n")
    assert await _digests(chat) == [("digest:2026-W03", _at(2026, 1, 12, 9, 0))]

    again = await chat.wait(timedelta(days=6))
    assert not [text for _, text in again if "Weekly digest" in text]
    assert len(await _digests(chat)) == 1


async def test_the_digest_follows_london_time_across_the_change_to_summer_time(
    settings: Settings,
) -> None:
    # London moves from GMT to BST on Sunday 2026-03-29.
    chat = await open_chat(settings, FakeClock(_at(2026, 3, 20, 12, 0)))
    try:
        await chat.wait(timedelta(days=12))
        assert await _digests(chat) == [
            ("digest:2026-W13", _at(2026, 3, 23, 9, 0)),  # 09:00 GMT
            ("digest:2026-W14", _at(2026, 3, 30, 8, 0)),  # 09:00 BST
        ]
    finally:
        await chat.runtime.close()


async def test_a_restart_after_the_digest_was_written_sends_it_once(settings: Settings) -> None:
    clock = FakeClock(_at(2026, 1, 11, 12, 0))
    first = await open_chat(settings, clock)
    clock.set(_at(2026, 1, 12, 9, 0))
    await first.runtime.jobs.run_due()  # written to the outbox ...
    await first.runtime.close()  # ... and the process dies before sending it

    second = await open_chat(settings, clock)
    try:
        runtime = second.runtime
        await runtime.jobs.start()  # what a restart runs first: catch up missed occurrences
        runtime.jobs.stop()
        # Even a run that was not recorded as done finds the week's key and writes nothing.
        assert not await post_digest(
            runtime.postbox,
            clock.now(),
            channels=["shared"],
            tz=LONDON,
        )
        await runtime.worker.drain()
        posts = [text for _, text in second.delivered() if "Weekly digest" in text]
        assert len(posts) == 1 and posts[0].startswith("Weekly digest · 2026-W03")
    finally:
        await second.runtime.close()


async def test_a_long_digest_is_cut_into_parts_that_each_fit(chat: Chat) -> None:
    for n in range(12):
        title = f"Review number {n} " + "with a long descriptive title " * 5
        await chat.ok(f'/review request {PR}{n} "{title.strip()}" reviewer=@dave')
    delivered = await chat.wait(timedelta(days=7))

    keys = [key for key, _ in await _digests(chat)]
    assert keys[0] == "digest:2026-W03" and keys[1:] == [
        f"digest:2026-W03:{n}" for n in range(2, len(keys) + 1)
    ]
    async with chat.runtime.sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxItem).where(OutboxItem.key.in_(keys)).order_by(OutboxItem.id)
            )
        ).all()
    parts = [Message.from_dict(row.payload) for row in rows]
    for part in parts:
        _within_limits(part)
    assert parts[0].image is not None and all(p.image is None for p in parts[1:])
    posted = [text for to, text in delivered if "Weekly digest" in text]
    assert [p.splitlines()[0] for p in posted] == [
        f"Weekly digest · 2026-W03 ({n} of {len(keys)})" for n in range(1, len(keys) + 1)
    ]
    assert "… and 2 more: `/review list`" in "\n".join(posted)


def test_a_section_longer_than_a_message_continues_in_the_next_part() -> None:
    now = _at(2026, 1, 12, 9, 0)
    big = tuple(line(f"item {n}: " + "x" * 150) for n in range(60))
    digest = Digest("2026-W03", now - timedelta(days=7), now, LONDON, (Section("Big", big),), None)
    parts = digest.messages()
    assert len(parts) > 2
    for part in parts:
        _within_limits(part)
    items = [ln for p in parts for ln in p.lines if ln[0].text.startswith("item ")]
    assert items == list(big), "every line, once, in order"
    assert [p.lines[0][0].text for p in parts[1:]] == ["Big (continued)"] * (len(parts) - 1)


async def test_the_weekly_post_names_people_without_pinging_them(chat: Chat) -> None:
    await chat.ok(f'/review request {PR}1 "Fix the oracle" reviewer=@dave')
    await chat.ok('/agenda add "Audit scope" owner=@carol')
    await chat.ok("/action add @dave 2026-01-07 Write the runbook")
    await chat.wait(timedelta(days=7))
    async with chat.runtime.sessions() as session:
        payloads = (
            await session.scalars(select(OutboxItem.payload).where(OutboxItem.key.like("digest:%")))
        ).all()
    text = "\n".join(render(Message.from_dict(p)) for p in payloads)
    assert "@carol" in text and "@dave" in text and "Write the runbook" in text
    assert [Message.from_dict(p).mentioned() for p in payloads] == [[] for _ in payloads]
