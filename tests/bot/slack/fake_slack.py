"""A fake Slack at the wire: Web API, response URLs, file uploads, signed requests to the bot.

`FakeSlack` is an aiohttp server on 127.0.0.1 that answers the Web API methods Liaison calls,
keeps every call it received (method, parsed arguments, how it answered, and when), keeps the
messages it holds by channel and ts (with their metadata, read back by `conversations.history`
and `conversations.replies` as Slack does with `include_all_metadata`), and fails on demand:
429 with Retry-After, 500, a request that never answers (the client times out), one that is
carried out but whose answer never comes ("lost"), a 503 from a proxy (HTML, text or empty), or
a Slack error such as `channel_not_found`. It can also apply Slack's per-channel posting limit
(`pace`, `burst`: 429 beyond it) and fail a random share of calls (`chaos`).

`SlackUser` plays Slack's side towards the bot: slash commands, `block_actions` and
`view_submission` payloads, form-encoded and signed exactly as Slack sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"


@dataclass
class Call:
    """One request the fake received: the API method (or "response_url"), its arguments, outcome."""

    method: str
    args: dict[str, Any]
    outcome: str = "ok"
    # When it arrived (time.monotonic()), for latencies measured from outside (the bench).
    at: float = field(default_factory=time.monotonic)
    # Who made it: what follows the bot token and a "-" in a replica's token (replica_token()).
    by: str = ""
    # The client's end of the TCP connection it came on (kept-alive connections repeat it).
    peer: Any = None


@dataclass
class Failure:
    """A failure to answer with, for the next matching calls."""

    method: str
    how: str
    times: int
    channel: str | None = None


@dataclass
class FakeSlack:
    """The Slack Web API, as far as Liaison uses it."""

    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    unknown_users: set[str] = field(default_factory=set)
    retry_after: int = 3
    # Slack's limit on posts in one channel: one every `pace` seconds, `burst` at once.
    pace: float | None = None
    burst: int = 1
    # The share of calls failed at random, and how ("lost": carried out, but never answered).
    chaos: float = 0.0
    chaos_kinds: tuple[str, ...] = ("429", "500", "timeout", "html503", "lost")
    rng: random.Random = field(default_factory=lambda: random.Random(12))
    # How long a request that "never answers" hangs (past any client timeout).
    hang_s: float = 60.0
    _paced: dict[str, float] = field(default_factory=dict)
    _last_ts: float = 0.0
    _failures: list[Failure] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond/{n}", self._respond)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        """Stop answering; requests left hanging are let go."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """The Web API base URL to give the bot (`[slack] api_base_url`)."""
        return self.url + "/api/"

    def fail(self, method: str, how: str, *, times: int = 1, channel: str | None = None) -> None:
        """Answer the next `times` calls of `method` with `how`: "429", "500", "timeout",
        "html503", "text503", "empty503" (a proxy's answer, not Slack's), or a Slack error code
        such as "channel_not_found" (only in `channel`, if given)."""
        self._failures.append(Failure(method, how, times, channel))

    def recover(self) -> None:
        """Forget the failures still asked for: Slack is well again."""
        self._failures.clear()

    @staticmethod
    def replica_token(name: str) -> str:
        """A bot token the fake accepts and records calls made with as `by` = `name`."""
        return f"{BOT_TOKEN}-{name}"

    def keyed(self) -> dict[str, int]:
        """How many messages carry each Liaison delivery key (in their metadata)."""
        counts: dict[str, int] = {}
        for message in self.messages.values():
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if "key" in payload:
                name = f"{payload['key']}#{payload.get('part', 0)}"
                counts[name] = counts.get(name, 0) + 1
        return counts

    def to(self, method: str, *, outcome: str | None = "ok") -> list[Call]:
        """The calls of one method, those with a given outcome (None: all of them)."""
        return [
            c
            for c in self.calls
            if c.method == method and (outcome is None or c.outcome == outcome)
        ]

    def posted(self, channel: str | None = None) -> list[Call]:
        """Messages that were posted, in one channel if given."""
        return [
            c
            for c in self.to("chat.postMessage")
            if channel is None or c.args["channel"] == channel
        ]

    def responses(self, n: int | None = None) -> list[dict[str, Any]]:
        """What the bot sent to response URLs (of request `n`, if given)."""
        return [c.args["body"] for c in self.to("response_url") if n is None or c.args["n"] == n]

    # --- the server -------------------------------------------------------------------------------

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(await request.post())
        for key in ("blocks", "files", "view", "metadata"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    def _failure(self, method: str, args: dict[str, Any]) -> str | None:
        for failure in self._failures:
            wanted_channel = failure.channel is None or args.get("channel") == failure.channel
            if failure.method == method and failure.times > 0 and wanted_channel:
                failure.times -= 1
                return failure.how
        if self.chaos and method != "auth.test" and self.rng.random() < self.chaos:
            return self.rng.choice(self.chaos_kinds)
        return None

    def _limited(self, method: str, args: dict[str, Any]) -> float | None:
        """Seconds to wait if a post exceeds its channel's limit (GCRA), else None."""
        if self.pace is None or method != "chat.postMessage":
            return None
        channel = str(args.get("channel"))
        now = time.monotonic()
        due = max(self._paced.get(channel, now), now)
        if due - now > self.pace * (self.burst - 1) + 1e-3:
            return due - now - self.pace * (self.burst - 1)
        self._paced[channel] = due + self.pace
        return None

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        args = await self._args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        by = token.removeprefix(f"{BOT_TOKEN}-") if token.startswith(f"{BOT_TOKEN}-") else ""
        if token != BOT_TOKEN and not by:
            self.calls.append(Call(method, args, "invalid_auth"))
            return web.json_response({"ok": False, "error": "invalid_auth"})
        how = self._failure(method, args)
        if how is not None and how != "lost":
            self.calls.append(Call(method, args, how))
            return await self._fail(how)
        wait = self._limited(method, args)
        if wait is not None:
            self.calls.append(Call(method, args, "limited"))
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        try:
            answer = getattr(self, "_" + method.replace(".", "_"))(args)
        except LookupError as exc:
            self.calls.append(Call(method, args, str(exc.args[0])))
            return web.json_response({"ok": False, "error": exc.args[0]})
        self.calls.append(Call(method, args, how or "ok", by=by, peer=_peer(request)))
        if how == "lost":
            # Done, but the answer never arrives: the client times out not knowing.
            return await self._fail("timeout")
        return web.json_response({"ok": True, **answer})

    async def _fail(self, how: str) -> web.StreamResponse:
        if how == "429":
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self.retry_after)},
            )
        if how == "500":
            return web.Response(status=500, text="Internal Server Error")
        if how == "html503":
            page = (
                "<html><head><title>503 Service Unavailable</title></head><body>down</body></html>"
            )
            return web.Response(status=503, text=page, content_type="text/html")
        if how == "text503":
            return web.Response(
                status=503, text="upstream connect error", content_type="text/plain"
            )
        if how == "empty503":
            return web.Response(status=503)
        if how == "timeout":
            # No answer in time: the client gives up waiting.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.hang_s)
            return web.Response(status=503)
        return web.json_response({"ok": False, "error": how})

    def _ts(self) -> str:
        # Slack's ts is the posting instant (unique in a channel): history's `oldest` reads it.
        self._last_ts = max(time.time(), self._last_ts + 1e-6)
        return f"{self._last_ts:.6f}"

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.url,
            "team": "Test",
            "user": "liaison",
            "team_id": "T1",
            "user_id": "UBOT",
            "bot_id": "BBOT",
        }

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args["channel"])
        # Posting to a user id writes in the bot's DM with them, an IM channel of its own.
        if channel.startswith("U"):
            channel = "D" + channel[1:]
        ts = self._ts()
        message = {
            "type": "message",
            "user": "UBOT",
            "bot_id": "BBOT",
            "ts": ts,
            "text": args.get("text"),
            "blocks": args.get("blocks", []),
            "thread_ts": args.get("thread_ts"),
        }
        if args.get("metadata"):
            message["metadata"] = args["metadata"]
        self.messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": _shown(message, metadata=False)}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args["users"])
        return {"channel": {"id": "D" + user[1:]}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """A channel's top-level messages (thread replies are not in it), newest first."""
        channel, oldest = str(args["channel"]), float(args.get("oldest") or 0)
        found = [
            m
            for (c, ts), m in self.messages.items()
            if c == channel and float(ts) > oldest and m.get("thread_ts") in (None, ts)
        ]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)
        limit = int(args.get("limit") or 100)
        metadata = _true(args.get("include_all_metadata"))
        return {
            "messages": [_shown(m, metadata=metadata) for m in found[:limit]],
            "has_more": len(found) > limit,
            "response_metadata": {"next_cursor": ""},
        }

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent, then its replies, oldest first."""
        channel, parent = str(args["channel"]), str(args["ts"])
        if (channel, parent) not in self.messages:
            raise LookupError("thread_not_found")
        found = [
            m
            for (c, ts), m in self.messages.items()
            if c == channel and (ts == parent or m.get("thread_ts") == parent)
        ]
        found.sort(key=lambda m: float(m["ts"]))
        metadata = _true(args.get("include_all_metadata"))
        return {
            "messages": [_shown(m, metadata=metadata) for m in found],
            "has_more": False,
            "response_metadata": {"next_cursor": ""},
        }

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (str(args["channel"]), str(args["ts"]))
        if key not in self.messages:
            raise LookupError("message_not_found")
        self.messages[key].update(text=args.get("text"), blocks=args.get("blocks", []))
        return {"channel": key[0], "ts": key[1]}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"message_ts": self._ts()}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"view": {**args["view"], "id": f"V{next(self._counter)}"}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        if args["user"] in self.unknown_users:
            raise LookupError("user_not_found")
        return {"user": {"id": args["user"], "name": args["user"].lower()}}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": {"id": args["channel"], "name": "shared", "is_member": True}}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._counter)}"
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args["files"]
        missing = [f["id"] for f in files if f["id"] not in self.uploads]
        if missing:
            raise LookupError("file_not_found")
        return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        file_id = request.match_info["file_id"]
        data = await request.read()
        self.uploads[file_id] = data
        self.calls.append(Call("upload", {"file_id": file_id, "bytes": len(data)}))
        return web.Response(text=f"OK - {len(data)}")

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.calls.append(
            Call(
                "response_url",
                {"n": int(request.match_info["n"]), "body": body},
                peer=_peer(request),
            )
        )
        return web.Response(text="ok")


def _true(value: Any) -> bool:
    return str(value).lower() in ("1", "true")


def _shown(message: dict[str, Any], *, metadata: bool) -> dict[str, Any]:
    """A message as the Web API shows it: metadata only when asked for, no empty thread_ts."""
    shown = {k: v for k, v in message.items() if v is not None and k != "metadata"}
    if metadata and "metadata" in message:
        shown["metadata"] = message["metadata"]
    return shown


def sign(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 request signature of a body sent at `timestamp`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class Sent:
    """One request sent to the bot: its HTTP status and its response URL's number."""

    status: int
    n: int
    body: str
    # What the acknowledgement itself said (empty for a bare ack), and how long it took.
    ack: str = ""
    seconds: float = 0.0


class SlackUser:
    """Slack's side towards the bot: signed slash commands, button presses and modal submissions."""

    def __init__(self, fake: FakeSlack, bot_url: str) -> None:
        self.fake = fake
        self.bot_url = bot_url
        self._n = itertools.count(1)

    async def post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        retry: int | None = None,
    ) -> int:
        """Send a form-encoded body to the bot as Slack does; return the HTTP status."""
        status, _ = await self.exchange(body, timestamp=timestamp, signature=signature, retry=retry)
        return status

    async def exchange(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        retry: int | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> tuple[int, str]:
        """Send a body as `post` does; return the HTTP status and the response's text."""
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature or sign(body, ts),
        }
        if retry is not None:
            headers["X-Slack-Retry-Num"] = str(retry)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.bot_url, data=body, headers=headers) as response,
        ):
            return response.status, await response.text()

    def user(self, user_id: str) -> dict[str, str]:
        """The `user` object of an interaction payload."""
        return {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": "T1",
        }

    async def event(self, event: dict[str, Any], event_id: str, *, retry: int | None = None) -> int:
        """Send an Events API event (`event_callback`, JSON) as Slack does; a re-send (`retry`)
        repeats its `event_id`. Return the HTTP status."""
        body = json.dumps(
            {
                "token": "legacy",
                "team_id": "T1",
                "api_app_id": "A1",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
            }
        )
        status, _ = await self.exchange(body, retry=retry, content_type="application/json")
        return status

    def command_body(self, command: str, text: str, user_id: str, n: int) -> str:
        """A slash command as Slack posts it."""
        return urlencode(
            {
                "token": "legacy",
                "team_id": "T1",
                "team_domain": "test",
                "channel_id": "CSHARED",
                "channel_name": "shared",
                "user_id": user_id,
                "user_name": user_id.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A1",
                "is_enterprise_install": "false",
                "response_url": f"{self.fake.url}/respond/{n}",
                "trigger_id": f"{n}.1.trigger{n}",
            }
        )

    async def command(self, command: str, text: str, user_id: str) -> Sent:
        """Type a slash command."""
        n = next(self._n)
        body = self.command_body(command, text, user_id, n)
        start = time.perf_counter()
        status, ack = await self.exchange(body)
        return Sent(status, n, body, ack, time.perf_counter() - start)

    def action_body(
        self, action_id: str, user_id: str, n: int, *, channel: str, message_ts: str
    ) -> str:
        """A button press (`block_actions`) as Slack posts it."""
        payload = {
            "type": "block_actions",
            "team": {"id": "T1", "domain": "test"},
            "user": self.user(user_id),
            "api_app_id": "A1",
            "token": "legacy",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "trigger_id": f"{n}.2.trigger{n}",
            "channel": {"id": channel, "name": "shared"},
            "message": {"ts": message_ts, "type": "message"},
            "response_url": f"{self.fake.url}/respond/{n}",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b1",
                    "value": action_id,
                    "text": {"type": "plain_text", "text": action_id},
                    "action_ts": f"1700000001.{n:06d}",
                }
            ],
        }
        return urlencode({"payload": json.dumps(payload)})

    async def press(self, action_id: str, user_id: str, *, channel: str, message_ts: str) -> Sent:
        """Press a button on a message."""
        n = next(self._n)
        body = self.action_body(action_id, user_id, n, channel=channel, message_ts=message_ts)
        return Sent(await self.post(body), n, body)

    async def submit(self, view: dict[str, Any], user_id: str, values: dict[str, Any]) -> Sent:
        """Submit a modal the bot opened, with `values` by block id: text, or a typed state."""
        n = next(self._n)
        body = self.submit_body(view, user_id, values, n)
        return Sent(await self.post(body), n, body)

    def submit_body(
        self, view: dict[str, Any], user_id: str, values: dict[str, Any], n: int
    ) -> str:
        """A modal's submission (`view_submission`) as Slack posts it."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block["type"] != "input":
                continue
            element = block["element"]
            value = values.get(block["block_id"])
            kind = element["type"]
            if kind == "users_select":
                entry = {"type": kind, "selected_user": value}
            elif kind == "static_select":
                entry = {
                    "type": kind,
                    "selected_option": value
                    and {"value": value, "text": {"type": "plain_text", "text": value}},
                }
            elif kind == "datepicker":
                entry = {"type": kind, "selected_date": value}
            else:
                entry = {"type": kind, "value": value}
            state[block["block_id"]] = {element["action_id"]: entry}
        payload = {
            "type": "view_submission",
            "team": {"id": "T1", "domain": "test"},
            "user": self.user(user_id),
            "api_app_id": "A1",
            "token": "legacy",
            "trigger_id": f"{n}.3.trigger{n}",
            "view": {**view, "state": {"values": state}, "hash": "h1"},
            "response_urls": [],
        }
        return urlencode({"payload": json.dumps(payload)})


def _peer(request: web.Request) -> Any:
    return request.transport.get_extra_info("peername") if request.transport else None
