"""Publishing the slash commands to Discord: to one server (instant) or globally."""

from __future__ import annotations

import aiohttp
import discord

from bot.discord.client import LiaisonClient
from bot.discord.tree import build_tree
from commands.core.registry import Registry


class PublishError(Exception):
    """Discord refused the commands; the message says what to fix."""


async def publish(token: str, registry: Registry, guild: int | None) -> list[str]:
    """Replace the application's commands with the registry's; return the names synced."""
    client = LiaisonClient(None)
    tree = build_tree(client, registry)
    try:
        await client.login(token)
        if guild is None:
            synced = await tree.sync()
        else:
            target = discord.Object(guild)
            tree.copy_global_to(guild=target)
            synced = await tree.sync(guild=target)
    except discord.LoginFailure:
        raise PublishError(
            "Discord refused the token: check LIAISON_DISCORD_TOKEN (docs/discord.md)"
        ) from None
    except discord.Forbidden as exc:
        where = f"server {guild}" if guild else "this application"
        raise PublishError(
            f"Discord refused the commands for {where} ({exc.text or exc.status}): invite the bot "
            "with the applications.commands scope (docs/discord.md)"
        ) from None
    except discord.HTTPException as exc:
        raise PublishError(f"Discord refused the commands: {exc.status} {exc.text}") from None
    except (aiohttp.ClientError, OSError) as exc:
        # No answer at all (DNS, a proxy, no route, a timeout): the network, not the commands.
        reason = str(exc) or type(exc).__name__
        raise PublishError(
            f"cannot reach Discord ({discord.http.Route.BASE}): {reason}; "
            "check the network (or a proxy) and try again"
        ) from None
    finally:
        await client.close()
    return [c.name for c in synced]
