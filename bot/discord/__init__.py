"""Liaison on Discord: slash commands from the registry, persistent buttons, safe delivery.

Inside this package `import discord` is the discord.py library (absolute imports), never this
package.
"""

from __future__ import annotations

from bot.discord.adapter import DiscordAdapter, create_adapter

__all__ = ["DiscordAdapter", "create_adapter"]
