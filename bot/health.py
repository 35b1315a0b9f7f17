"""Health and metrics on the [http] server: `/healthz`, `/readyz` and `/metrics`.

- `GET /healthz` is liveness: it is answered by the event loop itself, so a process whose loop
  is stuck (or gone) fails it. It touches nothing else: a database outage must not get every
  replica restarted by its orchestrator.
- `GET /readyz` is readiness: 200 `ready` when the database answers, its schema is at the
  revision this code needs, and the delivery worker finished a pass recently; else 503 with
  the reason in one line. A load balancer stops sending Slack's requests to a replica that is
  not ready.
- `GET /metrics` is Prometheus's text format (see `bot/metrics.py`).

`liaison run` serves them on every replica (`start`), whatever the chat platforms are.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot import db
from bot.metrics import Metrics
from bot.runtime import Runtime

log = logging.getLogger(__name__)

HEALTHZ, READYZ, METRICS = "/healthz", "/readyz", "/metrics"
# How long the database may take to answer a readiness check before it counts as down.
DATABASE_TIMEOUT = 3.0
# The delivery worker passes at least every poll interval (5 s); this long without a finished
# pass means it is stuck or failing.
STALE_AFTER = 30.0


def attach_metrics(runtime: Runtime) -> Metrics:
    """Metrics for a runtime, fed from now on by its dispatcher, worker and SLA wake-up."""
    metrics = Metrics(runtime.postbox.platforms, runtime.clock.now, lambda: runtime.gateway_holder)
    runtime.dispatcher.observers.append(metrics.command)
    runtime.worker.observers.append(metrics.delivery)
    runtime.deadlines.observers.append(metrics.fired)
    return metrics


async def not_ready(runtime: Runtime, stale_after: float = STALE_AFTER) -> str | None:
    """Why this replica should not take requests now, or None when it is ready."""
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            at = await db.current(runtime.engine)
    except TimeoutError:
        return f"the database did not answer within {DATABASE_TIMEOUT:g}s"
    except db.Unavailable as exc:
        return f"the database cannot be reached: {exc}"
    except Exception as exc:
        return f"the database failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    if at != (want := db.head()):
        return f"the database is at revision {at or 'none'} but this version needs {want}"
    passed = runtime.worker.last_pass
    if passed is None:
        return "the delivery worker has not run yet (starting)"
    if (ago := time.monotonic() - passed) > stale_after:
        return f"the delivery worker has not finished a pass for {ago:.0f}s"
    return None


async def start(runtime: Runtime, *, stale_after: float = STALE_AFTER) -> int:
    """Serve the three endpoints on the runtime's HTTP server; return its port.

    `stale_after`: how long without a finished delivery pass makes the replica not ready.
    """
    metrics = attach_metrics(runtime)

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        reason = await not_ready(runtime, stale_after)
        if reason is None:
            return web.Response(text="ready\n")
        log.warning("not ready: %s", reason)
        return web.Response(status=503, text=f"not ready: {reason}\n")

    async def scrape(_: web.Request) -> web.Response:
        page = await metrics.render(runtime.sessions)
        return web.Response(body=page, headers={"Content-Type": CONTENT_TYPE_LATEST})

    server = runtime.http_server()
    server.route("GET", HEALTHZ, healthz)
    server.route("GET", READYZ, readyz)
    server.route("GET", METRICS, scrape)
    return await server.start()
