"""/help: every command's usage and help, straight from the registry."""

from __future__ import annotations

from typing import Any

from commands.core.context import CommandError, Context
from commands.core.grammar import did_you_mean
from commands.core.messages import Message, bold, code, line
from commands.core.registry import Group, Kind, Param, Registry
from storage.models import Role

_ROLE_NOTE = {Role.MEMBER: "", Role.LEAD: " (leads)", Role.ADMIN: " (admins)"}


def help_group(registry: Registry) -> Group:
    """The /help group for `registry`, which it describes once the registry is complete."""
    group = Group("help", "How to use Liaison")

    @group.command(
        None,
        Param("topic", Kind.TEXT, "A group or command, e.g. dri or dri set", required=False),
        read_only=True,
    )
    async def show_help(ctx: Context, args: dict[str, Any]) -> Message:
        """List the commands, or explain one group or command.

        /help lists every group; /help dri lists the dri commands; /help dri set explains one.
        """
        return describe(registry, args["topic"] or "")

    return group


def describe(registry: Registry, text: str) -> Message:
    """The help text for a topic: "" for every group, "dri" for a group, "dri set" for one."""
    topic = text.lstrip("/").lower().split()
    if not topic:
        lines = [line(code("/" + g.name), " — ", g.summary) for g in registry.groups()]
        lines.append(line("Type ", code("/help <group>"), " for its commands."))
        return Message(title="Liaison commands", lines=tuple(lines))
    group = registry.group(topic[0])
    if group is None:
        hint = did_you_mean(topic[0], [g.name for g in registry.groups()], before="/help ")
        raise CommandError(f"There is no command /{topic[0]}.{hint} Type /help for the list.")
    commands = group.commands
    if len(topic) > 1:
        commands = [c for c in group.commands if c.path[1:] == tuple(topic[1:2])]
        if not commands:
            subs = [c.path[-1] for c in group.commands]
            hint = did_you_mean(topic[1], subs, before=f"/help {group.name} ")
            raise CommandError(
                f"/{group.name} has no command {topic[1]!r}.{hint} "
                f"Type /help {group.name} for its commands."
            )
    if len(commands) == 1:
        cmd = commands[0]
        lines = [line(code(cmd.usage)), line(cmd.summary + _ROLE_NOTE[cmd.role])]
        if cmd.details:
            lines.extend(line(d) for d in cmd.details.splitlines() if d.strip())
        lines.extend(line("• ", bold(p.usage()), " — ", p.help) for p in cmd.params)
        return Message(title=f"/{cmd.name}", lines=tuple(lines))
    lines = [line(code(c.usage), " — ", c.summary + _ROLE_NOTE[c.role]) for c in commands]
    return Message(title=f"/{group.name} — {group.summary}", lines=tuple(lines))
