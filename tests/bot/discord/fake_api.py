"""A fake Discord REST API on 127.0.0.1: answers the routes the bot uses and records every call.

discord.py is pointed at it through `discord.http.Route.BASE`, so the real library builds and
sends every request (interaction callbacks, follow-ups, messages, edits, DMs, command sync) and
the test reads what arrived: method, path, JSON (allowed_mentions included) and files. It can
answer with failures on demand: 429 with retry_after, 5xx, 404 Unknown Channel, 403 Missing
Access, and bodies that are not Discord's (a proxy's HTML, text, or nothing); `made=True` makes
the message first and then fails, as when an answer is lost on the way. Creating a message with
a `nonce` and `enforce_nonce` returns the message already made with that nonce, as Discord does.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import discord
from aiohttp import web

BOT_ID = 900000000000000001
APP_ID = 900000000000000002
BOT_USER = {
    "id": str(BOT_ID),
    "username": "liaison",
    "discriminator": "0",
    "avatar": None,
    "bot": True,
}


@dataclass
class Call:
    """One request the bot made."""

    method: str
    path: str
    json: Any
    files: list[tuple[str, bytes]] = field(default_factory=list)
    # When it arrived (time.monotonic()), for deadlines such as an interaction's 3 seconds.
    at: float = field(default_factory=time.monotonic)


@dataclass
class Session:
    """One gateway connection: when it was identified and when it ended (time.monotonic())."""

    socket: web.WebSocketResponse
    opened: float
    closed: float | None = None
    sequence: int = 0


@dataclass
class Failure:
    """An error to answer the next `times` matching requests with."""

    method: str
    path: re.Pattern[str]
    status: int
    code: int
    message: str
    times: int
    retry_after: float | None = None
    # "json" as Discord answers, or what a proxy in front of it sends: "html", "text", "empty".
    body: str = "json"
    # The request is carried out before the failure is answered (the answer was lost).
    made: bool = False


class FakeDiscord:
    """The fake API: start() it, point discord.py at `base`, read `calls` and `messages`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: list[Failure] = []
        # channel_id:message_id -> the message as it is now (after edits).
        self.messages: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        # (channel, nonce) -> the message made with it ("channel:message").
        self._nonces: dict[tuple[str, str], str] = {}
        self._runner: web.AppRunner | None = None
        self.base = ""
        # The gateway: every connection that identified, open or ended, in order.
        self.sessions: list[Session] = []
        self.gateway = ""

    async def start(self) -> None:
        """Listen on a free local port."""
        app = web.Application()
        app.router.add_route("*", "/api/v10/{tail:.*}", self._handle)
        app.router.add_get("/gateway/", self._gateway)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base = f"http://127.0.0.1:{port}/api/v10"
        self.gateway = f"ws://127.0.0.1:{port}/gateway/"

    async def close(self) -> None:
        """Stop listening."""
        for session in self.live():
            await session.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the gateway ------------------------------------------------------------------------------

    def live(self) -> list[Session]:
        """The gateway connections open now."""
        return [s for s in self.sessions if s.closed is None]

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send an event to every open gateway connection, as Discord does for an unsharded bot;
        return how many got it."""
        live = self.live()
        for session in live:
            session.sequence += 1
            await session.socket.send_json({"op": 0, "t": event, "s": session.sequence, "d": data})
        return len(live)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        # Hello, then Ready once the client identifies; heartbeats are acknowledged. Text frames,
        # which discord.py reads whatever compression it asked for.
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        session: Session | None = None
        try:
            async for frame in socket:
                message = json.loads(frame.data)
                if message["op"] == 1:
                    await socket.send_json({"op": 11})
                elif message["op"] == 2 and session is None:
                    session = Session(socket, time.monotonic())
                    self.sessions.append(session)
                    session.sequence += 1
                    ready = {
                        "v": 10,
                        "user": BOT_USER,
                        "guilds": [],
                        "session_id": f"session-{len(self.sessions)}",
                        "resume_gateway_url": self.gateway,
                        "application": {"id": str(APP_ID), "flags": 0},
                    }
                    await socket.send_json({"op": 0, "t": "READY", "s": 1, "d": ready})
        finally:
            if session is not None:
                session.closed = time.monotonic()
        return socket

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        code: int = 0,
        message: str = "",
        retry_after: float | None = None,
        body: str = "json",
        made: bool = False,
    ) -> None:
        """Answer the next `times` requests matching `method` and the `path` regex with an error
        (`body`: "json" as Discord does, or "html", "text", "empty" as a proxy would)."""
        self.failures.append(
            Failure(method, re.compile(path), status, code, message, times, retry_after, body, made)
        )

    def called(self, method: str, path: str) -> list[Call]:
        """The calls matching a method and a path regex, in order."""
        return [c for c in self.calls if c.method == method and re.fullmatch(path, c.path)]

    def new_id(self) -> str:
        """A fresh snowflake of this instant, as Discord's are (an interaction's age is read from
        its id)."""
        return str(discord.utils.time_snowflake(discord.utils.utcnow()) + next(self._ids))

    # --- the routes ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.match_info["tail"]
        body, files = await _body(request)
        self.calls.append(Call(request.method, path, body, files))
        for failure in self.failures:
            if (
                failure.times > 0
                and failure.method == request.method
                and failure.path.fullmatch(path)
            ):
                failure.times -= 1
                if failure.made:
                    self._answer(request.method, path, body, files)
                return _error(failure)
        answer = self._answer(request.method, path, body, files)
        if isinstance(answer, Failure):
            return _error(answer)
        return _json(answer)

    def _answer(self, method: str, path: str, body: Any, files: list[tuple[str, bytes]]) -> Any:
        parts = path.split("/")
        if (method, path) == ("GET", "users/@me"):
            return BOT_USER
        if (method, path) == ("GET", "oauth2/applications/@me"):
            return {
                "id": str(APP_ID),
                "name": "Liaison",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": BOT_USER,
                "verify_key": "0" * 64,
                "flags": 0,
            }
        if (method, path) == ("POST", "users/@me/channels"):
            recipient = {
                "id": str(body["recipient_id"]),
                "username": "someone",
                "discriminator": "0",
                "avatar": None,
            }
            return {"id": self.new_id(), "type": 1, "recipients": [recipient]}
        if method == "POST" and parts[0] == "channels" and parts[2:] == ["messages"]:
            nonce = body.get("nonce") if body.get("enforce_nonce") else None
            made = self._nonces.get((parts[1], str(nonce))) if nonce is not None else None
            if made is not None:
                # Discord returns the message it already made with this nonce, and no new one.
                return {**self.messages[made], "components": []}
            stored = self._store(parts[1], self.new_id(), body, files)
            if nonce is not None:
                self._nonces[(parts[1], str(nonce))] = f"{parts[1]}:{stored['id']}"
            return stored
        if method == "PATCH" and parts[0] == "channels" and parts[2] == "messages":
            return self._store(parts[1], parts[3], body, files)
        if method == "POST" and parts[0] == "interactions" and parts[3:] == ["callback"]:
            if body.get("data") and body["type"] == 4:
                # Kept like a posted message, so a test can press what a reply shows.
                self._store("reply", parts[1], body["data"], files)
            return {"interaction": {"id": parts[1], "type": 2}}
        if parts[0] == "webhooks":
            return self._store("0", self.new_id(), body, files)
        if method == "PUT" and parts[0] == "applications" and parts[-1] == "commands":
            return [
                {**c, "id": self.new_id(), "application_id": str(APP_ID), "version": "1"}
                for c in body
            ]
        return Failure(method, re.compile(path), 404, 0, "404: Not Found", 1)

    def _store(
        self, channel_id: str, message_id: str, body: Any, files: list[tuple[str, bytes]]
    ) -> dict[str, Any]:
        key = f"{channel_id}:{message_id}"
        old = self.messages.get(key, {})
        payload = {
            "id": message_id,
            "channel_id": channel_id,
            "author": BOT_USER,
            "content": body.get("content", old.get("content")) or "",
            "embeds": body.get("embeds", old.get("embeds", [])),
            "components": body.get("components", old.get("components", [])),
            "attachments": [
                {
                    "id": self.new_id(),
                    "filename": n,
                    "size": len(d),
                    "url": f"https://cdn/{n}",
                    "proxy_url": f"https://cdn/{n}",
                }
                for n, d in files
            ],
            "timestamp": "2026-01-05T10:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "type": 0,
        }
        if body.get("nonce") is not None:
            payload["nonce"] = body["nonce"]
        self.messages[key] = payload
        # The library parses components it did not send itself; the record keeps them.
        return {**payload, "components": []}


async def _body(request: web.Request) -> tuple[Any, list[tuple[str, bytes]]]:
    if request.content_type.startswith("multipart/"):
        files: list[tuple[str, bytes]] = []
        body: Any = None
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":  # type: ignore[union-attr]
                body = json.loads(data)
            else:
                files.append((part.filename or "", bytes(data)))  # type: ignore[union-attr]
        return body, files
    text = await request.text()
    return (json.loads(text) if text else None), []


def _error(failure: Failure) -> web.Response:
    if failure.body == "html":
        page = f"<html><body><h1>{failure.status} {failure.message}</h1></body></html>"
        return web.Response(status=failure.status, text=page, content_type="text/html")
    if failure.body == "text":
        return web.Response(status=failure.status, text=failure.message or "error")
    if failure.body == "empty":
        return web.Response(status=failure.status)
    body: dict[str, Any] = {"message": failure.message or "error", "code": failure.code}
    headers = {}
    if failure.status == 429:
        body.update({"retry_after": failure.retry_after or 0.01, "global": False})
        # discord.py treats a 429 without Via as a Cloudflare ban, not a rate limit.
        headers["Via"] = "1.1 google"
    return _json(body, status=failure.status, headers=headers)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # Exactly "application/json", as Discord sends it: discord.py compares the header verbatim.
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )
