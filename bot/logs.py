"""How the process logs: JSON lines for a machine, readable lines for a person, no secrets.

`configure()` is called once by the `liaison` command. Where the logs go (standard error) is a
terminal, each record is one readable line, `TIME LEVEL LOGGER: MESSAGE`; anywhere else (a
container, a pipe, a log shipper) it is one JSON object per line, with the fields the code
passed in `extra=` (`command`, `outcome`, `delivery`, ...) as keys of their own. The JSON side
is python-json-logger: a plain `logging.Formatter`, so every library that logs through the
standard `logging` module (discord.py, slack-bolt, aiohttp, APScheduler, Alembic) comes out in
the same format with no adapter, and the code keeps `logging.getLogger(__name__)`.

Every handler `configure()` installs carries `Redact`: the values of the configured secrets
(tokens, signing and webhook secrets, the database password) and anything shaped like a Slack,
Discord or GitHub token, a bearer header or a password in a URL is replaced by `[redacted]`
in the message, its arguments, the traceback and the extra fields, before any formatter sees
the record.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config import Settings

READABLE = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HIDDEN = "[redacted]"

# Shapes of credentials, whoever configured them: Slack tokens (xoxb-, xoxp-, xapp-, ...),
# GitHub tokens (ghp_, gho_, ghs_, github_pat_), Discord bot tokens (three dot-separated
# base64 parts), Authorization headers, and the password of a URL (postgresql://user:pw@host).
_SHAPES = re.compile(
    r"xox[a-z]-[A-Za-z0-9-]{8,}"
    r"|xapp-[A-Za-z0-9-]{8,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bgithub_pat_[A-Za-z0-9_]{20,}"
    r"|\b[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,}"
    r"|(?i:\b(?:bearer|bot|token)\s+)[A-Za-z0-9._~+/=-]{16,}"
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?P<tail>@)")

# The values of the secrets this process was configured with (see `hide`).
_secrets: set[str] = set()

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def hide(values: Iterable[str | None]) -> None:
    """Never log these values (the configured tokens and secrets), whatever logs them."""
    # Very short values would blank out ordinary words; no real secret is that short.
    _secrets.update(v for v in values if v and len(v) >= 6)


def redact(text: str) -> str:
    """`text` with every known secret and every credential-shaped string replaced."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, HIDDEN)
    text = _URL_PASSWORD.sub(rf"\g<head>{HIDDEN}\g<tail>", text)
    return _SHAPES.sub(HIDDEN, text)


class Redact(logging.Filter):
    """Rewrites a record so that no secret reaches a formatter (message, traceback, extras)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; only its text changes."""
        try:
            message = record.getMessage()
        except Exception:  # a wrong format string: keep what there is, as logging would
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters use this text rather than format the exception again (ours redact
            # what they format anyway; see `formatter`).
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class _Readable(logging.Formatter):
    """`TIME LEVEL LOGGER: MESSAGE`, tracebacks redacted too."""

    def formatException(self, ei: Any) -> str:
        return redact(super().formatException(ei))


def formatter(stream: TextIO) -> logging.Formatter:
    """Readable lines for a terminal, JSON lines for anything else."""
    if _is_terminal(stream):
        return _Readable(READABLE)
    # Imported here: a terminal session never needs it.
    from pythonjsonlogger.json import JsonFormatter

    class Json(JsonFormatter):
        # python-json-logger formats the exception itself, not from the record's cached text.
        def formatException(self, ei: Any) -> str:
            # A string: exc_info_as_array (which makes it a list) is not used.
            return redact(str(super().formatException(ei)))

    # `time` is ISO 8601 in UTC with microseconds, set from the record's creation.
    return Json(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp="time",
    )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream: not a person reading it
        return False


def handler(stream: TextIO) -> logging.Handler:
    """A handler writing to `stream` in the format that suits it, with secrets redacted."""
    made = logging.StreamHandler(stream)
    made.setFormatter(formatter(stream))
    made.addFilter(Redact())
    return made


def configure(level: int, stream: TextIO | None = None) -> None:
    """Send the process's logs to `stream` (standard error) at `level`, once.

    Like `logging.basicConfig`, it leaves a root logger that already has handlers alone (a test
    runner's capture), except for adding the redaction to them.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler(stream or sys.stderr))
    for existing in root.handlers:
        if not any(isinstance(f, Redact) for f in existing.filters):
            existing.addFilter(Redact())
    root.setLevel(level)


# Libraries whose INFO lines are routine chatter for an operator (APScheduler logs every run
# of every job, and each job added or removed): they stay at WARNING unless -v asks for all.
CHATTY = ("apscheduler",)


def for_server() -> None:
    """Log what `liaison run` does at INFO (each command and delivery, "listening" ...).

    After `-v` everything is at INFO already and nothing changes; otherwise the root rises to
    INFO and the CHATTY libraries stay at WARNING.
    """
    root = logging.getLogger()
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
        for name in CHATTY:
            logging.getLogger(name).setLevel(logging.WARNING)


def secrets_of(settings: Settings) -> list[str | None]:
    """The secret values in the settings: every chat and GitHub credential, the DB password."""
    slack, github = settings.slack, settings.github
    found = [
        s.get_secret_value() if s is not None else None
        for s in (
            slack.bot_token,
            slack.app_token,
            slack.signing_secret,
            settings.discord.token,
            github.token,
            github.webhook_secret,
        )
    ]
    # Not a URL: the configuration check says so, and there is no password in it.
    with contextlib.suppress(ArgumentError):
        found.append(make_url(settings.database.url).password)
    return found
