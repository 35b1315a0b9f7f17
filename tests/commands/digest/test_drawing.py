"""The chart is drawn in a process of its own: the bot's process never loads matplotlib."""

from __future__ import annotations

import subprocess
import sys
import textwrap
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
