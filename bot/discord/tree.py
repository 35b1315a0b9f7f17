"""The slash-command tree, generated from the registry: a command added there appears here.

One `app_commands.Group` per registry group (`/review request`, `/dri set`, ...); a group that
is a single command (`/whoami`, `/help`) becomes a top-level command. Options are typed from
the parameter kinds; names and descriptions are fitted to Discord's rules. Every callback turns
the options back into the raw strings the core parses, and hands them to the running adapter.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any, Optional, cast

import discord
from discord import app_commands

from bot.discord.client import LiaisonClient, runner_of
from commands.core import completion
from commands.core.registry import Command, Group, Kind, Param, Registry

log = logging.getLogger(__name__)

NAME = 32
DESCRIPTION = 100
CHOICES = 25
CHOICE_TEXT = 100
# Discord's limit for the first answer to an interaction, and its "Unknown interaction" code.
RESPONSE_WINDOW = 3.0
UNKNOWN_INTERACTION = 10062
_INVALID = re.compile(r"[^-_a-z0-9]+")
# Values Discord checks itself; everything else arrives as text and the core checks it.
_TYPES: dict[Kind, type] = {Kind.PERSON: discord.User, Kind.INT: int}

Callback = Callable[..., Coroutine[Any, Any, None]]
Complete = Callable[[discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]


def discord_name(name: str) -> str:
    """A name Discord accepts for a command or option: lowercase, 1 to 32 of [-_a-z0-9]."""
    cleaned = _INVALID.sub("_", name.lower()).strip("_") or "x"
    return cleaned[:NAME]


def describe(text: str) -> str:
    """A description Discord accepts: 1 to 100 characters."""
    text = " ".join(text.split()) or "…"
    return text if len(text) <= DESCRIPTION else text[: DESCRIPTION - 1] + "…"


def _annotation(param: Param) -> Any:
    kind_type = _TYPES.get(param.kind)
    if kind_type is not None:
        return kind_type
    if param.kind is Kind.TEXT and param.max_length is not None:
        return app_commands.Range[str, 1, min(param.max_length, 6000)]
    # Text, links, dates, durations, quarters, choices and every named thing (areas, reviews,
    # policies, orgs, kinds added later) travel as text: the core parses them as it does typed.
    return str


def _raw(value: Any) -> str:
    if isinstance(value, discord.abc.User):
        return f"<@{value.id}>"
    if isinstance(value, app_commands.Choice):
        return str(value.value)
    return str(value)


def _autocomplete(kind: Kind) -> Complete:
    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        runner = runner_of(interaction)
        found = await runner.suggest(kind, current) if runner is not None else []
        return [
            app_commands.Choice(name=describe_choice(label), value=value[:CHOICE_TEXT])
            for label, value in found[:CHOICES]
        ]

    return complete


def describe_choice(label: str) -> str:
    """A choice label Discord accepts: 1 to 100 characters."""
    label = " ".join(label.split()) or "…"
    return label if len(label) <= CHOICE_TEXT else label[: CHOICE_TEXT - 1] + "…"


def _choice_list(param: Param) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=describe_choice(c), value=c) for c in param.choices]


def _callback(command: Command) -> Callback:
    """A callback whose signature declares the command's options for discord.py to read."""
    by_option = {f"p{n}": p for n, p in enumerate(command.params)}

    async def invoke(interaction: discord.Interaction, **values: Any) -> None:
        raw = {by_option[k].name: _raw(v) for k, v in values.items() if v is not None}
        runner = runner_of(interaction)
        if runner is None:
            await interaction.response.send_message(
                "Liaison is not running here right now; try again in a minute.", ephemeral=True
            )
            return
        await runner.run_command(interaction, command, raw)

    # Option names are generated (p0, p1, ...) and renamed, so any registry name is valid here.
    signature = [
        inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(
            inspect.Parameter(
                key,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=_annotation(p) if p.required else Optional[_annotation(p)],  # noqa: UP045
                default=inspect.Parameter.empty if p.required else None,
            )
            for key, p in by_option.items()
        ),
    ]
    invoke.__signature__ = inspect.Signature(signature)  # type: ignore[attr-defined]
    invoke.__qualname__ = invoke.__name__ = "_".join(command.path)
    if by_option:
        app_commands.rename(**{k: discord_name(p.name) for k, p in by_option.items()})(invoke)
        app_commands.describe(**{k: describe(p.help) for k, p in by_option.items()})(invoke)
    choices = {
        k: _choice_list(p)
        for k, p in by_option.items()
        if p.kind is Kind.CHOICE and 0 < len(p.choices) <= CHOICES
    }
    if choices:
        app_commands.choices(**choices)(invoke)
    completes = {
        k: _autocomplete(p.kind)
        for k, p in by_option.items()
        if k not in choices and p.kind not in _TYPES and completion.knows(p.kind)
    }
    if completes:
        app_commands.autocomplete(**completes)(invoke)
    return invoke


def _command(command: Command, name: str, parent: app_commands.Group | None) -> Any:
    return app_commands.Command(
        name=discord_name(name),
        description=describe(command.summary),
        callback=_callback(command),
        parent=parent,
    )


def _group(group: Group) -> app_commands.Group | app_commands.Command[Any, Any, Any]:
    if len(group.commands) == 1 and len(group.commands[0].path) == 1:
        return cast(
            app_commands.Command[Any, Any, Any], _command(group.commands[0], group.name, None)
        )
    native = app_commands.Group(name=discord_name(group.name), description=describe(group.summary))
    for command in group.commands:
        native.add_command(_command(command, command.path[-1], native))
    return native


class LiaisonTree(app_commands.CommandTree[discord.Client]):
    """The command tree; an error nobody expected gets an apology, never silence."""

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Log the failure and tell the person, if the interaction can still be answered."""
        from commands.core.dispatch import error_reply

        log.error("discord command failed", exc_info=error)
        runner = runner_of(interaction)
        if runner is None or not answerable(interaction, error):
            return
        try:
            await runner.answer(
                interaction,
                error_reply("Sorry, that failed on our side. Please try again, or tell an admin."),
            )
        except discord.HTTPException as exc:
            # Nobody awaits this handler's task: a failure raised here would only surface as
            # "Task exception was never retrieved".
            log.warning("discord: could not apologise for a failed command: %s", exc)


def answerable(interaction: discord.Interaction, error: Exception) -> bool:
    """Whether an interaction can still be answered (a first answer is due within 3 s)."""
    cause = error.__cause__ or getattr(error, "original", None)
    if isinstance(cause, discord.NotFound) and cause.code == UNKNOWN_INTERACTION:
        return False
    if interaction.response.is_done():
        # Deferred (or answered): a follow-up works while the token lives (15 minutes).
        return not interaction.is_expired()
    age = discord.utils.utcnow() - interaction.created_at
    return age.total_seconds() < RESPONSE_WINDOW


def build_tree(client: discord.Client, registry: Registry) -> LiaisonTree:
    """The command tree for every group in the registry, on `client`."""
    tree = LiaisonTree(client)
    for group in registry.groups():
        tree.add_command(_group(group))
    return tree


def command_payload(registry: Registry) -> list[dict[str, Any]]:
    """The JSON that `sync` sends to Discord for these commands (no token needed)."""
    tree = build_tree(LiaisonClient(None), registry)
    return [c.to_dict(tree) for c in tree.get_commands()]
