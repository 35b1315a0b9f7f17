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
from pathlib import Path

from tests.bot.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackUser
from tests.conftest import DEMO

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
