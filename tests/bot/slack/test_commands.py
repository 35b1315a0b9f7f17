"""Every command group through Slack: slash commands signed as Slack sends them, answers back."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

from sqlalchemy import func, select

from commands.core.clock import FakeClock
from storage.models import Area, InboundRequest, OutboxItem, Person, Review
from tests.bot.slack.conftest import SHARED, USERS, SlackBot
from tests.bot.slack.fake_slack import sign


async def _count(slack: SlackBot, model: type) -> int:
    async with slack.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_every_command_group_answers_through_slack(slack: SlackBot) -> None:
    # /dri: a Slack mention in the text names the person it points at.
    said = await slack.ok("/dri", 'set "Smart contract review" <@UBOB|bob>')
    assert "<@UBOB> is the DRI of *Smart contract review*" in said
    (announced,) = slack.fake.posted(SHARED)
    assert "<@UBOB>" in json.dumps(announced.args["blocks"])
    assert "Smart contract review" in await slack.ok("/dri", "who Smart contract review")
    # /handoff
    assert "proposed" in await slack.ok("/handoff", 'plan "Smart contract review" near 2026Q1')
    assert "planned near-term" in await slack.ok(
        "/handoff", 'accept "Smart contract review"', as_="carol"
    )
    assert "Smart contract review" in await slack.ok("/handoff", "board")
    # /review: Slack sends links as <url>; the command sees the URL.
    said = await slack.ok(
        "/review", "request <https://github.com/org/repo/pull/7> Fix the oracle reviewer=<@UDAVE>"
    )
    assert "Review #1 requested" in said
    card = slack.fake.posted(SHARED)[-1]
    assert "<https://github.com/org/repo/pull/7|Fix the oracle>" in json.dumps(card.args["blocks"])
    assert USERS["dave"] in [c.args["channel"] for c in slack.fake.posted()]
    assert "Fix the oracle" in await slack.ok("/review", "list")
    # /sla
    assert "smart-contract" in await slack.ok("/sla", "policies")
    assert "report" in (await slack.ok("/sla", "report")).lower()
    # /people, /whoami, /help
    assert "<@UCAROL> — Carol Cavalier" in await slack.ok("/people", "list")
    assert "You are @dave" in await slack.ok("/whoami", "", as_="dave")
    assert "/review" in await slack.ok("/help", "")
    assert "/dri set" in await slack.ok("/help", "dri")
    # The catch-all: /liaison <group> <command> ..., and /liaison alone is /help.
    assert "Smart contract review" in await slack.ok("/liaison", "dri who Smart contract review")
    assert "/review" in await slack.ok("/liaison", "")


async def test_commands_never_wait_for_another_auth_test(slack: SlackBot) -> None:
    # Start-up asked Slack who the bot is; bolt must not ask again on a user's first command
    # (a slow answer to that call turned the command into an HTTP 500).
    fake = slack.user.fake
    asked = len(fake.to("auth.test"))
    await slack.ok("/review", "list open")
    await slack.ok("/dri", "list")
    assert len(fake.to("auth.test")) == asked == 1


async def test_answers_and_api_calls_reuse_their_connections(slack: SlackBot) -> None:
    fake = slack.user.fake
    before = len(fake.calls)
    for n in range(4):
        await slack.ok(
            "/review", f"request https://github.com/org/repo/pull/{n} Fix{n} reviewer=@dave"
        )
    calls = [c for c in fake.calls[before:] if c.outcome == "ok"]
    answers = [c for c in calls if c.method == "response_url"]
    posts = [c for c in calls if c.method == "chat.postMessage"]
    assert len(answers) == 4 and len(posts) >= 8  # each: the answer, the card, the DM
    # One kept-alive session: a handful of connections, not one per call.
    assert len({c.peer for c in calls}) <= 4, sorted({str(c.peer) for c in calls})


async def test_a_refused_command_answers_privately_with_what_to_do(slack: SlackBot) -> None:
    answer = slack.reply(await slack.command("/dri", "set Payments @carol", as_="dave"))
    assert answer["response_type"] == "ephemeral"
    assert "Only leads" in answer["text"] and answer["text"].startswith(":x:")
    answer = slack.reply(await slack.command("/dri", "sett Payments"))
    assert "Did you mean" in answer["text"] and "/dri set" in answer["text"]
    assert slack.fake.posted() == []


async def test_an_unknown_slack_user_is_recorded_as_a_new_person(slack: SlackBot) -> None:
    sent = await slack.user.command("/whoami", "", "UZED")
    await slack.settle()
    assert "@uzed" in slack.fake.responses(sent.n)[0]["text"]


async def test_a_slow_command_says_it_is_working_then_replaces_that(slack: SlackBot) -> None:
    slack.adapter.working_after = 0.0
    sent = await slack.command("/dri", "list")
    working, final = slack.fake.responses(sent.n)
    assert working["text"] == "Working on it…" and working["replace_original"] is False
    assert final["replace_original"] is True and final["response_type"] == "ephemeral"


async def test_a_command_without_its_arguments_opens_a_modal_and_its_submission_runs(
    slack: SlackBot,
) -> None:
    sent = await slack.command("/review", "request")
    assert slack.fake.responses(sent.n) == [], "a modal, not an error"
    (opened,) = slack.fake.to("views.open")
    view = opened.args["view"]
    assert opened.args["trigger_id"] == f"{sent.n}.1.trigger{sent.n}"
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    assert list(inputs) == ["link", "title", "policy", "reviewer", "org"]
    assert inputs["reviewer"]["element"]["type"] == "users_select"
    assert inputs["policy"]["element"]["type"] == "static_select"
    assert (inputs["link"]["optional"], inputs["org"]["optional"]) == (False, True)
    assert await _count(slack, Review) == 0

    shown = slack.fake.to("views.open")[0].args["view"] | {"id": "V1"}
    await slack.submit(
        shown,
        {
            "link": "https://github.com/org/repo/pull/9",
            "title": "Modal review",
            "reviewer": "UDAVE",
        },
        as_="alice",
    )
    assert await _count(slack, Review) == 1
    (answer,) = slack.fake.to("chat.postEphemeral")
    assert answer.args["user"] == "UALICE" and answer.args["channel"] == SHARED
    assert "Review #1 requested" in answer.args["text"]
    card = slack.fake.posted(SHARED)[0]
    assert "Modal review" in json.dumps(card.args["blocks"])


async def test_a_bad_modal_submission_is_answered_privately(slack: SlackBot) -> None:
    await slack.command("/review", "request")
    view = slack.fake.to("views.open")[0].args["view"] | {"id": "V1"}
    await slack.submit(view, {"link": "not a link", "title": "x"}, as_="alice")
    (answer,) = slack.fake.to("chat.postEphemeral")
    assert "is not a link" in answer.args["text"]
    assert await _count(slack, Review) == 0


async def test_a_resent_request_has_one_effect(slack: SlackBot) -> None:
    body = slack.user.command_body(
        "/review", "request https://github.com/org/repo/pull/7 Once only", USERS["alice"], 99
    )
    assert await slack.user.post(body) == 200
    # Slack did not see the answer in time and sends the very same request again.
    assert await slack.user.post(body, retry=1) == 200
    assert await slack.user.post(body, retry=2) == 200
    await slack.settle()
    assert await _count(slack, Review) == 1
    assert await _count(slack, InboundRequest) == 1
    assert len(slack.fake.posted(SHARED)) == 1
    assert len(slack.fake.responses(99)) == 1


async def test_a_request_resent_while_the_first_still_runs_has_one_effect(
    slack: SlackBot,
) -> None:
    body = slack.user.command_body(
        "/review", "request https://github.com/org/repo/pull/8 Racing", USERS["alice"], 98
    )
    statuses = await asyncio.gather(*(slack.user.post(body, retry=n or None) for n in range(4)))
    assert statuses == [200] * 4
    await slack.settle()
    assert await _count(slack, Review) == 1
    assert len(slack.fake.posted(SHARED)) == 1
    assert len(slack.fake.responses(98)) == 1


async def test_request_keys_are_forgotten_a_day_later(slack: SlackBot, clock: FakeClock) -> None:
    # A command that changes something (a read-only one records no key: it can run twice).
    await slack.ok("/agenda", 'add "Forget me"')
    assert await slack.adapter.forget_old_requests() == 0
    clock.advance(timedelta(days=1, seconds=1))
    assert await slack.adapter.forget_old_requests() == 1
    assert await _count(slack, InboundRequest) == 0


async def test_a_forged_signature_or_an_old_timestamp_gets_401_and_writes_nothing(
    slack: SlackBot,
) -> None:
    before = [await _count(slack, m) for m in (Person, Area, OutboxItem, InboundRequest)]
    body = slack.user.command_body("/dri", "set Forged @bob", USERS["alice"], 1)
    assert await slack.user.post(body, signature="v0=" + "0" * 64) == 401
    old = int(time.time()) - 6 * 60
    assert await slack.user.post(body, timestamp=old) == 401
    tampered = body.replace("Forged", "Tampered")
    now = int(time.time())
    assert await slack.user.post(tampered, timestamp=now, signature=sign(body, now)) == 401
    await slack.settle()
    after = [await _count(slack, m) for m in (Person, Area, OutboxItem, InboundRequest)]
    assert after == before
    # Only the start-up checks (the token, channels and people) reached the Web API.
    assert {c.method for c in slack.fake.calls} <= {
        "auth.test",
        "conversations.info",
        "users.info",
    }, "nothing reached the Web API"


async def test_the_weekly_sync_groups_answer_through_slack(slack: SlackBot) -> None:
    # Groups added after the adapter was written reach Slack through the registry alone.
    assert "Weekly sync" in await slack.ok("/meeting", "next")
    said = await slack.ok("/agenda", 'add "Audit scope" minutes=15 owner=<@UCAROL|carol>')
    assert "Audit scope" in said
    assert "<@UCAROL>" in await slack.ok("/agenda", "list")
    said = await slack.ok("/action", "add <@UDAVE> 2030-01-10 Write the hand-off doc")
    assert "Write the hand-off doc" in said
    assert USERS["dave"] in [c.args["channel"] for c in slack.fake.posted()]
    assert "Write the hand-off doc" in await slack.ok("/action", "list open")
    assert "Recorded decision #1" in await slack.ok("/decision", "add We adopt the 16h SLA")
    assert "Leverage v2" in await slack.ok("/roadmap", "add set 2030Q1 Leverage v2")
    assert "in-progress" in await slack.ok("/roadmap", "update 1 status=in-progress")
    # A lead of set cannot edit ic's roadmap; the answer names who can.
    answer = slack.reply(await slack.command("/roadmap", "add ic 2030Q1 Other"))
    assert "Ask <@UCAROL>" in answer["text"] or "Ask @carol" in answer["text"]


async def test_the_digest_preview_answers_privately_and_dms_its_chart(
    slack: SlackBot, clock: FakeClock
) -> None:
    await slack.ok("/review", "request <https://github.com/org/repo/pull/7> Fix reviewer=<@UDAVE>")
    clock.advance(timedelta(hours=1))
    await slack.ok("/review", "approve 1", as_="dave")
    clock.advance(timedelta(hours=1))
    before = len(slack.fake.calls)
    text = await slack.ok("/digest", "preview", as_="carol")
    assert "Weekly digest" in text and "SLA compliance" in text
    # A response URL carries no file: the chart goes to carol's DM with the bot.
    calls = slack.fake.calls[before:]
    (note,) = [c for c in calls if c.method == "chat.postMessage"]
    assert note.args["channel"] == USERS["carol"]
    (completed,) = [c for c in calls if c.method == "files.completeUploadExternal"]
    assert completed.args["channel_id"] == "D" + USERS["carol"][1:]
