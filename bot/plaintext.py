"""The plain-text renderer: what the console prints."""

from __future__ import annotations

import re

from commands.core.messages import Line, Link, Mention, Message, Text, When

# User text must not be able to drive the terminal (colours, cursor moves, clearing the screen).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Text with terminal control characters removed."""
    return _CONTROL.sub("", text)


def render_line(spans: Line) -> str:
    """One line of spans as plain text."""
    out = []
    for span in spans:
        if isinstance(span, Text):
            text = clean(span.text)
            out.append(f"`{text}`" if span.style == "code" else text)
        elif isinstance(span, Link):
            out.append(f"{clean(span.label)} <{clean(span.url)}>")
        elif isinstance(span, Mention):
            out.append("@" + span.person.handle)
        elif isinstance(span, When):
            # In the time zone of the person the message is for.
            out.append(span.text())
    return "".join(out)


def render(message: Message) -> str:
    """A whole message as plain text, one item per line."""
    out = []
    if message.title:
        out.append(clean(message.title))
    out.extend(render_line(ln) for ln in message.lines)
    out.extend(f"{clean(f.name)}: {render_line(f.value)}" for f in message.fields)
    if message.actions:
        out.append("  ".join(f"[{clean(a.label)}]" for a in message.actions))
    if message.footer:
        out.append(clean(message.footer))
    return "\n".join(out)
