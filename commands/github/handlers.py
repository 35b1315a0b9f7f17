"""/github: what the GitHub side of Liaison is set to do."""

from __future__ import annotations

from typing import Any

from commands.core.context import Context
from commands.core.messages import Message, code, line
from commands.core.registry import Group
from commands.github import rules

github = Group("github", "GitHub: which pull requests become review requests")


@github.command("rules")
async def list_rules(ctx: Context, args: dict[str, Any]) -> Message:
    """List the [[github.rules]]: which pull requests become reviews, for which org and policy."""
    found = await rules.load(ctx.session)
    if not found:
        return Message(
            lines=(line("No GitHub rules are configured: add ", code("[[github.rules]]"), "."),)
        )
    lines = tuple(line(f"{n}. {rules.describe(r)}") for n, r in enumerate(found, start=1))
    return Message(title=f"GitHub rules ({len(found)}), first match applies", lines=lines)
