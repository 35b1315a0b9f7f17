"""What Slack answered when a Web API call failed, whatever the body was.

slack_sdk raises `SlackApiError` with a `response` that is a parsed `AsyncSlackResponse` (JSON,
text, or nothing when the body was HTML), or the raw aiohttp response when a JSON content type
carried something else. Reading `.get("error")` off those raises inside the `except` block; this
module reads each shape and names the real cause: Slack's error code, or the HTTP status and
the kind of body ("503 Service Unavailable (HTML)").
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from slack_sdk.errors import SlackApiError

# Errors that another attempt can cure; every other Slack error code means the request itself is
# wrong (no such channel, bot not invited, token revoked, ...) and retrying would only repeat it.
TRANSIENT = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)


@dataclass(frozen=True)
class Answer:
    """A failed call's answer: its HTTP status, Slack's error code if any, and the body's kind."""

    status: int
    code: str | None
    body: str
    retry_after: float | None

    @property
    def transient(self) -> bool:
        """Whether another attempt may work: rate limits, 5xx, and answers that are not Slack's."""
        if self.code is not None:
            return self.code in TRANSIENT or self.status == 429 or self.status >= 500
        # A body without an error code came from a proxy or an incident page, not from the API.
        return True

    @property
    def rate_limited(self) -> bool:
        """Whether Slack asked to slow down."""
        return self.status == 429 or self.code == "ratelimited"

    def __str__(self) -> str:
        if self.code is not None:
            return self.code
        phrase = _phrase(self.status)
        return f"Slack answered {self.status} {phrase} ({self.body})".replace("  ", " ")


def answer_of(exc: SlackApiError) -> Answer:
    """Read a SlackApiError's answer, whichever shape slack_sdk gave it."""
    response: Any = exc.response
    status = int(getattr(response, "status_code", None) or getattr(response, "status", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    content_type = str(headers.get("Content-Type", "") or "").lower()
    data = getattr(response, "data", None)
    code: str | None = None
    if isinstance(data, dict) and data.get("error"):
        code = str(data["error"])
    body = _kind(content_type, data, str(exc))
    limited = status == 429 or code == "ratelimited"
    retry_after = _seconds(headers.get("Retry-After")) if limited else None
    return Answer(status, code, body, retry_after)


def _kind(content_type: str, data: Any, message: str) -> str:
    if "html" in content_type or (isinstance(data, str) and data.lstrip().startswith("<")):
        return "HTML"
    if isinstance(data, dict) and data:
        return "JSON"
    if isinstance(data, str) and data.strip():
        return "text"
    if "non-JSON format: " in message:
        rest = message.split("non-JSON format: ", 1)[1]
        return "HTML" if rest.lstrip().startswith("<") else ("text" if rest.strip() else "empty")
    return "empty" if not data else "JSON"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _seconds(value: Any) -> float:
    try:
        return max(float(value or 1), 0.0)
    except (TypeError, ValueError):
        return 1.0
