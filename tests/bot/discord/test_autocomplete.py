"""Autocomplete on Discord: areas, open reviews with titles, policies and orgs as they are typed."""

from __future__ import annotations

from tests.bot.discord.conftest import Discord


async def test_review_ids_are_suggested_with_their_titles(bot: Discord) -> None:
    for n, title in enumerate(["Fix the oracle", "Bump the fee", "Oracle docs"]):
        link = f"https://github.com/org/repo/pull/{n}"
        await bot.run("alice", "review request", link=link, title=title, reviewer="dave")
    await bot.run("dave", "review approve", id="2")
    choices = await bot.complete("dave", "review ack", "id", "oracle")
    assert choices == [
        {"name": "#3 Oracle docs", "value": "3"},
        {"name": "#1 Fix the oracle", "value": "1"},
    ]
    assert await bot.complete("dave", "review ack", "id", "#1") == [
        {"name": "#1 Fix the oracle", "value": "1"}
    ], "an approved review is not offered"


async def test_area_names_are_suggested(bot: Discord) -> None:
    for area in ("Smart contract review", "Treasury", "Contract audits"):
        await bot.run("alice", "dri set", area=area, person="bob")
    choices = await bot.complete("alice", "dri who", "area", "contr")
    assert [c["value"] for c in choices] == ["Contract audits", "Smart contract review"]


async def test_policies_and_orgs_are_suggested(bot: Discord) -> None:
    policies = await bot.complete("alice", "review request", "policy", "")
    assert [c["value"] for c in policies] == ["hotfix", "smart-contract"]
    orgs = await bot.complete("alice", "review request", "org", "I")
    assert orgs == [{"name": "ic — Index Coop", "value": "ic"}]
