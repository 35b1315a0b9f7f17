"""The Slack app manifest: every slash command from the registry, so the app is one paste away."""

from __future__ import annotations

from typing import Any

import yaml

from bot.config import Settings
from bot.slack.adapter import EVENTS_PATH
from bot.slack.incoming import CATCH_ALL
from commands.core.registry import Registry

PLACEHOLDER_URL = "https://liaison.example.com"
# What the bot does with each: answer commands, post and edit messages (public channels it was
# not invited to too), open DMs, read who people and channels are, upload the digest chart, and
# read back its own recent messages, to find a post whose answer was lost before posting again.
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "users:read",
    "channels:read",
    "groups:read",
    "files:write",
    "channels:history",
    "groups:history",
    "im:history",
)
# The events the bot subscribes to: a deactivated account (`user_change` with `deleted`) marks
# its person as gone (it needs `users:read`, above).
BOT_EVENTS = ("user_change",)


def manifest(settings: Settings, registry: Registry, url: str = PLACEHOLDER_URL) -> dict[str, Any]:
    """The app manifest as a dict: one slash command per command group, plus /liaison."""
    endpoint = url.rstrip("/") + EVENTS_PATH
    socket = settings.slack.mode == "socket"
    commands: list[dict[str, Any]] = []
    for group in registry.groups():
        usage = " | ".join(" ".join(c.usage.split()[1:]) for c in group.commands).strip(" |")
        entry: dict[str, Any] = {"command": "/" + group.name, "description": group.summary[:2000]}
        if usage:
            entry["usage_hint"] = usage[:1000]
        # Escaped text turns @name into <@U...|name>, which resolves to exactly that person.
        entry["should_escape"] = True
        commands.append(entry)
    commands.append(
        {
            "command": CATCH_ALL,
            "description": "Any Liaison command: /liaison <group> <command> ...",
            "usage_hint": "review request <link> <title> | help",
            "should_escape": True,
        }
    )
    if not socket:
        for entry in commands:
            entry["url"] = endpoint
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    if not socket:
        interactivity["request_url"] = endpoint
        events["request_url"] = endpoint
    return {
        "display_information": {
            "name": "Liaison",
            "description": "DRIs, hand-offs, review SLAs and the weekly sync, shared by two orgs.",
        },
        "features": {
            "bot_user": {"display_name": "Liaison", "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(settings: Settings, registry: Registry, url: str = PLACEHOLDER_URL) -> str:
    """The app manifest as YAML, ready to paste into "Create an app > From a manifest"."""
    return yaml.safe_dump(manifest(settings, registry, url), sort_keys=False, allow_unicode=True)
