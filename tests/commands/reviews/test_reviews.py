"""Review requests and their SLA clocks, driven through the console with a fake clock.

The demo config: `set` (New York, Mon-Fri 09:00-17:00, US holidays) and `ic` (London,
Mon-Fri 09:00-17:30, GB holidays); policies smart-contract (business hours: acknowledge 4h,
resolve 16h) and hotfix (24x7: acknowledge 30m, resolve 4h, warn at 50%, L1 at breach to the
reviewer and ic's leads, L2 30m later to set's leads and #shared).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.config import Settings
from commands.core.clock import FakeClock
from storage.models import OutboxItem
from tests.harness import Chat, open_chat

PR = "https://github.com/org/repo/pull/7"


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _titles(delivered: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(to, text.splitlines()[0]) for to, text in delivered]


async def test_request_posts_a_card_and_tells_the_reviewer(chat: Chat) -> None:
    said = await chat.ok(f'/review request {PR} "Fix the oracle" reviewer=@dave')
    assert "Review #1 requested from Index Coop under smart-contract." in said.reply
    card = said.notification("#shared")
    assert card.startswith("Review #1\nFix the oracle <https://github.com/org/repo/pull/7>")
    assert "Reviewer: @dave" in card and "[Acknowledge]" in card
    assert "Review #1 is yours" in said.notification("@dave")


async def test_the_reviewer_defaults_to_the_code_review_dri_of_the_reviewing_org(
    chat: Chat,
) -> None:
    await chat.ok('/dri set "Code review" @dave', as_="carol")
    said = await chat.ok(f"/review request {PR} Fix the oracle")
    assert "Reviewer: @dave" in said.reply


async def test_a_request_is_checked_before_anything_is_written(chat: Chat) -> None:
    assert "is not a link" in await chat.fails("/review request github.com/x Fix")
    assert "ftp" in await chat.fails('/review request ftp://x/y "Fix"')
    assert "Give a title" in await chat.fails("/review request https://example.com/d/1")
    long = "x" * 201
    assert "the most is 200" in await chat.fails(f"/review request {PR} {long}")
    answer = await chat.fails(f"/review request {PR} Fix policy=hotfx")
    assert "No SLA policy called 'hotfx'. Did you mean hotfix?" in answer
    answer = await chat.fails(f"/review request {PR} Fix reviewer=@bob")
    assert "@bob is not in `ic`, the org that reviews." in answer


async def test_nobody_acting_gives_warning_breach_and_each_level_once(chat: Chat) -> None:
    await chat.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    everything = await chat.wait(timedelta(hours=6))
    counts = Counter(everything)
    assert all(n == 1 for n in counts.values()), counts
    delivered = _titles(everything)
    # The acknowledge clock: warning at 15m, breach at 30m, L1 at breach, L2 30m later.
    assert ("@dave", "Review #1: acknowledge SLA due soon") in delivered
    for clock in ("acknowledge", "resolve"):
        assert ("@dave", f"Review #1: {clock} SLA escalation, level 1") in delivered
        assert ("@carol", f"Review #1: {clock} SLA escalation, level 1") in delivered
        assert ("@alice", f"Review #1: {clock} SLA escalation, level 2") in delivered
        # The shared channel hears of level 2 in the card's thread only (no broadcast).
        assert ("#shared", f"Review #1: {clock} SLA escalation, level 2") not in delivered
        label = clock.capitalize()
        assert ("#shared (thread)", f"{label} SLA escalated (L2) to @alice, #shared.") in delivered
    assert ("#shared (thread)", "Acknowledge SLA escalated (L1) to @dave, @carol.") in delivered
    assert (
        "#shared (thread)",
        "The acknowledge SLA (30m) was breached at Mon 5 Jan 09:30 GMT.",
    ) in delivered
    assert (
        "#shared (thread)",
        "The resolve SLA (4h) was breached at Mon 5 Jan 13:00 GMT.",
    ) in delivered
    # Members who are neither reviewer nor lead hear nothing.
    assert not [d for d in delivered if d[0] == "@bob"]


async def test_an_ack_in_time_means_no_acknowledge_breach(chat: Chat) -> None:
    await chat.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    early = _titles(await chat.wait(timedelta(minutes=20)))
    assert early == [("@dave", "Review #1: acknowledge SLA due soon")]
    said = await chat.ok("/review ack 1", as_="dave")
    assert "#1 acknowledged." in said.reply
    assert ("#shared (thread)", "@dave acknowledged.") in [(t, x) for t, x in said.notifications]
    later = _titles(await chat.wait(timedelta(hours=2)))
    assert not [d for d in later if "acknowledge SLA" in d[1]]
    assert ("@dave", "Review #1: resolve SLA due soon") in later


async def test_a_button_press_runs_the_same_command_with_the_same_checks(chat: Chat) -> None:
    said = await chat.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    assert "[Acknowledge]" in said.notification("#shared")
    refused = await chat.press("review:ack:1", as_="bob")
    assert not refused.ok and refused.notifications == []
    assert "@dave" in refused.reply
    pressed = await chat.press("review:ack:1", as_="dave")
    assert pressed.ok and "#1 acknowledged." in pressed.reply
    edits = [text for to, text in pressed.notifications if to == "#shared (updated)"]
    assert edits and "[Acknowledge]" not in edits[-1]
    # The button that needs more than the review asks for it by name.
    moved = await chat.press("review:reassign:1", as_="carol", person="@carol")
    assert moved.ok, moved.reply
    assert "Reviewer: @carol" in [t for to, t in moved.notifications if "updated" in to][-1]


async def test_an_unknown_or_stale_button_is_answered_not_crashed(chat: Chat) -> None:
    for action in ("review:frobnicate:1", "nonsense", "review:ack:999", "review:ack:x"):
        said = await chat.press(action, as_="dave")
        assert not said.ok and "Traceback" not in said.reply and said.reply
    said = await chat.press("review:frobnicate:1")
    assert "not one Liaison knows" in said.reply


async def test_the_outbox_never_holds_two_rows_with_one_key(chat: Chat) -> None:
    await chat.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    await chat.wait(timedelta(hours=3))
    await chat.runtime.deadlines.tick()
    await chat.wait(timedelta(hours=3))
    async with chat.runtime.sessions() as session:
        total = await session.scalar(select(func.count(OutboxItem.id)))
        distinct = await session.scalar(select(func.count(func.distinct(OutboxItem.key))))
    assert total == distinct and total > 10


async def _request_at(chat: Chat, at: datetime, policy: str = "smart-contract") -> None:
    chat.clock.set(at)
    await chat.ok(f"/review request {PR} Upgrade policy={policy} reviewer=@dave")


async def _ack_due(chat: Chat) -> str:
    shown = (await chat.ok("/review show 1", as_="carol")).reply
    return next(ln for ln in shown.splitlines() if ln.startswith("Acknowledge:"))


async def test_business_hours_skip_the_weekend(chat: Chat) -> None:
    # Friday 16:00 in London: 1h30 left on Friday, 2h30 on Monday morning.
    await _request_at(chat, _at(2026, 1, 9, 16, 0))
    assert (await _ack_due(chat)).endswith("due 2026-01-12 11:30 GMT")
    delivered = await chat.wait(timedelta(days=3, hours=20))
    assert (
        "#shared (thread)",
        "The acknowledge SLA (4h) was breached at Mon 12 Jan 11:30 GMT.",
    ) in delivered


async def test_business_hours_skip_holidays(chat: Chat) -> None:
    # Christmas Eve 16:00: Christmas Day, the weekend and the observed Boxing Day are skipped.
    await _request_at(chat, _at(2026, 12, 24, 16, 0))
    assert (await _ack_due(chat)).endswith("due 2026-12-29 11:30 GMT")


async def test_business_hours_across_the_change_to_summer_time(chat: Chat) -> None:
    # London moves to BST on Sunday 29 March 2026; Monday 11:30 BST is 10:30 UTC.
    await _request_at(chat, _at(2026, 3, 27, 16, 0))
    assert (await _ack_due(chat)).endswith("due 2026-03-30 11:30 BST")
    delivered = await chat.wait(timedelta(days=3))
    assert (
        "#shared (thread)",
        "The acknowledge SLA (4h) was breached at Mon 30 Mar 11:30 BST.",
    ) in delivered


async def test_a_pause_moves_the_deadline_by_exactly_the_paused_time(chat: Chat) -> None:
    await _request_at(chat, _at(2026, 1, 5, 9, 0), policy="hotfix")
    await chat.wait(timedelta(hours=1))
    said = await chat.ok("/review changes 1 please add tests", as_="dave")
    assert "its resolve clock is paused" in said.reply
    assert "Changes requested on #1" in said.notification("@alice")
    quiet = await chat.wait(timedelta(hours=5))
    assert not [d for d in quiet if "resolve" in d[1].lower()], quiet
    await chat.ok("/review resume 1")
    # 1h ran before the pause, 3h remain after it: the breach moves from 13:00 to 18:00.
    delivered = await chat.wait(timedelta(hours=4))
    assert (
        "#shared (thread)",
        "The resolve SLA (4h) was breached at Mon 5 Jan 18:00 GMT.",
    ) in delivered


async def test_pausing_in_business_hours_moves_the_deadline_by_business_time(chat: Chat) -> None:
    await _request_at(chat, _at(2026, 1, 5, 9, 0))  # Monday 09:00 London, resolve 16h
    await chat.wait(timedelta(hours=2))
    await chat.ok("/review changes 1", as_="dave")
    await chat.wait(timedelta(days=2))  # Wednesday 11:00
    await chat.ok("/review resume 1")
    shown = (await chat.ok("/review show 1", as_="carol")).reply
    # 2h ran; 14h remain from Wednesday 11:00: 6h30 Wed, 7h30 Thursday -> Thu 16:30.
    assert "Resolve: running: 2h elapsed of 16h, 14h left, due 2026-01-08 16:30 GMT" in shown


async def test_reopen_starts_a_new_cycle_and_keeps_the_old_one(chat: Chat) -> None:
    await _request_at(chat, _at(2026, 1, 5, 9, 0), policy="hotfix")
    await chat.ok("/review approve 1", as_="dave")
    said = await chat.ok("/review reopen 1")
    assert "#1 is reopened (cycle 2)." in said.reply
    shown = (await chat.ok("/review show 1")).reply
    assert "c1 · @alice requested" in shown and "c1 · @dave approved" in shown
    assert "c2 · @alice reopened" in shown
    assert "Acknowledge: running" in shown
    delivered = _titles(await chat.wait(timedelta(hours=1)))
    assert ("@dave", "Review #1: acknowledge SLA due soon") in delivered


async def test_reassign_mid_clock_sends_what_follows_to_the_new_reviewer(chat: Chat) -> None:
    await _request_at(chat, _at(2026, 1, 5, 9, 0), policy="hotfix")
    await chat.wait(timedelta(minutes=10))
    said = await chat.ok("/review reassign 1 @carol", as_="dave")
    assert "Review #1 is yours" in said.notification("@carol")
    delivered = _titles(await chat.wait(timedelta(minutes=10)))
    assert delivered == [("@carol", "Review #1: acknowledge SLA due soon")]
    assert "@bob is not in `ic`" in await chat.fails("/review reassign 1 @bob", as_="carol")


async def test_illegal_transitions_are_explained(chat: Chat) -> None:
    await _request_at(chat, _at(2026, 1, 5, 9, 0), policy="hotfix")
    await chat.ok("/review ack 1", as_="dave")
    assert await chat.fails("/review ack 1", as_="dave") == "#1 is already acknowledged."
    assert "pushed" not in await chat.fails("/review resume 1")
    await chat.ok("/review approve 1", as_="dave")
    answer = await chat.fails("/review ack 1", as_="dave")
    assert answer == "#1 is already approved; /review reopen 1 starts a new cycle."
    assert "There is no review #9." in await chat.fails("/review show 9")
    assert "is not a review number" in await chat.fails("/review show nine")


async def test_only_the_right_people_move_a_review(chat: Chat) -> None:
    await _request_at(chat, _at(2026, 1, 5, 9, 0), policy="hotfix")
    answer = await chat.fails("/review ack 1", as_="bob")
    assert answer == "Only @dave (the reviewer) or someone in `ic` can acknowledge #1."
    assert "Only @alice (who asked) or a lead" in await chat.fails("/review cancel 1", as_="dave")
    await chat.ok(f"/review request {PR} Own org=set policy=hotfix")
    answer = await chat.fails("/review approve 2")
    assert answer == "You asked for #2; someone in `set` can approve it, not you."


async def test_an_unassigned_review_goes_to_whoever_acts_for_the_reviewing_org(chat: Chat) -> None:
    chat.clock.set(_at(2026, 1, 5, 9, 0))
    said = await chat.ok(f"/review request {PR} Nobody policy=hotfix")
    assert "No reviewer yet." in said.reply
    warned = _titles(await chat.wait(timedelta(minutes=20)))
    assert warned == [("@carol", "Review #1: acknowledge SLA due soon")]
    await chat.ok("/review start 1", as_="dave")
    assert "Reviewer: @dave" in (await chat.ok("/review show 1")).reply


async def test_list_sorts_by_time_left_and_filters(chat: Chat) -> None:
    chat.clock.set(_at(2026, 1, 5, 9, 0))
    await chat.ok(f"/review request {PR} Slow reviewer=@dave")
    await chat.ok(f"/review request {PR} Urgent policy=hotfix reviewer=@dave")
    listed = (await chat.ok("/review list")).reply.splitlines()
    assert listed[0] == "Reviews: open (2)"
    assert listed[1].startswith("#2 Urgent") and listed[2].startswith("#1 Slow")
    await chat.ok("/review changes 2", as_="dave")
    waiting = (await chat.ok("/review list waiting")).reply
    assert "#2" in waiting and "#1" not in waiting
    await chat.wait(timedelta(hours=5))
    breached = (await chat.ok("/review list breached")).reply
    assert "#1 Slow" in breached and "BREACHED" in breached
    assert "#1 Slow" in (await chat.ok("/review list mine", as_="dave")).reply
    assert (await chat.ok("/review list mine", as_="bob")).reply == "None of your reviews are open."


async def test_a_long_list_comes_in_pages_that_say_how_many_more(chat: Chat) -> None:
    for i in range(22):
        policy = " policy=hotfix" if i == 21 else ""
        await chat.ok(f"/review request {PR} Change{i}{policy}")
    first = (await chat.ok("/review list")).reply.splitlines()
    assert first[0] == "Reviews: open (22), page 1 of 2"
    # The most urgent first: the hotfix, then the rest in the order they were asked for.
    assert first[1].startswith("#22 Change21") and first[2].startswith("#1 Change0")
    assert len(first) == 1 + 20 + 1
    assert first[-1] == "… and 2 more: `/review list open page=2`"
    second = (await chat.ok("/review list open page=2")).reply.splitlines()
    assert second[0] == "Reviews: open (22), page 2 of 2"
    assert [ln.split()[0] for ln in second[1:]] == ["#20", "#21"]
    assert (await chat.fails("/review list page=3")).startswith(
        "There are 2 pages of open reviews: ask for page=1 to page=2."
    )
    assert (await chat.fails("/review list page=0")).startswith("Pages are counted from 1")
    only = (await chat.ok("/review list org=ic page=1")).reply.splitlines()
    assert only[-1] == "… and 2 more: `/review list open org=ic page=2`"


async def test_after_downtime_what_fell_due_is_sent_once_in_order_and_late(
    settings: Settings, clock: FakeClock
) -> None:
    first = await open_chat(settings, clock)
    clock.set(_at(2026, 1, 5, 9, 0))
    await first.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    await first.runtime.close()

    clock.set(_at(2026, 1, 5, 10, 10))  # down through the warning, breach, L1 and L2
    second = await open_chat(settings, clock)
    try:
        await second.runtime.deadlines.start()
        await second.runtime.worker.drain()
        delivered = second.delivered()
    finally:
        second.runtime.deadlines.stop()
        await second.runtime.close()
    dave = [text for to, text in delivered if to == "@dave"]
    assert [t.splitlines()[0] for t in dave] == [
        "Review #1: acknowledge SLA due soon",
        "Review #1: acknowledge SLA escalation, level 1",
    ]
    assert all("Sent late: this was due" in t for t in dave)
    assert "Sent late: this was due Mon 5 Jan 09:15 GMT." in dave[0]
    # A warning that arrives after its deadline says so, rather than counting down.
    assert "Please acknowledge it now: its deadline, Mon 5 Jan 09:30 GMT, has passed." in dave[0]

    third = await open_chat(settings, clock)
    try:
        await third.runtime.deadlines.start()
        await third.runtime.worker.drain()
        assert third.delivered() == [], "a restart must not send anything twice"
    finally:
        third.runtime.deadlines.stop()
        await third.runtime.close()


async def test_notifications_written_before_a_crash_are_sent_once_after_it(
    settings: Settings, clock: FakeClock
) -> None:
    first = await open_chat(settings, clock)
    clock.set(_at(2026, 1, 5, 9, 0))
    await first.ok(f"/review request {PR} Hotfix policy=hotfix reviewer=@dave")
    clock.set(_at(2026, 1, 5, 9, 20))
    assert await first.runtime.deadlines.tick() == 1  # written to the outbox, never sent
    await first.runtime.close()

    second = await open_chat(settings, clock)
    try:
        await second.runtime.worker.drain()
        await second.runtime.worker.drain()
        assert _titles(second.delivered()) == [("@dave", "Review #1: acknowledge SLA due soon")]
    finally:
        await second.runtime.close()


async def test_sla_report_matches_a_hand_computed_fixture(chat: Chat) -> None:
    chat.clock.set(_at(2026, 1, 5, 9, 0))
    for title in ("One", "Two", "Three"):
        await chat.ok(f"/review request {PR} {title} policy=hotfix reviewer=@dave")
    await chat.wait(timedelta(minutes=5))
    await chat.ok("/review cancel 3")  # cancelled: counted as a request, not in the figures
    await chat.wait(timedelta(minutes=5))
    await chat.ok("/review ack 1", as_="dave")  # 10m: in time
    await chat.wait(timedelta(minutes=30))
    await chat.ok("/review ack 2", as_="dave")  # 40m: 10m late
    await chat.wait(timedelta(minutes=20))
    await chat.ok("/review approve 1", as_="dave")  # 1h: in time
    await chat.wait(timedelta(hours=4))
    await chat.ok("/review approve 2", as_="dave")  # 5h: 1h late
    report = (await chat.ok("/sla report")).reply
    assert report.splitlines() == [
        "SLA report, last 4 weeks",
        "ic · hotfix: 3 requests; acknowledge: 50% within target, median 25m, p90 40m; "
        "resolve: 50% within target, median 3h, p90 5h; breaches: 2",
    ]
    assert "No review requests in the last 1 weeks." not in report
    assert "between 1 and 104" in await chat.fails("/sla report weeks=0")


async def test_sla_policies_lists_targets_and_escalation(chat: Chat) -> None:
    listed = (await chat.ok("/sla policies")).reply
    assert (
        "smart-contract (default): acknowledge 4h, resolve 16h "
        "(business hours of the reviewing org); warn at 75%" in listed
    )
    assert (
        "L3 breach + 8h → reviewing-org-leads, requesting-org-leads, channel:shared, "
        "repeated every 8h up to 3 times" in listed
    )
    assert "hotfix: acknowledge 30m, resolve 4h (24x7); warn at 50%" in listed


async def test_the_last_level_repeats_on_business_days_then_stops(chat: Chat) -> None:
    await _request_at(chat, _at(2026, 1, 5, 9, 0))  # Monday 09:00 London
    delivered = _titles(await chat.wait(timedelta(days=14)))
    to_carol = [t for to, t in delivered if to == "@carol" and "acknowledge SLA escalation" in t]
    assert to_carol == [
        "Review #1: acknowledge SLA escalation, level 2",
        "Review #1: acknowledge SLA escalation, level 3",
        "Review #1: acknowledge SLA escalation, level 3 (reminder)",
        "Review #1: acknowledge SLA escalation, level 3 (reminder)",
        "Review #1: acknowledge SLA escalation, level 3 (reminder)",
    ]
    shown = (await chat.ok("/review show 1")).reply
    repeats = [ln for ln in shown.splitlines() if "acknowledge L3:r" in ln]
    # Breach Mon 13:00; L3 one working day (8h) later: Tue 12:30; then every 8h of business time.
    assert [ln.split(" · ")[0] for ln in repeats] == [
        "2026-01-07 07:00 EST",
        "2026-01-08 06:30 EST",
        "2026-01-09 06:00 EST",
    ]


async def test_a_requester_never_becomes_reviewer_of_their_own_request(chat: Chat) -> None:
    chat.clock.set(_at(2026, 1, 5, 9, 0))
    await chat.ok(f"/review request {PR} Own policy=hotfix org=ic", as_="carol")
    refused = await chat.fails("/review start 1", as_="carol")
    assert refused == "You asked for #1; someone in `ic` can start it, not you."
    for verb in ("ack", "changes", "approve"):
        assert (await chat.fails(f"/review {verb} 1", as_="carol")).startswith("You asked for #1")
    assert "Reviewer: unassigned" in (await chat.ok("/review show 1")).reply
    answer = await chat.fails("/review reassign 1 @carol", as_="carol")
    assert answer == "@carol asked for #1; choose someone else to review it."
    took = await chat.ok(f"/review request {PR} Other policy=hotfix", as_="alice")
    assert took.ok
    said = await chat.ok("/review reassign 2 @carol", as_="carol")
    assert ("#shared (thread)", "@carol took the review.") in said.notifications


async def test_reopening_tells_the_reviewer(chat: Chat) -> None:
    chat.clock.set(_at(2026, 1, 5, 9, 0))
    await chat.ok(f"/review request {PR} Fix policy=hotfix reviewer=@dave")
    await chat.ok("/review approve 1", as_="dave")
    said = await chat.ok("/review reopen 1")
    assert "Review #1 is open again" in said.notification("@dave")


async def test_list_says_which_org_had_nothing_and_names_the_filter(chat: Chat) -> None:
    chat.clock.set(_at(2026, 1, 5, 9, 0))
    await chat.ok(f"/review request {PR} Fix policy=hotfix")
    answer = (await chat.ok("/review list org=set")).reply
    assert answer == "No reviews are open for `set` to review."
    assert "'all' is not a valid filter" in await chat.fails("/review list all")


async def test_a_report_of_one_request_says_request(chat: Chat) -> None:
    chat.clock.set(_at(2026, 1, 5, 9, 0))
    await chat.ok(f"/review request {PR} Fix policy=hotfix")
    assert "ic · hotfix: 1 request;" in (await chat.ok("/sla report")).reply


async def test_a_policy_removed_from_the_config_is_offered_to_nobody(
    settings: Settings, clock: FakeClock
) -> None:
    first = await open_chat(settings, clock)
    await first.ok(f"/review request {PR} Fix policy=hotfix reviewer=@dave")
    await first.runtime.close()
    fewer = settings.model_copy(
        update={"policies": [p for p in settings.policies if p.name != "hotfix"]}
    )
    second = await open_chat(fewer, clock)
    try:
        answer = await second.fails(f"/review request {PR} Again policy=hotfix")
        assert "No SLA policy called 'hotfix'. The policies are: smart-contract." in answer
        assert "hotfix" not in (await second.ok("/sla policies")).reply
        # The review made under it keeps its clocks.
        assert "Policy: hotfix (24x7)" in (await second.ok("/review show 1")).reply
    finally:
        await second.runtime.close()
