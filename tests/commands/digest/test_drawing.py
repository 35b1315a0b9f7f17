"""The chart is drawn in a process of its own: the bot's process never loads matplotlib."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from commands.digest.compose import render_chart
    from commands.digest.data import ChartData, Trend

    data = ChartData(("W01", "W02"), (Trend("set", (0.5, 1.0)),), ())
    png = asyncio.run(render_chart(data))
    assert png.startswith(b"\\x89PNG"), png[:8]
    print("matplotlib" in sys.modules, len(png) > 1000)
    """
)


def test_the_chart_is_drawn_outside_the_bots_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    # A PNG came back, and matplotlib was loaded only by the drawing process.
    assert done.stdout.split() == ["False", "True"], done.stdout


STARTS = textwrap.dedent(
    """
    import asyncio, sys
    from commands.digest import compose
    from commands.digest.data import ChartData, Trend

    async def main():
        await compose.render_chart(ChartData(("W01",), (Trend("set", (1.0,)),), ()))
        print(*compose._drawing._processes, flush=True)
        await asyncio.sleep(120)

    asyncio.run(main())
    """
)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_the_drawing_process_ends_with_a_killed_bot() -> None:
    bot = subprocess.Popen(
        [sys.executable, "-c", STARTS],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert bot.stdout is not None
        (drawing,) = map(int, bot.stdout.readline().split())
        assert _alive(drawing)
    finally:
        bot.kill()  # SIGKILL: no clean shutdown of the pool
        bot.wait()
    for _ in range(100):
        if not _alive(drawing):
            break
        time.sleep(0.05)
    assert not _alive(drawing), "the drawing process outlived the bot"
