"""The bot on Slack in HTTP mode, against the fake Slack, on the demo configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from bot.config import HttpSettings, Settings, SlackSettings
from bot.runtime import Runtime, open_runtime
from bot.slack import SlackAdapter
from bot.slack.sender import Throttle
from commands.core.clock import FakeClock
from tests.bot.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, Sent, SlackUser

SHARED = "CSHARED"
USERS = {"alice": "UALICE", "bob": "UBOB", "carol": "UCAROL", "dave": "UDAVE", "erin": "UERIN"}


def slack_settings(settings: Settings, fake: FakeSlack) -> Settings:
    """The demo configuration with Slack in HTTP mode, ids for everyone, and the fake's URL."""
    return settings.model_copy(
        update={
            "slack": SlackSettings(
                mode="http",
                bot_token=SecretStr(BOT_TOKEN),
                signing_secret=SecretStr(SIGNING_SECRET),
                api_base_url=fake.api_url,
            ),
            "http": HttpSettings(host="127.0.0.1", port=0),
            "people": [p.model_copy(update={"slack": USERS[p.handle]}) for p in settings.people],
            "channels": [c.model_copy(update={"slack": SHARED}) for c in settings.channels],
        }
    )


def shown(message: dict[str, Any]) -> str:
    """Everything a Slack message shows, as mrkdwn: its blocks' texts, one per line."""
    out = []
    for block in message.get("blocks") or []:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn")
    return "\n".join(out) or str(message.get("text", ""))


@dataclass
class SlackBot:
    """The running bot, the fake Slack it talks to, and a Slack user to drive it."""

    runtime: Runtime
    adapter: SlackAdapter
    fake: FakeSlack
    user: SlackUser

    async def settle(self) -> None:
        """Let acknowledged requests finish, then deliver what they caused."""
        await self.adapter.settle()
        await self.runtime.worker.drain()

    async def command(self, command: str, text: str, *, as_: str = "alice") -> Sent:
        """Type a slash command as a person and wait for everything it caused."""
        sent = await self.user.command(command, text, USERS[as_])
        assert sent.status == 200
        await self.settle()
        return sent

    def reply(self, sent: Sent) -> dict[str, Any]:
        """The only answer sent to a request's response URL."""
        answers = self.fake.responses(sent.n)
        assert len(answers) == 1, answers
        return answers[0]

    async def ok(self, command: str, text: str, *, as_: str = "alice") -> str:
        """Type a command that must succeed; return the text of its ephemeral answer."""
        answer = self.reply(await self.command(command, text, as_=as_))
        assert answer["response_type"] == "ephemeral"
        assert ":x:" not in answer["text"], answer["text"]
        return shown(answer)

    async def press(self, action_id: str, *, as_: str, ts: str, channel: str = SHARED) -> Sent:
        """Press a button on the message `ts` and wait for everything it caused."""
        sent = await self.user.press(action_id, USERS[as_], channel=channel, message_ts=ts)
        assert sent.status == 200
        await self.settle()
        return sent

    async def submit(self, view: dict[str, Any], values: dict[str, Any], *, as_: str) -> Sent:
        """Submit a modal and wait for everything it caused."""
        sent = await self.user.submit(view, USERS[as_], values)
        assert sent.status == 200
        await self.settle()
        return sent


async def open_slack(
    settings: Settings, clock: FakeClock, fake: FakeSlack, **options: Any
) -> SlackBot:
    """Start the bot on Slack in HTTP mode (its background tasks stay off: tests drive time)."""
    runtime = await open_runtime(slack_settings(settings, fake), platforms=["slack"], clock=clock)
    options.setdefault("timeout", 0.5)
    options.setdefault("throttle", Throttle(0.0))
    # "Working on it…" comes after 2 s in production. A loaded test machine can take that long
    # for a digest preview or a delivery timing out, and a second answer would break tests that
    # read the one answer; the test of that message sets its own.
    options.setdefault("working_after", 10.0)
    adapter = SlackAdapter(runtime, **options)
    runtime.worker.senders.append(adapter)
    await adapter.start()
    return SlackBot(
        runtime, adapter, fake, SlackUser(fake, f"http://127.0.0.1:{adapter.port}/slack/events")
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    """A fake Slack Web API on a free local port."""
    server = FakeSlack()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def slack(settings: Settings, clock: FakeClock, fake: FakeSlack) -> AsyncIterator[SlackBot]:
    """The bot on Slack, in HTTP mode, against the fake."""
    bot = await open_slack(settings, clock, fake)
    try:
        yield bot
    finally:
        await bot.adapter.stop()
        await bot.runtime.close()
