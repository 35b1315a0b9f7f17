"""`liaison github test-delivery`: a signed sample posted to the running bot's webhook."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner, Result

from bot.cli import app
from tests.bot.github.conftest import SECRET, Hub
from tests.harness import DEMO


async def _invoke(monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    monkeypatch.setenv("LIAISON_GITHUB_WEBHOOK_SECRET", SECRET)
    # The CLI runs its own event loop: in a thread, while this loop serves the webhook.
    return await asyncio.to_thread(CliRunner().invoke, app, ["-c", str(DEMO), *args])


async def test_a_test_delivery_is_verified_and_applied_by_the_running_bot(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    ping = await _invoke(monkeypatch, "github", "test-delivery", "ping", "--url", hub.url)
    assert (ping.exit_code, ping.stdout) == (0, "200 pong\n")
    opened = await _invoke(
        monkeypatch,
        "github",
        "test-delivery",
        "pull_request",
        "--url",
        hub.url,
        "--repository",
        "SetProtocol/contracts",
        "--label",
        "needs-ic-review",
    )
    assert (opened.exit_code, opened.stdout) == (0, "200 #1 opened\n")
    ignored = await _invoke(
        monkeypatch, "github", "test-delivery", "pull_request", "--url", hub.url
    )
    assert ignored.exit_code == 0
    assert ignored.stdout == "202 ignored: no rule matches liaison-test/sample#1\n"


def test_a_test_delivery_without_a_secret_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LIAISON_GITHUB_WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(app, ["-c", str(DEMO), "github", "test-delivery", "ping"])
    assert result.exit_code == 2
    assert "set LIAISON_GITHUB_WEBHOOK_SECRET" in result.stderr
