"""The weekly sync as people use it: agenda, meetings, notes, decisions, actions and chases.

The demo meets on Thursdays at 16:00 London time; the fake clock starts Monday 2026-01-05.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.config import PersonSettings, Settings
from commands.core.clock import FakeClock
from storage.engine import reading
from storage.models import OutboxItem, Role
from tests.harness import Chat, open_chat


async def _sent_at(chat: Chat, key: str) -> datetime | None:
    async with reading(chat.runtime.sessions) as session:
        return await session.scalar(select(OutboxItem.created_at).where(OutboxItem.key == key))


async def _keys(chat: Chat, prefix: str) -> list[str]:
    async with reading(chat.runtime.sessions) as session:
        rows = await session.scalars(
            select(OutboxItem.key).where(OutboxItem.key.like(prefix + "%"))
        )
        return sorted(rows)


async def test_undiscussed_items_carry_over_across_two_meetings(chat: Chat) -> None:
    first = await chat.ok('/agenda add "Oracle keeper hand-off" minutes=20 owner=@bob', as_="carol")
    assert "item 1 of the agenda of Thu 2026-01-08" in first.reply
    await chat.ok("/agenda add Gas costs of rebalances", as_="dave")
    listed = await chat.ok("/agenda list")
    assert "1. Oracle keeper hand-off (20 min) — @bob" in listed.reply
    assert "2. Gas costs of rebalances" in listed.reply
    # In every org's time zone: 16:00 in London is 11:00 in New York.
    assert "Thu 8 Jan 16:00 GMT (ic) · Thu 8 Jan 11:00 EST (set)" in listed.reply

    await chat.jump(datetime(2026, 1, 8, 16, 0, tzinfo=UTC))
    await chat.ok("/meeting start", as_="carol")
    await chat.ok("/decision add Set keeps the keeper until 2026Q2", as_="alice")
    await chat.ok("/action add @dave 2026-01-16 Draft the keeper runbook", as_="carol")
    ended = await chat.ok("/meeting end carry=2", as_="carol")
    assert "1 item discussed, 1 carried" in ended.reply
    notes = ended.notification("#shared")
    assert "Discussed\n• Oracle keeper hand-off" in notes
    assert "Carried to the next meeting\n• Gas costs of rebalances" in notes
    assert "Set keeps the keeper until 2026Q2" in notes
    assert "@dave by 2026-01-16: Draft the keeper runbook" in notes

    second = await chat.ok("/agenda list")
    assert "Thu 2026-01-15" in second.reply
    assert "1. Gas costs of rebalances · carried once" in second.reply
    assert "Oracle" not in second.reply

    # Nobody holds the meeting of the 15th: its items carry on by themselves.
    await chat.jump(datetime(2026, 1, 16, 12, 0, tzinfo=UTC))
    third = await chat.ok("/agenda list")
    assert "Thu 2026-01-22" in third.reply
    assert "1. Gas costs of rebalances · carried twice" in third.reply
    past = await chat.ok("/agenda list 2026-01-08")
    assert "This meeting has ended." in past.reply


async def test_agenda_is_posted_a_day_before_with_what_liaison_adds(chat: Chat) -> None:
    await chat.ok("/agenda add Quarterly roadmap review", as_="alice")
    await chat.ok("/action add @dave 2026-01-05 Send the keeper keys", as_="carol")
    await chat.ok('/dri set "Keeper bots" @bob')
    await chat.ok('/handoff plan "Keeper bots" near 2026Q1')
    await chat.ok('/handoff accept "Keeper bots"', as_="carol")
    before = await chat.wait(timedelta(days=2, hours=6, minutes=59))
    assert not [t for to, t in before if "Agenda" in t]
    delivered = await chat.wait(timedelta(minutes=2))
    (agenda,) = [t for to, t in delivered if to == "#shared"]
    assert agenda.startswith("Agenda of the weekly sync, Thu 2026-01-08")
    assert "1. Quarterly roadmap review" in agenda
    assert "Hand-offs due this quarter (2026Q1)\n• Keeper bots (set → ic, planned)" in agenda
    assert "Overdue action items\n• #1 @dave — due 2026-01-05: Send the keeper keys" in agenda
    assert await _sent_at(chat, "agenda:2026-01-08") == datetime(2026, 1, 7, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "posts"),
    [
        # British Summer Time starts on Sunday 29 March 2026 ...
        (
            datetime(2026, 3, 24, tzinfo=UTC),
            {
                "agenda:2026-03-26": datetime(2026, 3, 25, 16, tzinfo=UTC),
                "agenda:2026-04-02": datetime(2026, 4, 1, 15, tzinfo=UTC),
            },
        ),
        # ... and ends on Sunday 25 October.
        (
            datetime(2026, 10, 20, tzinfo=UTC),
            {
                "agenda:2026-10-22": datetime(2026, 10, 21, 15, tzinfo=UTC),
                "agenda:2026-10-29": datetime(2026, 10, 28, 16, tzinfo=UTC),
            },
        ),
    ],
)
async def test_agenda_post_keeps_london_time_across_a_dst_change(
    chat: Chat, start: datetime, posts: dict[str, datetime]
) -> None:
    await chat.jump(start)
    await chat.wait(timedelta(days=10))
    for key, at in posts.items():
        assert await _sent_at(chat, key) == at, key


async def test_a_restart_after_downtime_posts_the_missed_agenda_once(
    settings: Settings, clock: FakeClock
) -> None:
    first = await open_chat(settings, clock)
    await first.ok("/agenda add Keeper incident review", as_="carol")
    await first.runtime.close()

    # Down for over two weeks: three agenda posts were missed; only the latest one is due.
    clock.set(datetime(2026, 1, 21, 18, 0, tzinfo=UTC))
    second = await open_chat(settings, clock)
    try:
        ran = await second.runtime.jobs.start()
        second.runtime.jobs.stop()
        assert [r for r in ran if r[0] == "agenda-post"] == [
            ("agenda-post", datetime(2026, 1, 21, 16, tzinfo=UTC))
        ]
        await second.runtime.worker.drain()
        # The missed weekly digest is caught up too, once; this test follows the agenda.
        (agenda,) = [
            t for to, t in second.delivered() if to == "#shared" and t.startswith("Agenda")
        ]
        assert "Thu 2026-01-22" in agenda
        assert "Keeper incident review · carried twice" in agenda
    finally:
        await second.runtime.close()

    third = await open_chat(settings, clock)
    try:
        assert await third.runtime.jobs.run_due() == []
        assert await _keys(third, "agenda:") == ["agenda:2026-01-22"]
    finally:
        await third.runtime.close()


async def test_overdue_action_is_chased_next_business_morning_then_weekly(chat: Chat) -> None:
    # Due on Friday: the chase comes on Monday morning in London, not on Saturday.
    await chat.ok("/action add @dave 2026-01-09 Rotate the keeper keys", as_="carol")
    weekend = await chat.wait(timedelta(days=6, hours=23))  # to Monday 08:00 London
    assert not [to for to, _ in weekend if to == "@dave"]
    monday = await chat.wait(timedelta(hours=2))
    (chase,) = [t for to, t in monday if to == "@dave"]
    assert "Action item #1 is overdue" in chase
    assert "due Fri 2026-01-09 (3 days ago)" in chase
    assert await _sent_at(chat, "action:1:chase:2026-01-12") == datetime(2026, 1, 12, 9, tzinfo=UTC)
    assert (
        "#1 @dave by Fri 2026-01-09: Rotate the keeper keys — overdue"
        in (await chat.ok("/action list overdue")).reply
    )

    between = await chat.wait(timedelta(days=6))
    assert not [to for to, _ in between if to == "@dave"]
    again = await chat.wait(timedelta(days=1))
    assert [to for to, _ in again if to == "@dave"] == ["@dave"]
    assert await _sent_at(chat, "action:1:chase:2026-01-19") == datetime(2026, 1, 19, 9, tzinfo=UTC)

    await chat.ok("/action done 1", as_="dave")
    assert not [to for to, _ in await chat.wait(timedelta(days=14)) if to == "@dave"]
    assert await _keys(chat, "action:1:chase") == [
        "action:1:chase:2026-01-12",
        "action:1:chase:2026-01-19",
    ]


async def test_action_list_shows_mine_open_and_overdue(chat: Chat) -> None:
    await chat.ok("/action add @dave 2026-01-06 Share the gas report", as_="carol")
    await chat.ok("/action add @bob 2026-02-01 Write the audit scope", as_="carol")
    await chat.jump(datetime(2026, 1, 8, tzinfo=UTC))
    mine = (await chat.ok("/action list mine", as_="bob")).reply
    assert "Write the audit scope" in mine and "gas report" not in mine
    assert "Open action items (2)" in (await chat.ok("/action list")).reply
    overdue = (await chat.ok("/action list overdue")).reply
    assert "Share the gas report — overdue" in overdue and "audit" not in overdue
    refused = await chat.fails("/action done 2", as_="dave")
    assert "Only @bob (the owner)" in refused


async def test_agenda_move_defer_and_remove(chat: Chat) -> None:
    for topic in ("Keeper", "Gas", "Audit"):
        await chat.ok(f"/agenda add {topic}", as_="dave")
    await chat.ok("/agenda move 3 1", as_="dave")
    listed = (await chat.ok("/agenda list")).reply
    assert listed.index("1. Audit") < listed.index("2. Keeper") < listed.index("3. Gas")
    deferred = await chat.ok("/agenda defer 1", as_="dave")
    assert "to the meeting of Thu 2026-01-15" in deferred.reply
    await chat.ok("/agenda remove 2", as_="carol")  # a lead may tidy anyone's item
    assert "1. Audit" in (await chat.ok("/agenda list")).reply
    assert "Gas" not in (await chat.ok("/agenda list")).reply
    assert "1. Keeper · deferred once" in (await chat.ok("/agenda list 2026-01-15")).reply
    assert "Only whoever added #3" in await chat.fails("/agenda remove 3", as_="bob")


def _with_admin(settings: Settings) -> Settings:
    people = [
        p.model_copy(update={"role": Role.ADMIN}) if p.handle == "alice" else p
        for p in settings.people
    ]
    assert all(isinstance(p, PersonSettings) for p in people)
    return settings.model_copy(update={"people": people})


async def test_an_admin_moves_the_meeting_and_the_agenda_post_follows(
    settings: Settings, clock: FakeClock
) -> None:
    chat = await open_chat(_with_admin(settings), clock)
    try:
        refused = await chat.fails("/meeting schedule tuesday 10:00 America/New_York", as_="carol")
        assert "Only admins can use /meeting schedule" in refused
        await chat.ok("/agenda add Keeper hand-off", as_="carol")
        moved = await chat.ok("/meeting schedule tue 10:00 America/New_York #shared")
        assert "Tuesdays 10:00 America/New_York" in moved.reply
        assert "Next meeting: Tue 6 Jan 15:00 GMT (ic) · Tue 6 Jan 10:00 EST (set)" in moved.reply
        assert "Weekly sync moved" in moved.notification("#shared")
        nxt = (await chat.ok("/meeting next")).reply
        assert "Tue 6 Jan 10:00 EST (set)" in nxt
        assert "1. Keeper hand-off" in (await chat.ok("/agenda list")).reply
        await chat.wait(timedelta(days=1, hours=6))
        # 24h before Tuesday 10:00 New York: Monday 10:00 EST, 15:00 UTC.
        assert await _sent_at(chat, "agenda:2026-01-06") == datetime(2026, 1, 5, 15, tzinfo=UTC)
    finally:
        await chat.runtime.close()
    # The schedule set in chat outlives a restart with the file's [meeting].
    again = await open_chat(settings, clock)
    try:
        assert "Tuesdays 10:00 America/New_York" in (await again.ok("/meeting next")).reply
    finally:
        await again.runtime.close()


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/agenda add", "The topic is missing."),
        ("/agenda add Gas minutes=0", "minutes= is the time the topic needs, from 1 to 600"),
        ("/agenda add Gas minutes=lots", "'lots' is not a number"),
        ("/agenda add Gas owner=@nobody", "No person called @nobody."),
        ("/agenda list someday", '"someday" is not a meeting: say "next" or a date'),
        ("/agenda list 2026-01-09", "There is no meeting on Fri 2026-01-09"),
        ("/agenda remove 99", "There is no agenda item #99. /agenda list shows the agenda."),
        ("/agenda move", "The id (id) is missing."),
        ("/agenda move x 1", "'x' is not an agenda item number"),
        ("/agenda defer", "The id (id) is missing."),
        ("/meeting start", "The next meeting is 2026-01-08 11:00 EST; it can be started from 2h"),
        ("/meeting end", "No meeting is in progress. Start one with /meeting start."),
        ("/meeting end carry=x", "'x' is not an agenda item number"),
        ("/meeting schedule thu 16:00 Europe/London", "Only admins can use /meeting schedule."),
        ("/decision add", "The text is missing."),
        ("/action add @dave tomorrow Send keys", '"tomorrow" is not a date'),
        ("/action add @dave 2026-01-01 Send keys", "2026-01-01 has passed for @dave"),
        ("/action add @dave 2026-01-09", "The text is missing."),
        ("/action add dave2 2026-01-09 Send keys", "No person called @dave2. Did you mean @dave?"),
        ("/action done 7", "There is no action item #7. /action list shows the open ones."),
        ("/action list late", "'late' is not a valid which: expected one of mine, open, overdue."),
    ],
)
async def test_bad_input_is_answered_with_what_to_do(chat: Chat, text: str, answer: str) -> None:
    assert answer in await chat.fails(text)


async def test_meeting_schedule_bad_input(settings: Settings, clock: FakeClock) -> None:
    chat = await open_chat(_with_admin(settings), clock)
    try:
        for text, answer in [
            ("/meeting schedule thursdy 16:00 Europe/London", '"thursdy" is not a weekday'),
            ("/meeting schedule thu 4pm Europe/London", '"4pm" is not a time of day'),
            ("/meeting schedule thu 16:00 Europe/Londn", '"Europe/Londn" is not a time zone'),
            ("/meeting schedule thu 16:00 Europe/London #shred", "No channel called #shred."),
        ]:
            assert answer in await chat.fails(text)
    finally:
        await chat.runtime.close()
