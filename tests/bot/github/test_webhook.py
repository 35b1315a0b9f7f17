"""GitHub's webhook, end to end: signed deliveries of real payloads to the running HTTP server."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy import func, select

from bot import github
from bot.config import Settings
from bot.github import GitHubReceiver
from bot.github.webhook import DELIVERY, DELIVERY_KEY
from bot.runtime import open_runtime
from bot.slack.blocks import posts
from commands.core.clock import FakeClock
from commands.core.messages import Message
from storage.models import InboundRequest, OutboxItem, Review, ReviewEvent
from tests.bot.github.conftest import Hub, github_settings, open_hub, payload, post, sign


async def _count(hub: Hub, model: type) -> int:
    async with hub.chat.runtime.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _texts(notifications: list[tuple[str, str]], where: str) -> list[str]:
    """What went to one place, with link targets left out (the console shows "text <url>")."""
    return [_LINK.sub("", text) for to, text in notifications if to == where]


_LINK = re.compile(r" <https?://[^>]+>")


async def test_a_pull_request_from_label_to_merge_moves_its_review_by_webhooks_alone(
    hub: Hub,
) -> None:
    opened = await hub.ok("pull_request.labeled")
    assert opened.text == "#1 opened"
    card = _texts(opened.notifications, "#shared")[0]
    assert "Oracle price guard" in card and "@alice" in card
    assert "waiting for acknowledgement" in card

    acked = await hub.ok("pull_request_review_comment.created")
    assert _texts(acked.notifications, "#shared (thread)") == [
        "@dave acknowledged (review comment on GitHub)."
    ]
    changes = await hub.ok("pull_request_review.submitted.changes_requested")
    thread = _texts(changes.notifications, "#shared (thread)")[0]
    assert thread.startswith("@dave requested changes: Please bound the staleness window")
    assert thread.endswith("(review on GitHub).")
    assert (
        "changes requested (clock paused)" in _texts(changes.notifications, "#shared (updated)")[0]
    )

    pushed = await hub.ok("pull_request.synchronize")
    assert _texts(pushed.notifications, "#shared (thread)") == [
        "@alice pushed new commits; the clock runs again (new commits on GitHub)."
    ]
    approved = await hub.ok("pull_request_review.submitted.approved")
    assert _texts(approved.notifications, "#shared (thread)") == [
        "@dave approved (review on GitHub)."
    ]
    merged = await hub.ok("pull_request.closed.merged")
    assert _texts(merged.notifications, "#shared (thread)") == [
        "@alice merged the pull request (merged on GitHub)."
    ]
    # The same close sent again under a new delivery id (a second hook) notes nothing twice.
    again = await hub.deliver("pull_request.closed.merged")
    assert (again.status, again.notifications) == (202, [])
    show = await hub.chat.ok("/review show 1")
    assert (
        "(review on GitHub <https://github.com/SetProtocol/contracts/pull/412#pullrequestreview-"
        in show.reply
    )
    timeline = _LINK.sub("", show.reply)
    for step in (
        "@alice requested (label needs-ic-review on GitHub)",
        "@dave acknowledged (review comment on GitHub)",
        "@dave requested changes",
        "@alice pushed changes (new commits on GitHub)",
        "@dave approved (review on GitHub)",
        "@alice merged the pull request (merged on GitHub)",
    ):
        assert step in timeline, timeline


async def test_a_review_asked_of_a_person_makes_them_reviewer_and_removing_it_cancels(
    hub: Hub,
) -> None:
    opened = await hub.ok("pull_request.review_requested")
    assert opened.text == "#1 opened"
    assert "Reviewer: @dave" in _texts(opened.notifications, "#shared")[0]
    assert _texts(opened.notifications, "@dave")[0].startswith("Review #1 is yours")
    removed = await hub.ok("pull_request.review_request_removed")
    assert _texts(removed.notifications, "#shared (thread)") == [
        "@alice cancelled the request: review request for dave-ic removed "
        "(review request on GitHub)."
    ]


async def test_removing_the_label_cancels_and_adding_it_again_reopens(hub: Hub) -> None:
    await hub.ok("pull_request.labeled")
    removed = await hub.ok("pull_request.unlabeled")
    assert _texts(removed.notifications, "#shared (thread)") == [
        "@alice cancelled the request: label needs-ic-review removed (label on GitHub)."
    ]
    again = await hub.ok("pull_request.labeled")
    assert again.text == "#1 reopened"
    assert "cycle 2" in _texts(again.notifications, "#shared (updated)")[0]


async def test_a_draft_pauses_every_clock_and_ready_for_review_resumes(hub: Hub) -> None:
    await hub.ok("pull_request.labeled")
    await hub.ok("pull_request_review.submitted.commented")
    paused = await hub.ok("pull_request.converted_to_draft")
    assert "on hold (clocks paused)" in _texts(paused.notifications, "#shared (updated)")[0]
    ready = await hub.ok("pull_request.ready_for_review")
    assert _texts(ready.notifications, "#shared (thread)") == [
        "@alice resumed the review: ready for review (ready on GitHub)."
    ]
    assert "State: acknowledged" in (await hub.chat.ok("/review show 1")).reply


async def test_closing_without_merging_cancels_with_the_reason(hub: Hub) -> None:
    await hub.ok("pull_request.labeled")
    closed = await hub.ok("pull_request.closed.unmerged")
    assert _texts(closed.notifications, "#shared (thread)") == [
        "@alice cancelled the request: the pull request was closed (closed on GitHub)."
    ]


async def test_a_review_by_someone_outside_the_reviewing_org_changes_nothing(hub: Hub) -> None:
    await hub.ok("pull_request.labeled")
    answer = await hub.deliver(
        "pull_request_review.submitted.approved",
        review__user=payload("pull_request.labeled")["sender"],
    )
    assert (answer.status, answer.notifications) == (202, [])
    assert "does not review for the org" in answer.text


async def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_written(hub: Hub) -> None:
    body = json.dumps(payload("pull_request.labeled")).encode()
    bad = await post(hub.url, "pull_request", body, signature=sign(body, "not-the-secret"))
    missing = await post(hub.url, "pull_request", body, signature=None)
    assert (bad[0], missing[0]) == (401, 401)
    assert await _count(hub, Review) == 0
    assert await _count(hub, InboundRequest) == 0


async def test_a_redelivery_has_no_second_effect(hub: Hub) -> None:
    first = await hub.deliver("pull_request.labeled", delivery="d-1")
    again = await hub.deliver("pull_request.labeled", delivery="d-1")
    assert (first.status, again.status, again.text) == (200, 200, "already applied")
    assert again.notifications == []
    assert await _count(hub, ReviewEvent) == 1


async def test_unmatched_repositories_and_unknown_events_are_answered_and_ignored(
    hub: Hub,
) -> None:
    other = payload("pull_request.labeled")["pull_request"]["base"]["repo"]
    other = {**other, "full_name": "IndexCoop/index-coop-smart-contracts"}
    unmatched = await hub.deliver("pull_request.labeled", pull_request__base__repo=other)
    assert (unmatched.status, unmatched.text) == (
        202,
        "ignored: no rule matches IndexCoop/index-coop-smart-contracts#412",
    )
    unknown = await hub.deliver("issues.opened")
    assert (unknown.status, unknown.text) == (202, "ignored: Liaison does not act on 'issues'")
    pong = await hub.deliver("ping")
    assert (pong.status, pong.text) == (200, "pong")
    assert await _count(hub, Review) == 0
    assert await _count(hub, InboundRequest) == 0


async def test_a_malformed_or_oversized_body_is_a_bad_request(hub: Hub) -> None:
    malformed = await post(hub.url, "pull_request", b'{"action": "labeled",')
    assert malformed[0] == 400
    not_an_object = await post(hub.url, "pull_request", b"[1, 2]")
    assert not_an_object[0] == 400
    assert await _oversized(hub.url) == 400
    assert await _count(hub, InboundRequest) == 0


async def _oversized(url: str) -> int:
    """Announce a body over 25 MB, send its first bytes, and read the status the bot answers."""
    host, port = url.split("/")[2].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    size = 25 * 1024 * 1024 + 1
    writer.write(
        f"POST /github/webhook HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: big\r\n"
        f"X-Hub-Signature-256: sha256=00\r\nContent-Length: {size}\r\n\r\n".encode()
        + b'{"pad": "'
    )
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def test_two_replicas_given_one_delivery_at_once_apply_it_once(
    settings: Settings, clock: FakeClock
) -> None:
    configured = github_settings(settings)
    one, two = await open_hub(configured, clock), await open_hub(configured, clock)
    try:
        body = json.dumps(payload("pull_request.labeled")).encode()
        answers = await asyncio.gather(
            post(one.url, "pull_request", body, delivery="same"),
            post(two.url, "pull_request", body, delivery="same"),
        )
        assert sorted(answers) == [(200, "#1 opened"), (200, "already applied")]
        assert await _count(one, Review) == 1
        assert await _count(one, ReviewEvent) == 1
    finally:
        await one.chat.runtime.close()
        await two.chat.runtime.close()


async def test_a_delivery_recorded_by_a_process_that_died_is_applied_once_after_a_restart(
    settings: Settings, clock: FakeClock
) -> None:
    configured = github_settings(settings)
    # What a receiver leaves when it dies between recording a delivery and applying it.
    first = await open_hub(configured, clock)
    recorded = {
        "event": "pull_request",
        "delivery_id": "d-9",
        "data": payload("pull_request.labeled"),
    }
    assert await first.chat.runtime.inbox.accept(f"{DELIVERY_KEY}d-9", DELIVERY, recorded)
    await first.chat.runtime.close()
    clock.advance(timedelta(minutes=1))
    second = await open_hub(configured, clock)
    try:
        assert await second.chat.runtime.inbox.resume() == 1
        await second.chat.runtime.worker.drain()
        assert any(text.startswith("Review #1") for _, text in second.chat.delivered())
        again = await second.deliver("pull_request.labeled", delivery="d-9")
        assert (again.status, again.text, again.notifications) == (200, "already applied", [])
        clock.advance(timedelta(minutes=1))
        assert await second.chat.runtime.inbox.resume() == 0
        assert await _count(second, Review) == 1
        assert await _count(second, ReviewEvent) == 1
    finally:
        await second.chat.runtime.close()


async def test_what_github_users_wrote_is_text_that_pings_nobody(hub: Hub) -> None:
    title = "Fix <!everyone> @here <@U0ADMIN> & <!subteam^S1>"
    await hub.ok("pull_request.labeled", pull_request__title=title)
    await hub.ok("pull_request_review.submitted.changes_requested")
    async with hub.chat.runtime.sessions() as session:
        items = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id))).all()
    shown = []
    for item in items:
        spans = [s for ln in item.payload.get("lines", []) for s in ln]
        # GitHub's words only ever travel as text or a link's label, never as a mention.
        assert all(s["t"] != "mention" or s["person"]["handle"] in LOGIN_HANDLES for s in spans)
        for shown_post in posts(Message.from_dict(item.payload)):
            shown.append(shown_post.text + json.dumps(shown_post.blocks))
    rendered = "\n".join(shown)
    assert "&lt;!everyone&gt;" in rendered and "&lt;@U0ADMIN&gt;" in rendered
    assert "<!everyone>" not in rendered and "<!channel>" not in rendered


LOGIN_HANDLES = {"alice", "bob", "carol", "dave"}


async def test_a_reviewer_github_names_but_liaison_does_not_know_is_named_in_the_thread(
    hub: Hub,
) -> None:
    zed = {**payload("pull_request.labeled")["sender"], "login": "Zed-Auditor"}
    opened = await hub.ok(
        "pull_request.review_requested",
        pull_request__requested_reviewers=[zed],
        pull_request__labels=payload("pull_request.labeled")["pull_request"]["labels"],
        requested_reviewer=zed,
    )
    assert "Reviewer: unassigned" in _texts(opened.notifications, "#shared")[0]
    assert _texts(opened.notifications, "#shared (thread)") == [
        "GitHub asked `zed-auditor` to review (no one in Index Coop has that login)."
    ]


async def test_delivery_ids_are_forgotten_only_after_github_stops_redelivering(
    hub: Hub, clock: FakeClock
) -> None:
    await hub.deliver("pull_request.labeled", delivery="old")
    receiver = GitHubReceiver(hub.chat.runtime)
    clock.advance(timedelta(days=3))
    assert await receiver.forget_old_deliveries() == 0
    clock.advance(timedelta(days=5))
    assert await receiver.forget_old_deliveries() == 1


async def test_start_serves_the_webhook_and_arms_reconciliation(
    settings: Settings, clock: FakeClock
) -> None:
    configured = github_settings(
        settings, token=SecretStr("ghp-x"), api_base_url="http://127.0.0.1:9"
    )
    runtime = await open_runtime(configured, platforms=["console"], clock=clock)
    try:
        receiver = await github.start(runtime)
        assert receiver is not None and runtime.http is not None and runtime.http.port
        assert runtime.on_github is not None
        assert runtime.jobs.next_due() is not None
    finally:
        await runtime.close()
