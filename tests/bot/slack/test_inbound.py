"""Durable before acknowledged: a `liaison run` killed right after its acks does the work once.

One real process (the only way to be killed with SIGKILL), against the fake Slack Web API, on
the demo configuration in Slack's HTTP mode. A burst of commands queues behind one writer; the
process is killed as soon as the last acknowledgement arrives, then started again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import aiohttp
from sqlalchemy import select

from storage.engine import create_engine
from storage.models import AgendaItem
from tests.bot.slack.conftest import USERS
from tests.bot.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackUser
from tests.conftest import REPO
from tests.harness import DEMO, free_port

LIAISON = Path(sys.executable).parent / "liaison"
BURST = 12


def _config(path: Path, database_url: str, fake: FakeSlack, port: int) -> Path:
    text = DEMO.read_text(encoding="utf-8").replace(
        'url = "sqlite+aiosqlite:///liaison.db"', f'url = "{database_url}"'
    )
    for handle, uid in USERS.items():
        text = text.replace(f'handle = "{handle}"', f'handle = "{handle}"\nslack = "{uid}"')
    text += (
        f'\n[slack]\nmode = "http"\napi_base_url = "{fake.api_url}"\n'
        f'\n[http]\nhost = "127.0.0.1"\nport = {port}\n'
        '\n[limits]\nwriters = 1\nresume_after = "1s"\n'
    )
    path.write_text(text, encoding="utf-8")
    return path


async def _start(config: Path, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIAISON_")}
    env |= {
        "LIAISON_SLACK_BOT_TOKEN": BOT_TOKEN,
        "LIAISON_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        # The script must import this checkout's code, not the one it was installed from.
        "PYTHONPATH": str(REPO),
    }
    proc = await asyncio.create_subprocess_exec(
        str(LIAISON),
        "-c",
        str(config),
        "run",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    # Ready (GET /readyz), not merely listening: health is served from the first moment, the
    # Slack endpoint once the adapter has started (a request before then would get 404).
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                    if response.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError("liaison run was not ready within 15 s")


async def _topics(database_url: str) -> Counter[str]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.scalars(select(AgendaItem.topic))
            return Counter(rows.all())
    finally:
        await engine.dispose()


async def test_commands_acknowledged_before_a_sigkill_each_take_effect_once_after_restart(
    tmp_path: Path, database_url: str, fake: FakeSlack
) -> None:
    port = free_port()
    config = _config(tmp_path / "liaison.toml", database_url, fake, port)
    user = SlackUser(fake, f"http://127.0.0.1:{port}/slack/events")
    people = list(USERS.values())
    proc = await _start(config, port)
    try:
        sent = await asyncio.gather(
            *(
                user.command("/agenda", f'add "Burst {n}"', people[n % len(people)])
                for n in range(BURST)
            )
        )
        proc.send_signal(signal.SIGKILL)  # right after the last 200: no chance to finish
        await proc.wait()
        assert [s.status for s in sent] == [200] * BURST
        assert all(s.ack == "" for s in sent), "every command was accepted, none busy"
        before = await _topics(database_url)
        assert sum(before.values()) < BURST, "the kill came too late to leave work behind"
        proc = await _start(config, port)
        expected = Counter({f"Burst {n}": 1 for n in range(BURST)})
        for _ in range(200):
            if await _topics(database_url) == expected:
                break
            await asyncio.sleep(0.1)
        assert await _topics(database_url) == expected
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
