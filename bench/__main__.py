"""Command and delivery figures on SQLite (and PostgreSQL when a server URL is set).

Run with `make bench`. PostgreSQL is measured when LIAISON_BENCH_DATABASE_URL (or
LIAISON_TEST_DATABASE_URL) names a server; a scratch database is created and dropped there.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot import db
from bot.config import DatabaseSettings, load_settings
from bot.delivery import Destination
from bot.runtime import open_runtime
from commands.dispatch import Caller
from commands.messages import Message, PersonRef
from storage import scratch
from storage.models import Channel

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.toml"
AREAS = 500
ALICE = Caller("console", "alice", "alice")


class NullPlatform:
    """A platform that accepts every message at once, so delivery cost is ours alone."""

    platform = "bench"

    def channel_address(self, channel: Channel) -> str | None:
        return channel.name

    def person_address(self, person: PersonRef) -> str | None:
        return person.handle

    async def send(
        self, to: Destination, message: Message, *, late: bool, thread: str | None = None
    ) -> str | None:
        return "ref"

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        return ref


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {p(0.50):6.2f} ms  p95 {p(0.95):6.2f} ms  p99 {p(0.99):6.2f} ms"


async def _timed(run: Callable[[], Awaitable[bool]]) -> float:
    start = time.perf_counter()
    if not await run():
        raise SystemExit("a benchmarked command failed")
    return time.perf_counter() - start


async def measure(url: str) -> list[tuple[str, str]]:
    """Run every figure against a migrated database at `url`."""
    await db.upgrade(url)
    settings = load_settings(str(DEMO)).model_copy(update={"database": DatabaseSettings(url=url)})
    runtime = await open_runtime(settings, platforms=["bench"])
    platform = NullPlatform()
    runtime.worker.senders.append(platform)
    run = runtime.dispatcher.run_text
    rows: list[tuple[str, str]] = []
    try:

        async def ok(line: str) -> bool:
            return (await run(line, ALICE)).ok

        writes = [await _timed(lambda i=i: ok(f'/dri set "Area {i}" @bob')) for i in range(AREAS)]
        rows.append((f"/dri set, new area ({AREAS}x, with outbox row)", _percentiles(writes)))
        reads = [await _timed(lambda i=i: ok(f'/dri who "Area {i}"')) for i in range(AREAS)]
        rows.append((f"/dri who ({AREAS}x)", _percentiles(reads)))
        boards = [await _timed(lambda: ok("/handoff board")) for _ in range(20)]
        rows.append((f"/handoff board with {AREAS} areas (20x)", _percentiles(boards)))
        start = time.perf_counter()
        sent = await runtime.worker.drain()
        elapsed = time.perf_counter() - start
        rows.append(
            (
                f"delivery of {sent} queued notifications",
                f"{elapsed:.2f} s  ({sent / elapsed:,.0f}/s)",
            )
        )
    finally:
        await runtime.close()
    return rows


async def main() -> None:
    """Measure each available back end and print one table."""
    results: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for figure, value in await measure(f"sqlite+aiosqlite:///{tmp}/bench.db"):
            results.append(("sqlite", figure, value))
    server = os.environ.get("LIAISON_BENCH_DATABASE_URL") or os.environ.get(
        "LIAISON_TEST_DATABASE_URL"
    )
    if server:
        name = await scratch.create(server, "liaison_bench")
        try:
            for figure, value in await measure(scratch.with_database(server, name)):
                results.append(("postgresql", figure, value))
        finally:
            await scratch.drop(server, name)
    else:
        print("(PostgreSQL skipped: set LIAISON_BENCH_DATABASE_URL to measure it)", file=sys.stderr)
    width = max(len(f) for _, f, _ in results)
    print(f"{'db':<11} {'figure':<{width}}  value")
    for backend, figure, value in results:
        print(f"{backend:<11} {figure:<{width}}  {value}")


if __name__ == "__main__":
    asyncio.run(main())
