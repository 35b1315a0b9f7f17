"""The Slack adapter: slash commands, buttons and modals in; notifications out.

Every request is acknowledged at once and its work runs after, in a task: each transport only
translates a request into one dispatcher call (`run_text`, `run`, `run_action`) and sends the
reply back through `response_url` or `chat.postEphemeral`. A request that may change something
(a slash command, a button press, a modal submission) is first recorded in the inbox
(bot/inbound.py), so a process that dies after the acknowledgement leaves it to be run once by
the next start or another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qs

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy import delete

from bot.delivery import DeliveryError, Destination
from bot.inbound import ACCEPT_WITHIN, NOT_RECORDED, NotNow
from bot.intake import BUSY, Lane, Ticket
from bot.platforms import PlatformError, PlatformUnavailable, patiently
from bot.runtime import Runtime
from bot.slack.answers import answer_of
from bot.slack.blocks import PLATFORM, posts
from bot.slack.incoming import (
    command_line,
    modal,
    needs_modal,
    request_key,
    submitted,
)
from bot.slack.sender import SlackSender, Throttle
from bot.tasks import Spawner
from commands.core.dispatch import AlreadyHandled, Caller, unfilled
from commands.core.grammar import GrammarError, tokenize
from commands.core.messages import ActionId, Message, Reply, line
from commands.core.registry import Command, CommandNotFound, Kind, Param
from commands.ownership.verify import person_gone_from
from storage.inbound import Accepted
from storage.models import InboundRequest

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
# The kinds of accepted requests in the inbox: a slash command, a button press, a modal.
COMMAND = "slack.command"
ACTION = "slack.action"
VIEW = "slack.view"
Respond = Callable[..., Awaitable[Any]]


class SlackAdapter(SlackSender):
    """Liaison on Slack: a bolt `AsyncApp` over HTTP or Socket Mode, and the outbox's sender."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        timeout: float = 10.0,
        throttle: Throttle | None = None,
        working_after: float = 2.0,
        start_backoff: float = 1.0,
    ) -> None:
        settings = runtime.settings.slack
        if settings.bot_token is None:
            raise ValueError("Slack needs a bot token: set LIAISON_SLACK_BOT_TOKEN (xoxb-...)")
        client = AsyncWebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=settings.api_base_url,
            timeout=timeout,  # type: ignore[arg-type]  # aiohttp takes fractions of a second
            # No retries inside the client: the outbox decides, or a retry could post twice.
            retry_handlers=[],
        )
        super().__init__(client, throttle or Throttle())
        self.runtime = runtime
        self.timeout = timeout
        # One HTTP session, with its kept-alive connections, for every call to Slack and every
        # answer through a response URL (made at start; slack_sdk and bolt would otherwise open
        # a session, a TLS context and a connection per call).
        self._http: aiohttp.ClientSession | None = None
        # After this many seconds without an answer, the user is told the work is under way.
        self.working_after = working_after
        # The first wait when Slack is unavailable at start-up (it doubles, up to a minute).
        self.start_backoff = start_backoff
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
        self.app = AsyncApp(
            client=client, signing_secret=secret, name="liaison", logger=log.getChild("bolt")
        )
        self._verifier = SignatureVerifier(secret)
        self.port: int | None = None
        self._serving = False
        self._socket: AsyncSocketModeHandler | None = None
        # Each acknowledged request is answered by a task of its own.
        self.tasks = Spawner()
        self._listen()
        for kind in (COMMAND, ACTION, VIEW):
            runtime.inbox.handle(kind, self._resume)

    # --- the receiving side ----------------------------------------------------------------------

    async def start(self) -> None:
        """Serve HTTP at POST /slack/events on [http], or connect with Socket Mode."""
        settings = self.runtime.settings
        self._http = self.client.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout)
        )
        await self.check_token()
        if settings.slack.mode == "http":
            server = self.runtime.http_server()
            server.route("POST", EVENTS_PATH, self._events)
            self.port = await server.start()
            self._serving = True
            log.info(
                "slack: listening on http://%s:%d%s", settings.http.host, self.port, EVENTS_PATH
            )
        else:
            token = settings.slack.app_token
            if token is None:
                raise ValueError("Socket Mode needs LIAISON_SLACK_APP_TOKEN (xapp-...)")
            self._socket = AsyncSocketModeHandler(self.app, token.get_secret_value())
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
        await self.forget_old_requests()
        await self.check_setup()

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """POST /slack/events: bolt checks the signature and runs the listeners."""
        busy = await self._busy_at_once(request)
        if busy is not None:
            return busy
        bolt_response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def _busy_at_once(self, request: web.Request) -> web.Response | None:
        """ "Busy" for a signed slash command whose lane is full, before bolt parses it.

        Under a flood most requests are refused, and refusing must cost as little as possible:
        going through bolt's middleware and back costs about 1 ms of CPU per request, which at
        a few hundred a second is the CPU the commands being run need. Anything else (a
        button, a modal, an event, a bad signature, a lane with room) goes to bolt, which
        refuses one person's excess share itself; while no lane is at its limit, nothing is
        parsed here twice.
        """
        if (
            not self.runtime.intake.crowded
            or request.content_type != "application/x-www-form-urlencoded"
        ):
            return None
        raw = await request.text()
        form = parse_qs(raw)
        if "command" not in form or not self._verifier.is_valid_request(raw, request.headers):
            return None
        text = command_line(form["command"][0], form.get("text", [""])[0])
        lane = self._lane_of(self._command_of(text))
        if not lane.turns_away(f"{PLATFORM}:{form.get('user_id', [''])[0]}"):
            return None
        return web.json_response({"response_type": "ephemeral", "text": BUSY})

    async def check_token(self) -> None:
        """Ask Slack who the bot is: a wrong token stops start-up with what to fix, and a bad
        day at Slack (5xx, a proxy's page, no answer) is waited out with backoff."""
        await patiently(self._auth_test, first_wait=self.start_backoff)

    async def _auth_test(self) -> None:
        base = self.runtime.settings.slack.api_base_url
        try:
            who = await self.client.auth_test()
        except SlackApiError as exc:
            answer = answer_of(exc)
            if answer.transient:
                raise PlatformUnavailable(f"slack: auth.test: {answer}") from None
            raise PlatformError(
                f"Slack refused the bot token ({answer}): check LIAISON_SLACK_BOT_TOKEN "
                "(the Bot User OAuth Token, xoxb-..., of the installed app; see docs/slack.md)"
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformUnavailable(
                f"slack: cannot reach the Slack Web API at {base} ({exc or type(exc).__name__}): "
                "check the network, or [slack] api_base_url"
            ) from None
        # bolt asks auth.test again on the first request it receives, and answers that request
        # with HTTP 500 if Slack is slow to reply: it is given this answer instead.
        for middleware in self.app._async_middleware_list:
            if isinstance(middleware, AsyncSingleTeamAuthorization):
                middleware.auth_test_result = who

    async def forget_old_requests(self, older_than: timedelta = timedelta(days=1)) -> int:
        """Drop request keys older than Slack ever re-sends (minutes); return how many went."""
        cutoff = self.runtime.clock.now() - older_than
        async with self.runtime.sessions.begin() as session:
            # Only Slack's own keys: GitHub's deliveries may be redelivered for days.
            result = await session.execute(
                delete(InboundRequest).where(
                    InboundRequest.received_at < cutoff, InboundRequest.key.like("slack:%")
                )
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def stop(self) -> None:
        """Finish the work of requests already acknowledged, then stop listening."""
        await self.settle()
        if self._serving:
            # The server is shared (GitHub's webhook may be on it too): the runtime closes it.
            self.runtime.http_server().route("POST", EVENTS_PATH, _gone)
            self._serving = False
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
            self._socket = None
        if self._http is not None:
            # Calls after this (none are expected) fall back to a session of their own.
            await self._http.close()
            self._http = None

    async def settle(self) -> None:
        """Wait until every acknowledged request has been answered."""
        await self.tasks.settle()

    async def check_setup(self) -> None:
        """Log, by name, configured channels and people Slack does not know (never fails)."""
        settings = self.runtime.settings
        for channel in settings.channels:
            if channel.slack is None:
                continue
            try:
                info = await self.client.conversations_info(channel=channel.slack)
            except SlackApiError as exc:
                answer = answer_of(exc)
                if answer.transient:
                    log.warning("slack: cannot check channel #%s: %s", channel.name, answer)
                    continue
                log.error(
                    "slack: channel #%s (%s): %s; check [[channels]] and invite the bot",
                    channel.name,
                    channel.slack,
                    answer,
                )
                continue
            except Exception as exc:
                log.warning("slack: cannot check channel #%s: %s", channel.name, exc)
                continue
            if not (info.get("channel") or {}).get("is_member", True):
                log.warning(
                    "slack: the bot is not in #%s (%s): type /invite @Liaison there",
                    channel.name,
                    channel.slack,
                )
        for person in settings.people:
            if person.slack is None:
                continue
            try:
                await self.client.users_info(user=person.slack)
            except SlackApiError as exc:
                answer = answer_of(exc)
                if answer.transient:
                    log.warning("slack: cannot check person @%s: %s", person.handle, answer)
                    continue
                log.error(
                    "slack: person @%s (%s): %s; check [[people]]",
                    person.handle,
                    person.slack,
                    answer,
                )
            except Exception as exc:
                log.warning("slack: cannot check person @%s: %s", person.handle, exc)

    def _listen(self) -> None:
        app = self.app

        # Each listener takes its place in the intake before acknowledging: beyond capacity the
        # acknowledgement itself says "busy", at once, instead of a reply that never comes.
        @app.command(re.compile(r"^/"))
        async def on_command(ack: Any, body: dict[str, Any], request: Any) -> None:
            respond = self._respond_to(body.get("response_url"))
            text = command_line(body.get("command", ""), body.get("text", ""))
            command = self._command_of(text)
            ticket = self._admit(str(body.get("user_id", "")), command)
            if ticket is None:
                await ack(text=BUSY, response_type="ephemeral")
                return
            if self._changes(command, text, body):
                key = request_key("command", body, request.raw_body)
                fresh = await self._record(COMMAND, key, body, request.raw_body)
                if fresh is not True:
                    ticket.release()
                    if fresh:
                        await ack(text=fresh, response_type="ephemeral")
                    else:
                        await ack()  # a re-send of a command already accepted
                    return
            await ack()
            work = self._command(body, respond, request.raw_body, ticket)
            self.tasks.spawn(self._guard(work, ticket), name="slack.command")

        @app.action(re.compile(r".+"))
        async def on_action(ack: Any, body: dict[str, Any], request: Any) -> None:
            respond = self._respond_to(body.get("response_url"))
            action = ActionId.parse(str(body["actions"][0]["action_id"]))
            command = self._command_of_action(body)
            ticket = self._admit(_caller(body).user_id, command)
            if ticket is None:
                await ack()
                await respond(text=BUSY, response_type="ephemeral", replace_original=False)
                return
            if self._press_changes(action, command, body):
                key = request_key("action", body, request.raw_body)
                fresh = await self._record(ACTION, key, body, request.raw_body)
                if fresh is not True:
                    ticket.release()
                    await ack()  # a re-send of a press already accepted says nothing more
                    if fresh:
                        await respond(text=fresh, response_type="ephemeral", replace_original=False)
                    return
            await ack()
            work = self._press(body, respond, request.raw_body, ticket)
            self.tasks.spawn(self._guard(work, ticket), name="slack.action")

        @app.view(re.compile(r".+"))
        async def on_view(ack: Any, body: dict[str, Any], request: Any) -> None:
            command = self._command_of_view(body)
            ticket = self._admit(_caller(body).user_id, command)
            if ticket is None:
                await _refuse_view(ack, body, BUSY)
                return
            if command is not None and not command.read_only:
                key = request_key("view", body, request.raw_body)
                fresh = await self._record(VIEW, key, body, request.raw_body)
                if fresh is not True:
                    ticket.release()
                    if fresh:
                        await _refuse_view(ack, body, fresh)
                    else:
                        await ack()  # a re-send of a submission already accepted
                    return
            await ack()
            work = self._submit(body, request.raw_body, ticket)
            self.tasks.spawn(self._guard(work, ticket), name="slack.view")

        # bolt acknowledges an event itself, before this runs.
        @app.event("user_change")
        async def on_user_change(body: dict[str, Any]) -> None:
            user = (body.get("event") or {}).get("user") or {}
            # Any edit of anyone's profile comes here; only a deactivation concerns Liaison. A
            # re-activated account clears nothing: the configuration says who is in (bot/sync).
            if user.get("deleted") is not True or not user.get("id"):
                return
            event_id = body.get("event_id")
            key = f"slack:event:{event_id}" if event_id else None
            self.tasks.spawn(self._deactivated(str(user["id"]), key), name="slack.user_change")

    async def _deactivated(self, user_id: str, key: str | None) -> None:
        """A Slack account was deactivated: its person is gone, their areas flagged, once (a
        re-sent event carries the same event id, and a person gone already stays as they are)."""
        runtime = self.runtime
        person = await person_gone_from(
            runtime.postbox, runtime.clock.now(), PLATFORM, user_id, request_key=key
        )
        if person is not None:
            log.info("slack: @%s (%s) was deactivated: marked as gone", person.handle, user_id)

    def _changes(self, command: Command | None, text: str, body: dict[str, Any]) -> bool:
        """Whether a slash command may change something (and so is recorded before its ack).

        A read changes nothing, and a command that opens a modal only changes something when
        the modal is submitted.
        """
        if command is None or command.read_only:
            return False
        return not (body.get("trigger_id") and self._wants_modal(text) is not None)

    def _press_changes(
        self, action: ActionId | None, command: Command | None, body: dict[str, Any]
    ) -> bool:
        """Whether a press may change something (and so is recorded before its ack): not a
        read, and not a button that first asks for more in a modal (its submission may)."""
        if action is None or command is None or command.read_only:
            return False
        return not (body.get("trigger_id") and unfilled(command, action))

    async def _record(self, kind: str, key: str, body: dict[str, Any], raw_body: str) -> bool | str:
        """Put a request on disk before Slack hears 200 (it never re-sends after one), so a
        crash from here on is resumed from the record (bot/inbound.py) and runs once.

        True once recorded, False for a re-send of a request already recorded, or what to tell
        the person when it was not recorded (nothing ran): the database failed, or it was too
        slow to record it before Slack's 3-second deadline (busy; a record that lands later is
        closed unrun).
        """
        payload = {"body": body, "raw_body": raw_body}
        try:
            fresh = await self.runtime.inbox.accept_within(key, kind, payload, ACCEPT_WITHIN)
        except Exception:
            log.exception("slack: could not record a request (%s)", kind)
            return NOT_RECORDED
        return BUSY if fresh is None else fresh

    async def _resume(self, request: Accepted) -> None:
        """Run a request accepted by a process that died before finishing it: a slash command
        or a press answers through its response URL, a modal's submission as it always does."""
        body = dict(request.payload["body"])
        raw_body = str(request.payload["raw_body"])
        if request.kind == COMMAND:
            text = command_line(body.get("command", ""), body.get("text", ""))
            user, command = str(body.get("user_id", "")), self._command_of(text)
        else:
            user = _caller(body).user_id
            command = (
                self._command_of_action(body)
                if request.kind == ACTION
                else self._command_of_view(body)
            )
        ticket = self._admit(user, command)
        if ticket is None:
            raise NotNow(request.key)
        respond = self._respond_to(body.get("response_url"))
        # Its trigger expired long ago: no modal now, the typed command's answer says what to do.
        body.pop("trigger_id", None)
        work: Awaitable[None]
        if request.kind == COMMAND:
            work = self._command(body, respond, raw_body, ticket, request.key)
        elif request.kind == ACTION:
            work = self._press(body, respond, raw_body, ticket, request.key)
        else:
            work = self._submit(body, raw_body, ticket, request.key)
        await self._guard(work, ticket)

    def _respond_to(self, response_url: str | None) -> Respond:
        """An answer through a request's response URL, on the adapter's HTTP session."""

        async def respond(**message: Any) -> WebhookResponse:
            if response_url is None:
                raise ValueError("this request has no response URL to answer through")
            hook = AsyncWebhookClient(
                url=response_url, timeout=int(self.timeout), session=self._http
            )
            return await hook.send_dict({k: v for k, v in message.items() if v is not None})

        return respond

    def _command_of(self, text: str) -> Command | None:
        try:
            command, _ = self.runtime.registry.find(tokenize(text))
        except (GrammarError, CommandNotFound):
            return None
        return command

    def _command_of_action(self, body: dict[str, Any]) -> Command | None:
        action = ActionId.parse(str(body["actions"][0]["action_id"]))
        return self.runtime.registry.get(action.path) if action else None

    def _command_of_view(self, body: dict[str, Any]) -> Command | None:
        meta = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
        if "action" in meta:
            action = ActionId.parse(str(meta["action"]))
            return self.runtime.registry.get(action.path) if action else None
        return self.runtime.registry.get(str(meta.get("command", "")).split())

    def _admit(self, user: str, command: Command | None) -> Ticket | None:
        return self._lane_of(command).admit(f"{PLATFORM}:{user}")

    def _lane_of(self, command: Command | None) -> Lane:
        # A line naming no command is answered from the registry alone, like a read.
        return self.runtime.intake.lane(command is None or command.read_only)

    async def _guard(self, work: Awaitable[None], ticket: Ticket) -> None:
        try:
            await work
        except AlreadyHandled as exc:
            log.info("slack: %s was re-sent; it ran once already", exc)
        except Exception:
            log.exception("slack: answering a request failed")
        finally:
            ticket.release()

    # --- slash commands --------------------------------------------------------------------------

    async def _command(
        self,
        body: dict[str, Any],
        respond: Respond,
        raw_body: str,
        ticket: Ticket,
        key: str | None = None,
    ) -> None:
        caller = Caller(PLATFORM, body["user_id"], body.get("user_name", ""))
        text = command_line(body.get("command", ""), body.get("text", ""))
        command = self._wants_modal(text)
        if command is not None and body.get("trigger_id"):
            meta = {"command": command.name, "channel": body.get("channel_id", "")}
            if await self._open_modal(body["trigger_id"], command, command.params, meta):
                return
        key = key or request_key("command", body, raw_body)
        run = ticket.run(
            self._closing(
                key, partial(self.runtime.dispatcher.run_text, text, caller, request_key=key)
            )
        )
        await self._answer(run, respond, always=True, user=caller.user_id)

    async def _closing(self, key: str, work: Callable[[], Awaitable[Reply]]) -> Reply:
        """The reply of a run whose request may have been accepted in the inbox. (`work` is
        called here, so a run that never gets its turn leaves no coroutine unawaited.)"""
        reply = await work()
        if not reply.ok:
            # Refused or failed: nothing committed, so the accepted record is closed here.
            await self.runtime.inbox.finish(key)
        return reply

    def _wants_modal(self, text: str) -> Command | None:
        try:
            command, rest = self.runtime.registry.find(tokenize(text))
        except (GrammarError, CommandNotFound):
            return None
        return command if needs_modal(command, rest) else None

    async def _answer(
        self,
        run: Coroutine[Any, Any, Reply],
        respond: Respond,
        *,
        always: bool,
        user: str | None = None,
    ) -> None:
        """Send the reply through response_url, saying "working on it" if it is slow to come.

        A response URL carries no files: a reply's picture goes to the `user`'s DM instead.
        """
        work = asyncio.ensure_future(run)
        working = False
        try:
            reply = await asyncio.wait_for(asyncio.shield(work), self.working_after)
        except TimeoutError:
            working = True
            await respond(text="Working on it…", response_type="ephemeral", replace_original=False)
            reply = await work
        if reply.ok and not always and not working:
            return
        for n, post in enumerate(posts(reply.message)):
            await respond(
                text=post.text,
                blocks=post.blocks,
                response_type="ephemeral",
                replace_original=working and n == 0,
            )
        if reply.message.image is not None and user:
            note = Message(
                title=reply.message.title,
                lines=(line("The picture that goes with it (only you see this)."),),
                image=reply.message.image,
            )
            try:
                await self.send(Destination(None, None, user), note, late=False)
            except DeliveryError as exc:
                log.warning("slack: could not DM the picture of a reply to %s: %s", user, exc)

    # --- buttons ----------------------------------------------------------------------------------

    async def _press(
        self,
        body: dict[str, Any],
        respond: Respond,
        raw_body: str,
        ticket: Ticket,
        key: str | None = None,
    ) -> None:
        sent = str(body["actions"][0]["action_id"])
        action = ActionId.parse(sent)
        if action is None:
            log.warning("slack: a press of %r, which is not a Liaison button id", sent)
        caller = _caller(body)
        command = self.runtime.registry.get(action.path) if action else None
        missing = unfilled(command, action) if command and action else []
        if action is not None and command is not None and missing and body.get("trigger_id"):
            # A button that needs more than the id it carries (Reassign: to whom?) asks first.
            meta = {"action": str(action), "channel": _channel_of(body)}
            if await self._open_modal(body["trigger_id"], command, missing, meta):
                return
        key = key or request_key("action", body, raw_body)
        press = partial(self.runtime.dispatcher.run_action, action, caller, request_key=key)
        run = ticket.run(self._closing(key, press))
        # A card is redrawn through the outbox, so only a refusal there needs its own answer; a
        # button elsewhere (a reminder in a DM, an answer only the presser sees) changes no
        # message, so its answer says what it did ("paused until 09:00").
        await self._answer(run, respond, always=_off_the_cards(body))

    # --- modals -----------------------------------------------------------------------------------

    async def _open_modal(
        self, trigger_id: str, command: Command, params: tuple[Param, ...] | list[Param], meta: Any
    ) -> bool:
        settings = self.runtime.settings
        choices = {
            Kind.ORG: [o.key for o in settings.orgs],
            Kind.POLICY: [p.name for p in settings.policies],
        }
        view = modal(command, params, meta, choices=choices)
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except Exception as exc:
            # Too late to open one (triggers last 3 s): the typed command's answer says what to do.
            log.warning("slack: could not open the /%s modal: %s", command.name, exc)
            return False
        return True

    async def _submit(
        self, body: dict[str, Any], raw_body: str, ticket: Ticket, key: str | None = None
    ) -> None:
        view = body.get("view") or {}
        meta = json.loads(view.get("private_metadata") or "{}")
        caller = _caller(body)
        raw = submitted(view)
        key = key or request_key("view", body, raw_body)
        dispatcher = self.runtime.dispatcher
        if "action" in meta:
            action = ActionId.parse(str(meta["action"]))
            work = partial(dispatcher.run_action, action, caller, raw, request_key=key)
            reply = await ticket.run(self._closing(key, work))
            if reply.ok:
                return
        else:
            command = self.runtime.registry.get(str(meta.get("command", "")).split())
            if command is None:
                log.warning("slack: a modal for an unknown command %r", meta.get("command"))
                return
            work = partial(dispatcher.run, command, raw, caller, request_key=key)
            reply = await ticket.run(self._closing(key, work))
        await self._tell(caller.user_id, str(meta.get("channel") or ""), reply)

    async def _tell(self, user: str, channel: str, reply: Reply) -> None:
        """Show a reply to one user: ephemeral where they were, else in their DM with the bot."""
        for post in posts(reply.message):
            if channel:
                with contextlib.suppress(SlackApiError):
                    await self.client.chat_postEphemeral(
                        channel=channel, user=user, text=post.text, blocks=post.blocks
                    )
                    continue
            await self.client.chat_postMessage(channel=user, text=post.text, blocks=post.blocks)


async def _gone(request: web.Request) -> web.StreamResponse:
    """Slack stopped: its path is no longer served."""
    return web.Response(status=404)


async def _refuse_view(ack: Any, body: dict[str, Any], text: str) -> None:
    """Acknowledge a modal's submission with an error beside its first field (or bare)."""
    blocks = (body.get("view") or {}).get("blocks") or []
    first = next((b.get("block_id") for b in blocks if b.get("block_id")), None)
    if first:
        await ack(response_action="errors", errors={first: text})
    else:
        await ack()


def _caller(body: dict[str, Any]) -> Caller:
    user = body.get("user") or {}
    return Caller(PLATFORM, str(user["id"]), str(user.get("username") or user.get("name") or ""))


def _off_the_cards(body: dict[str, Any]) -> bool:
    """Whether a pressed button was on a direct message or an ephemeral answer, not a card."""
    container = body.get("container") or {}
    return bool(container.get("is_ephemeral")) or _channel_of(body).startswith("D")


def _channel_of(body: dict[str, Any]) -> str:
    return str((body.get("channel") or {}).get("id") or "")
