"""The bot with GitHub's webhook on its HTTP server, fed signed deliveries of real payloads."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.config import GitHubRuleSettings, GitHubSettings, HttpSettings, Settings
from bot.github import GitHubReceiver
from commands.core.clock import FakeClock
from tests.harness import Chat, open_chat

PAYLOADS = Path(__file__).parent / "payloads"
SECRET = "test-webhook-secret"
LOGINS = {
    "alice": "alice-set",
    "bob": "bob-set",
    "carol": "carol-ic",
    "dave": "dave-ic",
    "erin": "erin-ic",
}


def github_settings(settings: Settings, **github: Any) -> Settings:
    """The demo with GitHub logins for everyone, two rules, the webhook secret, any free port."""
    rules = [
        GitHubRuleSettings(
            repository="SetProtocol/*", label="needs-ic-review", policy="smart-contract", org="ic"
        ),
        GitHubRuleSettings(repository="SetProtocol/*", person="dave", org="ic"),
    ]
    options: dict[str, Any] = {"webhook_secret": SecretStr(SECRET), "rules": rules, **github}
    return settings.model_copy(
        update={
            "github": GitHubSettings(**options),
            "http": HttpSettings(host="127.0.0.1", port=0),
            "people": [p.model_copy(update={"github": LOGINS[p.handle]}) for p in settings.people],
        }
    )


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A stored payload; `changes` set keys by path, joined by "__" ("pull_request__title")."""
    data: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[last] = copy.deepcopy(value)
    return data


def sign(body: bytes, secret: str = SECRET) -> str:
    """X-Hub-Signature-256 as GitHub computes it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to one delivery, and what was delivered to chat because of it."""

    status: int
    text: str
    notifications: list[tuple[str, str]] = field(default_factory=list)


async def post(
    url: str,
    event: str,
    body: bytes,
    *,
    delivery: str | None = None,
    signature: str | None = "sign",
    content_type: str = "application/json",
) -> tuple[int, str]:
    """POST a delivery as GitHub does; signature "sign" signs it with the test secret."""
    headers = {
        "Content-Type": content_type,
        "User-Agent": "GitHub-Hookshot/7f3d2e1",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "432101",
    }
    if signature is not None:
        headers["X-Hub-Signature-256"] = sign(body) if signature == "sign" else signature
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, (await response.text()).strip()


class Hub:
    """GitHub's side towards the running bot: deliveries in, chat transcript out."""

    def __init__(self, chat: Chat, url: str) -> None:
        self.chat = chat
        self.url = url

    async def deliver(self, name: str, *, delivery: str | None = None, **changes: Any) -> Answer:
        """Post the stored payload `name` ("pull_request.labeled"), signed; deliver its effects."""
        event = name.split(".")[0]
        body = json.dumps(payload(name, **changes)).encode()
        start = len(self.chat.console.transcript)
        status, text = await post(self.url, event, body, delivery=delivery)
        await self.chat.runtime.worker.drain()
        return Answer(status, text, self.chat.delivered(start))

    async def ok(self, name: str, **changes: Any) -> Answer:
        """Deliver, and expect it to have done something."""
        answer = await self.deliver(name, **changes)
        assert answer.status == 200, answer
        return answer


async def open_hub(settings: Settings, clock: FakeClock) -> Hub:
    """The bot with its webhook listening (background tasks off: tests drive time)."""
    chat = await open_chat(settings, clock)
    port = await GitHubReceiver(chat.runtime).start()
    return Hub(chat, f"http://127.0.0.1:{port}/github/webhook")


@pytest.fixture
async def hub(settings: Settings, clock: FakeClock) -> AsyncIterator[Hub]:
    """The bot on the demo configuration with GitHub's webhook on."""
    opened = await open_hub(github_settings(settings), clock)
    try:
        yield opened
    finally:
        await opened.chat.runtime.close()
