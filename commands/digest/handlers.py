"""/digest: the weekly digest on demand."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from commands.core.context import CommandError, Context
from commands.core.messages import (
    Message,
)
from commands.core.registry import Group, Kind, Param
from commands.digest.compose import compose

digest = Group("digest", "The weekly digest: SLAs, reviews, hand-offs, the sync, roadmaps")


@digest.command(
    "preview",
    Param("part", Kind.INT, "Which part of a long digest (default 1)", False, keyword=True),
)
async def preview(ctx: Context, args: dict[str, Any]) -> Message:
    """Show this week's digest now, to you only, with times in your time zone.

    Each section is left out when it has nothing to say. A digest too long for one chat message
    comes in parts: part=2 shows the second.
    """
    made = await compose(ctx.session, ctx.now, ctx.tz)
    messages = made.messages()
    part = 1 if args["part"] is None else args["part"]
    if not 1 <= part <= len(messages):
        raise CommandError(
            f"This week's digest has {len(messages)} part"
            + ("" if len(messages) == 1 else "s")
            + f": ask for part=1 to part={len(messages)}."
        )
    message = messages[part - 1]
    footer = "Preview: only you see this."
    if part < len(messages):
        footer += f" Next: /digest preview part={part + 1}"
    return replace(message, footer=footer)
