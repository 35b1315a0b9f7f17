"""/github rules, /review link, and /review request with a pull request's link alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.config import GitHubRuleSettings, GitHubSettings, Settings
from commands.core.clock import FakeClock
from storage.models import GithubPull
from tests.harness import Chat, open_chat

PR = "https://github.com/SetProtocol/contracts/pull/412"


def with_rules(settings: Settings) -> Settings:
    """The demo with two GitHub rules and dave's login."""
    rules = [
        GitHubRuleSettings(
            repository="SetProtocol/*", label="needs-ic-review", policy="smart-contract", org="ic"
        ),
        GitHubRuleSettings(person="dave", org="ic", policy="hotfix"),
    ]
    people = [
        p.model_copy(update={"github": "dave-ic"}) if p.handle == "dave" else p
        for p in settings.people
    ]
    return settings.model_copy(update={"github": GitHubSettings(rules=rules), "people": people})


@pytest.fixture
async def gh_chat(settings: Settings, clock: FakeClock) -> AsyncIterator[Chat]:
    """The bot on the demo configuration with GitHub rules."""
    opened = await open_chat(with_rules(settings), clock)
    try:
        yield opened
    finally:
        await opened.runtime.close()


async def test_github_rules_lists_the_rules_in_order(gh_chat: Chat) -> None:
    said = await gh_chat.ok("/github rules", as_="bob")
    assert "1. SetProtocol/* with label needs-ic-review → ic, smart-contract" in said.reply
    assert "2. */* review asked of @dave → ic, hotfix" in said.reply


async def test_github_rules_says_when_there_are_none(chat: Chat) -> None:
    said = await chat.ok("/github rules")
    assert "No GitHub rules are configured" in said.reply


async def test_a_request_for_a_pull_request_needs_no_title_and_follows_it(gh_chat: Chat) -> None:
    said = await gh_chat.ok(f"/review request {PR}")
    assert "Review #1 requested from Index Coop" in said.reply
    assert "SetProtocol/contracts#412" in said.notification()
    async with gh_chat.runtime.sessions() as session:
        row = await session.scalar(select(GithubPull))
    assert row is not None and (row.repository, row.number, row.review_id) == (
        "setprotocol/contracts",
        412,
        1,
    )
    # A second request for it is a request by hand: the first review keeps following it.
    await gh_chat.ok(f"/review request {PR} Again")
    refused = await gh_chat.fails(f"/review link 2 {PR}")
    assert refused.endswith("SetProtocol/contracts#412 is followed by review #1 already.")


async def test_a_request_for_another_link_still_needs_a_title(chat: Chat) -> None:
    refused = await chat.fails("/review request https://example.com/diff/1")
    assert "Give a title" in refused


async def test_review_link_ties_an_existing_request_to_its_pull_request(chat: Chat) -> None:
    await chat.ok('/review request https://example.com/diff/1 "Oracle guard"')
    said = await chat.ok(f"/review link 1 {PR}")
    assert said.reply.startswith("#1 follows SetProtocol/contracts#412 now")
    assert any("linked it to SetProtocol/contracts#412" in t for _, t in said.notifications)
    show = await chat.ok("/review show 1")
    assert "linked to GitHub" in show.reply
    bad = await chat.fails("/review link 1 https://example.com/diff/2")
    assert "not a GitHub pull request link" in bad
