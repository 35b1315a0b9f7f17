"""Chat platforms: each one is an adapter that receives commands and sends notifications.

An adapter for platform `p` lives in the package `bot.<p>` and exposes
`create_adapter(runtime) -> Adapter`. It is a `bot.delivery.Sender` (the outbox worker sends
through it) and has `start()`/`stop()` for its receiving side (Socket Mode, an HTTP server, a
gateway connection). The core never imports a platform's library; only its adapter does.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, cast

from bot.delivery import Sender
from bot.runtime import Runtime

log = logging.getLogger(__name__)
T = TypeVar("T")


class PlatformError(Exception):
    """A platform cannot start (a refused token, an unreachable API): one line saying what to do."""


class PlatformUnavailable(PlatformError):
    """A platform is having a bad day (a 5xx, a proxy's page, no answer): worth waiting out."""


async def patiently(
    attempt: Callable[[], Awaitable[T]],
    *,
    first_wait: float = 1.0,
    longest_wait: float = 60.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run a start-up step until it works, waiting out PlatformUnavailable with backoff.

    Any other PlatformError (a refused token) stops start-up at once: waiting cannot cure it.
    """
    wait = first_wait
    while True:
        try:
            return await attempt()
        except PlatformUnavailable as exc:
            log.warning("%s; retrying in %gs", exc, wait)
            await sleep(wait)
            wait = min(wait * 2, longest_wait)


class Adapter(Sender, Protocol):
    """A chat platform: the sending side of `Sender`, plus a receiving side to start and stop."""

    async def start(self) -> None:
        """Connect and begin answering commands and button presses; PlatformError if it cannot."""
        ...

    async def stop(self) -> None:
        """Disconnect; in-flight work is finished or left for the outbox to retry."""
        ...


def create_adapter(platform: str, runtime: Runtime) -> Adapter:
    """The adapter for `platform`, built from the runtime's settings."""
    module = importlib.import_module(f"bot.{platform}")
    factory = cast(Callable[[Runtime], Adapter], module.create_adapter)
    return factory(runtime)


async def serve(runtime: Runtime, platforms: list[str]) -> int:
    """Run the bot on chat platforms until SIGINT or SIGTERM; return the exit status."""
    adapters = [create_adapter(p, runtime) for p in platforms]
    runtime.worker.senders.extend(adapters)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    # Imported here: aiohttp and prometheus-client are loaded only by a serving bot.
    from bot import health

    # First, so an orchestrator sees the process alive while the platforms connect.
    await health.start(runtime)
    started: list[Adapter] = []
    try:
        for adapter in adapters:
            # Added first, so one that fails half-way through starting is stopped too.
            started.append(adapter)
            await adapter.start()
            log.info("connected to %s", adapter.platform)
        github_on = runtime.settings.github
        if github_on.webhook_secret is not None or github_on.token is not None:
            # Imported here: gidgethub is loaded only by a bot that talks to GitHub.
            from bot import github

            await github.start(runtime)
        await runtime.start()
        await stop.wait()
        log.info("stopping")
        # While the adapters can still send: what is in flight finishes or is handed back.
        await runtime.worker.stop()
    finally:
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("stopping %s failed", adapter.platform)
    return 0
