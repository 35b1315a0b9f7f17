"""`liaison slack manifest`: the app in one paste, with every command group of the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.config import Settings, SlackSettings, load_settings
from bot.slack.manifest import manifest
from commands import build_registry
from commands.core.messages import Message
from commands.core.registry import Group, Registry
from tests.bot.test_cli import demo_config, invoke
from tests.harness import DEMO, refused, succeeded


def _commands(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["command"]: c for c in data["features"]["slash_commands"]}


def test_the_manifest_has_one_command_per_group_plus_the_catch_all(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "liaison.toml")
    data = yaml.safe_load(succeeded(invoke(config, "slack", "manifest")))
    groups = [g.name for g in build_registry().groups()]
    assert list(_commands(data)) == [f"/{g}" for g in groups] + ["/liaison"]
    review = _commands(data)["/review"]
    assert review["should_escape"] is True
    assert "request <link> [title]" in review["usage_hint"]
    # The demo runs Socket Mode: no URLs needed.
    assert data["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in data["settings"]["interactivity"]
    # A deactivated account is heard of through the user_change event (which needs users:read).
    assert data["settings"]["event_subscriptions"] == {"bot_events": ["user_change"]}
    scopes = data["oauth_config"]["scopes"]["bot"]
    assert {"commands", "chat:write", "im:write", "files:write", "users:read"} <= set(scopes)


def test_http_mode_points_commands_and_buttons_at_the_events_url() -> None:
    settings = load_settings(str(DEMO))
    http = settings.model_copy(update={"slack": SlackSettings(mode="http")})
    data = manifest(http, build_registry(), "https://bot.example.org")
    url = "https://bot.example.org/slack/events"
    assert data["settings"]["interactivity"] == {"is_enabled": True, "request_url": url}
    assert data["settings"]["event_subscriptions"] == {
        "bot_events": ["user_change"],
        "request_url": url,
    }
    assert data["settings"]["socket_mode_enabled"] is False
    assert {c["url"] for c in data["features"]["slash_commands"]} == {url}


def test_a_group_added_to_the_registry_appears_with_no_adapter_change() -> None:
    later = Group("later", "A group added after the adapter was written")

    @later.command("add")
    async def add(ctx: Any, args: dict[str, Any]) -> Message:
        """Add a topic."""
        return Message()

    settings: Settings = load_settings(str(DEMO))
    data = manifest(settings, Registry([*build_registry().groups(), later]))
    assert _commands(data)["/later"]["description"] == (
        "A group added after the adapter was written"
    )


def test_a_url_that_is_not_https_is_refused(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "liaison.toml")
    (problem,) = refused(invoke(config, "slack", "manifest", "--url", "http://x"))
    assert "https://" in problem


def test_a_url_in_socket_mode_is_said_to_be_ignored(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "liaison.toml")
    result = invoke(config, "slack", "manifest", "--url", "https://bot.example.org")
    data = yaml.safe_load(succeeded(result))
    assert data["settings"]["socket_mode_enabled"] is True
    assert result.stderr == (
        'liaison: note: --url is ignored: [slack] mode is "socket", where Slack sends everything '
        'over the socket; set mode = "http" to have Slack post to the URL\n'
    )


def test_http_mode_without_a_url_says_the_manifest_has_a_placeholder(tmp_path: Path) -> None:
    config = demo_config(tmp_path / "liaison.toml")
    config.write_text(config.read_text() + '\n[slack]\nmode = "http"\n')
    result = invoke(config, "slack", "manifest")
    assert "https://liaison.example.com/slack/events" in succeeded(result)
    assert result.stderr == (
        "liaison: note: no --url: the manifest points Slack at https://liaison.example.com; "
        "pass --url with the bot's public https address\n"
    )
