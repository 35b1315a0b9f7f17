"""The slash-command tree: generated from the registry, published as `liaison discord commands`."""

from __future__ import annotations

import json
import re
from typing import Any

import discord
import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.discord.publish import publish
from bot.discord.tree import command_payload
from commands import build_registry
from commands.core.context import Context
from commands.core.messages import Message, line
from commands.core.registry import Command, Group, Kind, Param, Registry
from tests.bot.discord.conftest import GUILD, Discord
from tests.bot.discord.fake_api import APP_ID, FakeDiscord
from tests.harness import succeeded

REGISTRY = build_registry()
NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
# Discord's option types.
STRING, INTEGER, USER = 3, 4, 6
SUBCOMMAND = 1
EXPECTED_TYPE = {Kind.PERSON: USER, Kind.INT: INTEGER}


def _published() -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(app, ["discord", "commands", "--json"])
    return {c["name"]: c for c in json.loads(succeeded(result))}


def _entry(published: dict[str, dict[str, Any]], command: Command) -> dict[str, Any]:
    top = published[command.path[0]]
    if len(command.path) == 1:
        return top
    [sub] = [o for o in top["options"] if o["name"] == command.path[1]]
    assert sub["type"] == SUBCOMMAND
    return sub


@pytest.mark.parametrize("group", REGISTRY.groups(), ids=lambda g: g.name)
def test_every_group_is_published_with_its_commands_and_typed_options(group: Group) -> None:
    published = _published()
    assert published[group.name]["description"]
    for command in group.commands:
        entry = _entry(published, command)
        assert entry["description"] == command.summary[:100]
        options = {o["name"]: o for o in entry.get("options", [])}
        assert list(options) == [
            p.name for p in sorted(command.params, key=lambda p: not p.required)
        ]
        for param in command.params:
            option = options[param.name]
            assert option["type"] == EXPECTED_TYPE.get(param.kind, STRING), param
            assert option["required"] is param.required
            assert option["description"] == param.help[:100]
            if param.kind is Kind.CHOICE:
                assert [c["value"] for c in option["choices"]] == list(param.choices)
            if param.kind in (Kind.AREA, Kind.REVIEW, Kind.POLICY, Kind.ORG):
                assert option.get("autocomplete") is True
            if param.max_length:
                assert option["max_length"] == param.max_length


def test_the_json_is_what_the_tree_of_a_running_bot_holds() -> None:
    assert list(_published().values()) == command_payload(REGISTRY)


def test_single_command_groups_are_top_level_commands() -> None:
    published = _published()
    for name in ("whoami", "help"):
        assert all(o["type"] != SUBCOMMAND for o in published[name].get("options", []))


async def _echo(ctx: Context, args: dict[str, Any]) -> Message:
    """Say what arrived."""
    return Message(lines=(line(repr(sorted(args))),))


def test_a_new_group_and_an_unknown_kind_reach_discord_with_no_adapter_change() -> None:
    future = Group("Roadmap Items", "A group from another issue " + "x" * 200)
    future.command("add", Param("item", "roadmap-item", "An item"), Param("from", Kind.TEXT, "x"))(
        _echo
    )
    [entry] = [c for c in command_payload(Registry([future])) if c["name"] == "roadmap_items"]
    assert len(entry["description"]) == 100
    [add] = entry["options"]
    assert [(o["name"], o["type"]) for o in add["options"]] == [("item", STRING), ("from", STRING)]
    for option in add["options"]:
        assert NAME.match(option["name"])


def test_every_name_is_one_discord_accepts() -> None:
    def walk(options: list[dict[str, Any]]) -> None:
        for option in options:
            assert NAME.match(option["name"]), option["name"]
            assert 1 <= len(option["description"]) <= 100
            walk(option.get("options", []))

    walk(command_payload(REGISTRY))


# What each group is asked, through the tree, and a piece of the core's answer.
INVOCATIONS = {
    "review": ("review list", {}, "No reviews are open."),
    "sla": ("sla policies", {}, "smart-contract"),
    "dri": ("dri list", {}, "map"),
    "handoff": ("handoff board", {}, ""),
    "people": ("people list", {}, "alice"),
    "whoami": ("whoami", {}, "alice"),
    "help": ("help", {"topic": "review"}, "/review request"),
}


@pytest.mark.parametrize("group", REGISTRY.groups(), ids=lambda g: g.name)
async def test_invoking_each_group_through_the_tree_reaches_the_core_and_answers(
    bot: Discord, group: Group
) -> None:
    path, options, expected = INVOCATIONS.get(
        group.name, (" ".join(group.commands[0].path), {}, "")
    )
    start = len(bot.api.calls)
    reply = await bot.run("alice", path, **options)
    [answer] = bot.callbacks(start)
    assert answer.json["type"] == 4 and answer.json["data"]["flags"] == 64
    assert reply, "every command answers"
    assert expected.lower() in reply.lower()
    assert "Traceback" not in reply


async def test_a_person_option_arrives_as_the_person(bot: Discord) -> None:
    await bot.run("alice", "dri set", area="Smart contract review", person="bob")
    reply = await bot.run("carol", "dri who", area="Smart contract review")
    assert "<@100000000000000002>" in reply


async def test_a_refused_command_says_what_to_do_only_to_the_caller(bot: Discord) -> None:
    start = len(bot.api.calls)
    reply = await bot.run("dave", "review ack", id="99")
    assert reply.startswith("There is no review #99. /review list shows the open ones.")
    [answer] = bot.callbacks(start)
    assert answer.json["data"]["flags"] == 64
    assert answer.json["data"]["allowed_mentions"] == {"parse": []}


async def test_publish_syncs_the_same_json_to_a_guild(fake: FakeDiscord) -> None:
    names = await publish("test-token", REGISTRY, GUILD)
    assert names == [g.name for g in REGISTRY.groups()]
    [put] = fake.called("PUT", f"applications/{APP_ID}/guilds/{GUILD}/commands")
    assert put.json == command_payload(REGISTRY)


async def test_publish_globally_without_a_guild(fake: FakeDiscord) -> None:
    await publish("test-token", REGISTRY, None)
    assert len(fake.called("PUT", f"applications/{APP_ID}/commands")) == 1


def test_sync_without_a_token_says_how_to_set_one() -> None:
    result = CliRunner().invoke(app, ["discord", "sync"])
    assert result.exit_code == 2
    assert "LIAISON_DISCORD_TOKEN" in result.stderr


def test_sync_when_discord_cannot_be_reached_names_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Port 1 on this machine refuses the connection, as a network without a route does.
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:1/api/v10")
    monkeypatch.setenv("LIAISON_DISCORD_TOKEN", "test-token")
    result = CliRunner().invoke(app, ["discord", "sync"])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("liaison: cannot reach Discord (http://127.0.0.1:1/api/v10): ")
    assert "database" not in line and line.endswith("check the network (or a proxy) and try again")


async def test_an_interaction_that_died_is_not_answered_a_second_time(
    bot: Discord, caplog: pytest.LogCaptureFixture
) -> None:
    # The answer came too late: Discord says "Unknown interaction" (404, code 10062).
    bot.api.fail(
        "POST", r"interactions/.*/callback", 404, code=10062, message="Unknown interaction"
    )
    start = len(bot.api.calls)
    await bot.run("alice", "whoami")
    # One attempt, no apology sent after it into the same dead interaction.
    assert len(bot.callbacks(start)) == 1
    assert "discord command failed" in caplog.text
