"""`liaison run` with a chat token: the installed script serves the platform until SIGTERM.

The real console script runs in its own process against the fake Slack Web API, in HTTP mode on
a free port; a signed slash command reaches it and its answer comes back through response_url.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text

from storage.engine import create_engine
from tests.bot.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackUser
from tests.harness import DEMO

LIAISON = Path(sys.executable).parent / "liaison"
LISTENING = re.compile(r"slack: listening on http://127\.0\.0\.1:(\d+)/slack/events")


async def _read(stderr: asyncio.StreamReader, seen: list[str], port: asyncio.Future[int]) -> None:
    while line := (await stderr.readline()).decode():
        seen.append(line)
        if (m := LISTENING.search(line)) and not port.done():
            port.set_result(int(m[1]))
    if not port.done():
        port.set_exception(AssertionError("liaison run ended early:\n" + "".join(seen)))


def _environment(
    tmp_path: Path, sqlite_template: Path, fake: FakeSlack, token: str
) -> dict[str, str]:
    """The demo config on a migrated SQLite file, Slack in HTTP mode against the fake."""
    database = tmp_path / "liaison.db"
    shutil.copyfile(sqlite_template, database)
    config = tmp_path / "liaison.toml"
    config.write_text(
        DEMO.read_text(encoding="utf-8").replace(
            'url = "sqlite+aiosqlite:///liaison.db"', f'url = "sqlite+aiosqlite:///{database}"'
        )
        + f'\n[slack]\nmode = "http"\napi_base_url = "{fake.api_url}"\n'
        + '\n[http]\nhost = "127.0.0.1"\nport = 0\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    return env | {
        "LIAISON_CONFIG": str(config),
        "LIAISON_SLACK_BOT_TOKEN": token,
        "LIAISON_SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }


async def test_liaison_run_serves_slack_until_sigterm(
    tmp_path: Path, sqlite_template: Path
) -> None:
    fake = FakeSlack()
    await fake.start()
    env = _environment(tmp_path, sqlite_template, fake, BOT_TOKEN)
    process = await asyncio.create_subprocess_exec(
        str(LIAISON), "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    seen: list[str] = []
    try:
        assert process.stderr is not None
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        reader = asyncio.create_task(_read(process.stderr, seen, listening))
        port = await asyncio.wait_for(listening, 60)
        assert "Starting Liaison on slack." in "".join(seen)
        user = SlackUser(fake, f"http://127.0.0.1:{port}/slack/events")
        sent = await user.command("/whoami", "", "UALICE")
        assert sent.status == 200
        for _ in range(200):
            if fake.responses(sent.n):
                break
            await asyncio.sleep(0.05)
        answers = fake.responses(sent.n)
        assert answers, "no answer; the bot said:\n" + "".join(seen)
        assert "You are @" in answers[-1]["text"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
        await reader
        assert "Traceback" not in "".join(seen)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake.stop()


async def test_a_refused_slack_token_stops_liaison_run_with_what_to_fix(
    tmp_path: Path, sqlite_template: Path
) -> None:
    fake = FakeSlack()
    await fake.start()
    try:
        env = _environment(tmp_path, sqlite_template, fake, "xoxb-revoked")
        process = await asyncio.create_subprocess_exec(
            str(LIAISON), "run", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
    finally:
        await fake.stop()
    assert process.returncode == 2
    assert stderr.decode().splitlines()[-1] == (
        "liaison: Slack refused the bot token (invalid_auth): check LIAISON_SLACK_BOT_TOKEN "
        "(the Bot User OAuth Token, xoxb-..., of the installed app; see docs/slack.md)"
    )


class Bot:
    """One `liaison run` process against the fake Slack, with what it has said on stderr."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.seen: list[str] = []

    async def start(self) -> int:
        """Start it; return its HTTP port once it listens."""
        self.process = await asyncio.create_subprocess_exec(
            str(LIAISON), "run", cwd=self.tmp_path, env=self.env, stderr=asyncio.subprocess.PIPE
        )
        assert self.process.stderr is not None
        listening: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(_read(self.process.stderr, self.seen, listening))
        return await asyncio.wait_for(listening, 60)

    async def end(self, sig: signal.Signals) -> int:
        """Send a signal and wait for the process to end; return its exit status."""
        self.process.send_signal(sig)
        status = await asyncio.wait_for(self.process.wait(), 30)
        await self.reader
        return status


def _with_slack_ids(config: Path) -> None:
    """Give the demo's people and shared channel Slack ids, so notifications go to Slack."""
    text_ = config.read_text(encoding="utf-8")
    for handle in ("alice", "bob", "carol", "dave"):
        text_ = text_.replace(
            f'handle = "{handle}"\n', f'handle = "{handle}"\nslack = "U{handle.upper()}"\n'
        )
    config.write_text(text_.replace('name = "shared"\n', 'name = "shared"\nslack = "CSHARED"\n'))


async def _statuses(database: Path) -> dict[str, str]:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT outbox.key, delivery.status FROM delivery "
                    "JOIN outbox ON outbox.id = delivery.outbox_id"
                )
            )
            return {k: s for k, s in rows.all()}
    finally:
        await engine.dispose()


async def _until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """Wait until `check` holds; return how long it took."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < within, f"{what}: not within {within}s"
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_killed_mid_send_the_next_start_delivers_each_message_once_within_seconds(
    tmp_path: Path, sqlite_template: Path
) -> None:
    fake = FakeSlack()
    await fake.start()
    env = _environment(tmp_path, sqlite_template, fake, BOT_TOKEN)
    _with_slack_ids(Path(env["LIAISON_CONFIG"]))
    first, second = Bot(tmp_path, env), Bot(tmp_path, env)
    try:
        # Every post is made, but its answer never comes back: then the process is killed.
        # (An urgent policy: on the real clock, dave's DM must not wait for his working hours.)
        fake.fail("chat.postMessage", "lost", times=1000)
        user = SlackUser(fake, f"http://127.0.0.1:{await first.start()}/slack/events")
        sent = await user.command(
            "/review", "request https://x.org/pr/7 Fix reviewer=@dave policy=hotfix", "UALICE"
        )
        assert sent.status == 200

        async def two_lanes_in_flight() -> bool:
            return len(fake.to("chat.postMessage", outcome="lost")) >= 2

        await _until(two_lanes_in_flight, 30, "the card and the DM were not sent")
        assert await first.end(signal.SIGKILL) == -signal.SIGKILL
        fake.recover()
        held = await _statuses(tmp_path / "liaison.db")
        assert "sending" in held.values(), held

        # The same user (Slack's trigger ids go on counting), now talking to the new process.
        user.bot_url = f"http://127.0.0.1:{await second.start()}/slack/events"

        async def all_delivered() -> bool:
            statuses = await _statuses(tmp_path / "liaison.db")
            return set(statuses.values()) == {"delivered"}

        took = await _until(all_delivered, 30, "not delivered after the restart")
        assert took <= 10, f"delivered {took:.1f}s after the restart"
        keyed = fake.keyed()
        assert keyed and set(keyed.values()) == {1}, keyed
        assert len(fake.messages) == len(keyed), "every message carries its key, once"

        # SIGTERM with a post in flight: it is handed back, nothing is left 'sending'.
        fake.fail("chat.postMessage", "timeout", times=1000)
        sent = await user.command("/dri", 'set "Smart contract review" @bob', "UALICE")

        async def in_flight() -> bool:
            return bool(fake.to("chat.postMessage", outcome="timeout"))

        await _until(in_flight, 30, "the announcement was not sent")
        assert await second.end(signal.SIGTERM) == 0
        after = await _statuses(tmp_path / "liaison.db")
        assert "sending" not in after.values() and "pending" in after.values(), after
        assert "handed 1 deliveries in flight back to the outbox" in "".join(second.seen)
        assert "Traceback" not in "".join(second.seen)
    finally:
        for bot in (first, second):
            if getattr(bot, "process", None) is not None and bot.process.returncode is None:
                bot.process.kill()
                await bot.process.wait()
        await fake.stop()
