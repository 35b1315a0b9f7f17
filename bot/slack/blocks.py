"""The Slack renderer: a neutral `Message` as Block Kit, split to fit Slack's limits.

User text is escaped here and only here (`&`, `<`, `>`), so nothing a user typed can become a
mention, a channel link or a broadcast; `<@U...>` is built only from a person's Slack id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from commands.core.messages import Line, Link, Mention, Message, Text, When

PLATFORM = "slack"
# Slack's limits: 50 blocks a message, 3,000 characters in a section's text, 2,000 in a field,
# 10 fields a section, 25 buttons an actions block, 75 characters on a button.
MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_BUTTONS = 25
MAX_BUTTON_TEXT = 75
MAX_FALLBACK = 3000
TONES = {"info": "", "success": ":white_check_mark: ", "warning": ":warning: ", "error": ":x: "}


@dataclass(frozen=True)
class Post:
    """One Slack message: the notification text and its blocks."""

    text: str
    blocks: list[dict[str, Any]]


def escape(text: str) -> str:
    """User text made inert for Slack: `&`, `<` and `>` as entities (Slack's own rule)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _url(url: str) -> str:
    # Inside <url|label>, a "|" or ">" would end the URL early; encode them instead.
    return escape(url).replace("|", "%7C")


def _text(span: Text) -> str:
    text = escape(span.text)
    if not text.strip():
        return text
    if span.style == "bold":
        return f"*{text}*"
    if span.style == "italic":
        return f"_{text}_"
    if span.style == "code":
        return f"`{text}`"
    return text


def render_line(spans: Line) -> str:
    """One line of spans as Slack mrkdwn."""
    out = []
    for span in spans:
        if isinstance(span, Text):
            out.append(_text(span))
        elif isinstance(span, Link):
            out.append(f"<{_url(span.url)}|{escape(span.label)}>")
        elif isinstance(span, Mention):
            user = span.person.id_on(PLATFORM)
            out.append(f"<@{user}>" if user else "@" + escape(span.person.handle))
        elif isinstance(span, When):
            out.append(date_token(span))
    return "".join(out)


# Slack's date tokens (https://api.slack.com/reference/surfaces/formatting#date-formatting):
# each reader sees the instant in their own time zone; the fallback is for old clients.
_DATE_TOKENS = {
    "datetime": "{date_short_pretty} {time}",
    "date": "{date_short_pretty}",
    "time": "{time}",
}


def date_token(span: When) -> str:
    """An instant as Slack's `<!date^unix^format|fallback>`, shown in each reader's zone."""
    fallback = escape(span.text()).replace("|", "/")
    return f"<!date^{int(span.at.timestamp())}^{_DATE_TOKENS[span.show]}|{fallback}>"


def fallback(message: Message) -> str:
    """The plain notification text Slack shows where blocks are not (previews, screen readers)."""
    parts = [escape(message.title)] if message.title else []
    parts.extend(render_line(ln) for ln in message.lines)
    if not parts:
        parts.extend(f"{escape(f.name)}: {render_line(f.value)}" for f in message.fields)
    text = TONES[message.tone] + "\n".join(parts)
    return _cut(text, MAX_FALLBACK) or "Liaison"


def _cut(text: str, limit: int) -> str:
    """`text` shortened to `limit` characters without breaking an entity or a <...> token."""
    if len(text) <= limit:
        return text
    return text[: _safe_end(text, limit - 1)] + "…"


def _safe_end(text: str, limit: int) -> int:
    """The largest end <= limit that does not fall inside `&...;` or `<...>`."""
    end = limit
    for opener, closer in (("&", ";"), ("<", ">")):
        start = text.rfind(opener, 0, end)
        if start != -1 and text.find(closer, start, end) == -1:
            end = min(end, start)
    return end if end > 0 else limit


def _chunks(text: str, limit: int) -> list[str]:
    """Split text into pieces of at most `limit` characters, at line ends or spaces if it can."""
    pieces = []
    while len(text) > limit:
        end = _safe_end(text, limit)
        cut = max(text.rfind("\n", 0, end), text.rfind(" ", 0, end))
        cut = cut if cut > limit // 2 else end
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        pieces.append(text)
    return pieces


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def blocks(message: Message) -> list[dict[str, Any]]:
    """Every block of a message, before splitting into posts."""
    out: list[dict[str, Any]] = []
    if message.title:
        title = TONES[message.tone] + f"*{escape(message.title)}*"
        out.extend(_section(t) for t in _chunks(title, MAX_SECTION))
    body = "\n".join(render_line(ln) for ln in message.lines)
    if body.strip():
        out.extend(_section(t) for t in _chunks(body, MAX_SECTION))
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{escape(f.name)}*\n{render_line(f.value)}", MAX_FIELD)}
        for f in message.fields
    ]
    for start in range(0, len(fields), MAX_FIELDS):
        out.append({"type": "section", "fields": fields[start : start + MAX_FIELDS]})
    buttons = [_button(str(a.id), a.label, a.style) for a in message.actions]
    for start in range(0, len(buttons), MAX_BUTTONS):
        out.append({"type": "actions", "elements": buttons[start : start + MAX_BUTTONS]})
    if message.footer:
        footer = _cut(escape(message.footer), MAX_FIELD)
        out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return out


def _button(action_id: str, label: str, style: str) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label[:MAX_BUTTON_TEXT], "emoji": False},
        "value": action_id,
    }
    if style in ("primary", "danger"):
        button["style"] = style
    return button


LATE = "Sent late: Liaison was not running when this fell due."


def posts(message: Message, *, late: bool = False) -> list[Post]:
    """The message as one or more Slack posts of at most 50 blocks each."""
    every = blocks(message) or [_section(fallback(message))]
    if late:
        every.append({"type": "context", "elements": [{"type": "mrkdwn", "text": LATE}]})
    text = fallback(message)
    out = []
    for n, start in enumerate(range(0, len(every), MAX_BLOCKS)):
        out.append(
            Post(text if n == 0 else f"{text} (continued)", every[start : start + MAX_BLOCKS])
        )
    return out
