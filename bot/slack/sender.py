"""Sending to Slack for the outbox worker: posts, in-place edits, threads, DMs and pictures.

The outbox is the only retry authority: the Web API client is built without slack_sdk's retry
handlers, and every failure becomes a `DeliveryError` that says whether to try again and when.

Exactly once as Slack shows it: every post carries message metadata naming its notification's
key (and which part of a split message it is). When an earlier attempt's outcome is unknown (its
answer timed out, or the process died mid-call) the destination's recent messages are read
first (`conversations.history`, or `conversations.replies` in a thread, with metadata), and only
the parts not found there are posted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import DeliveryError, Destination, SendKey
from bot.slack.answers import answer_of
from bot.slack.blocks import PLATFORM, posts
from commands.core.messages import Message, PersonRef
from storage.models import Channel

log = logging.getLogger(__name__)

# The metadata event type of Liaison's posts; its payload names the notification and the part.
EVENT_TYPE = "liaison_delivery"
# How far back to look for an earlier attempt, beyond the notification's creation (clock skew).
LOOK_BACK_S = 60.0
# Pages of history to read at most when looking (Slack gives up to 200 messages a page).
LOOK_PAGES = 5

HINTS = {
    "channel_not_found": "check the channel's slack id in [[channels]]",
    "not_in_channel": "invite the bot: /invite @Liaison in that channel",
    "is_archived": "the channel is archived: unarchive it or change [[channels]]",
    "invalid_auth": "the bot token is wrong: check LIAISON_SLACK_BOT_TOKEN",
    "not_authed": "no bot token was sent: check LIAISON_SLACK_BOT_TOKEN",
    "token_revoked": "the bot token was revoked: reinstall the app",
    "account_inactive": "the bot token was revoked: reinstall the app",
    "missing_scope": "the app lacks a scope: update it from `liaison slack manifest`",
    "user_not_found": "check the person's slack id in [[people]]",
}


def make_ref(channel: str, ts: str) -> str:
    """A message reference that names the channel and the message: "C123:1700000000.000100"."""
    return f"{channel}:{ts}"


def parse_ref(ref: str) -> tuple[str, str]:
    """The channel and ts of a message reference."""
    channel, _, ts = ref.partition(":")
    return channel, ts


class Throttle:
    """At most one message per `interval` seconds in each channel (Slack allows about one)."""

    def __init__(
        self,
        interval: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._next: dict[str, float] = {}

    async def wait(self, channel: str) -> None:
        """Return when `channel` may take another message, and book the slot."""
        now = self._monotonic()
        due = self._next.get(channel, now)
        if due > now:
            await self._sleep(due - now)
            now = due
        self._next[channel] = now + self.interval


class SlackSender:
    """The sending side of the Slack adapter (a `bot.delivery.Sender`)."""

    platform = PLATFORM
    # Slack allows about one message a second in each channel; the outbox paces lanes by it.
    burst = 1

    def __init__(self, client: AsyncWebClient, throttle: Throttle) -> None:
        self.client = client
        self.throttle = throttle
        self.pace = throttle.interval
        # The IM channel of each person the bot has written to: where their DM's history is.
        self._ims: dict[str, str] = {}

    def channel_address(self, channel: Channel) -> str | None:
        """The channel's Slack id from [[channels]], if it has one."""
        return channel.address_on(PLATFORM)

    def person_address(self, person: PersonRef) -> str | None:
        """The person's Slack user id: posting to it writes in the bot's DM with them."""
        return person.id_on(PLATFORM)

    async def send(
        self,
        to: Destination,
        message: Message,
        *,
        late: bool,
        thread: str | None = None,
        once: SendKey | None = None,
    ) -> str | None:
        """Post a message (split if it is too long for one); return the first post's reference.

        With `once`, each post carries the key in its metadata; if an earlier attempt may have
        arrived, the parts already in the conversation are not posted again.
        """
        thread_ts = parse_ref(thread)[1] if thread else None
        channel = to.address
        found: dict[int, tuple[str, str]] = {}
        if once is not None and once.unsure:
            try:
                found = await self._posted(to, thread_ts, once)
            except DeliveryError as exc:
                if exc.permanent:
                    raise
                raise DeliveryError(
                    exc.reason,
                    retry_after=exc.retry_after,
                    unsure=True,
                    looking=True,
                    code=exc.code,
                ) from None
        first: str | None = None
        for n, post in enumerate(posts(message, late=late)):
            if n in found:
                channel, ts = found[n]
                key = once.key if once else "?"
                log.info("slack: %s part %d was already posted (%s); not again", key, n, ts)
                first = first or make_ref(channel, ts)
                continue
            await self.throttle.wait(channel)
            args: dict[str, Any] = {
                "channel": channel,
                "text": post.text,
                "blocks": post.blocks,
                "unfurl_links": False,
                "unfurl_media": False,
            }
            if thread_ts:
                args["thread_ts"] = thread_ts
            if once is not None:
                args["metadata"] = {
                    "event_type": EVENT_TYPE,
                    "event_payload": {"key": once.key, "part": n},
                }
            response = await self._call(to, "chat.postMessage", self.client.chat_postMessage, args)
            # A DM is addressed to the user id, but lives in an IM channel: edits need that one.
            channel = str(response.get("channel") or channel)
            if to.person is not None:
                self._ims[to.address] = channel
            first = first or make_ref(channel, str(response["ts"]))
        if message.image is not None and not found:
            await self.throttle.wait(channel)
            image = message.image
            upload = {
                "filename": image.filename,
                "content": image.data,
                "title": image.alt or image.filename,
                "alt_txt": image.alt,
                "channel": channel,
                **({"thread_ts": thread_ts} if thread_ts else {}),
            }
            await self._call(to, "files.upload", self.client.files_upload_v2, upload)
        return first

    async def _posted(
        self, to: Destination, thread_ts: str | None, once: SendKey
    ) -> dict[int, tuple[str, str]]:
        """The parts of `once.key` already in the conversation, as part -> (channel, ts)."""
        channel = self._ims.get(to.address, to.address)
        if to.person is not None and channel == to.address:
            # A DM's history is the IM channel's; opening it again just names it.
            opened = await self._call(
                to, "conversations.open", self.client.conversations_open, {"users": channel}
            )
            channel = str((opened.get("channel") or {}).get("id") or channel)
            self._ims[to.address] = channel
        args: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{once.since.timestamp() - LOOK_BACK_S:.6f}",
            "include_all_metadata": True,
            "limit": 200,
        }
        if thread_ts:
            method, call = "conversations.replies", self.client.conversations_replies
            args["ts"] = thread_ts
        else:
            method, call = "conversations.history", self.client.conversations_history
        found: dict[int, tuple[str, str]] = {}
        for _ in range(LOOK_PAGES):
            page = await self._call(to, method, call, args)
            for item in page.get("messages") or []:
                metadata = item.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == EVENT_TYPE and payload.get("key") == once.key:
                    found.setdefault(int(payload.get("part", 0)), (channel, str(item["ts"])))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor or not page.get("has_more", True):
                break
            args["cursor"] = cursor
        return found

    async def edit(self, ref: str, to: Destination, message: Message) -> str | None:
        """Redraw a posted message in place with chat.update (its first part, if it was split)."""
        channel, ts = parse_ref(ref)
        post = posts(message, late=False)[0]
        args = {"channel": channel, "ts": ts, "text": post.text, "blocks": post.blocks}
        await self._call(to, "chat.update", self.client.chat_update, args)
        return ref

    async def _call(
        self,
        to: Destination,
        method: str,
        call: Callable[..., Awaitable[Any]],
        args: dict[str, Any],
    ) -> Any:
        where = f"#{to.channel}" if to.channel else f"@{to.person.handle if to.person else '?'}"
        try:
            return await call(**args)
        except SlackApiError as exc:
            raise _api_error(method, where, to.address, exc) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            reason = f"{method} to {where} ({to.address}): {type(exc).__name__} {exc}".strip()
            log.warning("slack: %s; will retry", reason)
            # The request may have reached Slack and only the answer been lost.
            raise DeliveryError(reason, unsure=True, code="unreachable") from None


def _api_error(method: str, where: str, address: str, exc: SlackApiError) -> DeliveryError:
    answer = answer_of(exc)
    reason = f"{method} to {where} ({address}): {answer}"
    # Slack's error code, else the HTTP status of an answer that was not Slack's.
    code = answer.code or str(answer.status or "unreachable")
    if answer.rate_limited:
        retry_after = answer.retry_after or 1.0
        log.warning("slack: rate limited on %s; retrying in %ss", where, retry_after)
        return DeliveryError(
            f"{reason}, retry after {retry_after:g}s", retry_after=retry_after, code=code
        )
    if answer.transient:
        log.warning("slack: %s; will retry", reason)
        # A 5xx or a proxy's page does not say whether Slack posted first.
        return DeliveryError(reason, unsure=True, code=code)
    hint = HINTS.get(answer.code or "")
    reason = f"{reason} ({hint})" if hint else reason
    log.error("slack: cannot deliver to %s: %s", where, reason)
    return DeliveryError(reason, permanent=True, code=code)
