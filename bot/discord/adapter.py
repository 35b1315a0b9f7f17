"""The Discord adapter: slash commands and button presses in, outbox notifications out.

Receiving: the gateway delivers interactions; the command tree (generated from the registry)
and the buttons' `DynamicItem` templates turn them into dispatcher calls. Answers are ephemeral
(the change itself is announced in the shared channel by the outbox), deferred when the work
takes longer than `defer_after`, so Discord's 3-second limit is always met.

Sending: plain REST calls through discord.py's HTTP client, which honours Discord's rate-limit
buckets; a long rate limit, a 5xx or a timeout goes back to the outbox to retry later, and an
unknown channel or missing access is a permanent failure with Discord's reason. Every message is
created with a nonce derived from its notification's key and `enforce_nonce` (discord.py sets it
with any nonce), so a send repeated after a lost answer or a crash returns the message Discord
already made instead of making a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import aiohttp
import discord
import yarl

from bot.delivery import DeliveryError, Destination, SendKey
from bot.discord.buttons import picker_view, view_of
from bot.discord.client import LiaisonClient
from bot.discord.render import PLATFORM, Rendered, render
from bot.discord.tree import build_tree
from bot.inbound import ACCEPT_WITHIN, NOT_RECORDED, NotNow
from bot.intake import BUSY, Ticket
from bot.platforms import PlatformError, PlatformUnavailable, patiently
from bot.runtime import Runtime
from commands.core import completion
from commands.core.dispatch import Caller, error_reply, unfilled
from commands.core.messages import ActionId, Image, Message, PersonRef, Reply
from commands.core.registry import Command, Kind
from commands.ownership.verify import person_gone_from
from storage.engine import reading
from storage.inbound import Accepted
from storage.models import Channel

log = logging.getLogger(__name__)

# Discord wants a first answer within 3 s; past this, defer and answer with a follow-up.
DEFER_AFTER = 2.0
# The kinds of accepted interactions in the inbox: a slash command, a button press.
COMMAND = "discord.command"
PRESS = "discord.press"
UNKNOWN_MESSAGE = 10008
# Discord takes a nonce of at most 25 characters.
NONCE_LENGTH = 25


def nonce_of(key: str, part: int) -> str:
    """The nonce of one page of a notification: the same on every attempt, unique to it."""
    return hashlib.sha256(f"{key}#{part}".encode()).hexdigest()[:NONCE_LENGTH]


def parse_ref(ref: str) -> tuple[int, int]:
    """The channel and message ids of a reference written as `channel_id:message_id`."""
    channel, _, message = ref.partition(":")
    return int(channel), int(message)


class DiscordAdapter:
    """Liaison on Discord: a `bot.platforms.Adapter`."""

    platform = PLATFORM
    # Discord's message bucket per channel: 5 messages per 5 seconds.
    burst = 5

    def __init__(
        self,
        runtime: Runtime,
        *,
        token: str | None = None,
        defer_after: float = DEFER_AFTER,
        start_backoff: float = 1.0,
        pace: float = 1.0,
    ) -> None:
        secret = runtime.settings.discord.token
        self.runtime = runtime
        self.token = token or (secret.get_secret_value() if secret else "")
        self.defer_after = defer_after
        # The first wait when Discord is unavailable at start-up (it doubles, up to a minute).
        self.start_backoff = start_backoff
        # Seconds between messages to one channel, for every replica (the outbox's lanes).
        self.pace = pace
        self.client = LiaisonClient(self, members=runtime.settings.discord.members)
        self.tree = build_tree(self.client, runtime.registry)
        self._dms: dict[int, int] = {}
        self._gateway: asyncio.Task[None] | None = None
        self._lock: asyncio.Task[None] | None = None
        runtime.inbox.handle(COMMAND, self._resume)
        runtime.inbox.handle(PRESS, self._resume)

    # --- connecting -----------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in over REST (enough to send and to answer interactions); no gateway yet.

        A refused token stops start-up; a bad day at Discord is waited out with backoff.
        """
        await patiently(self._login, first_wait=self.start_backoff)

    async def _login(self) -> None:
        try:
            await self.client.login(self.token)
        except discord.LoginFailure:
            raise PlatformError(
                "Discord refused the bot token: check LIAISON_DISCORD_TOKEN (the Bot token of "
                "the application; see docs/discord.md)"
            ) from None
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:
                raise PlatformUnavailable(f"discord: logging in: {_reason(exc)}") from None
            raise PlatformError(f"Discord refused to log in: {_reason(exc)}") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PlatformUnavailable(
                f"discord: cannot reach Discord ({exc or type(exc).__name__}): check the network"
            ) from None

    async def start(self) -> None:
        """Log in, and connect to the gateway (which delivers commands and presses) whenever
        this replica holds it: one replica at a time does (bot/leader.py); every one sends."""
        await self.login()
        spawn = self.runtime.tasks.spawn
        self._lock = spawn(self.runtime.gateway.run_forever(), name="discord.gateway-lock")
        # The runtime's spawner logs the connection's end if it fails ("discord.gateway").
        self._gateway = spawn(self._hold_gateway(), name="discord.gateway")

    async def _hold_gateway(self) -> None:
        """Be connected to the gateway exactly while this replica holds the gateway lock."""
        lock = self.runtime.gateway
        while True:
            await lock.acquired()
            connection = asyncio.ensure_future(self.client.connect())
            lost = asyncio.ensure_future(lock.lost())
            try:
                await asyncio.wait({connection, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                lost.cancel()
                if not connection.done():
                    connection.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await connection
                    await self._disconnect()
            if not lock.held or connection.cancelled():
                continue
            # The connection ended on its own (closed, or failed for good): another replica may
            # do better, so this one leaves the lock, and the failure is logged as it was.
            if self._lock is not None:
                self._lock.cancel()
            connection.result()
            return

    async def _disconnect(self) -> None:
        """Close the gateway connection only; REST (sending) stays logged in."""
        if (ws := self.client.ws) is not None:
            with contextlib.suppress(Exception):
                await ws.close(code=1000)
        log.warning("discord: left the gateway to the replica that holds the lock now")

    async def stop(self) -> None:
        """Disconnect from Discord, and leave the gateway lock to the other replicas at once."""
        await self.client.close()
        for task in (self._gateway, self._lock):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # --- receiving ------------------------------------------------------------------------------

    async def member_left(self, guild_id: int, user_id: int) -> None:
        """Someone left the server (or was kicked): their person is gone, their areas flagged
        and their backups told, once. Another server the bot is in is not Liaison's concern."""
        guild = self.runtime.settings.discord.guild
        if guild is not None and guild_id != guild:
            return
        runtime = self.runtime
        person = await person_gone_from(
            runtime.postbox, runtime.clock.now(), PLATFORM, str(user_id)
        )
        if person is not None:
            log.info("discord: @%s (%s) left the server: marked as gone", person.handle, user_id)

    def caller(self, interaction: discord.Interaction) -> Caller:
        """Who is acting, as the dispatcher knows them."""
        user = interaction.user
        return Caller(PLATFORM, str(user.id), user.name)

    async def run_command(
        self, interaction: discord.Interaction, command: Command, raw: dict[str, str]
    ) -> None:
        """Run a slash command and answer it (at once with "busy" beyond capacity).

        A command that may change something is recorded in the inbox before anything else
        (and so before any defer): a process that dies from then on leaves the record, and the
        next start, or another replica, runs it once and answers with a follow-up while the
        interaction's token lives (15 minutes).
        """
        caller = self.caller(interaction)
        ticket = await self._admit(interaction, caller, command)
        if ticket is None:
            return
        key = None
        if not command.read_only:
            key = f"{PLATFORM}:interaction:{interaction.id}"
            what = {"path": list(command.path), "raw": raw}
            if not await self._record(interaction, ticket, key, COMMAND, what):
                return
        work = ticket.run(self._run(caller, key, partial(self._dispatch, command, raw)))
        await self.answer(interaction, await self._in_time(interaction, work))

    async def _record(
        self,
        interaction: discord.Interaction,
        ticket: Ticket,
        key: str,
        kind: str,
        what: dict[str, Any],
    ) -> bool:
        """Record an interaction that may change something before anything else (and so before
        any defer), with what it needs to run and to be answered by a follow-up: a process
        that dies from then on leaves the record, and the next start, or another replica, runs
        it once and answers while the interaction's token lives (15 minutes).

        False when it is not to run here: not recorded (the person is told nothing changed),
        or a re-delivery of an interaction already recorded (its first delivery answers it).
        """
        recorded = {
            **what,
            "user_id": str(interaction.user.id),
            "user_name": interaction.user.name,
            "application_id": str(interaction.application_id),
            "token": interaction.token,
        }
        try:
            fresh = await self.runtime.inbox.accept_within(key, kind, recorded, ACCEPT_WITHIN)
        except Exception:
            log.exception("discord: could not record an interaction (%s)", kind)
            ticket.release()
            await interaction.response.send_message(NOT_RECORDED, ephemeral=True)
            return False
        if fresh is None:
            # Too slow to record before Discord's 3-second deadline (after which the person
            # sees "This interaction failed"): busy, and a record that lands later is closed.
            ticket.release()
            await interaction.response.send_message(BUSY, ephemeral=True)
            return False
        if not fresh:
            ticket.release()
        return fresh

    async def _dispatch(
        self, command: Command, raw: dict[str, str], caller: Caller, key: str | None
    ) -> Reply:
        return await self.runtime.dispatcher.run(command, raw, caller, request_key=key)

    async def _dispatch_press(
        self, action: ActionId | None, extra: dict[str, str], caller: Caller, key: str | None
    ) -> Reply:
        return await self.runtime.dispatcher.run_action(action, caller, extra, request_key=key)

    async def _run(
        self,
        caller: Caller,
        key: str | None,
        run: Callable[[Caller, str | None], Awaitable[Reply]],
    ) -> Reply:
        reply = await run(caller, key)
        if key is not None and not reply.ok:
            # Refused or failed: nothing committed, so the accepted record is closed here.
            await self.runtime.inbox.finish(key)
        return reply

    async def _resume(self, request: Accepted) -> None:
        """Run a slash command or a press accepted by a process that died before finishing it."""
        recorded = request.payload
        run: Callable[[Caller, str | None], Awaitable[Reply]]
        if request.kind == PRESS:
            action = ActionId.parse(str(recorded["action"]))
            run = partial(self._dispatch_press, action, dict(recorded["extra"]))
        else:
            command = self.runtime.registry.get(list(recorded["path"]))
            if command is None:
                await self.runtime.inbox.finish(request.key)
                return
            run = partial(self._dispatch, command, dict(recorded["raw"]))
        caller = Caller(PLATFORM, str(recorded["user_id"]), str(recorded["user_name"]))
        ticket = self.runtime.intake.admit(f"{PLATFORM}:{caller.user_id}", read_only=False)
        if ticket is None:
            raise NotNow(request.key)
        reply = await ticket.run(self._run(caller, request.key, run))
        # The deferred interaction is answered through its webhook while its token lives.
        # (What `Interaction.followup` builds: the application's webhook of that interaction.)
        followup = discord.Webhook.from_state(
            {"id": recorded["application_id"], "type": 3, "token": recorded["token"]},
            state=self.client._connection,
        )
        try:
            for embed in render(reply.message).embeds:
                await followup.send(
                    embed=embed, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
                )
        except discord.HTTPException as exc:
            log.warning("discord: could not answer resumed %s: %s", request.key, exc)

    async def _admit(
        self, interaction: discord.Interaction, caller: Caller, command: Command | None
    ) -> Ticket | None:
        """A place in the intake, or None once the person has been told Liaison is busy."""
        read_only = command is None or command.read_only
        ticket = self.runtime.intake.admit(f"{PLATFORM}:{caller.user_id}", read_only=read_only)
        if ticket is None:
            await interaction.response.send_message(BUSY, ephemeral=True)
        return ticket

    async def press(
        self, interaction: discord.Interaction, action: ActionId, picked: int | None
    ) -> None:
        """Run the command behind a button; ask for a person first if it needs one."""
        command = self.runtime.registry.get(action.path)
        missing = unfilled(command, action) if command else []
        extra: dict[str, str] = {}
        if missing:
            if len(missing) != 1 or missing[0].kind is not Kind.PERSON or command is None:
                usage = command.usage if command else "/help"
                await self.answer(interaction, error_reply("Type the command instead.", usage))
                return
            if picked is None:
                await interaction.response.send_message(
                    f"Choose the {missing[0].name.replace('_', ' ')}:",
                    view=picker_view(action, missing[0].help),
                    ephemeral=True,
                )
                return
            extra[missing[0].name] = f"<@{picked}>"
        caller = self.caller(interaction)
        ticket = await self._admit(interaction, caller, command)
        if ticket is None:
            return
        key = None
        if command is not None and not command.read_only:
            key = f"{PLATFORM}:interaction:{interaction.id}"
            what = {"action": str(action), "extra": extra}
            if not await self._record(interaction, ticket, key, PRESS, what):
                return
        work = ticket.run(self._run(caller, key, partial(self._dispatch_press, action, extra)))
        await self.answer(interaction, await self._in_time(interaction, work))

    async def suggest(self, kind: Kind, typed: str) -> list[tuple[str, str]]:
        """Autocomplete suggestions for a parameter kind."""
        async with reading(self.runtime.sessions) as session:
            return await completion.suggest(session, kind, typed, now=self.runtime.clock.now())

    async def _in_time(self, interaction: discord.Interaction, work: Awaitable[Reply]) -> Reply:
        """The reply, deferring the interaction first if it is not ready in time."""
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=self.defer_after)
        if not done:
            await interaction.response.defer(ephemeral=True, thinking=True)
        return await task

    async def answer(self, interaction: discord.Interaction, reply: Reply) -> None:
        """Show a reply to the person who asked, only to them, pinging nobody."""
        rendered = render(reply.message)
        view = view_of(reply.message.actions)
        for n, embed in enumerate(rendered.embeds):
            extra: dict[str, Any] = {"view": view} if view is not None and n == 0 else {}
            if n == 0 and reply.message.image is not None:
                extra["file"] = _picture(reply.message.image, embed)
            none = discord.AllowedMentions.none()
            if n == 0 and not interaction.response.is_done():
                await interaction.response.send_message(
                    embed=embed, ephemeral=True, allowed_mentions=none, **extra
                )
            else:
                await interaction.followup.send(
                    embed=embed, ephemeral=True, allowed_mentions=none, **extra
                )

    # --- sending (bot.delivery.Sender) ---------------------------------------------------------

    def channel_address(self, channel: Channel) -> str | None:
        """The Discord channel id of a logical channel, if it has one."""
        return channel.address_on(PLATFORM)

    def person_address(self, person: PersonRef) -> str | None:
        """Where to DM a person: their Discord user id, if they have one."""
        uid = person.id_on(PLATFORM)
        return f"user:{uid}" if uid else None

    async def send(
        self,
        to: Destination,
        message: Message,
        *,
        late: bool,
        thread: str | None = None,
        once: SendKey | None = None,
    ) -> str | None:
        """Post a message (a reply to message `thread`, if given); return `channel:message`.

        With `once`, each page carries a nonce from the key: Discord makes it only once.
        """
        with _delivery_errors():
            channel_id = await self._channel_id(to)
            rendered = render(message)
            reference = None
            if thread is not None:
                anchor_channel, anchor = parse_ref(thread)
                reference = discord.MessageReference(
                    message_id=anchor, channel_id=anchor_channel, fail_if_not_exists=False
                )
            channel = self.client.get_partial_messageable(channel_id)
            first: str | None = None
            for n, embed in enumerate(rendered.embeds):
                parts = self._parts(message, rendered, n, embed, reference)
                if once is not None:
                    parts["nonce"] = nonce_of(once.key, n)
                sent = await channel.send(**parts)
                first = first or f"{channel_id}:{sent.id}"
            return first

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        """Replace a posted message in place, with the same mention rules as a send."""
        channel_id, message_id = parse_ref(ref)
        rendered = render(message, single=True)
        parts = self._parts(message, rendered, 0, rendered.embeds[0], None)
        parts.pop("reference", None)
        if "file" in parts:
            parts["attachments"] = [parts.pop("file")]
        parts.setdefault("view", None)
        parts.setdefault("attachments", [])
        with _delivery_errors():
            target = self.client.get_partial_messageable(channel_id).get_partial_message(message_id)
            try:
                await target.edit(**parts)
            except discord.NotFound as exc:
                if exc.code != UNKNOWN_MESSAGE:
                    raise
                # Someone deleted the message: post the new version instead.
                return await self.send(to, message, late=False)
            return ref

    def _parts(
        self,
        message: Message,
        rendered: Rendered,
        n: int,
        embed: discord.Embed,
        reference: discord.MessageReference | None,
    ) -> dict[str, Any]:
        """The keyword arguments for one page: pings, buttons and picture on the first only."""
        first = n == 0
        parts: dict[str, Any] = {
            "content": rendered.content if first else None,
            "embed": embed,
            "allowed_mentions": rendered.allowed(ping=first),
        }
        if first:
            view = view_of(message.actions)
            if view is not None:
                parts["view"] = view
            if reference is not None:
                parts["reference"] = reference
            if message.image is not None:
                parts["file"] = _picture(message.image, embed)
        return parts

    async def _channel_id(self, to: Destination) -> int:
        if to.person is None:
            return int(to.address)
        user_id = int(to.address.removeprefix("user:"))
        if user_id not in self._dms:
            dm = await self.client.create_dm(discord.Object(user_id))
            self._dms[user_id] = dm.id
        return self._dms[user_id]


def _picture(image: Image, embed: discord.Embed) -> discord.File:
    """The picture as an attachment, shown inside the embed."""
    name = image.filename.replace("/", "_") or "image.png"
    embed.set_image(url=f"attachment://{name}")
    return discord.File(io.BytesIO(image.data), filename=name, description=image.alt)


@contextlib.contextmanager
def _delivery_errors() -> Iterator[None]:
    """Discord's failures as the outbox understands them: permanent, or worth a retry."""
    try:
        yield
    except discord.RateLimited as exc:
        raise DeliveryError(
            f"Discord rate limit: retry in {exc.retry_after:.0f}s",
            retry_after=exc.retry_after,
            code="429",
        ) from None
    except (discord.NotFound, discord.Forbidden) as exc:
        raise DeliveryError(_reason(exc), permanent=True, code=_code(exc)) from None
    except discord.DiscordServerError as exc:
        raise DeliveryError(_reason(exc), code=_code(exc)) from None
    except discord.HTTPException as exc:
        # Any other 4xx means the request itself is wrong: sending it again cannot help.
        raise DeliveryError(_reason(exc), permanent=exc.status < 500, code=_code(exc)) from None
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise DeliveryError(
            f"Discord unreachable: {type(exc).__name__}: {exc}", code="unreachable"
        ) from None
    except ValueError as exc:
        raise DeliveryError(f"not a Discord id: {exc}", permanent=True) from None


def _code(exc: discord.HTTPException) -> str:
    """Discord's JSON error code (50007: cannot message this user), else the HTTP status."""
    return str(exc.code or exc.status)


def _reason(exc: discord.HTTPException) -> str:
    """What Discord answered, whatever the body: its JSON message and code, or the status and
    the kind of body a proxy or an incident page sent instead."""
    reason = exc.response.reason or ""
    text = exc.text.strip()
    content_type = str(getattr(exc.response, "content_type", "") or "")
    if "json" in content_type:
        return f"Discord {exc.status}: {text or reason or 'no reason given'} (code {exc.code})"
    kind = "HTML" if text.startswith("<") else ("text" if text else "empty")
    if kind == "text" and len(text) <= 80 and "\n" not in text:
        kind = f"text: {text}"
    return f"Discord answered {exc.status} {reason} ({kind})".replace("  ", " ")


def create_adapter(runtime: Runtime) -> DiscordAdapter:
    """The Discord adapter for a runtime (its token comes from `[discord] token`)."""
    settings = runtime.settings.discord
    # discord.py keeps both addresses on its classes: they are the process's, like the adapter.
    if settings.api_base_url is not None:
        discord.http.Route.BASE = settings.api_base_url.rstrip("/")
    if settings.gateway_url is not None:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)
    return DiscordAdapter(runtime)
