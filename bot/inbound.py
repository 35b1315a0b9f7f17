"""The process's inbox: requests made durable before they are acknowledged, and resumed.

Any receiver (Slack's slash commands, a GitHub delivery) calls `accept(key, kind, payload)`
before answering the platform's HTTP request, and registers with `handle(kind, run)` how such a
request runs. Accepts that arrive together share one commit on one connection, so a burst costs
a handful of transactions instead of one each, and never more than one connection. A request
whose receiver died after the acknowledgement is run again by `resume`, at start and every
`resume_after / 2`, on this replica or another; its effect happens once (`storage.inbound`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.tasks import Spawner
from commands.core.clock import Clock
from storage import inbound
from storage.engine import Sessions
from storage.inbound import Accepted, Arrival

log = logging.getLogger(__name__)

# How long recording a request may take before its acknowledgement says "busy": Slack and
# Discord give up on an answer after 3 s, and it still has to travel back.
ACCEPT_WITHIN = 2.0
# What a person is told when their request could not be recorded at all (nothing ran).
NOT_RECORDED = "Liaison could not take that command just now; nothing was changed. Try again."

Run = Callable[[Accepted], Awaitable[None]]


class NotNow(Exception):
    """A resumed request cannot run yet (Liaison is busy): it is tried again later."""


class Inbox:
    """Accepts inbound requests durably, in batches, and resumes the ones left unfinished."""

    def __init__(
        self,
        sessions: Sessions,
        clock: Clock,
        tasks: Spawner,
        resume_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.tasks = tasks
        self.resume_after = resume_after
        self.runners: dict[str, Run] = {}
        self._waiting: list[tuple[Arrival, asyncio.Future[bool]]] = []
        self._writing = False

    def handle(self, kind: str, run: Run) -> None:
        """Say how requests of `kind` run (used when they are resumed)."""
        self.runners[kind] = run

    async def accept(self, key: str, kind: str, payload: dict[str, Any]) -> bool:
        """Record a request durably before it is acknowledged: False if its key is known (a
        re-send), True once it is committed."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((Arrival(key, kind, payload), done))
        if not self._writing:
            self._writing = True
            self.tasks.spawn(self._write(), name="inbound.accept")
        return await done

    async def accept_within(
        self, key: str, kind: str, payload: dict[str, Any], seconds: float
    ) -> bool | None:
        """`accept`, given at most `seconds` (a platform's deadline to hear back): None when
        that was not enough, and the caller answers "busy" instead.

        A record that still lands after the caller gave up is closed at once, never run: the
        person was told nothing happened, and tries again.
        """
        accepting = asyncio.ensure_future(self.accept(key, kind, payload))
        try:
            return await asyncio.wait_for(asyncio.shield(accepting), seconds)
        except TimeoutError:
            accepting.add_done_callback(lambda done: self._close_late(key, done))
            return None

    def _close_late(self, key: str, accepted: asyncio.Future[bool]) -> None:
        if accepted.cancelled() or accepted.exception() is not None or not accepted.result():
            return
        self.tasks.spawn(self.finish(key), name="inbound.close-late")

    async def _write(self) -> None:
        # One writer for every accept: those that arrive while a commit is under way go
        # together in the next one (group commit).
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    fresh = await self._commit([a for a, _ in batch])
                except IntegrityError:
                    # Another replica recorded one of these keys meanwhile: one at a time.
                    fresh = [await self._commit_one(a) for a, _ in batch]
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for (_, done), new in zip(batch, fresh, strict=True):
                    if not done.done():
                        done.set_result(new)
        finally:
            self._writing = False

    async def _commit(self, arrivals: list[Arrival]) -> list[bool]:
        # Ahead of other writers: the platform is waiting for the acknowledgement.
        async with self.sessions.begin_first() as session:
            return await inbound.accept(session, arrivals, self.clock.now(), self.resume_after)

    async def _commit_one(self, arrival: Arrival) -> bool:
        try:
            return (await self._commit([arrival]))[0]
        except IntegrityError:
            return False

    async def finish(self, key: str) -> None:
        """Mark a request done that ended with no effect (refused, or failed and rolled back)."""
        async with self.sessions.begin() as session:
            await inbound.finish(session, key, self.clock.now())

    async def forget(self, key: str) -> None:
        """Drop a request that ended with no effect and may be sent again to run anew."""
        async with self.sessions.begin() as session:
            await inbound.forget(session, key)

    async def resume(self) -> int:
        """Run the requests whose receiver has not finished them in time; return how many ran."""
        async with self.sessions.begin() as session:
            due = await inbound.claim_due(session, self.clock.now(), self.resume_after)
        ran = 0
        for request in due:
            run = self.runners.get(request.kind)
            if run is None:
                # Another kind of replica's work (a platform not configured here): left for it.
                continue
            log.warning("resuming %s %s (attempt %d)", request.kind, request.key, request.attempts)
            try:
                await run(request)
            except NotNow:
                continue
            except Exception:
                log.exception("resuming %s %s failed", request.kind, request.key)
                continue
            ran += 1
        return ran

    async def run_forever(self) -> None:
        """Resume unfinished requests at start, then every half `resume_after`."""
        while True:
            try:
                await self.resume()
            except Exception:
                log.exception("resuming inbound requests failed; trying again later")
            await asyncio.sleep(self.resume_after.total_seconds() / 2)
