"""The outbox and the delivery worker: nothing lost, nothing doubled, failures kept with reasons."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryError, DeliveryWorker, Destination, SendKey
from commands.core.clock import FakeClock
from commands.core.messages import Message, PersonRef
from storage import outbox
from storage.models import Channel, Delivery, OutboxItem
from tests.outbox import post_notification


@dataclass
class Platform:
    """A platform's receiving end: keeps a transcript, and fails on demand."""

    platform: str = "fake"
    pace: float = 0.0
    burst: int = 1
    received: list[tuple[str, str, str]] = field(default_factory=list)
    failures: list[DeliveryError] = field(default_factory=list)
    # Sends to these addresses hang until the event is set (a slow or stuck destination).
    stuck: dict[str, asyncio.Event] = field(default_factory=dict)
    keys: list[SendKey | None] = field(default_factory=list)

    def channel_address(self, channel: Channel) -> str | None:
        return f"C-{channel.name}" if channel.name != "nowhere" else None

    def person_address(self, person: PersonRef) -> str | None:
        return f"U-{person.handle}"

    async def send(
        self,
        to: Destination,
        message: Message,
        *,
        late: bool,
        thread: str | None = None,
        once: SendKey | None = None,
    ) -> str | None:
        if to.address in self.stuck:
            await self.stuck[to.address].wait()
        if self.failures:
            raise self.failures.pop(0)
        self.keys.append(once)
        ref = f"m{len(self.received) + 1}"
        self.received.append(
            ("send" + (":in:" + thread if thread else ""), to.address, message.title)
        )
        return ref

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        self.received.append(("edit:" + ref, to.address, message.title))
        return ref


async def _statuses(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, int]]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxItem.key, Delivery.status, Delivery.attempts)
            .join(Delivery)
            .order_by(OutboxItem.id)
        )
        return [(k, s.value, a) for k, s, a in rows.all()]


async def test_delivery_sends_each_notification_once_and_records_the_reference(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    worker = DeliveryWorker(sessions, clock, [fake])
    for n in range(3):
        await post_notification(sessions, clock, f"n{n}")
    assert await worker.drain() == 3
    assert await worker.drain() == 0
    assert fake.received == [
        ("send", "C-shared", "n0"),
        ("send", "C-shared", "n1"),
        ("send", "C-shared", "n2"),
    ]
    async with sessions() as session:
        refs = (await session.scalars(select(Delivery.ref).order_by(Delivery.id))).all()
    assert refs == ["m1", "m2", "m3"]


async def test_each_platform_gets_its_own_delivery(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = FakeClock()
    one, two = Platform("one"), Platform("two")
    two.failures.append(DeliveryError("down", retry_after=30))
    await post_notification(sessions, clock, "n", platforms=("one", "two"))
    worker = DeliveryWorker(sessions, clock, [one, two])
    await worker.drain()
    assert len(one.received) == 1 and two.received == []
    clock.advance(timedelta(seconds=31))
    await worker.drain()
    # The retry goes to the platform that failed only.
    assert len(one.received) == 1 and len(two.received) == 1


async def test_transient_failures_retry_with_backoff_until_delivered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    fake.failures += [DeliveryError("HTTP 500"), DeliveryError("timeout")]
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "n")
    await worker.drain()
    assert await _statuses(sessions) == [("n", "pending", 1)]
    clock.advance(timedelta(seconds=1))
    assert await worker.drain() == 0, "not due before the backoff"
    clock.advance(timedelta(seconds=1))
    await worker.drain()
    clock.advance(timedelta(seconds=4))
    await worker.drain()
    assert await _statuses(sessions) == [("n", "delivered", 3)]
    assert len(fake.received) == 1


async def test_a_permanent_failure_is_kept_with_its_reason(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    fake.failures.append(DeliveryError("channel_not_found", permanent=True))
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "n")
    await worker.drain()
    clock.advance(timedelta(days=1))
    assert await worker.drain() == 0
    async with sessions() as session:
        failed = await outbox.failures(session)
    assert [(o.key, d.error) for o, d in failed] == [("n", "channel_not_found")]


async def test_attempts_are_capped(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock, fake = FakeClock(), Platform()
    fake.failures += [DeliveryError("HTTP 503")] * 10
    worker = DeliveryWorker(sessions, clock, [fake], max_attempts=3)
    await post_notification(sessions, clock, "n")
    for _ in range(5):
        await worker.drain()
        clock.advance(timedelta(minutes=10))
    assert await _statuses(sessions) == [("n", "failed", 3)]


async def test_a_channel_without_an_id_on_the_platform_is_skipped_not_retried(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "n", channel="nowhere")
    await worker.drain()
    assert await _statuses(sessions) == [("n", "skipped", 1)]
    assert fake.received == []


async def test_a_crashed_sender_lease_lapses_and_the_delivery_is_sent_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    await post_notification(sessions, clock, "n")
    # A replica claims the row and dies before sending.
    claimed = await outbox.claim(sessions, "fake", clock.now())
    assert [c.key for c in claimed] == ["n"]
    worker = DeliveryWorker(sessions, clock, [fake])
    assert await worker.drain() == 0, "the lease is still held"
    clock.advance(timedelta(minutes=3))
    assert await worker.drain() == 1
    assert await worker.drain() == 0
    assert len(fake.received) == 1


async def test_an_edit_waits_for_its_original_then_edits_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    worker = DeliveryWorker(sessions, clock, [fake])
    fake.failures.append(DeliveryError("HTTP 500"))
    await post_notification(sessions, clock, "card")
    await post_notification(sessions, clock, "card:v2", edit_of="card")
    await worker.drain()
    assert fake.received == []
    clock.advance(timedelta(seconds=3))
    await worker.drain()
    assert fake.received == [("send", "C-shared", "card"), ("edit:m1", "C-shared", "card:v2")]


async def test_an_edit_of_a_message_that_never_arrived_is_posted_fresh(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    worker = DeliveryWorker(sessions, clock, [fake])
    fake.failures.append(DeliveryError("not_in_channel", permanent=True))
    await post_notification(sessions, clock, "card")
    await worker.drain()
    await post_notification(sessions, clock, "card:v2", edit_of="card")
    await worker.drain()
    assert fake.received == [("send", "C-shared", "card:v2")]


async def test_a_thread_reply_goes_under_its_message(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "card")
    await post_notification(sessions, clock, "card:line", thread_of="card")
    await worker.drain()
    assert fake.received == [("send", "C-shared", "card"), ("send:in:m1", "C-shared", "card:line")]


async def test_waiting_for_the_message_to_edit_uses_up_no_attempts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    fake.failures += [DeliveryError("HTTP 500"), DeliveryError("HTTP 500")]
    worker = DeliveryWorker(sessions, clock, [fake], max_attempts=3)
    await post_notification(sessions, clock, "card")
    await post_notification(sessions, clock, "card:v2", edit_of="card")
    for _ in range(10):  # the card is held back 6 s; the edit waits 1 s at a time
        await worker.drain()
        clock.advance(timedelta(seconds=1))
    assert fake.received == [("send", "C-shared", "card"), ("edit:m1", "C-shared", "card:v2")]


async def test_a_worker_woken_as_it_is_cancelled_still_stops(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # A command commits (waking the worker) and the process shuts down in the same instant: the
    # cancellation must not be lost, or closing the runtime waits for ever.
    worker = DeliveryWorker(sessions, FakeClock(), [Platform()], poll_interval=60)
    task = asyncio.create_task(worker.run_forever())
    await worker.drain()  # the first pass is over: the worker is waiting to be woken
    await asyncio.sleep(0.1)
    worker.wake()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert done == {task} and task.cancelled()


async def test_a_stuck_destination_does_not_hold_up_another(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    fake.stuck["C-other"] = asyncio.Event()
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "slow", channel="other")
    await post_notification(sessions, clock, "fast1")
    await post_notification(sessions, clock, "fast2")
    draining = asyncio.ensure_future(worker.drain())
    for _ in range(200):
        if len(fake.received) == 2:
            break
        await asyncio.sleep(0.01)
    assert fake.received == [("send", "C-shared", "fast1"), ("send", "C-shared", "fast2")]
    fake.stuck["C-other"].set()
    assert await draining == 3
    assert fake.received[-1] == ("send", "C-other", "slow")


async def test_a_failed_send_holds_back_what_follows_it_to_the_same_place(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    fake.failures.append(DeliveryError("HTTP 500"))
    worker = DeliveryWorker(sessions, clock, [fake])
    for key in ("due soon", "breached", "escalated"):
        await post_notification(sessions, clock, key)
    await worker.drain()
    assert fake.received == []
    clock.advance(timedelta(seconds=2))
    await worker.drain()
    assert [title for _, _, title in fake.received] == ["due soon", "breached", "escalated"]


async def test_an_edit_superseded_by_a_newer_one_is_skipped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "card")
    await post_notification(sessions, clock, "card:v2", edit_of="card")
    await post_notification(sessions, clock, "card:v3", edit_of="card")
    await worker.drain()
    assert fake.received == [("send", "C-shared", "card"), ("edit:m1", "C-shared", "card:v3")]
    assert (await _statuses(sessions))[1] == ("card:v2", "skipped", 1)


async def test_each_send_carries_the_notification_key_and_whether_to_look_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    fake.failures.append(DeliveryError("timeout", unsure=True))
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "n")
    await worker.drain()
    clock.advance(timedelta(seconds=2))
    await worker.drain()
    assert fake.keys == [SendKey("n", clock.now() - timedelta(seconds=2), unsure=True)]


async def test_stopping_hands_back_what_is_in_flight_and_leaves_nothing_sending(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock, fake = FakeClock(), Platform()
    fake.stuck["C-shared"] = asyncio.Event()
    worker = DeliveryWorker(sessions, clock, [fake])
    await post_notification(sessions, clock, "held")
    await post_notification(sessions, clock, "done", channel="other")
    draining = asyncio.ensure_future(worker.drain())
    for _ in range(200):
        if fake.received:
            break
        await asyncio.sleep(0.01)
    assert await worker.stop(grace=0.05) == 1
    await draining
    assert await _statuses(sessions) == [("held", "pending", 0), ("done", "delivered", 1)]
    # The next sender (another replica, or this one restarted) sends it at once, looking first.
    fake.stuck.clear()
    again = DeliveryWorker(sessions, clock, [fake])
    assert await again.drain() == 1
    assert fake.keys[-1] is not None and fake.keys[-1].unsure
