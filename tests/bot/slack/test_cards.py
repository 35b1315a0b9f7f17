"""Review cards on Slack: buttons run the commands; the card is redrawn in place, with a thread."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from commands.core.clock import FakeClock
from tests.bot.slack.conftest import SHARED, USERS, SlackBot, shown


async def _request(slack: SlackBot, title: str = "Fix the oracle") -> str:
    """Alice asks ic for a review by dave; return the ts of the card."""
    await slack.ok("/review", f"request https://github.com/org/repo/pull/7 {title} reviewer=@dave")
    (ts,) = [
        ts
        for (channel, ts), m in slack.fake.messages.items()
        if channel == SHARED and "Review #" in m["text"] and not m["thread_ts"]
    ]
    return ts


def _buttons(message: dict[str, object]) -> list[str]:
    return [
        e["action_id"]
        for b in message["blocks"]  # type: ignore[attr-defined]
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def test_a_review_card_is_block_kit_with_buttons_carrying_the_review_id(
    slack: SlackBot,
) -> None:
    ts = await _request(slack)
    card = slack.fake.messages[(SHARED, ts)]
    assert _buttons(card) == [
        "review:ack:1",
        "review:start:1",
        "review:changes:1",
        "review:approve:1",
        "review:reassign:1",
    ]
    text = shown(card)
    assert "<https://github.com/org/repo/pull/7|Fix the oracle>" in text
    assert "*Requested by*\n<@UALICE> → Index Coop" in text
    assert "*Reviewer*\n<@UDAVE>" in text
    assert "*Policy*\nsmart-contract" in text
    assert "left" in text and "waiting for acknowledgement" in text


async def test_pressing_a_button_runs_the_command_and_updates_the_card_in_place(
    slack: SlackBot,
) -> None:
    ts = await _request(slack)
    await slack.press("review:ack:1", as_="dave", ts=ts)

    (update,) = slack.fake.to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (SHARED, ts)
    card = slack.fake.messages[(SHARED, ts)]
    assert "*State*\n*acknowledged*" in shown(card)
    assert "review:ack:1" not in _buttons(card)
    (reply,) = [c for c in slack.fake.posted(SHARED) if c.args.get("thread_ts")]
    assert reply.args["thread_ts"] == ts
    assert "<@UDAVE> acknowledged" in json.dumps(reply.args["blocks"])
    # A press that works needs no answer of its own: the card is the answer.
    assert slack.fake.responses() == [r for r in slack.fake.responses() if "Review #1" in r["text"]]


async def test_a_refused_press_answers_only_the_presser_and_changes_nothing(
    slack: SlackBot,
) -> None:
    ts = await _request(slack)
    sent = await slack.press("review:approve:1", as_="bob", ts=ts)
    (answer,) = slack.fake.responses(sent.n)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "Only @dave (the reviewer)" in answer["text"]
    assert slack.fake.to("chat.update") == []


async def test_reassign_asks_whom_in_a_modal_then_reassigns(slack: SlackBot) -> None:
    ts = await _request(slack)
    await slack.press("review:reassign:1", as_="carol", ts=ts)
    (opened,) = slack.fake.to("views.open")
    view = opened.args["view"]
    (field,) = [b for b in view["blocks"] if b["type"] == "input"]
    assert field["block_id"] == "person" and field["element"]["type"] == "users_select"
    assert slack.fake.to("chat.update") == []

    await slack.submit(view | {"id": "V9"}, {"person": USERS["carol"]}, as_="carol")
    (update,) = slack.fake.to("chat.update")
    assert update.args["ts"] == ts
    assert "*Reviewer*\n<@UCAROL>" in shown(slack.fake.messages[(SHARED, ts)])
    assert slack.fake.to("chat.postEphemeral") == [], "success shows on the card"


async def test_a_full_review_from_slack_payloads(slack: SlackBot, clock: FakeClock) -> None:
    ts = await _request(slack)
    await slack.press("review:ack:1", as_="dave", ts=ts)
    await slack.press("review:start:1", as_="dave", ts=ts)
    await slack.press("review:approve:1", as_="dave", ts=ts)
    card = slack.fake.messages[(SHARED, ts)]
    assert "*State*\n*approved*" in shown(card)
    assert _buttons(card) == []
    assert len(slack.fake.to("chat.update")) == 3
    thread = [c for c in slack.fake.posted(SHARED) if c.args.get("thread_ts") == ts]
    assert len(thread) == 3
    # Alice hears of the approval in her DM with the bot, once her day starts in New York.
    assert not any("approved" in c.args["text"] for c in slack.fake.posted(USERS["alice"]))
    clock.advance(timedelta(hours=5))
    await slack.settle()
    assert any("approved" in c.args["text"] for c in slack.fake.posted(USERS["alice"]))


async def test_a_covered_review_card_says_until_when_in_a_slack_date_token(
    slack: SlackBot,
) -> None:
    await slack.ok("/away", "set 2026-01-05 2026-01-07 backup=@carol", as_="dave")
    ts = await _request(slack)
    text = shown(slack.fake.messages[(SHARED, ts)])
    # Wed 7 Jan 2026, 00:00 in London: each reader sees it in their own time zone.
    assert (
        f"<@{USERS['dave']}> is away until "
        "<!date^1767744000^{date_short_pretty}|Wed 7 Jan>; "
        f"<@{USERS['carol']}> is covering."
    ) in text


async def test_a_cards_due_time_and_a_warning_dm_are_slack_date_tokens(
    slack: SlackBot, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # Monday; the hotfix ack is due 09:30
    await slack.ok(
        "/review", "request https://github.com/org/repo/pull/7 Hotfix policy=hotfix reviewer=@dave"
    )
    ((ts, card),) = [
        (t, m) for (c, t), m in slack.fake.messages.items() if c == SHARED and not m["thread_ts"]
    ]
    due = "<!date^1767605400^{date_short_pretty} {time}|Mon 5 Jan 09:30 GMT>"
    assert f"*Acknowledge*\ndue {due}, 30m left" in shown(card)
    clock.set(datetime(2026, 1, 5, 9, 16, tzinfo=UTC))
    await slack.runtime.deadlines.tick()
    await slack.settle()
    (warning,) = [
        m for (c, _), m in slack.fake.messages.items() if c == "DDAVE" and "due soon" in shown(m)
    ]
    assert f"Please acknowledge it by {due} (14m left)." in shown(warning)
    # The redrawn card keeps the token, and a breached clock says when it was due in one.
    clock.set(datetime(2026, 1, 5, 9, 45, tzinfo=UTC))
    await slack.runtime.deadlines.tick()
    await slack.settle()
    assert f"*Acknowledge*\nBREACHED 15m ago (was due {due})" in shown(
        slack.fake.messages[(SHARED, ts)]
    )
