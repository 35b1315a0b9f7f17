"""Every command group through Slack: slash commands signed as Slack sends them, answers back."""

from __future__ import annotations

from tests.bot.slack.conftest import SHARED, SlackBot


async def test_smoke(slack: SlackBot) -> None:
    text = await slack.ok("/whoami", "")
    print(text)
    print(slack.fake.calls)
