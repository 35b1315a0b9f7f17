"""People are human: time away routes reviews to a backup; direct pings wait for working hours.

The demo config: `set` works in New York (Mon-Fri 09:00-17:00), `ic` in London (Mon-Fri
09:00-17:30); smart-contract is a business-hours policy (L1 at breach to the reviewer and the
requester), hotfix a 24x7 one marked `urgent = true`. The fake clock starts Mon 5 Jan 2026,
09:00 UTC: 09:00 in London, 04:00 in New York.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from bot.config import AwaySettings, Settings
from bot.discord.render import render_span
from bot.plaintext import render_line as plain_line
from bot.slack.blocks import render_line as slack_line
from bot.sync import apply_config
from commands.core.clock import FakeClock
from commands.core.completion import suggest
from commands.core.messages import When
from commands.core.registry import Kind
from tests.harness import Chat, open_chat

PR = "https://github.com/org/repo/pull/7"


async def test_a_request_to_someone_away_goes_to_the_backup_once_and_they_hear_on_return(
    chat: Chat,
) -> None:
    said = await chat.ok("/away set 2026-01-05 2026-01-07 backup=@carol", as_="dave")
    assert "you are away Mon 5 Jan until Wed 7 Jan" in said.reply
    assert "@carol covers for you" in said.reply
    listed = await chat.ok("/away list", as_="alice")
    assert "@dave: Mon 5 Jan until Wed 7 Jan (now), backup @carol" in listed.reply
    asked = await chat.ok(f"/review request {PR} Fix reviewer=@dave")
    card = asked.notification("#shared")
    assert "@dave is away until Wed 7 Jan; @carol is covering." in card
    assert "Reviewer: @carol" in card
    assert "Review #1 is yours" in asked.notification("@carol")
    assert not [to for to, _ in asked.notifications if to == "@dave"]
    # Nobody acts: the breach and level 1 (reviewer and requester) reach carol, not dave.
    later = await chat.wait(timedelta(days=3))
    counts = Counter(later)
    assert all(n == 1 for n in counts.values()), counts
    to_dave = [text for to, text in later if to == "@dave"]
    assert len(to_dave) == 1, to_dave
    assert to_dave[0].startswith("Welcome back: this went to others while you were away")
    assert "review request: #1 Fix" in to_dave[0] and "(now with @carol)" in to_dave[0]
    titles = [(to, text.splitlines()[0]) for to, text in later]
    assert ("@carol", "Review #1: acknowledge SLA escalation, level 1") in titles
    assert titles.count(("@carol", "Review #1: acknowledge SLA escalation, level 1")) == 1
    # Told once: more time passing tells dave nothing more.
    assert not [to for to, _ in await chat.wait(timedelta(days=2)) if to == "@dave"]


async def test_a_reviewer_going_away_hands_open_reviews_to_their_backup(chat: Chat) -> None:
    await chat.ok(f"/review request {PR} Fix reviewer=@dave")
    said = await chat.ok("/away set 2026-01-05 2026-01-09", as_="dave")
    # No backup named and no area backup: a lead of ic covers.
    assert "Your open reviews (#1) went to whoever covers you." in said.reply
    thread = said.notification("#shared (thread)")
    assert thread == "@dave is away until Fri 9 Jan; @carol is covering."
    assert "Reviewer: @carol" in said.notification("#shared (updated)")
    assert "is yours while @dave is away" in said.notification("@carol")
    # Alice works in New York, where it is 04:00: her notice waits for 09:00 there.
    assert not [to for to, _ in said.notifications if to == "@alice"]
    morning = await chat.wait(timedelta(hours=5, minutes=1))
    assert next(text for to, text in morning if to == "@alice").startswith(
        "Review #1 has a new reviewer"
    )
    cancelled = await chat.ok("/away cancel", as_="dave")
    assert "Welcome back" in cancelled.reply
    assert "handed over: #1 Fix" in cancelled.notification("@dave")


async def test_a_ping_at_3am_waits_for_9am_their_time_across_a_dst_change(
    chat: Chat, clock: FakeClock
) -> None:
    # Sunday 8 March 2026, 03:00 in New York, the night its clocks went forward (EST to EDT).
    clock.set(datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
    asked = await chat.ok(f"/review request {PR} Fix reviewer=@bob", as_="carol")
    assert not [to for to, _ in asked.notifications if to == "@bob"]
    card = asked.notification("#shared")
    assert "@bob is outside their working hours: will be told at Mon 9 Mar 09:00 EDT" in card
    # 09:00 EDT on Monday is 13:00 UTC (it would be 14:00 under EST).
    early = await chat.wait(timedelta(days=1, hours=5, minutes=59))
    assert not [to for to, _ in early if to == "@bob"]
    told = await chat.wait(timedelta(minutes=2))
    assert [text.splitlines()[0] for to, text in told if to == "@bob"] == ["Review #1 is yours"]


async def test_an_urgent_policy_pings_at_once_and_own_hours_count(
    chat: Chat, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 3, 8, 7, 0, tzinfo=UTC))
    asked = await chat.ok(f"/review request {PR} Fix policy=hotfix reviewer=@bob", as_="carol")
    assert "Review #1 is yours" in asked.notification("@bob")
    assert "working hours" not in asked.notification("#shared")
    # Dave's own hours: Sunday mornings in Singapore (15:00 there now) count as his.
    said = await chat.ok('/me hours "Sun 09:00-17:00"', as_="dave")
    assert "`Sun 09:00-17:00` in `Europe/London` (your own)" in said.reply
    await chat.ok("/me timezone asia/singapore", as_="dave")
    asked = await chat.ok(f"/review request {PR}9 Other reviewer=@dave", as_="alice")
    assert "Review #2 is yours" in asked.notification("@dave")
    refused = await chat.fails('/me hours "Mon-Fri 9-5"', as_="dave")
    assert "Mon-Thu 08:00-16:00" in refused


async def test_away_is_refused_with_what_to_do(chat: Chat) -> None:
    assert "must come after" in await chat.fails("/away set 2026-01-09 2026-01-05", as_="dave")
    assert "has passed" in await chat.fails("/away set 2025-12-01 2025-12-02", as_="dave")
    assert "not in your org" in await chat.fails(
        "/away set 2026-01-06 2026-01-08 backup=@bob", as_="dave"
    )
    assert "no time away" in await chat.fails("/away cancel", as_="dave")
    await chat.ok("/away set 2026-01-06 2026-01-08", as_="dave")
    assert "cancel it first" in await chat.fails("/away set 2026-01-07 2026-01-09", as_="dave")


def test_a_time_is_a_date_token_on_slack_and_discord_and_local_text_on_the_console() -> None:
    at = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    span = When(at, "America/New_York", "datetime")
    unix = int(at.timestamp())
    assert slack_line((span,)) == (
        f"<!date^{unix}^{{date_short_pretty}} {{time}}|Mon 9 Mar 09:00 EDT>"
    )
    assert render_span(span, {}) == f"<t:{unix}:f>"
    assert render_span(When(at, "UTC", "date"), {}) == f"<t:{unix}:D>"
    assert plain_line((span,)) == "Mon 9 Mar 09:00 EDT"
    assert plain_line((When(at, "Europe/London", "time"),)) == "13:00 GMT"


async def test_planned_leave_comes_from_the_config(settings: Settings, clock: FakeClock) -> None:
    leave = AwaySettings.model_validate({"start": "2026-01-05", "until": "2026-01-07"})
    planned = leave.model_copy(update={"backup": "carol", "note": "skiing"})
    people = [
        p.model_copy(update={"away": [planned], "hours": "Mon-Thu 08:00-16:00"})
        if p.handle == "dave"
        else p
        for p in settings.people
    ]
    configured = settings.model_copy(update={"people": people})
    chat = await open_chat(configured, clock)
    try:
        listed = await chat.ok("/away list")
        assert "@dave: Mon 5 Jan until Wed 7 Jan (now), backup @carol — skiing" in listed.reply
        asked = await chat.ok(f"/review request {PR} Fix reviewer=@dave")
        assert "@carol is covering" in asked.notification("#shared")
        # Back early: the next start does not bring the file's time away back.
        await chat.ok("/away cancel", as_="dave")
        await apply_config(chat.runtime.postbox, configured, clock.now())
        assert "Nobody is away" in (await chat.ok("/away list")).reply
    finally:
        await chat.runtime.close()


async def test_the_person_picker_marks_who_is_away(chat: Chat, clock: FakeClock) -> None:
    await chat.ok("/away set 2026-01-05 2026-01-07 backup=@carol", as_="dave")
    async with chat.runtime.sessions() as session:
        found = await suggest(session, Kind.PERSON, "@da", now=clock.now())
        assert found == [("@dave — Dave Edwardk (away until Wed 7 Jan)", "@dave")]
        later = await suggest(session, Kind.PERSON, "@da", now=clock.now() + timedelta(days=3))
        assert later == [("@dave — Dave Edwardk", "@dave")]


async def test_a_review_is_not_given_to_someone_away(chat: Chat) -> None:
    await chat.ok(f"/review request {PR} Fix reviewer=@dave")
    await chat.ok("/away set 2026-01-06 2026-01-08 backup=@erin", as_="carol")
    await chat.wait(timedelta(days=1))
    refused = await chat.fails("/review reassign 1 @carol", as_="dave")
    assert (
        refused
        == "@carol is away until Thu 8 Jan; choose someone who is there. @erin covers for them."
    )
