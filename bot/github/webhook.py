"""POST /github/webhook: GitHub's deliveries, verified, de-duplicated, applied in one transaction.

gidgethub checks the signature (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with the
webhook secret) and decodes the body; `commands/github/events.py` decides what the event does.
A delivery is recorded in the inbox (`bot/inbound.py`) before it is applied: a process that
dies while applying it leaves the record, and the next start (or another replica) applies it.
The record is marked done in the transaction of the effect, so a redelivery (GitHub's, or a
person pressing "Redeliver") has no second effect, even on another replica. A delivery that
applies to nothing, or fails, is forgotten, so a redelivery is tried anew.

Answers, as GitHub shows them under "Recent Deliveries": 401 for a missing or wrong signature,
400 for a body that is too big or not a JSON object, 202 for an event that applies to nothing
(logged), 200 with what was done, 500 when applying failed (GitHub can redeliver it).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure
from gidgethub.sansio import Event
from sqlalchemy import delete

from bot.http import MAX_BODY
from bot.runtime import Runtime
from commands.core.dispatch import AlreadyHandled, first_time
from commands.github import events
from storage.inbound import Accepted
from storage.models import InboundRequest

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/github/webhook"
# The request key of a delivery, before its X-GitHub-Delivery id.
DELIVERY_KEY = "github:delivery:"
# The kind of a recorded delivery in the inbox.
DELIVERY = "github.delivery"


class GitHubReceiver:
    """The webhook endpoint on the process's HTTP server."""

    def __init__(self, runtime: Runtime) -> None:
        secret = runtime.settings.github.webhook_secret
        if secret is None:
            raise ValueError("GitHub's webhook needs a secret: set LIAISON_GITHUB_WEBHOOK_SECRET")
        self.runtime = runtime
        self._secret = secret.get_secret_value()
        runtime.inbox.handle(DELIVERY, self._resume)

    async def start(self) -> int:
        """Serve POST /github/webhook on [http]; return the port."""
        await self.forget_old_deliveries()
        server = self.runtime.http_server()
        server.route("POST", WEBHOOK_PATH, self.receive)
        port = await server.start()
        log.info("github: webhook at http://%s:%d%s", server.host, port, WEBHOOK_PATH)
        return port

    async def forget_old_deliveries(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Drop delivery ids older than GitHub lets anyone redeliver (3 days); return how many."""
        cutoff = self.runtime.clock.now() - older_than
        async with self.runtime.sessions.begin() as session:
            result = await session.execute(
                delete(InboundRequest).where(
                    InboundRequest.received_at < cutoff,
                    InboundRequest.key.like(f"{DELIVERY_KEY}%"),
                )
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def receive(self, request: web.Request) -> web.Response:
        """Answer one delivery."""
        if (request.content_length or 0) > MAX_BODY:
            refused = _answer(400, "body over GitHub's 25 MB limit")
            # The body is never read, so the connection cannot carry another request.
            refused.force_close()
            return refused
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _answer(400, "body over GitHub's 25 MB limit")
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not headers.get("x-hub-signature-256"):
            log.warning("github: a delivery without X-Hub-Signature-256 was refused")
            return _answer(401, "missing X-Hub-Signature-256")
        try:
            # Hashing and decoding up to 25 MB takes a while: not on the event loop.
            event = await asyncio.to_thread(Event.from_http, headers, body, secret=self._secret)
        except ValidationFailure:
            log.warning("github: a delivery with a wrong signature was refused")
            return _answer(401, "signature does not match the webhook secret")
        except (BadRequest, KeyError, ValueError) as exc:
            return _answer(400, f"not a GitHub delivery: {exc}")
        if not isinstance(event.data, dict) or not event.delivery_id:
            return _answer(400, "not a GitHub delivery: the body is not a JSON object")
        return await self.apply(event)

    async def apply(self, event: Event) -> web.Response:
        """Apply a verified delivery in one transaction, once per delivery id."""
        if event.event == "ping":
            log.warning(
                "github: ping from hook %s: %s", event.data.get("hook_id"), event.data.get("zen")
            )
            return _answer(200, "pong")
        if event.event not in events.EVENTS:
            log.info("github: ignored a %r delivery (%s)", event.event, event.delivery_id)
            return _answer(202, f"ignored: Liaison does not act on {event.event!r}")
        key = f"{DELIVERY_KEY}{event.delivery_id}"
        try:
            # On disk before anything is applied: a crash from here on is resumed from it.
            fresh = await self.runtime.inbox.accept(
                key,
                DELIVERY,
                {"event": event.event, "delivery_id": event.delivery_id, "data": event.data},
            )
        except Exception:
            log.exception("github: could not record delivery %s", event.delivery_id)
            return _answer(500, "recording the delivery failed; nothing was changed")
        if not fresh:
            log.info("github: delivery %s came again; it was applied once", event.delivery_id)
            return _answer(200, "already applied")
        return await self._run(key, event.event, event.delivery_id, event.data)

    async def _resume(self, request: Accepted) -> None:
        """Apply a delivery recorded by a process that died before applying it."""
        payload = request.payload
        answer = await self._run(
            request.key, payload["event"], payload["delivery_id"], payload["data"]
        )
        log.warning("github: resumed delivery %s: %s", payload["delivery_id"], answer.text)

    async def _run(
        self, key: str, name: str, delivery_id: str, data: dict[str, Any]
    ) -> web.Response:
        """Apply a recorded delivery in one transaction that also marks its record done."""
        runtime = self.runtime
        try:
            async with runtime.postbox.transaction(runtime.clock.now()) as notifier:
                await first_time(notifier.session, key, notifier.now)
                done = await events.apply(notifier, name, data)
        except AlreadyHandled:
            log.info("github: delivery %s came again; it was applied once", delivery_id)
            return _answer(200, "already applied")
        except events.Ignored as exc:
            log.info("github: %s %s: %s", name, delivery_id, exc)
            await runtime.inbox.forget(key)
            return _answer(202, f"ignored: {exc}")
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("github: %s %s has an unexpected shape: %r", name, delivery_id, exc)
            await runtime.inbox.forget(key)
            return _answer(400, "the payload lacks what this event carries")
        except Exception:
            log.exception("github: applying %s %s failed", name, delivery_id)
            await runtime.inbox.forget(key)
            return _answer(500, "applying the delivery failed; nothing was changed")
        log.info("github: %s %s: %s", name, delivery_id, done)
        return _answer(200, done)


def _answer(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n")
