"""Delivering to Slack: rate limits, server errors and timeouts end in one message each;
permanent errors are kept with their reason; long messages, DMs, edits and pictures."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.delivery import DeliveryWorker, Destination, SendKey
from bot.slack.sender import SlackSender, Throttle
from commands.core.clock import FakeClock, SystemClock
from commands.core.messages import Field, Image, Message, PersonRef, line
from storage import outbox
from storage.models import Delivery, DeliveryStatus, OutboxItem
from tests.bot.slack.conftest import SHARED, USERS, SlackBot
from tests.bot.test_cli import demo_config, invoke
from tests.harness import succeeded


async def _deliveries(slack: SlackBot) -> list[tuple[str, DeliveryStatus, str | None]]:
    async with slack.runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxItem.key, Delivery.status, Delivery.error)
            .join(Delivery)
            .order_by(OutboxItem.id)
        )
        return [(k, s, e) for k, s, e in rows.all()]


async def _catch_up(slack: SlackBot, clock: FakeClock, rounds: int = 12) -> None:
    """Let retry time pass, delivering what falls due each time."""
    for _ in range(rounds):
        clock.advance(timedelta(seconds=30))
        await slack.runtime.worker.drain()


async def test_rate_limits_server_errors_and_timeouts_end_with_each_message_posted_once(
    slack: SlackBot, clock: FakeClock
) -> None:
    fake = slack.fake
    fake.fail("chat.postMessage", "429")
    fake.fail("chat.postMessage", "500")
    fake.fail("chat.postMessage", "timeout")
    fake.fail("chat.update", "429")
    fake.fail("chat.update", "500")
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    await slack.ok("/review", "request https://github.com/org/repo/pull/7 Fix it reviewer=@dave")
    # The 429 asked for 3 seconds: that delivery waits exactly that long, and no attempt was
    # repeated behind the outbox's back (one failed call for each failure asked for).
    async with slack.runtime.sessions() as session:
        waits = (
            await session.scalars(
                select(Delivery.next_attempt_at).where(Delivery.error.like("%retry after 3s%"))
            )
        ).all()
    assert waits == [clock.now() + timedelta(seconds=3)]
    await _catch_up(slack, clock)
    ts = next(ts for (ch, ts), m in fake.messages.items() if "Review #1" in m["text"])
    await slack.press("review:ack:1", as_="dave", ts=ts)
    await _catch_up(slack, clock)

    outcomes = sorted(
        c.outcome for c in fake.calls if c.method.startswith("chat.") and c.outcome != "ok"
    )
    assert outcomes == ["429", "429", "500", "500", "timeout"]
    deliveries = await _deliveries(slack)
    assert {status for _, status, _ in deliveries} == {DeliveryStatus.DELIVERED}
    # Every notification reached Slack exactly once: one post (or edit) per outbox row.
    texts = [c.args["text"] for c in fake.posted()]
    assert len(texts) == len(set(texts)) == len(deliveries) - len(fake.to("chat.update"))
    assert len(fake.to("chat.update")) == 1


async def test_a_permanent_error_is_kept_failed_with_its_reason_and_not_retried(
    slack: SlackBot, clock: FakeClock, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    slack.fake.fail("chat.postMessage", "channel_not_found", channel=SHARED)
    with caplog.at_level(logging.ERROR, logger="bot.slack"):
        await slack.ok("/dri", 'set "Smart contract review" @bob')
    ((key, status, error),) = await _deliveries(slack)
    assert status is DeliveryStatus.FAILED
    assert error is not None and "channel_not_found" in error and "#shared" in error
    assert "check the channel's slack id in [[channels]]" in error
    assert any("#shared" in r.getMessage() for r in caplog.records)
    await _catch_up(slack, clock, rounds=3)
    assert len(slack.fake.to("chat.postMessage", outcome=None)) == 1

    config = demo_config(tmp_path / "liaison.toml", slack.runtime.settings.database.url)
    out = succeeded(await asyncio.to_thread(invoke, config, "outbox", "failed"))
    assert (
        f"{key} -> slack #shared: chat.postMessage to #shared (CSHARED): channel_not_found" in out
    )


async def test_not_in_channel_names_the_fix(slack: SlackBot) -> None:
    slack.fake.fail("chat.postMessage", "not_in_channel")
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    ((_, status, error),) = await _deliveries(slack)
    assert status is DeliveryStatus.FAILED and error is not None
    assert "not_in_channel" in error and "/invite @Liaison" in error


def _shared() -> Destination:
    return Destination("shared", None, SHARED)


async def test_a_long_message_is_split_into_posts_and_the_first_is_its_reference(
    slack: SlackBot,
) -> None:
    lines = tuple(line(f"{n:03d} " + "word " * 60) for n in range(40))
    fields = tuple(Field(f"f{n}", line("v")) for n in range(500))
    message = Message(title="Big", lines=lines, fields=fields, footer="end")
    ref = await slack.adapter.send(_shared(), message, late=False)
    posts = slack.fake.posted(SHARED)
    assert len(posts) >= 2
    assert all(len(p.args["blocks"]) <= 50 for p in posts)
    sections = [b["text"]["text"] for p in posts for b in p.args["blocks"] if "text" in b]
    assert all(len(t) <= 3000 for t in sections)
    body = "\n".join(sections[1:])
    assert all(f"{n:03d} " in body for n in range(40)), "no line is lost"
    first = next(iter(slack.fake.messages))
    assert ref == f"{first[0]}:{first[1]}"
    assert posts[-1].args["blocks"][-1]["type"] == "context", "the footer ends the last post"


async def test_a_direct_message_goes_to_the_im_and_is_edited_there(slack: SlackBot) -> None:
    alice = PersonRef(1, "alice", "Alice", (("slack", USERS["alice"]),))
    to = Destination(None, alice, slack.adapter.person_address(alice) or "")
    ref = await slack.adapter.send(to, Message(title="Hi"), late=True)
    assert ref is not None and ref.startswith("DALICE:")
    (post,) = slack.fake.posted()
    assert post.args["channel"] == "UALICE"
    assert "Sent late" in post.args["blocks"][-1]["elements"][0]["text"]
    await slack.adapter.edit(ref, to, Message(title="Hi again"))
    (update,) = slack.fake.to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == tuple(ref.split(":"))


async def test_a_picture_is_uploaded_with_the_files_api_into_the_channel(slack: SlackBot) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    message = Message(title="Weekly digest", image=Image("sla.png", png, "SLA chart"))
    await slack.adapter.send(_shared(), message, late=False)
    (asked,) = slack.fake.to("files.getUploadURLExternal")
    assert asked.args["filename"] == "sla.png" and int(asked.args["length"]) == len(png)
    (uploaded,) = slack.fake.to("upload")
    assert uploaded.args["bytes"] == len(png)
    assert slack.fake.uploads[uploaded.args["file_id"]] == png
    (completed,) = slack.fake.to("files.completeUploadExternal")
    assert completed.args["channel_id"] == SHARED
    assert completed.args["files"][0]["id"] == uploaded.args["file_id"]


async def test_the_throttle_spaces_posts_in_one_channel_a_second_apart() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    throttle = Throttle(1.0, monotonic=lambda: now[0], sleep=sleep)
    await throttle.wait("C1")
    await throttle.wait("C2")
    await throttle.wait("C1")
    now[0] += 0.25
    await throttle.wait("C1")
    await throttle.wait("C2")
    assert waits == [1.0, 0.75]


async def test_a_post_whose_answer_was_lost_is_found_by_its_key_and_not_posted_again(
    slack: SlackBot, clock: FakeClock
) -> None:
    slack.fake.fail("chat.postMessage", "lost")
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    ((_, status, _),) = await _deliveries(slack)
    assert status is DeliveryStatus.PENDING, "the answer never came"
    await _catch_up(slack, clock, rounds=1)
    ((channel, ts),) = slack.fake.messages
    metadata = slack.fake.messages[(channel, ts)]["metadata"]
    assert metadata["event_type"] == "liaison_delivery"
    (look,) = slack.fake.to("conversations.history")
    assert look.args["channel"] == SHARED and look.args["include_all_metadata"] in ("1", "true")
    async with slack.runtime.sessions() as session:
        delivered = (await session.execute(select(Delivery.status, Delivery.ref))).one()
    assert delivered == (DeliveryStatus.DELIVERED, f"{channel}:{ts}")


async def test_a_repeated_send_finds_its_parts_in_a_dm_a_thread_and_a_split_message(
    slack: SlackBot, clock: FakeClock
) -> None:
    adapter, since = slack.adapter, clock.now()
    alice = PersonRef(1, "alice", "Alice", (("slack", USERS["alice"]),))
    dm = Destination(None, alice, USERS["alice"])
    card = await adapter.send(_shared(), Message(title="Card"), late=False)
    lines = tuple(line(f"{n:03d} " + "word " * 60) for n in range(40))
    cases: list[tuple[Destination, Message, str | None]] = [
        (dm, Message(title="Hi"), None),
        (_shared(), Message(title="Reply"), card),
        (_shared(), Message(title="Big", lines=lines), None),
    ]
    # The repeat comes from a sender that knows nothing yet, as after a restart.
    restarted = SlackSender(adapter.client, Throttle(0.0))
    for n, (to, message, thread) in enumerate(cases):
        key = SendKey(f"k{n}", since)
        first = await adapter.send(to, message, late=False, thread=thread, once=key)
        posted = len(slack.fake.posted())
        again = await restarted.send(
            to, message, late=False, thread=thread, once=SendKey(key.key, since, unsure=True)
        )
        assert again == first and len(slack.fake.posted()) == posted, message.title
    looks = ("conversations.open", "conversations.history", "conversations.replies")
    assert [c.method for c in slack.fake.calls if c.method in looks] == [
        "conversations.open",
        "conversations.history",
        "conversations.replies",
        "conversations.history",
    ]


async def test_two_replicas_posting_to_one_channel_stay_within_its_limit(
    slack: SlackBot,
) -> None:
    # Two processes' workers on one database, each with its own client-side throttle: only the
    # pace kept in the database can hold them to the channel's limit together.
    fake, pace = slack.fake, 0.2
    fake.pace, fake.burst = pace, 1
    replicas = [
        DeliveryWorker(
            slack.runtime.sessions,
            SystemClock(),
            [SlackSender(slack.adapter.client, Throttle(pace))],
        )
        for _ in range(2)
    ]
    async with slack.runtime.sessions.begin() as session:
        for n in range(8):
            await outbox.enqueue(
                session,
                key=f"n{n}",
                payload=Message(title=f"n{n}").to_dict(),
                platforms=["slack"],
                now=SystemClock().now(),
                channel="shared",
            )
    running = [asyncio.ensure_future(r.run_forever()) for r in replicas]
    for _ in range(300):
        if len(fake.posted(SHARED)) == 8:
            break
        await asyncio.sleep(0.05)
    for replica in replicas:
        await replica.stop()
    await asyncio.gather(*running)
    posts = fake.posted(SHARED)
    assert [p.args["text"] for p in posts] == [f"n{n}" for n in range(8)]
    assert not fake.to("chat.postMessage", outcome="limited"), "no 429 from the channel's limit"
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= pace * 0.8, gaps


async def test_a_post_of_unknown_outcome_is_not_given_up_while_it_cannot_be_looked_for(
    slack: SlackBot, clock: FakeClock
) -> None:
    slack.fake.fail("chat.postMessage", "lost")
    slack.fake.fail("conversations.history", "html503", times=10)
    await slack.ok("/dri", 'set "Smart contract review" @bob')
    await _catch_up(slack, clock, rounds=12)
    ((_, status, _),) = await _deliveries(slack)
    assert status is DeliveryStatus.DELIVERED
    assert len(slack.fake.to("conversations.history", outcome=None)) == 11
    assert len(slack.fake.messages) == 1
