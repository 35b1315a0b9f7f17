"""Reconciliation against a fake GitHub REST API: what a lost webhook missed is found."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.github import Reconciler
from commands.core.clock import FakeClock
from tests.bot.github.conftest import Hub, github_settings, open_hub, payload
from tests.bot.github.fake_github import TOKEN, FakeGitHub

KEY = ("setprotocol/contracts", 412)
_LINK = re.compile(r" <https?://[^>]+>")


@pytest.fixture
async def fake() -> AsyncIterator[FakeGitHub]:
    """A fake GitHub REST API on a free local port."""
    server = FakeGitHub()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def synced(
    settings: Settings, clock: FakeClock, fake: FakeGitHub
) -> AsyncIterator[tuple[Hub, Reconciler]]:
    """The bot with its webhook, a token, and the REST API pointed at the fake."""
    configured = github_settings(settings, token=SecretStr(TOKEN), api_base_url=fake.url)
    hub = await open_hub(configured, clock)
    try:
        yield hub, Reconciler(hub.chat.runtime, timeout=2.0)
    finally:
        await hub.chat.runtime.close()


async def test_an_approval_whose_webhook_never_came_is_found_by_reconciliation(
    synced: tuple[Hub, Reconciler], fake: FakeGitHub, clock: FakeClock
) -> None:
    hub, reconciler = synced
    await hub.ok("pull_request.labeled")
    fake.pulls[KEY] = payload("pull_request.labeled")["pull_request"]
    assert await reconciler.run() == []
    # Nothing changed on GitHub: both reads are ETag hits, free against the rate limit.
    assert await reconciler.run() == []
    assert fake.statuses() == [200, 200, 304, 304]

    # Dave approves on GitHub; the webhook is lost. GitHub then asks us to slow down.
    fake.reviews[KEY] = [payload("pull_request_review.submitted.approved")["review"]]
    fake.retry_after = 60
    assert await reconciler.run() == []
    assert fake.statuses()[-1] == 403
    clock.advance(timedelta(seconds=30))
    assert await reconciler.run() == []
    assert len(fake.calls) == 5, "nothing is asked of GitHub before Retry-After has passed"

    clock.advance(timedelta(seconds=31))
    start = len(hub.chat.console.transcript)
    assert await reconciler.run() == ["#1 approved"]
    assert fake.statuses()[-2:] == [304, 200]
    await hub.chat.runtime.worker.drain()
    thread = [t for to, t in hub.chat.delivered(start) if to == "#shared (thread)"]
    assert [_LINK.sub("", t) for t in thread] == [
        "@dave approved (review on GitHub, found by reconciliation)."
    ]
    show = _LINK.sub("", (await hub.chat.ok("/review show 1")).reply)
    assert "@dave approved (review on GitHub, found by reconciliation)" in show
    # The approval applied, the review is closed: it is not read again.
    calls = len(fake.calls)
    assert await reconciler.run() == []
    assert len(fake.calls) == calls


async def test_a_request_for_a_pull_request_takes_its_title_from_github(
    synced: tuple[Hub, Reconciler], fake: FakeGitHub
) -> None:
    hub, reconciler = synced
    fake.pulls[KEY] = payload("pull_request.labeled")["pull_request"]
    said = await hub.chat.ok("/review request https://github.com/SetProtocol/contracts/pull/412")
    assert "SetProtocol/contracts#412" in said.notification()
    assert await reconciler.run() == ["#1 retitled"]
    assert "Oracle price guard" in (await hub.chat.ok("/review show 1")).reply
