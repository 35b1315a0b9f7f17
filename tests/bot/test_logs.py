"""The process's log output: JSON lines off a terminal, one line per command and delivery with
its ids and outcome, and never a token or secret, whoever logs it.

Logs are read where an operator reads them: the text the installed handler writes, with every
library logging at DEBUG (slack-bolt, aiohttp, discord.py, ...), not through our functions.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot import logs
from bot.config import Settings
from bot.github import GitHubReceiver
from commands.core.clock import FakeClock
from tests.bot.github.conftest import SECRET as WEBHOOK_SECRET
from tests.bot.github.conftest import github_settings, payload, post
from tests.bot.slack.conftest import open_slack, slack_settings
from tests.bot.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack

# A GitHub token in the configuration (never used to call anything here) and a password in a
# URL as a driver's error might echo it.
GITHUB_TOKEN = "ghp_" + "T0k3n" * 8
DB_PASSWORD = "s3cret-db-pass"


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, at DEBUG, as the process's own handler writes it
    (a StringIO is not a terminal: JSON lines)."""
    out = io.StringIO()
    handler = logs.handler(out)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    """Every record written, parsed: each line must be one JSON object."""
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_a_slack_webhook_and_failed_delivery_flow_logs_no_secret_and_one_line_each(
    settings: Settings, clock: FakeClock, logged: io.StringIO
) -> None:
    fake = FakeSlack()
    await fake.start()
    configured = github_settings(settings, token=SecretStr(GITHUB_TOKEN))
    # What `liaison` does once it has read the configuration.
    logs.hide(logs.secrets_of(slack_settings(configured, fake)))
    bot = await open_slack(configured, clock, fake)
    try:
        port = await GitHubReceiver(bot.runtime).start()
        # A signed slash command.
        sent = await bot.command("/whoami", "")
        assert "You are @alice" in bot.reply(sent)["text"]
        # A signed GitHub delivery.
        body = json.dumps(payload("pull_request.labeled")).encode()
        status, _ = await post(
            f"http://127.0.0.1:{port}/github/webhook", "pull_request", body, delivery="d-1"
        )
        assert status == 200
        # A delivery Slack refuses because of the token.
        fake.fail("chat.postMessage", "invalid_auth")
        await bot.ok("/dri", 'set "Smart contract review" @bob')
        # A library that echoes credentials in its error (a header, a database URL).
        logging.getLogger("some.library").error(
            "request failed: Authorization: Bearer %s to postgresql+asyncpg://liaison:%s@db/x",
            BOT_TOKEN,
            DB_PASSWORD,
        )
        try:
            raise RuntimeError(f"token {BOT_TOKEN} refused")
        except RuntimeError:
            logging.getLogger("some.library").exception("and a traceback")
    finally:
        await bot.adapter.stop()
        await bot.runtime.close()
        await fake.stop()

    text = logged.getvalue()
    for secret in (BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, GITHUB_TOKEN, DB_PASSWORD):
        assert secret not in text, f"{secret} was logged"
    assert "[redacted]" in text
    records = lines(logged)
    traceback = next(r for r in records if r["message"] == "and a traceback")["exc_info"]
    assert (
        traceback.startswith("Traceback") and "RuntimeError: token [redacted] refused" in traceback
    )
    # One line per command, with its ids and outcome, at INFO.
    commands = [r for r in records if r.get("command")]
    whoami = next(r for r in commands if r["command"] == "whoami")
    assert whoami["level"] == "INFO" and whoami["outcome"] == "done"
    assert whoami["platform"] == "slack" and whoami["user"] == "UALICE" and whoami["request"]
    # One line per delivery, with its ids and outcome.
    failed = [r for r in records if r.get("delivery") and r.get("outcome") == "failed"]
    assert len(failed) == 1 and failed[0]["code"] == "invalid_auth"
    assert failed[0]["level"] == "ERROR" and failed[0]["key"] and failed[0]["attempt"] == 1
    delivered = [r for r in records if r.get("delivery") and r.get("outcome") == "delivered"]
    assert delivered and all(r["level"] == "INFO" for r in delivered)


def test_a_terminal_gets_readable_lines_and_anything_else_json(tmp_path: Path) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream in (Terminal(), io.StringIO()):
        handler = logs.handler(stream)
        record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
        handler.handle(record)
        written = stream.getvalue()
        if isinstance(stream, Terminal):
            assert written.endswith(" INFO bot.x: hello you\n")
        else:
            assert json.loads(written) | {"time": "t"} == {
                "time": "t",
                "level": "INFO",
                "logger": "bot.x",
                "message": "hello you",
            }
