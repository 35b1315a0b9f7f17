"""The console renderer, and messages surviving the trip through the outbox."""

from __future__ import annotations

from bot.plaintext import render
from commands.core.messages import (
    Action,
    ActionId,
    Field,
    Link,
    Message,
    PersonRef,
    bold,
    code,
    line,
    mention,
)


def _message() -> Message:
    bob = PersonRef(2, "bob", "Bob", (("slack", "U2"),))
    return Message(
        title="Review #4",
        lines=(line("Requested by ", mention(bob), ": ", bold("Fix"), " ", code("x=1")),),
        fields=(Field("Link", line(Link("PR 12", "https://example.org/pr/12"))),),
        actions=(Action(ActionId("review", "ack", "4"), "Acknowledge", "primary"),),
        footer="policy smart-contract",
        tone="warning",
    )


def test_messages_survive_the_outbox_unchanged() -> None:
    original = _message()
    assert Message.from_dict(original.to_dict()) == original


def test_plain_text_shows_people_as_handles_and_links_with_urls() -> None:
    assert render(_message()).splitlines() == [
        "Review #4",
        "Requested by @bob: Fix `x=1`",
        "Link: PR 12 <https://example.org/pr/12>",
        "[Acknowledge]",
        "policy smart-contract",
    ]


def test_user_text_cannot_drive_the_terminal() -> None:
    text = render(Message(lines=(line("evil \x1b[2J\x1b]0;title\x07 text\r"),)))
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert text == "evil [2J]0;title text"


def test_mentions_are_listed_once_each() -> None:
    bob = PersonRef(2, "bob", "Bob")
    msg = Message(lines=(line(mention(bob), mention(bob)),))
    assert msg.mentioned() == [bob]
