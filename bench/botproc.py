"""The bot process of the deadline benchmark: start and arm, idle wake-ups, then live breaches.

Run by bench.deadlines as `python -m bench.botproc JSON` on a database it has seeded; prints one
JSON line of measurements. It imports what `liaison run` imports, so start-up time and memory
are a real bot's; the clock is the system clock and the real APScheduler fires the wake-ups.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    JobEvent,
)
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session

import bot.cli  # noqa: F401  (the entry point of `liaison run`: its imports belong to a real start)
from bench.common import NullPlatform, memory_kb
from bot.runtime import open_runtime
from storage.models import OutboxItem, ReviewEvent
from tests.harness import demo_settings

_NAMES = {
    EVENT_JOB_EXECUTED: "executed",
    EVENT_JOB_ERROR: "error",
    EVENT_JOB_MISSED: "missed",
    EVENT_JOB_MAX_INSTANCES: "skipped (max instances)",
}


class Observer:
    """Notes the wall-clock instant each SLA breach event's transaction commits."""

    def __init__(self) -> None:
        self.commits: dict[int, list[tuple[datetime, datetime]]] = {}

    def install(self) -> None:
        """Listen to every ORM session in this process."""
        event.listen(Session, "do_orm_execute", self._executed)
        event.listen(Session, "after_commit", self._committed)
        event.listen(Session, "after_soft_rollback", self._rolled_back)

    def _executed(self, state: ORMExecuteState) -> None:
        # Fired stages are written as one bulk INSERT of review events per batch.
        if not state.is_insert or state.bind_mapper is not inspect(ReviewEvent):
            return
        params: Any = state.parameters
        rows: list[dict[str, Any]] = params if isinstance(params, list) else [params or {}]
        for row in rows:
            if row.get("kind") == "sla" and row["data"]["stage"] == "breach":
                state.session.info.setdefault("bench_breaches", []).append(
                    (row["review_id"], row["at"])
                )

    def _committed(self, session: Session) -> None:
        found = session.info.pop("bench_breaches", None)
        if found:
            at = datetime.now(UTC)
            for review_id, due in found:
                self.commits.setdefault(review_id, []).append((due, at))

    def _rolled_back(self, session: Session, _previous: Any) -> None:
        session.info.pop("bench_breaches", None)


async def run(args: dict[str, Any]) -> dict[str, Any]:
    """Start the bot on the seeded database and measure it; see the module docstring."""
    entered = time.time()
    launched: float = args["launched"]
    due: dict[int, datetime] = {int(k): datetime.fromisoformat(v) for k, v in args["due"].items()}
    observer = Observer()
    observer.install()
    out: dict[str, Any] = {"imports_s": entered - launched}

    opened = time.perf_counter()
    runtime = await open_runtime(demo_settings(args["url"]), platforms=[NullPlatform.platform])
    runtime.worker.senders.append(NullPlatform())
    jobs: Counter[str] = Counter()

    def on_job(ev: JobEvent) -> None:
        jobs[f"{ev.job_id} {_NAMES.get(ev.code, ev.code)}"] += 1

    runtime.deadlines.scheduler.add_listener(on_job, sum(_NAMES))
    try:
        await runtime.start()
        if runtime.deadlines.armed_for is None:
            raise SystemExit("the deadlines were not armed")
        out["launch_to_armed_s"] = time.time() - launched
        out["open_to_armed_s"] = time.perf_counter() - opened
        out["armed_for"] = runtime.deadlines.armed_for.isoformat()
        out["memory_armed_kb"] = memory_kb()

        first = min(due.values())
        ticks: list[float] = []
        fired = 0
        for _ in range(args["ticks"]):
            if datetime.now(UTC) > first - timedelta(seconds=2):
                break  # never let the idle figure run into the live breaches
            start = time.perf_counter()
            fired += await runtime.deadlines.tick()
            ticks.append(time.perf_counter() - start)
        out["idle_ticks_s"] = ticks
        out["idle_fired"] = fired

        # Now let the scheduler fire the breaches on its own.
        give_up = max(due.values()) + timedelta(seconds=args["grace_s"])
        while len(observer.commits.keys() & due.keys()) < len(due):
            if datetime.now(UTC) > give_up:
                out["timed_out"] = True
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # anything written twice would show up by now
        out["memory_end_kb"] = memory_kb()
        out["jobs"] = dict(jobs)
        out.update(await _check(runtime.sessions, due, observer))
    finally:
        await runtime.close()
    return out


async def _check(sessions: Any, due: dict[int, datetime], observer: Observer) -> dict[str, Any]:
    """Compare what was written with what was due: each breach once, on time, nothing else."""
    async with sessions() as session:
        events = (
            await session.execute(
                select(ReviewEvent.review_id, ReviewEvent.at, ReviewEvent.data).where(
                    ReviewEvent.kind == "sla"
                )
            )
        ).all()
        keys = (
            await session.execute(
                select(OutboxItem.key, OutboxItem.created_at).where(
                    OutboxItem.key.like("review:%:c1:ack:breach%")
                )
            )
        ).all()
        duplicate_keys = await session.scalar(
            select(func.count()).select_from(
                select(OutboxItem.key).group_by(OutboxItem.key).having(func.count() > 1).subquery()
            )
        )
        outbox_rows = await session.scalar(select(func.count()).select_from(OutboxItem))
    breaches = Counter(rid for rid, _at, data in events if data["stage"] == "breach")
    stages = Counter(data["stage"] for _rid, _at, data in events)
    event_at = {rid: at for rid, at, data in events if data["stage"] == "breach"}
    created = {k: at for k, at in keys}
    commit_late: list[float] = []
    created_late: list[float] = []
    for rid, when in due.items():
        for _due, committed in observer.commits.get(rid, [])[:1]:
            commit_late.append((committed - when).total_seconds())
        stamp = created.get(f"review:{rid}:c1:ack:breach")
        if stamp is not None:
            created_late.append((stamp - when).total_seconds())
    return {
        "breach_events": sum(breaches.values()),
        "breach_reviews": len(breaches.keys() & due.keys()),
        "breached_twice": sum(1 for n in breaches.values() if n > 1),
        "breached_unexpected": len(breaches.keys() - due.keys()),
        "due_mismatch": sum(1 for rid, at in event_at.items() if due.get(rid) not in (None, at)),
        "committed_twice": sum(1 for v in observer.commits.values() if len(v) > 1),
        "stages": dict(stages),
        "breach_outbox_rows": len(keys),
        "duplicate_keys": duplicate_keys,
        "outbox_rows": outbox_rows,
        "late_commit_s": commit_late,
        "late_created_s": created_late,
    }


def main() -> None:
    """Parse the JSON argument, run, print the measurements as one JSON line."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1])))))


if __name__ == "__main__":
    main()
