"""The intake: a bounded number of commands at once, people served in turn, "busy" past it."""

from __future__ import annotations

import asyncio

import pytest

from bot.intake import Intake, Lane, Limits

SQLITE = "sqlite+aiosqlite:///liaison.db"
POSTGRES = "postgresql+asyncpg://liaison@db/liaison"


def test_sqlite_runs_one_writer_and_a_few_readers() -> None:
    limits = Limits.for_database(SQLITE)
    assert (limits.writers, limits.readers) == (1, 4)


def test_postgresql_leaves_connections_for_delivery_and_the_sla_wake_up() -> None:
    limits = Limits.for_database(POSTGRES)
    assert limits.writers + limits.readers == 15 - 4
    assert Limits.for_database(POSTGRES, writers=2).writers == 2


async def _served(requests: list[str]) -> list[str]:
    """The order in which a one-at-a-time lane runs commands queued by these users, in order."""
    lane = Lane("write", 1, 100, 100)
    busy = lane.admit("someone")  # holds the one place while the others queue
    assert busy is not None
    served: list[str] = []

    async def record(user: str) -> None:
        served.append(user)

    runs = []
    for user in requests:
        ticket = lane.admit(user)
        assert ticket is not None
        runs.append(asyncio.ensure_future(ticket.run(record(user))))
    await asyncio.sleep(0)
    busy.release()
    await asyncio.gather(*runs)
    return served


async def test_people_are_served_in_turn_not_in_order_of_arrival() -> None:
    served = await _served(["ann"] * 4 + ["bo", "cy"])
    assert served == ["ann", "bo", "cy", "ann", "ann", "ann"]


async def test_past_the_waiting_room_or_ones_share_the_answer_is_busy_at_once() -> None:
    intake = Intake(Limits(writers=1, readers=1, waiting=2, per_user=2))
    assert intake.admit("ann", read_only=False) is not None  # runs
    assert intake.admit("ann", read_only=False) is not None  # waits
    assert intake.admit("ann", read_only=False) is None  # ann's share is used
    assert intake.admit("bo", read_only=False) is not None  # waits
    assert intake.admit("cy", read_only=False) is None  # the waiting room is full
    # Reads have their own places: a queue of writes does not make a read wait.
    assert intake.admit("cy", read_only=True) is not None
    assert intake.writers.refused == 2


async def test_a_place_is_given_back_when_its_command_fails_or_is_cancelled() -> None:
    lane = Lane("w", 1, 10, 10)
    first = lane.admit("ann")
    assert first is not None

    async def boom() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await first.run(boom())
    waiting = lane.admit("bo")
    assert waiting is not None and lane.running == 1
    cancelled = lane.admit("cy")
    assert cancelled is not None
    task = asyncio.ensure_future(cancelled.run(asyncio.sleep(0)))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert lane.waiting == 0
    waiting.release()
    assert (lane.running, lane.waiting) == (0, 0)


async def test_a_queue_longer_than_max_wait_at_the_recent_pace_is_busy() -> None:
    lane = Lane("read", 1, 100, 100, max_wait=1.0)
    for _ in range(100):
        lane.finished(0.4)  # commands have been taking 0.4 s each
    assert lane.admit("ann") is not None  # runs at once
    assert lane.admit("bo") is not None  # waits about 0.4 s
    assert lane.admit("cy") is not None  # about 0.8 s
    assert lane.admit("dee") is None  # about 1.2 s: better told now
