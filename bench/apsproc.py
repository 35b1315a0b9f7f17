"""For comparison: every deadline as its own APScheduler date job, in a process of its own.

Run by bench.deadlines as `python -m bench.apsproc STORE N FILE MODE`, where STORE is "memory"
or "sqlalchemy" (APScheduler's sync store on sqlite:///FILE) and MODE is "fresh" (add N jobs,
then start) or "restart" (start on a store already holding them). Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.jobstores.base import BaseJobStore
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bench.common import memory_kb

# The same spread as the seeded deadlines: from an hour from now, over three days.
FIRST = timedelta(hours=1)
SPREAD = timedelta(days=3)


async def noop() -> None:
    """A job that does nothing (none falls due while measured)."""


def _store(kind: str, path: str) -> BaseJobStore:
    if kind == "memory":
        return MemoryJobStore()
    return SQLAlchemyJobStore(url=f"sqlite:///{path}")


async def measure(kind: str, count: int, path: str, mode: str) -> dict[str, Any]:
    """Add `count` date jobs (mode "fresh") and start the scheduler; time both, read RSS."""
    scheduler = AsyncIOScheduler(timezone=UTC, jobstores={"default": _store(kind, path)})
    result: dict[str, Any] = {"count": count, "mode": mode}
    if mode == "fresh":
        base = datetime.now(UTC) + FIRST
        step = SPREAD / count
        start = time.perf_counter()
        for i in range(count):
            scheduler.add_job(
                "bench.apsproc:noop",
                "date",
                run_date=base + step * i,
                id=f"review-{i}",
                coalesce=True,
                misfire_grace_time=None,
            )
        result["add_s"] = time.perf_counter() - start
    start = time.perf_counter()
    # Jobs added before start() are only queued; start() puts them in the store.
    scheduler.start()
    # The first wake-up (due jobs, next run time) runs on the loop right after start().
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    result["start_s"] = time.perf_counter() - start
    result["memory_kb"] = memory_kb()
    scheduler.shutdown(wait=False)
    await asyncio.sleep(0)
    return result


def main() -> None:
    """Parse the arguments, measure, print the result as JSON."""
    kind, count, path, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    print(json.dumps(asyncio.run(measure(kind, count, path, mode))))


if __name__ == "__main__":
    main()
