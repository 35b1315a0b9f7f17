"""SLA deadline figures with 100,000 open reviews, and one APScheduler job per deadline to compare.

For each back end: a review is requested through the chat command (the template), 100,000 more
are bulk-inserted with the same fields and clocks, 1,000 of them are set to breach within one
minute, and a real bot process (bench.botproc) starts on that database, is timed to arming, is
woken with nothing due, and then lets APScheduler fire the 1,000 breaches on the system clock.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    ALICE,
    NullPlatform,
    Row,
    database,
    quantile,
)
from bot import db
from bot.runtime import open_runtime
from commands.reviews import clocks as rc
from commands.reviews.card import card_key
from commands.reviews.rules import BREACH
from storage.engine import create_engine, session_factory
from storage.models import (
    Base,
    Delivery,
    DeliveryStatus,
    OutboxItem,
    Review,
    ReviewClock,
    SlaPolicy,
)
from storage.outbox import lane_of
from tests.harness import demo_settings

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = 100_000
DUE = 1_000
CHUNK = 5_000
TICKS = 200
# Open reviews start an hour from now and on, spread over three days: none is due meanwhile.
FIRST = timedelta(hours=1)
SPREAD = timedelta(days=3)
# The 1,000 breaches fall due evenly over one minute, starting this long after seeding.
DUE_FROM = timedelta(seconds=30)
DUE_WINDOW = timedelta(seconds=60)
# How long after the last breach the bot process waits for stragglers before giving up.
GRACE_S = 150
# APScheduler's SQLAlchemy store writes one job per transaction (~2 ms each here): 20,000 of
# them keep the whole run within its budget. The memory store gets all 100,000.
SQLALCHEMY_JOBS = 20_000
TEMPLATE_TITLE = "Bench template review"

MS = 1000.0
MB = 1024.0


@dataclass(frozen=True)
class Template:
    """A review made by `/review request`, whose fields and clocks the seeded ones copy."""

    review: dict[str, Any]
    clocks: dict[str, dict[str, Any]]
    # Business time from a clock's start to its next stage (24x7: wall time).
    first_stage: dict[str, timedelta]
    breach_stage: int
    breach_offset: timedelta
    # The notifications the request wrote (the card, the reviewer's DM), keyed after "review:N:".
    outbox: dict[str, dict[str, Any]]


async def make_template(url: str) -> tuple[Template, list[float]]:
    """Request one hotfix review through the dispatcher and read back what it stored.

    Also times TICKS idle wake-ups while that is the only open review, as a control.
    """
    runtime = await open_runtime(demo_settings(url), platforms=[NullPlatform.platform])
    try:
        reply = await runtime.dispatcher.run_text(
            f'/review request https://example.com/pr/0 "{TEMPLATE_TITLE}" '
            "policy=hotfix reviewer=@dave",
            ALICE,
        )
        if not reply.ok:
            raise SystemExit(f"/review request failed: {reply}")
        await asyncio.sleep(0.2)  # let the re-arm the command asked for run out
        await runtime.deadlines.start()
        control = []
        for _ in range(TICKS):
            start = time.perf_counter()
            if await runtime.deadlines.tick():
                raise SystemExit("a stage fell due during the control wake-ups")
            control.append(time.perf_counter() - start)
        async with runtime.sessions() as session:
            review = await session.scalar(select(Review).where(Review.title == TEMPLATE_TITLE))
            policy = await session.scalar(select(SlaPolicy).where(SlaPolicy.name == "hotfix"))
            assert review is not None and policy is not None
            clocks = await rc.current_clocks(session, review)
            checks = {
                "requester is alice": review.requester.handle == "alice",
                "reviewer is dave": review.reviewer is not None
                and review.reviewer.handle == "dave",
                "reviewing org is ic": review.reviewing_org.key == "ic",
                "policy is hotfix": review.policy_id == policy.id,
                "snapshot is snapshot(hotfix)": review.policy_snapshot == rc.snapshot(policy),
                "two running clocks": sorted(clocks) == sorted(rc.CLOCKS)
                and all(c.running_since == c.started_at for c in clocks.values()),
            }
            if not all(checks.values()):
                raise SystemExit(f"the template review is not as expected: {checks}")
            prefix = f"review:{review.id}:"
            written = (
                await session.scalars(select(OutboxItem).where(OutboxItem.key.startswith(prefix)))
            ).all()
            if not any(item.key == card_key(review.id) for item in written):
                raise SystemExit("the template review has no card in the outbox")
            stages = rc.stages_of(review, clocks["ack"])
            breach = next(i for i, s in enumerate(stages) if s.step == BREACH)
            template = Template(
                review={
                    "requester_id": review.requester_id,
                    "reviewing_org_id": review.reviewing_org_id,
                    "reviewer_id": review.reviewer_id,
                    "policy_id": review.policy_id,
                    "policy_snapshot": review.policy_snapshot,
                    "state": review.state,
                    "cycle": review.cycle,
                },
                clocks={
                    kind: {
                        "cycle": c.cycle,
                        "kind": c.kind,
                        "target_seconds": c.target_seconds,
                        "elapsed_us": c.elapsed_us,
                        "next_stage": c.next_stage,
                    }
                    for kind, c in clocks.items()
                },
                first_stage={
                    kind: c.next_at - c.started_at
                    for kind, c in clocks.items()
                    if c.next_at is not None
                },
                breach_stage=breach,
                breach_offset=stages[breach].offset,
                outbox={
                    item.key.removeprefix(prefix): {
                        "channel": item.channel,
                        "person_id": item.person_id,
                        "payload": item.payload,
                        "edit_of": item.edit_of,
                        "thread_of": item.thread_of,
                        "late": item.late,
                    }
                    for item in written
                },
            )
            return template, control
    finally:
        await runtime.close()


def _table(model: type[Base]) -> Table:
    return model.metadata.tables[model.__tablename__]


async def seed(
    engine: AsyncEngine, template: Template, now: datetime, count: int = REVIEWS
) -> list[int]:
    """Bulk-insert `count` reviews, their two clocks, and their delivered notifications.

    Each review gets what `/review request` wrote for the template (its card, the reviewer's
    DM), already delivered: breach notifications edit that card and reply in its thread.
    """
    reviews, clocks = _table(Review), _table(ReviewClock)
    items, deliveries = _table(OutboxItem), _table(Delivery)
    ids: list[int] = []
    for first in range(0, count, CHUNK):
        size = min(CHUNK, count - first)
        started = [now + FIRST + SPREAD * i / count for i in range(first, first + size)]
        async with engine.begin() as conn:
            result = await conn.execute(
                insert(reviews).returning(reviews.c.id, sort_by_parameter_order=True),
                [
                    {
                        **template.review,
                        "link": f"https://example.com/pr/{first + n + 1}",
                        "title": f"Bench review {first + n + 1}",
                        "created_at": at,
                        "updated_at": at,
                    }
                    for n, at in enumerate(started)
                ],
            )
            chunk_ids = list(result.scalars())
            await conn.execute(
                insert(clocks),
                [
                    {
                        **fields,
                        "review_id": rid,
                        "started_at": at,
                        "running_since": at,
                        "next_at": at + template.first_stage[kind],
                    }
                    for rid, at in zip(chunk_ids, started, strict=True)
                    for kind, fields in template.clocks.items()
                ],
            )
            result = await conn.execute(
                insert(items).returning(
                    items.c.id,
                    items.c.created_at,
                    items.c.channel,
                    items.c.person_id,
                    sort_by_parameter_order=True,
                ),
                [
                    {
                        **fields,
                        "key": f"review:{rid}:{suffix}",
                        "payload": {**fields["payload"], "title": f"Review #{rid}"}
                        if suffix == "card"
                        else fields["payload"],
                        "created_at": at,
                    }
                    for rid, at in zip(chunk_ids, started, strict=True)
                    for suffix, fields in template.outbox.items()
                ],
            )
            await conn.execute(
                insert(deliveries),
                [
                    {
                        "outbox_id": item_id,
                        "platform": NullPlatform.platform,
                        "lane": lane_of(channel, person_id),
                        "status": DeliveryStatus.DELIVERED,
                        "attempts": 1,
                        "next_attempt_at": at,
                        "ref": f"ref-{item_id}",
                        "delivered_at": at,
                    }
                    for item_id, at, channel, person_id in result.all()
                ],
            )
        ids.extend(chunk_ids)
    if engine.dialect.name == "postgresql":
        # What autovacuum does shortly after a bulk load; SQLite is left as the bot leaves it.
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return ids


async def make_due(
    engine: AsyncEngine, template: Template, ids: list[int], now: datetime, count: int = DUE
) -> dict[int, datetime]:
    """Turn `count` seeded reviews into ones whose acknowledge breach falls within one minute.

    Each is 30 minutes old with its warning already fired, so the breach (and the level-1
    escalation at the same instant) is the next thing due; nothing else is due then.
    """
    chosen = ids[:: max(1, len(ids) // count)][:count]
    due = {rid: now + DUE_FROM + DUE_WINDOW * n / count for n, rid in enumerate(chosen)}
    clocks, reviews = _table(ReviewClock), _table(Review)
    rows = []
    for rid, at in due.items():
        started = at - template.breach_offset
        rows.append(
            {
                "b_review": rid,
                "b_kind": "ack",
                "b_started": started,
                "b_stage": template.breach_stage,
                "b_next": at,
            }
        )
        rows.append(
            {
                "b_review": rid,
                "b_kind": "resolve",
                "b_started": started,
                "b_stage": template.clocks["resolve"]["next_stage"],
                "b_next": started + template.first_stage["resolve"],
            }
        )
    async with engine.begin() as conn:
        await conn.execute(
            update(clocks)
            .where(
                clocks.c.review_id == bindparam("b_review"), clocks.c.kind == bindparam("b_kind")
            )
            .values(
                started_at=bindparam("b_started"),
                running_since=bindparam("b_started"),
                next_stage=bindparam("b_stage"),
                next_at=bindparam("b_next"),
            ),
            rows,
        )
        await conn.execute(
            update(reviews)
            .where(reviews.c.id == bindparam("b_review"))
            .values(created_at=bindparam("b_started"), updated_at=bindparam("b_started")),
            [r for r in rows if r["b_kind"] == "ack"],
        )
    return due


async def verify(engine: AsyncEngine, template: Template, review_ids: list[int]) -> None:
    """Check seeded reviews against the template, and their next_at against the engine's rule."""
    sessions = session_factory(engine)
    async with sessions() as session:
        for rid in review_ids:
            review = await session.get(Review, rid)
            assert review is not None
            for name, value in template.review.items():
                if getattr(review, name) != value:
                    raise SystemExit(f"seeded review {rid}: {name} differs from the template")
            clocks = await rc.current_clocks(session, review)
            for kind, clock in clocks.items():
                for name, value in template.clocks[kind].items():
                    if name != "next_stage" and getattr(clock, name) != value:
                        raise SystemExit(f"seeded review {rid}, {kind} clock: {name} differs")
                stored = clock.next_at
                rc.reschedule(review, clock)
                if clock.next_at != stored:
                    raise SystemExit(
                        f"seeded review {rid}, {kind} clock: next_at {stored} but the engine "
                        f"computes {clock.next_at}"
                    )
        await session.rollback()


async def _child(*argv: str) -> dict[str, Any]:
    """Run `python -m bench.<argv...>` and return the JSON it prints last."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        *argv,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        sys.stderr.write(err.decode())
        raise SystemExit(f"{argv[0]} failed with exit code {proc.returncode}")
    warnings = [line for line in err.decode().splitlines() if line.strip()]
    result: dict[str, Any] = json.loads(out.decode().splitlines()[-1])
    result["stderr_lines"] = len(warnings)
    result["stderr_sample"] = warnings[:5]
    return result


def _ms(seconds: float) -> str:
    return f"{seconds * MS:,.1f} ms"


def _mb(kb: int) -> str:
    return f"{kb / MB:,.0f} MB"


async def measure(backend: str) -> list[Row]:
    """Every deadline figure on one back end."""
    rows: list[Row] = []
    async with database(backend, "deadlines") as url:
        await db.upgrade(url)
        template, control = await make_template(url)
        engine = create_engine(url)
        try:
            start = time.perf_counter()
            ids = await seed(engine, template, datetime.now(UTC))
            seeded = time.perf_counter() - start
            due = await make_due(engine, template, ids, datetime.now(UTC))
            await verify(engine, template, [ids[1], ids[len(ids) // 2], *list(due)[:3]])
        finally:
            await engine.dispose()
        rows.append(
            Row(
                backend,
                f"seed {REVIEWS:,} open reviews, their clocks and sent notifications (bulk)",
                "-",
                f"{seeded:.1f} s (+1 made by /review request)",
            )
        )
        # Flush the bulk load's dirty pages first: a bot does not start amid a 400 MB write-back.
        await asyncio.to_thread(os.sync)
        args = {
            "url": url,
            "launched": time.time(),
            "ticks": TICKS,
            "grace_s": GRACE_S,
            "due": {str(k): v.isoformat() for k, v in due.items()},
        }
        got = await _child("bench.botproc", json.dumps(args))
    rows.extend(_bot_rows(backend, got))
    rows.insert(
        3,
        Row(
            backend,
            f"  same, with 1 open review (control, tick() x{len(control)})",
            "-",
            f"p50 {_ms(quantile(control, 0.5))}  p99 {_ms(quantile(control, 0.99))}  "
            f"max {_ms(max(control))}",
        ),
    )
    return rows


def _bot_rows(backend: str, got: dict[str, Any]) -> list[Row]:
    open_reviews = f"{REVIEWS + 1:,} open"
    rows = [
        Row(
            backend,
            f"process start -> deadlines armed ({open_reviews})",
            "<= 1 s",
            f"{got['launch_to_armed_s']:.2f} s (interpreter + imports {got['imports_s']:.2f} s, "
            f"config + open_runtime + start {got['open_to_armed_s']:.2f} s)",
            got["launch_to_armed_s"] <= 1.0,
        )
    ]
    ticks = got["idle_ticks_s"]
    if ticks:
        p50, p99 = quantile(ticks, 0.5), quantile(ticks, 0.99)
        rows.append(
            Row(
                backend,
                f"one wake-up with nothing due (tick() x{len(ticks)})",
                "<= 5 ms (p99)",
                f"p50 {_ms(p50)}  p99 {_ms(p99)}  max {_ms(max(ticks))}"
                + (f"  FIRED {got['idle_fired']}" if got["idle_fired"] else ""),
                p99 <= 0.005 and got["idle_fired"] == 0,
            )
        )
    else:
        rows.append(Row(backend, "one wake-up with nothing due", "<= 5 ms", "not measured", False))
    late = got["late_commit_s"]
    once = (
        got["breach_reviews"] == DUE
        and got["breach_events"] == DUE
        and got["breached_twice"] == 0
        and got["breached_unexpected"] == 0
        and got["committed_twice"] == 0
        and got["duplicate_keys"] == 0
        and got["due_mismatch"] == 0
        and got["breach_outbox_rows"] == 2 * DUE
    )
    counts = (
        f"{got['breach_reviews']}/{DUE} breaches, {got['breach_outbox_rows']} breach outbox rows, "
        f"{got['duplicate_keys']} duplicate keys"
        + (", TIMED OUT" if got.get("timed_out") else "")
        + ("" if once else ", NOT EACH ONCE")
    )
    if late:
        measured = (
            f"p50 {_ms(quantile(late, 0.5))}  p99 {_ms(quantile(late, 0.99))}  "
            f"max {_ms(max(late))}; {counts}"
        )
        ok = quantile(late, 0.99) <= 1.0 and once and len(late) == DUE
    else:
        measured, ok = f"none written; {counts}", False
    rows.append(
        Row(
            backend,
            f"breach lateness, commit - due ({DUE:,} due within one minute)",
            "p99 <= 1 s",
            measured,
            ok,
        )
    )
    stamped = got["late_created_s"]
    if stamped:
        rows.append(
            Row(
                backend,
                "  same, by outbox.created_at - due (for reference)",
                "-",
                f"p50 {_ms(quantile(stamped, 0.5))}  p99 {_ms(quantile(stamped, 0.99))}  "
                f"max {_ms(max(stamped))}",
            )
        )
    jobs = ", ".join(f"{k}: {v}" for k, v in sorted(got["jobs"].items()))
    rows.append(Row(backend, "  scheduler jobs during the run (for reference)", "-", jobs))
    armed, end = got["memory_armed_kb"], got["memory_end_kb"]
    peak = max(armed["VmHWM"], end["VmHWM"])
    rows.append(
        Row(
            backend,
            "RSS of the bot process",
            "<= 200 MB",
            f"armed {_mb(armed['VmRSS'])}, after the breaches {_mb(end['VmRSS'])}, "
            f"peak (VmHWM) {_mb(peak)}",
            peak <= 200 * MB,
        )
    )
    if got["stderr_lines"]:
        sample = got["stderr_sample"][0][:110]
        rows.append(
            Row(
                backend,
                "  bot process stderr (for reference)",
                "-",
                f"{got['stderr_lines']} lines, e.g. {sample}",
            )
        )
    return rows


async def compare() -> list[Row]:
    """One APScheduler date job per deadline: the memory store and the SQLAlchemy store."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="liaison_bench_aps_") as tmp:
        path = os.path.join(tmp, "jobs.sqlite")
        memory = await _child("bench.apsproc", "memory", str(REVIEWS), path, "fresh")
        rows.extend(_aps_rows("MemoryJobStore", memory))
        fresh = await _child("bench.apsproc", "sqlalchemy", str(SQLALCHEMY_JOBS), path, "fresh")
        rows.extend(_aps_rows("SQLAlchemyJobStore sqlite:///", fresh))
        again = await _child("bench.apsproc", "sqlalchemy", str(SQLALCHEMY_JOBS), path, "restart")
        rows.extend(_aps_rows("SQLAlchemyJobStore sqlite:///", again))
    return rows


def _aps_rows(store: str, got: dict[str, Any]) -> list[Row]:
    db = "apscheduler"
    jobs = f"{got['count']:,} date jobs"
    memory = got["memory_kb"]
    rss = f"RSS {_mb(memory['VmRSS'])}, peak {_mb(memory['VmHWM'])}"
    if got["mode"] == "restart":
        return [
            Row(
                db,
                f"{store}, restart on {jobs} already stored: start()",
                "(comparison)",
                f"{got['start_s']:.2f} s; {rss}",
            )
        ]
    return [
        Row(db, f"{store}, {jobs}: add_job() all", "(comparison)", f"{got['add_s']:.2f} s"),
        Row(
            db,
            f"{store}, {jobs}: start() until running",
            "(comparison)",
            f"{got['start_s']:.2f} s; {rss}",
        ),
    ]


async def run(backend: str) -> list[Row]:
    """The deadline figures of one back end."""
    return await measure(backend)
