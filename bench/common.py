"""What every benchmark shares: the demo settings, a null platform, back ends, and result rows."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.delivery import Destination, SendKey
from commands.core.dispatch import Caller
from commands.core.messages import Message, PersonRef
from storage import scratch
from storage.models import Channel

ALICE = Caller("console", "alice", "alice")
PLATFORM = "bench"


@dataclass(frozen=True)
class Row:
    """One line of the results table; `ok` is None for figures without a target."""

    db: str
    figure: str
    target: str
    measured: str
    ok: bool | None = None


class NullPlatform:
    """A platform that accepts every message at once, so delivery cost is ours alone."""

    platform = PLATFORM
    pace = 0.0
    burst = 1

    def channel_address(self, channel: Channel) -> str | None:
        return channel.name

    def person_address(self, person: PersonRef) -> str | None:
        return person.handle

    async def send(
        self,
        to: Destination,
        message: Message,
        *,
        late: bool,
        thread: str | None = None,
        once: SendKey | None = None,
    ) -> str | None:
        return "ref"

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        return ref


def server_url() -> str | None:
    """The PostgreSQL server to measure, if one is named in the environment."""
    return os.environ.get("LIAISON_BENCH_DATABASE_URL") or os.environ.get(
        "LIAISON_TEST_DATABASE_URL"
    )


@asynccontextmanager
async def database(backend: str, name: str) -> AsyncIterator[str]:
    """A fresh, empty database of one back end ("sqlite" or "postgresql"), removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="liaison_bench_") as tmp:
            yield f"sqlite+aiosqlite:///{tmp}/{name}.db"
        return
    server = server_url()
    if server is None:
        raise RuntimeError("no PostgreSQL server configured")
    created = await scratch.create(server, "liaison_bench")
    try:
        yield scratch.with_database(server, created)
    finally:
        await scratch.drop(server, created)


def backends() -> list[str]:
    """The back ends to measure: SQLite always, PostgreSQL when a server is configured."""
    return ["sqlite", "postgresql"] if server_url() else ["sqlite"]


def quantile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile of `samples` (which must not be empty)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def percentiles_ms(samples: Sequence[float]) -> str:
    """p50/p95/p99 of durations in seconds, shown in milliseconds."""
    p = [quantile(samples, q) * 1000 for q in (0.50, 0.95, 0.99)]
    return f"p50 {p[0]:6.2f} ms  p95 {p[1]:6.2f} ms  p99 {p[2]:6.2f} ms"


def memory_kb(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in kB, from /proc."""
    found: dict[str, int] = {}
    for text in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = text.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found
