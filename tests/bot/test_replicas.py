"""Several `liaison run` replicas on one PostgreSQL database, as real processes.

Each replica is the installed console script, started together on a freshly migrated database
(so they also race to apply the configuration), against the fake Slack Web API or the fake
Discord API and gateway. Replicas are killed with SIGKILL, which only a real process can be.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.discord.conftest import GUILD, SHARED, USERS, shown, user_payload
from tests.bot.discord.fake_api import APP_ID, FakeDiscord
from tests.conftest import DEMO, REPO, migrated_copy

pytestmark = pytest.mark.postgres

LIAISON = Path(sys.executable).parent / "liaison"
HOLDING = re.compile(r"holding the Discord gateway \(liaison gateway [^:]+:(\d+)\)")


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh PostgreSQL database at the newest migration, with no configuration applied yet."""
    yield from migrated_copy(request, "postgresql", tmp_path / "unused.db")


class Replica:
    """One `liaison -v run` process, with every line it wrote to stderr."""

    def __init__(self, name: str, config: Path, env: dict[str, str]) -> None:
        self.name, self.config, self.env = name, config, env
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the process (it is running, not necessarily serving, when this returns)."""
        self.lines = []  # what this run says
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
        # The script must import this checkout's code, not the one it was installed from.
        env |= {"PYTHONPATH": str(REPO), **self.env}
        self.process = await asyncio.create_subprocess_exec(
            str(LIAISON),
            "-v",
            "-c",
            str(self.config),
            "run",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        while line := (await self.process.stderr.readline()).decode():
            self.lines.append(line)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def serving(self, platform: str) -> bool:
        """Whether the process has started `platform` (and so handles SIGTERM)."""
        return f"connected to {platform}" in self.said()

    def said(self) -> str:
        return "".join(self.lines)

    async def end(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send a signal and wait for the process to end; return its exit status."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        status = await asyncio.wait_for(self.process.wait(), 30)
        if self._reader is not None:
            await self._reader
        return status


async def _until(check: Callable[[], Awaitable[bool] | bool], within: float, what: str) -> float:
    """Wait until `check` holds; return how long it took."""
    start = time.monotonic()
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return time.monotonic() - start
        assert time.monotonic() - start < within, f"{what}: not within {within}s"
        await asyncio.sleep(0.05)


def _config(path: Path, database_url: str, extra: str, people: str = "") -> Path:
    text = DEMO.read_text(encoding="utf-8").replace(
        'url = "sqlite+aiosqlite:///liaison.db"', f'url = "{database_url}"'
    )
    path.write_text(text + people + extra, encoding="utf-8")
    return path


async def _stop_all(replicas: list[Replica]) -> None:
    for replica in replicas:
        if replica.running:
            await replica.end(signal.SIGKILL)


# --- one Discord gateway holder ------------------------------------------------------------------


def _interaction(fake: FakeDiscord, n: int) -> dict[str, Any]:
    """A /whoami from alice, as the gateway delivers it."""
    alice = user_payload("alice")
    return {
        "id": fake.new_id(),
        "application_id": str(APP_ID),
        "type": 2,
        "token": f"interaction-token-{n}",
        "version": 1,
        "guild_id": str(GUILD),
        "channel_id": str(SHARED),
        "channel": {
            "id": str(SHARED),
            "type": 0,
            "guild_id": str(GUILD),
            "name": "shared",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
        },
        "member": {
            "user": alice,
            "roles": [],
            "joined_at": "2025-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "0",
        },
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(GUILD)},
        "context": 0,
        "attachment_size_limit": 10485760,
        "data": {"id": fake.new_id(), "name": "whoami", "type": 1},
    }


async def _answered_once(fake: FakeDiscord, n: int) -> str:
    """Send interaction `n` through the gateway; return its one answer's text."""
    payload = _interaction(fake, n)
    assert await fake.dispatch("INTERACTION_CREATE", payload) == 1, "one connection, one delivery"
    path = f"interactions/{payload['id']}/{payload['token']}/callback"
    await _until(lambda: bool(fake.called("POST", path)), 15, f"interaction {n} unanswered")
    await asyncio.sleep(0.3)  # a second answer would have come by now
    [answer] = fake.called("POST", path)
    return shown(answer.json["data"]["embeds"][0]["title"])


async def test_one_replica_holds_the_discord_gateway_and_another_takes_over_after_a_kill(
    tmp_path: Path, postgres_database: str
) -> None:
    fake = FakeDiscord()
    await fake.start()
    config = _config(
        tmp_path / "liaison.toml",
        postgres_database,
        f'\n[discord]\napi_base_url = "{fake.base}"\ngateway_url = "{fake.gateway}"\n',
    )
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('handle = "alice"\n', f'handle = "alice"\ndiscord = "{USERS["alice"]}"\n')
    )
    env = {"LIAISON_DISCORD_TOKEN": "test-token"}
    replicas = [Replica(f"r{n}", config, env) for n in range(3)]
    try:
        # Started together on a fresh database: they race to apply the configuration, too.
        await asyncio.gather(*(r.start() for r in replicas))
        await _until(lambda: all(r.serving("discord") for r in replicas), 60, "not started")
        await _until(lambda: len(fake.live()) == 1, 30, "no replica connected to the gateway")
        await asyncio.sleep(2.5)  # longer than a waiter's retry: still only one connection
        assert len(fake.sessions) == 1, "a second replica connected to the gateway"
        assert all(r.running for r in replicas), [r.said() for r in replicas]
        holders = [r for r in replicas if HOLDING.search(r.said())]
        assert [int(HOLDING.search(r.said())[1]) for r in holders] == [  # type: ignore[index]
            r.pid for r in holders
        ]
        [holder] = holders
        assert await _answered_once(fake, 1) == "You are @alice"

        killed_at = time.monotonic()
        assert await holder.end(signal.SIGKILL) == -signal.SIGKILL
        await _until(lambda: len(fake.live()) == 1, 30, "no replica took the gateway over")
        took = fake.live()[0].opened - killed_at
        print(f"gateway takeover after SIGKILL: {took:.2f}s")
        assert took < 30
        first, second = fake.sessions
        assert first.closed is not None and first.closed <= second.opened, "never two at once"
        assert await _answered_once(fake, 2) == "You are @alice"

        # The killed replica comes back as a waiter: the holder keeps the gateway.
        await holder.start()
        await _until(lambda: holder.serving("discord"), 60, "the killed replica did not restart")
        await asyncio.sleep(2.5)
        assert len(fake.sessions) == 2 and len(fake.live()) == 1
        assert await _answered_once(fake, 3) == "You are @alice"

        assert await asyncio.gather(*(r.end() for r in replicas)) == [0] * len(replicas)
        for replica in replicas:
            assert "Traceback" not in replica.said(), replica.said()
        assert not fake.live(), "a replica stopped without leaving the gateway"
    finally:
        await _stop_all(replicas)
        await fake.close()
