"""Command and delivery figures: /dri set, /dri who, /handoff board, and draining the outbox."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import partial

from bench.common import ALICE, NullPlatform, Row, database, percentiles_ms
from bot import db
from bot.runtime import open_runtime
from tests.harness import demo_settings

AREAS = 500


async def _timed(run: Callable[[], Awaitable[bool]]) -> float:
    start = time.perf_counter()
    if not await run():
        raise SystemExit("a benchmarked command failed")
    return time.perf_counter() - start


async def measure(url: str) -> list[tuple[str, str]]:
    """Run every command figure against a fresh database at `url`."""
    await db.upgrade(url)
    runtime = await open_runtime(demo_settings(url), platforms=[NullPlatform.platform])
    runtime.worker.senders.append(NullPlatform())
    run = runtime.dispatcher.run_text
    rows: list[tuple[str, str]] = []
    try:

        async def ok(line: str) -> bool:
            return (await run(line, ALICE)).ok

        writes = [await _timed(partial(ok, f'/dri set "Area {i}" @bob')) for i in range(AREAS)]
        rows.append((f"/dri set, new area ({AREAS}x, with outbox row)", percentiles_ms(writes)))
        reads = [await _timed(partial(ok, f'/dri who "Area {i}"')) for i in range(AREAS)]
        rows.append((f"/dri who ({AREAS}x)", percentiles_ms(reads)))
        boards = [await _timed(partial(ok, "/handoff board")) for _ in range(20)]
        rows.append((f"/handoff board with {AREAS} areas (20x)", percentiles_ms(boards)))
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


async def run(backend: str) -> list[Row]:
    """The command figures on one back end, as table rows (no targets)."""
    async with database(backend, "commands") as url:
        return [Row(backend, figure, "-", value) for figure, value in await measure(url)]
