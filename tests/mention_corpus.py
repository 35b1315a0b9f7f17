"""User-written text that tries to ping people it should not: every adapter must neutralise it.

Each entry is typed by a user into a title, topic, decision or other free text. Rendered by any
platform's renderer, none of them may produce a mention of everyone, here, a channel, a role,
a user group or a user the bot did not mean to mention.
"""

from __future__ import annotations

MENTION_INJECTIONS: tuple[str, ...] = (
    "@everyone",
    "@here",
    "@channel",
    "<!everyone>",
    "<!here>",
    "<!channel>",
    "<!here|here>",
    "<!subteam^S0123ABCD>",
    "<!subteam^S0123ABCD|@security>",
    "<@U0123ABCD>",
    "<@U0123ABCD|alice>",
    "<@W0123ABCD>",
    "<#C0123ABCD>",
    "<#C0123ABCD|general>",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "<#123456789012345678>",
    "@\u200beveryone",
    "\uff20everyone",
    "@every\u200bone",
    "&lt;!channel&gt;",
    "&amp;lt;!here&amp;gt;",
    "<https://example.com|<!channel>>",
    "<mailto:x@example.com|@here>",
    "`@everyone` and ```<!channel>```",
    "*<!here>*",
    "> <@U0123ABCD>",
    "Fix <!date^1392734382^{date}|x> and <!everyone>",
    "a" * 50 + " @everyone " + "b" * 50,
)
