"""The Slack renderer: user text never pings; mentions only from identities; Slack's limits kept."""

from __future__ import annotations

import json
import re

import pytest

from bot.slack.blocks import escape, posts, render_line
from commands.core.messages import Link, Message, PersonRef, line, mention
from tests.bot.slack.conftest import SHARED, USERS, SlackBot
from tests.mention_corpus import MENTION_INJECTIONS

# What Slack would turn into a ping or a link: <!...>, <@...>, <#...>.
_ANGLE = re.compile(r"<[!@#][^>]*>")
# A date token pings nobody: each reader sees the instant in their own time zone.
_DATE = re.compile(r"<!date\^\d+\^\{[a-z_]+\}( \{time\})?\|[A-Za-z0-9 :+-]+>")


def _pings(posted: list[str]) -> set[str]:
    return {m for text in posted for m in _ANGLE.findall(text) if not _DATE.fullmatch(m)}


@pytest.mark.parametrize("typed", MENTION_INJECTIONS)
def test_user_text_renders_inert(typed: str) -> None:
    nobody = PersonRef(9, "zed", "Zed")  # not on Slack: a plain @handle, never a mention
    message = Message(
        title=typed,
        lines=(
            line(
                typed,
                Link(typed, "https://example.com/?q=" + typed.replace(" ", "")),
                mention(nobody),
            ),
        ),
        footer=typed,
    )
    rendered = json.dumps([p.__dict__ for p in posts(message)])
    assert _pings([rendered]) == set()


def test_a_mention_is_built_only_from_a_slack_identity() -> None:
    bob = PersonRef(2, "bob", "Bob", (("slack", "UBOB"), ("discord", "123")))
    zed = PersonRef(3, "z<!here>", "Zed")
    assert render_line(line(mention(bob), " and ", mention(zed))) == "<@UBOB> and @z&lt;!here&gt;"
    assert escape("a & <b>") == "a &amp; &lt;b&gt;"
    link = render_line((Link("x|<!channel>", "https://e.com/a|b>c"),))
    assert link == "<https://e.com/a%7Cb&gt;c|x|&lt;!channel&gt;>"


async def test_the_injection_corpus_typed_in_slack_pings_nobody(slack: SlackBot) -> None:
    for n, typed in enumerate(MENTION_INJECTIONS):
        # As Slack sends it: the user's <, > and & arrive escaped, as with should_escape.
        sent = escape(typed)
        await slack.command(
            "/review", f'request https://github.com/org/repo/pull/{n} "{sent}" reviewer=@dave'
        )
        await slack.command("/dri", f'set "Area {n} {sent}" @bob')
    texts = [json.dumps(c.args) for c in slack.fake.posted()]
    assert len(slack.fake.posted(SHARED)) >= 2 * len(MENTION_INJECTIONS)
    assert _pings(texts) <= {f"<@{USERS['alice']}>", f"<@{USERS['bob']}>", f"<@{USERS['dave']}>"}
    assert all("link_names" not in c.args for c in slack.fake.posted())
    # The text arrived whole: shown as typed, not swallowed.
    assert any("&lt;!channel&gt;" in t for t in texts)
