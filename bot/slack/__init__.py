"""Liaison on Slack: slash commands, Block Kit cards with buttons, modals, HTTP or Socket Mode."""

from __future__ import annotations

from bot.runtime import Runtime
from bot.slack.adapter import SlackAdapter


def create_adapter(runtime: Runtime) -> SlackAdapter:
    """The Slack adapter for `bot.platforms`, built from the runtime's settings."""
    return SlackAdapter(runtime)


__all__ = ["SlackAdapter", "create_adapter"]
