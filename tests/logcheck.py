"""The whole test run's logs, checked for the test secrets (issue 17: "never in logs").

Every process of the run (each pytest-xdist worker, or the one process) writes its log records
at INFO and above, through the handler `liaison run` installs (`bot.logs.handler`: JSON lines,
the redaction filter), to a file of its own in one directory. When the run ends, the process
that started it reads every file and fails the run if a token, signing secret or webhook
secret of the tests' configurations appears in any line, printing the lines.

What it cannot see: the standard error of the real `liaison` processes some tests start; those
tests read it themselves.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import IO

import pytest

from bot import logs
from tests.bot.github.conftest import SECRET as WEBHOOK_SECRET
from tests.bot.github.fake_github import TOKEN as GITHUB_TOKEN
from tests.bot.slack.fake_slack import BOT_TOKEN, SIGNING_SECRET

DIRECTORY = "LIAISON_TEST_LOG_DIR"
# Every credential the tests configure (the Discord token is the literal in their settings).
SECRETS = (BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET, GITHUB_TOKEN, "test-token")

_installed: tuple[logging.Handler, IO[str]] | None = None


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """Start writing this process's log records to its file (workers inherit the directory)."""
    global _installed
    if not _is_worker(config):
        os.environ[DIRECTORY] = tempfile.mkdtemp(prefix="liaison-test-logs-")
    name = config.workerinput["workerid"] if _is_worker(config) else "main"  # type: ignore[attr-defined]
    stream = open(Path(os.environ[DIRECTORY]) / f"{name}.log", "w", encoding="utf-8")  # noqa: SIM115
    handler = logs.handler(stream)
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    _installed = (handler, stream)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop writing (the files stay until the run's end has read them)."""
    global _installed
    if _installed is not None:
        handler, stream = _installed
        logging.getLogger().removeHandler(handler)
        stream.close()
        _installed = None


def leaks(directory: Path) -> tuple[int, list[str]]:
    """How many lines the run's log files hold, and the ones that contain a secret."""
    total, found = 0, []
    for path in sorted(directory.glob("*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            total += 1
            if any(secret in line for secret in SECRETS):
                found.append(f"{path.name}: {line[:300]}")
    return total, found


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In the process that started the run: read every file; a secret fails the run."""
    if _is_worker(session.config):
        return
    if _installed is not None:
        _installed[1].flush()
    total, found = leaks(Path(os.environ[DIRECTORY]))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if found:
        if reporter is not None:
            reporter.write_sep("=", "a test secret reached the logs", red=True)
            for line in found[:20]:
                reporter.write_line(line)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif reporter is not None:
        reporter.write_line(f"logs: {total} lines written by the run, none with a test secret")
